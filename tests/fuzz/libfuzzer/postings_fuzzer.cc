// libFuzzer entry point for the postings block decoder (built by `make fuzz`): arbitrary
// bytes must decode to a well-formed block or be refused as Corruption, never crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/assert.h"
#include "index/text/postings.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  fathom::PostingsBlock block;
  // A run of blocks, as a postings list is stored.
  while (!bytes.empty()) {
    size_t consumed = 0;
    if (!fathom::DecodeBlock(bytes, &block, &consumed).ok()) break;
    FATHOM_CHECK(consumed >= fathom::kPostingsBlockHeaderBytes && consumed <= bytes.size());
    FATHOM_CHECK(block.count >= 1 && block.count <= fathom::kPostingsBlockSize);
    for (uint32_t i = 1; i < block.count; ++i) FATHOM_CHECK(block.slots[i - 1] < block.slots[i]);
    for (uint32_t i = 0; i < block.count; ++i) FATHOM_CHECK(block.tfs[i] >= 1);
    bytes.remove_prefix(consumed);
  }
  return 0;
}
