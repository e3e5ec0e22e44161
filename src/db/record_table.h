// RecordTable: the in-memory state of one collection's records, and the semantics of
// applying add / upsert / update / delete to it (Chroma's, chroma.md section 1.7).
//
// Rows live in slots in insertion order (the order Get returns); embeddings live in a
// VectorColumn by slot (db/vector_column.h: hot in RAM, or cold in object storage with
// an int8 approximation in RAM), with norms kept for cosine.
// A row loaded from a records segment keeps its document there, not in RAM: only a
// locator (segment number, block, the document's range) and the document's checksum stay
// resident; the table shares the segments' readers (storage/records_segment_reader.h) and
// reads such documents on demand (docs/design/documents-on-demand.md), the code of which
// is db/record_table_documents.cc. Rows from the WAL tail keep theirs in RAM until a
// compaction has stored them (AdoptStoredDocuments).
// Deleted slots are tombstoned and reclaimed by Shrink(). The table also tracks which ids
// changed since the last compaction (the "dirty" set) so compaction can write a delta.
// The table keeps a bitmap of live slots and its row indexes (index/row_index.h: the
// metadata index, index/meta/; the trigram and BM25 text indexes, index/text/; the sparse
// vector index of the collection's sparse key, index/sparse/, when it has one) in step
// with its rows, and is the query layer's RowSource.
// Thread-safety: none; the owning CollectionImpl serialises writers and readers.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "db/vector_column.h"
#include "fathom/types.h"
#include "index/meta/metadata_index.h"
#include "index/sparse/sparse_index.h"
#include "index/text/text_index.h"
#include "index/text/trigram_index.h"
#include "query/row_source.h"
#include "storage/records_segment_reader.h"
#include "storage/row.h"
#include "wal/operation.h"

namespace fathom {

class Executor;  // io/executor.h

class RecordTable final : public RowSource {
 public:
  std::optional<uint32_t> dimension() const { return dimension_; }
  void set_dimension(std::optional<uint32_t> d) {
    dimension_ = d;
    vectors_.set_dim(d.value_or(0));
  }
  uint64_t next_offset() const { return next_offset_; }
  void set_next_offset(uint64_t v) { next_offset_ = v; }
  size_t live_count() const { return index_.size(); }

  // Applies one operation (already validated, including its dimension).
  void Apply(Operation&& op);

  // Segment loading: a row's full state (replaces a row with the same id), or its deletion.
  // With `stored`, where the row's document is in the segment numbered stored->first: the
  // row keeps that and the document's checksum, not the document (the indexes of
  // documents read it back at SealIndexes).
  void LoadRow(Row row, const std::vector<float>& embedding,
               std::optional<std::pair<uint32_t, SegmentDocumentLocator>> stored = std::nullopt);
  void LoadTombstone(const std::string& id);

  // ---- documents stored in segments ----
  // Makes `segment` readable by the table's rows; returns its number for locators.
  uint32_t AddSegment(std::shared_ptr<const RecordsSegmentReader> segment);
  // The reader of segment `number` (null once no row refers to it).
  std::shared_ptr<const RecordsSegmentReader> segment(uint32_t number) const {
    return number < segments_.size() ? segments_[number] : nullptr;
  }
  // A compaction stored rows in segment `segment` (a number from AddSegment): each live
  // row with that id and offset whose document (in RAM or stored elsewhere) has the
  // checksum the entry's has now refers to the entry instead; other rows changed
  // meanwhile and keep theirs. Then drops the readers no row refers to any more.
  struct StoredEntry {
    std::string id;
    uint64_t offset = 0;
    bool has_document = false;
    uint64_t document_checksum = 0;
    SegmentDocumentLocator at;
  };
  void AdoptStoredDocuments(uint32_t segment, const std::vector<StoredEntry>& entries);
  // The documents of `slots` (live), in order: copied from RAM or read, the blocks of each
  // segment in one batch, each checked against the row's checksum. IOError / Corruption
  // when a read fails.
  Status FetchDocuments(const uint32_t* slots, size_t count, std::vector<std::optional<std::string>>* out,
                        RecordsSegmentReader::CacheFill fill = RecordsSegmentReader::CacheFill::kFill) const;
  // Fills rows[i].document for every row whose document is stored, reading through
  // `segments` (the table's readers, taken with the rows). For rows copied out of the table.
  static Status FetchDocuments(const std::vector<std::shared_ptr<const RecordsSegmentReader>>& segments,
                               std::vector<Row*>& rows);
  const std::vector<std::shared_ptr<const RecordsSegmentReader>>& segments() const { return segments_; }
  // XXH3 of the row's document, nullopt when it has none (without reading it).
  std::optional<uint64_t> DocumentChecksum(size_t slot) const;
  // Bytes held for rows (fields, strings' heap bytes, the id map), not the indexes or
  // vectors: what docs/design/object-storage.md reports per row.
  size_t RowMemoryBytes() const;

