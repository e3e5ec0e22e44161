// libFuzzer entry point for the S3 XML decoder (built by `make fuzz`).
#include "fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fathom::fuzz::FuzzS3Xml(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
