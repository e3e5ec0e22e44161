#include "index/text/postings.h"

#include <array>
#include <cstring>
#include <utility>

#include "common/assert.h"

namespace fathom {
namespace {

// Reads value i of a packed run with one unaligned 8-byte load: a value starts at most 7
// bits into its first byte and is at most 32 bits long, so it lies inside the word.
template <unsigned kBits>
inline uint32_t PackedAt(const uint8_t* in, size_t i) {
  const size_t bit = i * kBits;
  uint64_t word;
  std::memcpy(&word, in + (bit >> 3), sizeof(word));
  constexpr uint64_t kMask = kBits == 32 ? 0xffffffffull : ((uint64_t{1} << kBits) - 1);
  return static_cast<uint32_t>((word >> (bit & 7)) & kMask);
}

// One instantiation per bit width, so the shifts and masks are constants and the
// full-block loop (count == 128) unrolls: this is the decoder's hot loop.
template <unsigned kBits>
void UnpackWidth(const uint8_t* in, size_t count, uint32_t* out) {
  if constexpr (kBits == 0) {
    std::memset(out, 0, count * sizeof(uint32_t));
  } else {
    if (count == kPostingsBlockSize) {
      for (size_t i = 0; i < kPostingsBlockSize; ++i) out[i] = PackedAt<kBits>(in, i);
    } else {
      for (size_t i = 0; i < count; ++i) out[i] = PackedAt<kBits>(in, i);
    }
  }
}

using UnpackFn = void (*)(const uint8_t*, size_t, uint32_t*);

template <size_t... kBits>
constexpr std::array<UnpackFn, sizeof...(kBits)> MakeUnpackers(std::index_sequence<kBits...>) {
  return {&UnpackWidth<kBits>...};
}

constexpr auto kUnpackers = MakeUnpackers(std::make_index_sequence<kPostingsBitWidthMax + 1>());

uint32_t LoadFixed32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
         static_cast<uint32_t>(p[3]) << 24;
}

// Turns gaps-minus-one in slots[1, count) into slots, given slots[0].
void PrefixSum(PostingsBlock* out) {
  uint32_t slot = out->slots[0];
  for (uint32_t i = 1; i < out->count; ++i) {
    slot += out->slots[i] + 1;
    out->slots[i] = slot;
  }
}

}  // namespace

void PackBits(const uint32_t* values, size_t count, unsigned bit_width, uint8_t* out) {
  FATHOM_DCHECK(bit_width <= kPostingsBitWidthMax);
  const size_t bytes = PackedBytes(count, bit_width);
  std::memset(out, 0, bytes);
  if (bit_width == 0) return;
  uint64_t buffer = 0;
  unsigned buffered = 0;
  size_t o = 0;
  for (size_t i = 0; i < count; ++i) {
    FATHOM_DCHECK(bit_width == 32 || values[i] < (uint64_t{1} << bit_width));
    buffer |= static_cast<uint64_t>(values[i]) << buffered;
    buffered += bit_width;
    while (buffered >= 8) {
      out[o++] = static_cast<uint8_t>(buffer);
      buffer >>= 8;
      buffered -= 8;
    }
  }
  if (buffered > 0) out[o++] = static_cast<uint8_t>(buffer);
  FATHOM_DCHECK(o == bytes);
}

void UnpackBits(const uint8_t* in, size_t count, unsigned bit_width, uint32_t* out) {
  FATHOM_DCHECK(bit_width <= kPostingsBitWidthMax);
  kUnpackers[bit_width](in, count, out);
}

size_t EncodeBlock(const uint32_t* slots, const uint32_t* tfs, size_t count, std::string* out) {
  FATHOM_CHECK(count >= 1 && count <= kPostingsBlockSize);
  uint32_t gaps[kPostingsBlockSize];
  uint32_t freqs[kPostingsBlockSize];
  uint32_t max_gap = 0;
  uint32_t max_freq = 0;
  for (size_t i = 1; i < count; ++i) {
    FATHOM_CHECK(slots[i] > slots[i - 1]);
    gaps[i - 1] = slots[i] - slots[i - 1] - 1;
    max_gap |= gaps[i - 1];
  }
  for (size_t i = 0; i < count; ++i) {
    FATHOM_CHECK(tfs[i] >= 1);
    freqs[i] = tfs[i] - 1;
    max_freq |= freqs[i];
  }
  const unsigned slot_bits = BitWidth(max_gap);
  const unsigned tf_bits = BitWidth(max_freq);
  const size_t slot_bytes = PackedBytes(count - 1, slot_bits);
  const size_t tf_bytes = PackedBytes(count, tf_bits);
  const size_t start = out->size();
  const size_t total = kPostingsBlockHeaderBytes + slot_bytes + tf_bytes;
  out->resize(start + total);
  uint8_t* p = reinterpret_cast<uint8_t*>(out->data()) + start;
  p[0] = static_cast<uint8_t>(count);  // 128 fits in a byte; 0 is never written
  p[1] = static_cast<uint8_t>(slot_bits);
  p[2] = static_cast<uint8_t>(tf_bits);
  p[3] = 0;  // reserved
  for (int i = 0; i < 4; ++i) p[4 + i] = static_cast<uint8_t>(slots[0] >> (8 * i));
  PackBits(gaps, count - 1, slot_bits, p + kPostingsBlockHeaderBytes);
  PackBits(freqs, count, tf_bits, p + kPostingsBlockHeaderBytes + slot_bytes);
  return total;
}