  // Slot access for scans. Slots are in insertion order; check row(slot).live.
  size_t slot_count() const { return rows_.size(); }
  const Row& row(size_t slot) const { return rows_[slot]; }
  // One byte per slot (1 = live), apart from the rows so scans touch little memory.
  const uint8_t* live() const { return live_.data(); }
  const VectorColumn& vectors() const { return vectors_; }
  VectorColumn& mutable_vectors() { return vectors_; }
  float norm(size_t slot) const { return vectors_.norm(slot); }
  std::optional<size_t> Find(const std::string& id) const;

  // RowSource.
  const Roaring& live_slots() const override { return live_slots_; }
  // A stored document is read on demand: a failed read is recorded in the thread's
  // DocumentReadScope (db/document_reads.h) and the view has no document.
  RecordView view(uint32_t slot) const override;
  RecordView metadata_view(uint32_t slot) const override { return IndexView(slot, RowIndex::Field::kMetadata); }
  void PrefetchDocuments(const Roaring& slots) const override;
  std::optional<uint32_t> FindSlot(const std::string& id) const override;
  const MetadataIndex& metadata_index() const override { return metadata_index_; }
  const TrigramIndex* trigram_index() const override { return &trigram_index_; }
  const TextIndex* text_index() const override { return &text_index_; }
  // The analyzer of the BM25 text index (a collection's TextAnalyzerOptions). Only while
  // the table has no row, i.e. before rows load: rows are indexed as they arrive.
  void set_text_analyzer(std::shared_ptr<const Analyzer> analyzer);
  // The sparse vector index over metadata key `key` (the collection's sparse key); null
  // when the collection has none. Set, like the analyzer, before rows load.
  void set_sparse_key(const std::string& key);
  const SparseIndex* sparse_index() const { return sparse_index_.get(); }

  // Where the row index builds (RebuildIndex, BuildDocumentIndexes) run side by side;
  // null = DefaultExecutor(). Not owned: must outlive the table's use of it.
  void set_executor(Executor* executor) { executor_ = executor; }

  // A scratch table (compaction's merge and replay) that is never queried: its row
  // indexes are not kept. Call before any row is added.
  void DisableRowIndexes() { row_indexes_enabled_ = false; }

  // Loading segments at open: the row indexes are built once at SealIndexes() rather
  // than row by row. Only LoadRow / LoadTombstone may come in between.
  void BeginBulkLoad() { bulk_load_ = true; }
  // ---- the document indexes from a persisted text index object ----
  // What a loader gave, per index of documents (BM25 text, trigram): Ok when the index was
  // loaded, otherwise why not; an index not loaded was built from the documents.
  struct DocumentIndexLoad {
    Status text = Status::NotFound("no text index object");
    Status trigram = Status::NotFound("no text index object");
    // Whether both came from the object: then the open read no document for its indexes.
    bool all_loaded() const { return text.ok() && trigram.ok(); }
  };
  using TextIndexLoader =
      std::function<DocumentIndexLoad(const RecordTable& table, TextIndex* text, TrigramIndex* trigram)>;
  // Seals with the loader OfferDocumentIndexes gave since the last seal (if any).
  [[nodiscard]] Status SealIndexes() { return SealIndexes(std::exchange(offered_loader_, TextIndexLoader())); }
  // The next SealIndexes() first offers the document indexes to `load_text` (a persisted
  // text index object: db/text_index_persistence.h).
  void OfferDocumentIndexes(TextIndexLoader load_text) { offered_loader_ = std::move(load_text); }
  // ---- the sparse vector index from a persisted sparse index object ----
  // Loads the sparse index from its object (db/sparse_index_persistence.h): Ok when it
  // did, otherwise why not (the index is then built from the rows).
  using SparseIndexLoader = std::function<Status(const RecordTable& table, SparseIndex* index)>;
  // The next bulk-load SealIndexes first offers the sparse index to `load_sparse`, beside
  // the other indexes' builds; the index is built from the rows when it returns an error.
  void OfferSparseIndex(SparseIndexLoader load_sparse) { offered_sparse_loader_ = std::move(load_sparse); }
  // SealIndexes, except that the document indexes are first offered to `load_text` (a
  // persisted text index object, db/text_index_persistence.h), beside the other indexes'
  // builds; those it does not load are built from the documents after it. *loaded (when
  // given) gets what load_text returned (NotFound for both when it was not called: no bulk
  // load, or no loader). Returns the error of a failed read of a stored document (IOError,
  // Corruption): the indexes are incomplete then and the table must not be used.
  [[nodiscard]] Status SealIndexes(const TextIndexLoader& load_text, DocumentIndexLoad* loaded = nullptr);
  // The number of documents, and of stored documents' bytes, that an index build reads
  // at once (BuildDocumentIndexes): open's transient memory for documents.
  static constexpr size_t kBuildBatchDocumentsMax = 1024;
  static constexpr size_t kBuildBatchBytesMax = 4 << 20;

  // Makes room for `extra_rows` more rows without repeated reallocation.
  void Reserve(size_t extra_rows);

  // Reclaims tombstoned slots when they outnumber live ones. Returns the renumbering
  // (old slot -> new slot, kNoSlot for reclaimed ones), empty when nothing moved.
  static constexpr uint32_t kNoSlot = UINT32_MAX;
  std::vector<uint32_t> MaybeShrink();

