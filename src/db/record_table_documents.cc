// RecordTable: the documents stored in records segments (docs/design/documents-on-demand.md):
// reading them on demand for requests and filters, streaming them through the document
// indexes' builds, and re-pointing rows at a compaction's new entries. Split from
// record_table.cc, which keeps the write semantics and the row indexes' upkeep.
#include <algorithm>

#include "common/assert.h"
#include "common/checksum.h"
#include "db/document_reads.h"
#include "db/record_table.h"
#include "io/executor.h"

namespace fathom {

namespace {

// Prefetch hints read at most this many documents ahead (the block cache is bounded:
// more would evict what the hint read before it is used).
constexpr size_t kPrefetchDocumentsMax = 1024;

Status DocumentMismatch(const RecordsSegmentReader& segment, const std::string& id) {
  return Status::Corruption("records segment " + segment.name() + ": the entry of record " + id +
                            " holds another document than the one indexed");
}

}  // namespace

const std::optional<std::string>& RecordTable::NoDocument() {
  static const std::optional<std::string> none;
  return none;
}

Status RecordTable::ReadStoredDocuments(const std::vector<std::shared_ptr<const RecordsSegmentReader>>& segments,
                                        const Row* const* rows, size_t count, std::string* documents,
                                        RecordsSegmentReader::CacheFill fill) {
  // Grouped by segment, so each segment reads the blocks it misses in one batch.
  std::vector<std::vector<SegmentDocumentLocator>> locators(segments.size());
  std::vector<std::vector<size_t>> positions(segments.size());
  for (size_t i = 0; i < count; ++i) {
    const Row& r = *rows[i];
    FATHOM_DCHECK(r.document_stored());
    if (r.document_segment >= segments.size() || segments[r.document_segment] == nullptr) {
      return Status::Corruption("record " + r.id + ": its document's segment is gone");
    }
    locators[r.document_segment].push_back(r.document_at);
    positions[r.document_segment].push_back(i);
  }
  std::vector<std::string> read;
  for (size_t k = 0; k < segments.size(); ++k) {
    if (locators[k].empty()) continue;
    read.resize(locators[k].size());
    FATHOM_RETURN_IF_ERROR(segments[k]->ReadDocuments(locators[k].data(), locators[k].size(), read.data(), fill));
    for (size_t j = 0; j < read.size(); ++j) {
      const size_t i = positions[k][j];
      // The row's checksum was taken from the document it was loaded or written with: a
      // document that differs (bad bytes in the cache, a wrong locator) is never served.
      if (Checksum64(read[j]) != rows[i]->document_checksum) return DocumentMismatch(*segments[k], rows[i]->id);
      documents[i] = std::move(read[j]);
    }
  }
  return Status::Ok();
}

RecordView RecordTable::view(uint32_t slot) const {
  const Row& r = rows_[slot];
  if (r.document || !r.document_stored()) return RecordView{r.id, r.document, r.metadata};
  const Row* row = &r;
  std::string document;
  Status s = ReadStoredDocuments(segments_, &row, 1, &document, RecordsSegmentReader::CacheFill::kFill);
  if (!s.ok()) {
    DocumentReadScope::Fail(s.WithContext("reading the document of " + r.id));
    return RecordView{r.id, NoDocument(), r.metadata};
  }
  return RecordView{r.id, DocumentReadScope::Keep(std::move(document)), r.metadata};
}

void RecordTable::PrefetchDocuments(const Roaring& slots) const {
  std::vector<std::vector<SegmentDocumentLocator>> wanted(segments_.size());
  size_t n = 0;
  for (auto it = slots.begin(); it != slots.end() && n < kPrefetchDocumentsMax; ++it) {
    if (*it >= rows_.size()) continue;
    const Row& r = rows_[*it];
    if (r.document || !r.document_stored()) continue;
    wanted[r.document_segment].push_back(r.document_at);
    ++n;
  }
  // Errors surface when the rows are viewed.
  for (size_t i = 0; i < wanted.size(); ++i) {
    if (!wanted[i].empty()) segments_[i]->Prefetch(wanted[i].data(), wanted[i].size());
  }
}

Status RecordTable::FetchDocuments(const uint32_t* slots, size_t count, std::vector<std::optional<std::string>>* out,
                                   RecordsSegmentReader::CacheFill fill) const {
  out->assign(count, std::nullopt);
  std::vector<const Row*> stored;
  std::vector<size_t> positions;
  for (size_t i = 0; i < count; ++i) {
    const Row& r = rows_[slots[i]];
    if (r.document) {
      (*out)[i] = r.document;
    } else if (r.document_stored()) {
      stored.push_back(&r);
      positions.push_back(i);
    }
  }
  std::vector<std::string> documents(stored.size());
  FATHOM_RETURN_IF_ERROR(ReadStoredDocuments(segments_, stored.data(), stored.size(), documents.data(), fill));
  for (size_t j = 0; j < stored.size(); ++j) (*out)[positions[j]] = std::move(documents[j]);
  return Status::Ok();
}

Status RecordTable::FetchDocuments(const std::vector<std::shared_ptr<const RecordsSegmentReader>>& segments,
                                   std::vector<Row*>& rows) {
  std::vector<const Row*> stored;
  std::vector<Row*> owners;
  for (Row* r : rows) {
    if (r->document || !r->document_stored()) continue;
    stored.push_back(r);
    owners.push_back(r);
  }
  std::vector<std::string> documents(stored.size());
  FATHOM_RETURN_IF_ERROR(ReadStoredDocuments(segments, stored.data(), stored.size(), documents.data(),
                                             RecordsSegmentReader::CacheFill::kFill));
  for (size_t j = 0; j < owners.size(); ++j) owners[j]->document = std::move(documents[j]);
  return Status::Ok();
}

Status RecordTable::BuildDocumentIndexes(const std::vector<RowIndex*>& indexes) const {
  if (indexes.empty()) return Status::Ok();
  for (RowIndex* index : indexes) {
    FATHOM_CHECK(index->field() == RowIndex::Field::kDocument);
    index->Clear();
  }
  std::vector<uint32_t> batch;
  std::vector<std::optional<std::string>> documents;
  for (size_t slot = 0; slot < rows_.size();) {
    // A batch of rows with documents, in slot order, bounded in count and in the bytes of
    // the stored documents it reads.
    batch.clear();
    size_t bytes = 0;
    for (; slot < rows_.size() && batch.size() < kBuildBatchDocumentsMax && bytes < kBuildBatchBytesMax; ++slot) {
      const Row& r = rows_[slot];
      if (!r.live || !r.has_document()) continue;
      batch.push_back(static_cast<uint32_t>(slot));
      if (!r.document) bytes += r.document_at.length;
    }
    // A pass over every block would only evict what queries use: bypass the cache.
    Status read = FetchDocuments(batch.data(), batch.size(), &documents, RecordsSegmentReader::CacheFill::kBypass);
    if (!read.ok()) return read.WithContext("building the document indexes");
    // Each index reads the batch and writes only itself: they take it side by side.
    build_executor().ParallelFor(indexes.size(), indexes.size(), [&](size_t k) {
      for (size_t i = 0; i < batch.size(); ++i) {
        const Row& r = rows_[batch[i]];
        indexes[k]->BulkAdd(batch[i], RecordView{r.id, documents[i], r.metadata});
      }
    });
  }
  for (RowIndex* index : indexes) index->Seal();
  return Status::Ok();
}

uint32_t RecordTable::AddSegment(std::shared_ptr<const RecordsSegmentReader> segment) {
  segments_.push_back(std::move(segment));
  return static_cast<uint32_t>(segments_.size() - 1);
}

void RecordTable::AdoptStoredDocuments(uint32_t segment, const std::vector<StoredEntry>& entries) {
  FATHOM_CHECK(segment < segments_.size() && segments_[segment] != nullptr);
  for (const StoredEntry& e : entries) {
    auto found = Find(e.id);
    if (!found || !e.has_document) continue;
    Row& r = rows_[*found];
    if (r.offset != e.offset) continue;
    const std::optional<uint64_t> checksum = DocumentChecksum(*found);
    if (!checksum || *checksum != e.document_checksum) continue;  // changed since
    r.document_segment = segment;
    r.document_at = e.at;
    r.document_checksum = e.document_checksum;
    r.document.reset();
  }
  DropUnusedSegments();
}

void RecordTable::DropUnusedSegments() {
  std::vector<bool> used(segments_.size(), false);
  for (const Row& r : rows_) {
    if (r.document_stored()) used[r.document_segment] = true;
  }
  for (size_t k = 0; k < segments_.size(); ++k) {
    if (!used[k]) segments_[k].reset();
  }
}

std::optional<uint64_t> RecordTable::DocumentChecksum(size_t slot) const {
  const Row& r = rows_[slot];
  if (r.document_stored()) return r.document_checksum;
  if (r.document) return Checksum64(*r.document);
  return std::nullopt;
}

}  // namespace fathom
