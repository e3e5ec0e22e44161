#include "index/text/trigram_section.h"

#include <roaring/roaring.h>

#include <memory>

#include "common/assert.h"
#include "common/coding.h"

namespace fathom {
namespace {

Status Corrupt(const std::string& what) { return Status::Corruption("text index object: trigram section: " + what); }

struct RoaringFree {
  void operator()(roaring_bitmap_t* r) const { roaring_bitmap_free(r); }
};

}  // namespace

std::string EncodeTrigramSection(const TrigramIndex::SortedPostings& postings, uint64_t rows) {
  FATHOM_CHECK(postings.size() <= kTrigramKeysMax);
  std::string out;
  PutFixed64(&out, postings.size());
  std::vector<std::string> bitmaps(postings.size());
  for (size_t i = 0; i < postings.size(); ++i) {
    const auto& [key, slots] = postings[i];
    FATHOM_CHECK(key < kTrigramKeysMax && (i == 0 || postings[i - 1].first < key));
    FATHOM_CHECK(!slots.isEmpty() && slots.maximum() < rows);
    bitmaps[i].resize(slots.getSizeInBytes(/*portable=*/true));
    FATHOM_CHECK(slots.write(bitmaps[i].data(), /*portable=*/true) == bitmaps[i].size());
    PutFixed32(&out, key);
    PutFixed32(&out, static_cast<uint32_t>(slots.cardinality()));
    PutFixed64(&out, bitmaps[i].size());
  }
  for (const std::string& b : bitmaps) out.append(b);
  return out;
}

Status DecodeTrigramSection(std::string_view bytes, const std::vector<uint8_t>& has_document,
                            TrigramIndex::SortedPostings* out) {
  const uint64_t rows = has_document.size();
  out->clear();
  Decoder in(bytes);
  uint64_t count;
  if (!in.GetFixed64(&count) || count > kTrigramKeysMax || count > in.remaining() / kTrigramDirectoryEntryBytes) {
    return Corrupt("bad trigram count");
  }
  const char* directory = bytes.data() + 8;
  uint64_t at = 8 + count * kTrigramDirectoryEntryBytes;  // where the next bitmap starts
  out->reserve(count);
  std::vector<uint32_t> values;
  for (uint64_t i = 0; i < count; ++i) {
    const char* e = directory + i * kTrigramDirectoryEntryBytes;
    const uint32_t key = DecodeFixed32(e);
    const uint32_t cardinality = DecodeFixed32(e + 4);
    const uint64_t size = DecodeFixed64(e + 8);
    if (key >= kTrigramKeysMax || (i > 0 && key <= out->back().first)) return Corrupt("keys not strictly increasing");
    if (cardinality == 0 || cardinality > rows) return Corrupt("cardinality out of range");
    if (size > bytes.size() - at) return Corrupt("bitmap out of bounds");
    std::unique_ptr<roaring_bitmap_t, RoaringFree> bitmap(
        roaring_bitmap_portable_deserialize_safe(bytes.data() + at, static_cast<size_t>(size)));
    if (bitmap == nullptr || roaring_bitmap_portable_size_in_bytes(bitmap.get()) != size) {
      return Corrupt("malformed bitmap of trigram " + std::to_string(key));
    }
    // The values, checked one by one (increasing, ranks with a document, as many as the
    // directory says), make a fresh bitmap: no container of the bytes is kept.
    values.clear();
    roaring_uint32_iterator_t it;
    roaring_init_iterator(bitmap.get(), &it);
    int64_t previous = -1;
    for (; it.has_value; roaring_advance_uint32_iterator(&it)) {
      const uint32_t rank = it.current_value;
      if (static_cast<int64_t>(rank) <= previous || rank >= rows || !has_document[rank] ||
          values.size() == cardinality) {
        return Corrupt("bad slots in the bitmap of trigram " + std::to_string(key));
      }
      previous = rank;
      values.push_back(rank);
    }
    if (values.size() != cardinality) return Corrupt("cardinality of trigram " + std::to_string(key) + " disagrees");
    Roaring slots(values.size(), values.data());
    slots.runOptimize();
    slots.shrinkToFit();
    out->emplace_back(key, std::move(slots));
    at += size;
  }
  if (at != bytes.size()) return Corrupt("bytes after the last bitmap");
  return Status::Ok();
}

}  // namespace fathom
