// Postings block codec: up to 128 (slot, term frequency) pairs per block, slots as
// bit-packed gaps and frequencies bit-packed alike, each at the smallest bit width that
// holds the block's largest value. Byte layout: docs/format/text-postings.md.
//
// Two decoders: DecodeBlockTrusted for blocks fathom itself encoded into memory it owns
// (no checks, needs kUnpackPaddingBytes readable past the block), and DecodeBlock for
// bytes from outside (a file, an object store range, a fuzzer), which checks every field
// and every length and returns Corruption instead of reading past its input.
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fathom/status.h"

namespace fathom {

inline constexpr size_t kPostingsBlockSize = 128;  // pairs per full block
inline constexpr size_t kPostingsBlockHeaderBytes = 8;
inline constexpr unsigned kPostingsBitWidthMax = 32;
// The unpacker reads whole 8-byte words; a buffer holding encoded blocks keeps this many
// readable bytes after its last block.
inline constexpr size_t kUnpackPaddingBytes = 8;
// The largest encoded block: header + 127 gaps and 128 frequencies at 32 bits.
inline constexpr size_t kPostingsBlockBytesMax =
    kPostingsBlockHeaderBytes + 4 * (kPostingsBlockSize - 1) + 4 * kPostingsBlockSize;

// Bits needed for `v` (0 for 0).
inline unsigned BitWidth(uint32_t v) { return v == 0 ? 0u : 32u - static_cast<unsigned>(__builtin_clz(v)); }
// Bytes of `count` values packed at `bit_width` bits.
inline size_t PackedBytes(size_t count, unsigned bit_width) { return (count * bit_width + 7) / 8; }

// Packs values[0, count) LSB-first, value i at bit i*bit_width; every value must fit.
// Writes exactly PackedBytes(count, bit_width) bytes.
void PackBits(const uint32_t* values, size_t count, unsigned bit_width, uint8_t* out);
// Inverse of PackBits; reads up to PackedBytes(count, bit_width) + kUnpackPaddingBytes.
void UnpackBits(const uint8_t* in, size_t count, unsigned bit_width, uint32_t* out);

// One decoded block.
struct PostingsBlock {
  uint32_t count = 0;
  uint32_t slots[kPostingsBlockSize];  // strictly increasing
  uint32_t tfs[kPostingsBlockSize];    // >= 1
};

// Appends one block of slots[0, count) (strictly increasing) and tfs[0, count) (>= 1),
// 1 <= count <= kPostingsBlockSize. Returns the encoded size in bytes.
size_t EncodeBlock(const uint32_t* slots, const uint32_t* tfs, size_t count, std::string* out);

// Decodes a block EncodeBlock wrote into memory fathom owns; `in` must have
// kUnpackPaddingBytes readable past the block. Returns the block's size in bytes.
size_t DecodeBlockTrusted(const uint8_t* in, PostingsBlock* out);
// The two halves of DecodeBlockTrusted, for a reader that often needs only the slots
// (a probe that misses): DecodeSlotsTrusted sets count and slots, DecodeTfsTrusted the
// frequencies.
void DecodeSlotsTrusted(const uint8_t* in, PostingsBlock* out);
void DecodeTfsTrusted(const uint8_t* in, PostingsBlock* out);

// Decodes the block at the start of `bytes` from an untrusted source: Corruption when a
// field is out of range, the bytes end early, slots overflow or do not increase, or a
// frequency overflows. On success sets *consumed to the block's size in bytes.
[[nodiscard]] Status DecodeBlock(std::string_view bytes, PostingsBlock* out, size_t* consumed);

}  // namespace fathom