  // Slots whose embedding was set (added or changed) or that were deleted since the last
  // TakeVectorChanges(), in order, possibly repeated; the vector index's change feed.
  // Renumbered by MaybeShrink like everything else.
  const std::vector<uint32_t>& vector_changes() const { return vector_changes_; }
  std::vector<uint32_t> TakeVectorChanges();

  // Ids changed since the last TakeDirty().
  const std::unordered_set<std::string>& dirty() const { return dirty_; }
  std::unordered_set<std::string> TakeDirty();
  void RestoreDirty(const std::unordered_set<std::string>& ids);

 private:
  // `loading`: the row comes from a segment at open (it may match a cold part's row).
  size_t Append(Row row, const std::vector<float>& embedding, bool loading);
  void SetEmbedding(size_t slot, const std::vector<float>& embedding, bool loading);
  void Kill(size_t slot);
  // Replaces a row's metadata / document, keeping the row indexes of that field in step.
  void SetMetadata(size_t slot, std::optional<Metadata> metadata);
  void SetDocument(size_t slot, std::optional<std::string> document);
  // Every row index, in a fixed order (computed, so the table stays movable); the last is
  // null when the collection has no sparse key.
  std::array<RowIndex*, 4> row_indexes() {
    return {&metadata_index_, &trigram_index_, &text_index_, sparse_index_.get()};
  }
  // Tells the indexes of `field` that the live row at `slot` got it / is about to lose it
  // (a no-op during a bulk load, when no index is built yet, or when the row lacks it).
  void IndexAdd(RowIndex::Field field, size_t slot);
  // view(slot), for an index of `field`: a stored document is read on demand, and only
  // for an index of documents.
  RecordView IndexView(size_t slot, RowIndex::Field field) const;
  void IndexRemove(RowIndex::Field field, size_t slot);
  // Closes the segment readers no row's stored document refers to.
  void DropUnusedSegments();
  // Clear, BulkAdd every live row, Seal: `index`, or every index when null. With
  // `load_text` (and every index), the document indexes are loaded by it instead where it
  // can (what it returned goes to *loaded). Returns a failed read of a stored document.
  // With `load_sparse` (and every index), the sparse index is loaded by it instead when it
  // can.
  Status RebuildIndex(RowIndex* index, const TextIndexLoader* load_text = nullptr,
                      DocumentIndexLoad* loaded = nullptr, const SparseIndexLoader* load_sparse = nullptr);
  // Clear, BulkAdd every live row with a document, Seal, for each of `indexes` (all of
  // documents): stored documents are read in batches of slots in slot order (at most
  // kBuildBatchDocumentsMax documents and about kBuildBatchBytesMax bytes), bypassing
  // the block cache, so the build holds O(batch) documents, not all of them. Returns the
  // first failed read (the indexes are incomplete then).
  Status BuildDocumentIndexes(const std::vector<RowIndex*>& indexes) const;
  // Reads the stored documents of rows[i] (each document_stored()) through `segments`
  // into documents[i], the blocks of each segment in one batch, and checks each against
  // its row's checksum (Corruption on a mismatch: never served).
  static Status ReadStoredDocuments(const std::vector<std::shared_ptr<const RecordsSegmentReader>>& segments,
                                    const Row* const* rows, size_t count, std::string* documents,
                                    RecordsSegmentReader::CacheFill fill);
  Executor& build_executor() const;
  // A view's document when the row has none (or it could not be read).
  static const std::optional<std::string>& NoDocument();

  std::optional<uint32_t> dimension_;
  uint64_t next_offset_ = 0;
  std::vector<Row> rows_;
  std::vector<uint8_t> live_;
  Roaring live_slots_;
  MetadataIndex metadata_index_;
  TrigramIndex trigram_index_;
  TextIndex text_index_;
  std::unique_ptr<SparseIndex> sparse_index_;
  bool bulk_load_ = false;  // BeginBulkLoad: the row indexes are built at SealIndexes
  TextIndexLoader offered_loader_;  // OfferDocumentIndexes, for the next SealIndexes()
  SparseIndexLoader offered_sparse_loader_;  // OfferSparseIndex, for the next SealIndexes
  bool row_indexes_enabled_ = true;
  Executor* executor_ = nullptr;  // null = DefaultExecutor(): see build_executor()
  VectorColumn vectors_;
  std::unordered_map<std::string, size_t> index_;  // id -> live slot
  size_t dead_ = 0;
  std::unordered_set<std::string> dirty_;
  std::vector<uint32_t> vector_changes_;
  // Readers of the segments rows' documents are stored in, by number; null once unused.
  std::vector<std::shared_ptr<const RecordsSegmentReader>> segments_;
};

// Applies a metadata patch: nullopt or an empty array deletes a key, other values set it.
// Returns nullopt when no key is left.
std::optional<Metadata> ApplyMetadataPatch(std::optional<Metadata> base, MetadataPatch patch);

}  // namespace fathom
