// CollectionImpl: loading records segments at open. Split from collection_impl.cc so the
// segment reading (storage/records_segment_reader.h) stays apart from the rest of the
// open sequence.
#include <algorithm>

#include "db/collection_impl.h"
#include "io/random_reader.h"
#include "storage/records_segment_reader.h"

namespace fathom {

BlockCache* CollectionImpl::SegmentCache() const {
  return vector_caches_->ForBlockBytes(RecordsSegmentReader::kCacheBlockBytes);
}

Result<std::shared_ptr<RecordsSegmentReader>> CollectionImpl::OpenSegment(const SegmentRef& ref) const {
  const std::string seg_key = SegmentKey(id_, ref.id);
  // The manifest's size saves a HEAD (a wrong one fails the reads, never returns other bytes).
  auto random = OpenObjectReader(store_, seg_key, ref.size_bytes ? std::optional<uint64_t>(ref.size_bytes) : std::nullopt);
  if (!random.ok()) return random.status();
  const uint64_t size_bytes = (*random)->size();
  // Every row holds its embedding: a count the bytes cannot hold is damage, and must not
  // size an allocation.
  if (ref.rows > size_bytes / std::max<uint64_t>(1, uint64_t{4} * manifest_.dimension)) {
    return Status::Corruption(seg_key + ": the manifest's row count does not fit in the segment");
  }
  auto reader = RecordsSegmentReader::Open(std::move(*random), SegmentCache());
  if (!reader.ok()) return reader.status().WithContext(seg_key);
  return std::move(*reader);
}

Status CollectionImpl::LoadSegmentLocked(const SegmentRef& ref) {
  const std::string seg_key = SegmentKey(id_, ref.id);
  auto reader = OpenSegment(ref);
  if (!reader.ok()) {
    if (reader.status().IsNotFound()) return Status::Corruption(seg_key + " is in the manifest but missing");
    return reader.status();
  }
  if (manifest_.dimension != 0) table_.set_dimension(manifest_.dimension);
  table_.Reserve(ref.rows);
  // Rows keep a locator of their document in this segment, not the document: it is read
  // on demand (the indexes of documents read it back at SealIndexes).
  const uint32_t number = table_.AddSegment(*reader);
  bool wrong_dimension = false;
  auto summary = (*reader)->Scan([&](SegmentEntry& e, SegmentEntryLocator at) {
    if (e.tombstone) {
      table_.LoadTombstone(e.row.id);
    } else if (e.embedding.size() != manifest_.dimension) {
      wrong_dimension = true;
    } else {
      const SegmentDocumentLocator document_at = e.row.document ? DocumentLocatorOf(at, e) : SegmentDocumentLocator{};
      table_.LoadRow(std::move(e.row), e.embedding, std::make_pair(number, document_at));
    }
  });
  if (!summary.ok()) return summary.status().WithContext(seg_key);
  if (wrong_dimension) return Status::Corruption(seg_key + ": dimension disagrees with the manifest");
  if (summary->rows > 0 && summary->dimension != manifest_.dimension) {
    return Status::Corruption(seg_key + ": dimension disagrees with the manifest");
  }
  if (summary->rows != ref.rows || summary->tombstones != ref.tombstones) {
    return Status::Corruption(seg_key + ": entry counts disagree with the manifest");
  }
  return Status::Ok();
}

}  // namespace fathom
