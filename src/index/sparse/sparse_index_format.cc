#include "index/sparse/sparse_index_format.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "common/assert.h"
#include "common/checksum.h"
#include "common/coding.h"
#include "common/limits.h"

namespace fathom {
namespace {

static_assert(std::endian::native == std::endian::little, "the postings arrays are copied as little-endian");
static_assert(kSparseIndexKeyBytesMax == limits::kMetadataKeyBytesMax);

// Header field offsets (docs/format/sparse-index.md).
constexpr size_t kVersionAt = 8;
constexpr size_t kFlagsAt = 12;
constexpr size_t kRowsAt = 16;
constexpr size_t kVectorRowsAt = 24;
constexpr size_t kOffsetsHashAt = 32;
constexpr size_t kVectorsHashAt = 40;
constexpr size_t kDimensionsAt = 48;
constexpr size_t kBlocksAt = 56;
constexpr size_t kPostingsAt = 64;
constexpr size_t kKeyBytesAt = 72;
constexpr size_t kReservedAt = 76;
constexpr size_t kBodyChecksumAt = 80;
constexpr size_t kHeaderChecksumAt = 88;
static_assert(kHeaderChecksumAt + 8 == kSparseIndexHeaderBytes);
constexpr size_t kListEntryBytes = 8;   // u32 dimension, u32 postings
constexpr size_t kBlockEntryBytes = 8;  // f32 max weight, f32 min weight
constexpr size_t kPostingBytes = 8;     // u32 slot + f32 weight, in two arrays

uint32_t FloatBits(float f) { return std::bit_cast<uint32_t>(f); }

// A block's bounds as SparseIndex computes them (the same order of std::max / std::min,
// so that the bits, signed zeros included, are the same).
void BlockBounds(const float* weights, size_t count, float* max_weight, float* min_weight) {
  float hi = -std::numeric_limits<float>::infinity(), lo = std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < count; ++i) {
    hi = std::max(hi, weights[i]);
    lo = std::min(lo, weights[i]);
  }
  *max_weight = hi;
  *min_weight = lo;
}

uint64_t BlocksOf(uint64_t postings) { return (postings + kSparseBlockSize - 1) / kSparseBlockSize; }

Status Bad(const std::string& what) { return Status::Corruption("sparse index object: " + what); }

}  // namespace

uint64_t SparseVectorChecksum(const SparseVector& vector) {
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  XXH3_64bits_update(&state, vector.indices.data(), vector.indices.size() * sizeof(uint32_t));
  XXH3_64bits_update(&state, vector.values.data(), vector.values.size() * sizeof(float));
  return XXH3_64bits_digest(&state);
}

