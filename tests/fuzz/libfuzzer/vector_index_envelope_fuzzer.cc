// libFuzzer entry point for a collection's persisted vector index object (the envelope
// around the IVF index; built by `make fuzz`): arbitrary bytes must decode and encode
// again, or be refused as Corruption; what CollectionVectorIndex::Load takes must answer a
// query; nothing may crash.
#include "fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fathom::fuzz::FuzzVectorIndexEnvelope(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