size_t DecodeBlockTrusted(const uint8_t* in, PostingsBlock* out) {
  const uint32_t count = in[0];
  const unsigned slot_bits = in[1];
  const unsigned tf_bits = in[2];
  FATHOM_DCHECK(count >= 1 && count <= kPostingsBlockSize && slot_bits <= 32 && tf_bits <= 32);
  out->count = count;
  out->slots[0] = LoadFixed32(in + 4);
  const uint8_t* body = in + kPostingsBlockHeaderBytes;
  const size_t slot_bytes = PackedBytes(count - 1, slot_bits);
  kUnpackers[slot_bits](body, count - 1, out->slots + 1);
  PrefixSum(out);
  kUnpackers[tf_bits](body + slot_bytes, count, out->tfs);
  for (uint32_t i = 0; i < count; ++i) out->tfs[i] += 1;
  return kPostingsBlockHeaderBytes + slot_bytes + PackedBytes(count, tf_bits);
}

void DecodeSlotsTrusted(const uint8_t* in, PostingsBlock* out) {
  const uint32_t count = in[0];
  const unsigned slot_bits = in[1];
  out->count = count;
  out->slots[0] = LoadFixed32(in + 4);
  kUnpackers[slot_bits](in + kPostingsBlockHeaderBytes, count - 1, out->slots + 1);
  PrefixSum(out);
}

void DecodeTfsTrusted(const uint8_t* in, PostingsBlock* out) {
  const uint32_t count = in[0];
  const unsigned slot_bits = in[1];
  const unsigned tf_bits = in[2];
  kUnpackers[tf_bits](in + kPostingsBlockHeaderBytes + PackedBytes(count - 1, slot_bits), count, out->tfs);
  for (uint32_t i = 0; i < count; ++i) out->tfs[i] += 1;
}

Status DecodeBlock(std::string_view bytes, PostingsBlock* out, size_t* consumed) {
  if (bytes.size() < kPostingsBlockHeaderBytes) return Status::Corruption("postings block: truncated header");
  const auto* in = reinterpret_cast<const uint8_t*>(bytes.data());
  const uint32_t count = in[0];
  const unsigned slot_bits = in[1];
  const unsigned tf_bits = in[2];
  if (count == 0 || count > kPostingsBlockSize) return Status::Corruption("postings block: bad count");
  if (slot_bits > kPostingsBitWidthMax || tf_bits > kPostingsBitWidthMax) {
    return Status::Corruption("postings block: bad bit width");
  }
  if (in[3] != 0) return Status::Corruption("postings block: reserved byte set");
  const size_t slot_bytes = PackedBytes(count - 1, slot_bits);
  const size_t size = kPostingsBlockHeaderBytes + slot_bytes + PackedBytes(count, tf_bits);
  if (bytes.size() < size) return Status::Corruption("postings block: truncated body");
  // The unpacker reads whole words: decode from a padded copy, never from the caller's
  // buffer, whose end may be the end of readable memory.
  uint8_t padded[kPostingsBlockBytesMax + kUnpackPaddingBytes] = {};
  std::memcpy(padded, in, size);
  out->count = count;
  out->slots[0] = LoadFixed32(padded + 4);
  const uint8_t* body = padded + kPostingsBlockHeaderBytes;
  kUnpackers[slot_bits](body, count - 1, out->slots + 1);
  uint64_t slot = out->slots[0];
  for (uint32_t i = 1; i < count; ++i) {
    slot += uint64_t{out->slots[i]} + 1;
    if (slot > UINT32_MAX) return Status::Corruption("postings block: slot overflow");
    out->slots[i] = static_cast<uint32_t>(slot);
  }
  kUnpackers[tf_bits](body + slot_bytes, count, out->tfs);
  for (uint32_t i = 0; i < count; ++i) {
    if (out->tfs[i] == UINT32_MAX) return Status::Corruption("postings block: frequency overflow");
    out->tfs[i] += 1;
  }
  // Unused bits of the last byte of each run are zero in everything EncodeBlock writes;
  // insisting on it makes the encoding canonical (one byte string per block).
  auto tail_clean = [&](const uint8_t* run, size_t n, unsigned bits) {
    const size_t used = n * bits;
    if (used % 8 == 0) return true;
    return (run[used / 8] >> (used % 8)) == 0;
  };
  if (!tail_clean(body, count - 1, slot_bits) || !tail_clean(body + slot_bytes, count, tf_bits)) {
    return Status::Corruption("postings block: nonzero padding bits");
  }
  *consumed = size;
  return Status::Ok();
}

}  // namespace fathom