Result<std::string> EncodeSparseIndexObject(const SparseIndexObject& object) {
  const SparseIndex::Image& image = object.image;
  if (image.slot_count > kSparseIndexRowsMax) {
    return Status::InvalidArgument("sparse index object: " + std::to_string(image.slot_count) +
                                   " rows exceed kSparseIndexRowsMax");
  }
  if (object.key.empty() || object.key.size() > kSparseIndexKeyBytesMax) {
    return Status::InvalidArgument("sparse index object: the key must have 1 to kSparseIndexKeyBytesMax bytes");
  }
  if (object.vector_rows > image.slot_count) {
    return Status::InvalidArgument("sparse index object: more rows with a vector than rows");
  }
  FATHOM_CHECK(image.slots.size() == image.weights.size());
  const uint64_t postings = image.slots.size();
  const size_t size = kSparseIndexHeaderBytes + object.key.size() + image.dimensions.size() * kListEntryBytes +
                      image.blocks.size() * kBlockEntryBytes + postings * kPostingBytes;
  std::string out(size, '\0');
  char* p = out.data();
  std::memcpy(p, kSparseIndexMagic, 8);
  EncodeFixed32(p + kVersionAt, kSparseIndexFormatVersion);
  EncodeFixed32(p + kFlagsAt, 0);
  EncodeFixed64(p + kRowsAt, image.slot_count);
  EncodeFixed64(p + kVectorRowsAt, object.vector_rows);
  EncodeFixed64(p + kOffsetsHashAt, object.offsets_hash);
  EncodeFixed64(p + kVectorsHashAt, object.vectors_hash);
  EncodeFixed64(p + kDimensionsAt, image.dimensions.size());
  EncodeFixed64(p + kBlocksAt, image.blocks.size());
  EncodeFixed64(p + kPostingsAt, postings);
  EncodeFixed32(p + kKeyBytesAt, static_cast<uint32_t>(object.key.size()));
  EncodeFixed32(p + kReservedAt, 0);
  char* at = p + kSparseIndexHeaderBytes;
  std::memcpy(at, object.key.data(), object.key.size());
  at += object.key.size();
  // Assertions on the encoding side of what the decoder checks: the image is MakeImage's.
  uint64_t prior_dimension = 0, block = 0, posting = 0;
  for (size_t d = 0; d < image.dimensions.size(); ++d) {
    const SparseIndex::ImageList& list = image.dimensions[d];
    FATHOM_CHECK(d == 0 || list.dimension > prior_dimension);
    FATHOM_CHECK(list.first_block == block && list.block_count >= 1);
    prior_dimension = list.dimension;
    uint64_t count = 0;
    for (uint32_t b = list.first_block; b < list.first_block + list.block_count; ++b) {
      FATHOM_CHECK(image.blocks[b].begin == posting + count);
      count += image.blocks[b].count;
    }
    FATHOM_CHECK(count <= image.slot_count && BlocksOf(count) == list.block_count);
    EncodeFixed32(at, list.dimension);
    EncodeFixed32(at + 4, static_cast<uint32_t>(count));
    at += kListEntryBytes;
    block += list.block_count;
    posting += count;
  }
  FATHOM_CHECK(block == image.blocks.size() && posting == postings);
  for (const SparseIndex::Block& b : image.blocks) {
    EncodeFixed32(at, FloatBits(b.max_weight));
    EncodeFixed32(at + 4, FloatBits(b.min_weight));
    at += kBlockEntryBytes;
  }
  if (postings != 0) {  // (an empty vector's data() may be null)
    std::memcpy(at, image.slots.data(), postings * sizeof(uint32_t));
    std::memcpy(at + postings * sizeof(uint32_t), image.weights.data(), postings * sizeof(float));
  }
  at += postings * kPostingBytes;
  FATHOM_CHECK(at == p + size);
  RecomputeSparseIndexChecksumsForTesting(&out);
  return out;
}

void RecomputeSparseIndexChecksumsForTesting(std::string* bytes) {
  if (bytes->size() < kSparseIndexHeaderBytes) return;
  char* p = bytes->data();
  EncodeFixed64(p + kBodyChecksumAt, Checksum64(std::string_view(*bytes).substr(kSparseIndexHeaderBytes)));
  EncodeFixed64(p + kHeaderChecksumAt, Checksum64(std::string_view(*bytes).substr(0, kHeaderChecksumAt)));
}

