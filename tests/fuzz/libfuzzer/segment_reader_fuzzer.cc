// libFuzzer entry point for the random-access records segment reader (built by `make fuzz`).
#include "fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fathom::fuzz::FuzzSegmentReader(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
