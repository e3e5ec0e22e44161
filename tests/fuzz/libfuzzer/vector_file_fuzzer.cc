// libFuzzer entry point for the vector file decoder (a collection's cold parts; built by
// `make fuzz`).
#include "fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fathom::fuzz::FuzzVectorFile(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