Result<SparseIndexObject> DecodeSparseIndexObject(std::string_view bytes) {
  if (bytes.size() < kSparseIndexHeaderBytes) return Bad("shorter than its header");
  const char* p = bytes.data();
  if (std::memcmp(p, kSparseIndexMagic, 8) != 0) return Bad("bad magic");
  if (Checksum64(bytes.substr(0, kHeaderChecksumAt)) != DecodeFixed64(p + kHeaderChecksumAt)) {
    return Bad("header checksum mismatch");
  }
  const uint32_t version = DecodeFixed32(p + kVersionAt);
  if (version != kSparseIndexFormatVersion) return Bad("unsupported version " + std::to_string(version));
  if (DecodeFixed32(p + kFlagsAt) != 0 || DecodeFixed32(p + kReservedAt) != 0) return Bad("unknown flags");
  SparseIndexObject object;
  SparseIndex::Image& image = object.image;
  image.slot_count = DecodeFixed64(p + kRowsAt);
  object.vector_rows = DecodeFixed64(p + kVectorRowsAt);
  object.offsets_hash = DecodeFixed64(p + kOffsetsHashAt);
  object.vectors_hash = DecodeFixed64(p + kVectorsHashAt);
  const uint64_t dimensions = DecodeFixed64(p + kDimensionsAt);
  const uint64_t blocks = DecodeFixed64(p + kBlocksAt);
  const uint64_t postings = DecodeFixed64(p + kPostingsAt);
  const uint32_t key_bytes = DecodeFixed32(p + kKeyBytesAt);
  if (image.slot_count > kSparseIndexRowsMax) return Bad("too many rows");
  if (object.vector_rows > image.slot_count) return Bad("more rows with a vector than rows");
  if (key_bytes == 0 || key_bytes > kSparseIndexKeyBytesMax) return Bad("bad key length");
  // Each count is bounded by the bytes before the sizes are multiplied out.
  const uint64_t body = bytes.size() - kSparseIndexHeaderBytes;
  if (dimensions > body / kListEntryBytes || blocks > body / kBlockEntryBytes || postings > body / kPostingBytes ||
      key_bytes + dimensions * kListEntryBytes + blocks * kBlockEntryBytes + postings * kPostingBytes != body) {
    return Bad("sizes do not match the object's length");
  }
  if (Checksum64(bytes.substr(kSparseIndexHeaderBytes)) != DecodeFixed64(p + kBodyChecksumAt)) {
    return Bad("body checksum mismatch");
  }
  const char* at = p + kSparseIndexHeaderBytes;
  object.key.assign(at, key_bytes);
  at += key_bytes;
  const char* lists = at;
  const char* bounds = lists + dimensions * kListEntryBytes;
  const char* slots = bounds + blocks * kBlockEntryBytes;
  const char* weights = slots + postings * sizeof(uint32_t);
  image.slots.resize(postings);
  image.weights.resize(postings);
  if (postings != 0) {
    std::memcpy(image.slots.data(), slots, postings * sizeof(uint32_t));
    std::memcpy(image.weights.data(), weights, postings * sizeof(float));
  }
  image.dimensions.reserve(dimensions);
  image.blocks.reserve(blocks);
  uint64_t posting = 0;
  for (uint64_t d = 0; d < dimensions; ++d) {
    const uint32_t dimension = DecodeFixed32(lists + d * kListEntryBytes);
    const uint32_t count = DecodeFixed32(lists + d * kListEntryBytes + 4);
    if (d > 0 && dimension <= image.dimensions.back().dimension) return Bad("dimensions not strictly increasing");
    if (count == 0 || count > image.slot_count || count > postings - posting) return Bad("bad postings count");
    const uint64_t list_blocks = BlocksOf(count);
    if (list_blocks > blocks - image.blocks.size()) return Bad("more blocks than the header says");
    image.dimensions.push_back(
        SparseIndex::ImageList{dimension, static_cast<uint32_t>(image.blocks.size()), static_cast<uint32_t>(list_blocks)});
    for (uint64_t i = posting; i < posting + count; ++i) {
      const uint32_t slot = image.slots[i];
      if (slot >= image.slot_count) return Bad("slot out of range");
      if (i > posting && slot <= image.slots[i - 1]) return Bad("slots not strictly increasing");
      if (!std::isfinite(image.weights[i])) return Bad("weight not finite");
    }
    for (uint64_t begin = posting; begin < posting + count; begin += kSparseBlockSize) {
      const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(kSparseBlockSize, posting + count - begin));
      const char* bound = bounds + image.blocks.size() * kBlockEntryBytes;
      SparseIndex::Block block{image.slots[begin], image.slots[begin + n - 1], begin, n, 0, 0};
      BlockBounds(image.weights.data() + begin, n, &block.max_weight, &block.min_weight);
      if (DecodeFixed32(bound) != FloatBits(block.max_weight) || DecodeFixed32(bound + 4) != FloatBits(block.min_weight)) {
        return Bad("block bounds do not match its weights");
      }
      image.blocks.push_back(block);
    }
    posting += count;
  }
  if (posting != postings || image.blocks.size() != blocks) return Bad("lists do not cover the postings");
  return object;
}

}  // namespace fathom
