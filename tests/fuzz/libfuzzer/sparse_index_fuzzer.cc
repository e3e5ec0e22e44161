// libFuzzer entry point for the persisted sparse vector index decoder (built by `make fuzz`):
// arbitrary bytes must decode to an index that loads and searches, or be refused as
// Corruption, never crash.
#include "fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fathom::fuzz::FuzzSparseIndex(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
