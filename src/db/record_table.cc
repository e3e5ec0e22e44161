#include "db/record_table.h"

#include <algorithm>
#include <cmath>

#include "common/assert.h"
#include "common/checksum.h"
#include "db/document_reads.h"
#include "index/vector/distance.h"
#include "io/executor.h"

namespace fathom {

namespace {
bool IsEmptyArray(const MetadataValue& v) {
  return std::visit(
      [](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::vector<bool>> || std::is_same_v<T, std::vector<int64_t>> ||
                      std::is_same_v<T, std::vector<double>> || std::is_same_v<T, std::vector<std::string>>) {
          return x.empty();
        } else {
          return false;
        }
      },
      v);
}
}  // namespace

std::optional<Metadata> ApplyMetadataPatch(std::optional<Metadata> base, MetadataPatch patch) {
  Metadata out = base ? std::move(*base) : Metadata{};
  for (auto& [key, value] : patch) {
    if (!value || IsEmptyArray(*value)) {
      out.erase(key);
    } else {
      out.insert_or_assign(key, std::move(*value));
    }
  }
  if (out.empty()) return std::nullopt;
  return out;
}

std::optional<size_t> RecordTable::Find(const std::string& id) const {
  auto it = index_.find(id);
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

std::optional<uint32_t> RecordTable::FindSlot(const std::string& id) const {
  auto it = index_.find(id);
  if (it == index_.end()) return std::nullopt;
  return static_cast<uint32_t>(it->second);
}

namespace {
bool HasField(const Row& row, RowIndex::Field field) {
  return field == RowIndex::Field::kMetadata ? row.metadata.has_value() : row.has_document();
}
const std::optional<std::string> kNoDocument;

// Prefetch hints read at most this many documents ahead (the block cache is bounded:
// more would evict what the hint read before it is used).
constexpr size_t kPrefetchDocumentsMax = 1024;

Status DocumentMismatch(const RecordsSegmentReader& segment, const std::string& id) {
  return Status::Corruption("records segment " + segment.name() + ": the entry of record " + id +
                            " holds another document than the one indexed");
}
}  // namespace

RecordView RecordTable::view(uint32_t slot) const {
  const Row& r = rows_[slot];
  if (r.document || !r.document_stored()) return RecordView{r.id, r.document, r.metadata};
  const RecordsSegmentReader* segment = segments_[r.document_segment].get();
  std::optional<std::string> document;
  Status s = segment->ReadEntries(&r.document_at, 1, [&](size_t, SegmentEntry& e) { document = std::move(e.row.document); });
  if (s.ok() && (!document || Checksum64(*document) != r.document_checksum)) s = DocumentMismatch(*segment, r.id);
  if (!s.ok()) {
    DocumentReadScope::Fail(s.WithContext("reading the document of " + r.id));
    return RecordView{r.id, kNoDocument, r.metadata};
  }
  return RecordView{r.id, DocumentReadScope::Keep(std::move(*document)), r.metadata};
}

void RecordTable::PrefetchDocuments(const Roaring& slots) const {
  std::vector<std::vector<SegmentEntryLocator>> wanted(segments_.size());
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
    if (!wanted[i].empty()) (void)segments_[i]->ReadEntries(wanted[i].data(), wanted[i].size(), [](size_t, SegmentEntry&) {});
  }
}

Status RecordTable::FetchDocuments(const uint32_t* slots, size_t count,
                                   std::vector<std::optional<std::string>>* out) const {
  out->assign(count, std::nullopt);
  std::vector<std::vector<SegmentEntryLocator>> locators(segments_.size());
  std::vector<std::vector<size_t>> positions(segments_.size());
  for (size_t i = 0; i < count; ++i) {
    const Row& r = rows_[slots[i]];
    if (r.document) {
      (*out)[i] = r.document;
    } else if (r.document_stored()) {
      locators[r.document_segment].push_back(r.document_at);
      positions[r.document_segment].push_back(i);
    }
  }
  for (size_t k = 0; k < segments_.size(); ++k) {
    if (locators[k].empty()) continue;
    Status mismatch;
    FATHOM_RETURN_IF_ERROR(segments_[k]->ReadEntries(locators[k].data(), locators[k].size(), [&](size_t j, SegmentEntry& e) {
      const size_t i = positions[k][j];
      const Row& r = rows_[slots[i]];
      if (!e.row.document || Checksum64(*e.row.document) != r.document_checksum) {
        if (mismatch.ok()) mismatch = DocumentMismatch(*segments_[k], r.id);
        return;
      }
      (*out)[i] = std::move(e.row.document);
    }));
    FATHOM_RETURN_IF_ERROR(mismatch);
  }
  return Status::Ok();
}

Status RecordTable::FetchDocuments(const std::vector<std::shared_ptr<const RecordsSegmentReader>>& segments,
                                   std::vector<Row*>& rows) {
  std::vector<std::vector<SegmentEntryLocator>> locators(segments.size());
  std::vector<std::vector<Row*>> owners(segments.size());
  for (Row* r : rows) {
    if (r->document || !r->document_stored()) continue;
    if (r->document_segment >= segments.size() || segments[r->document_segment] == nullptr) {
      return Status::Corruption("record " + r->id + ": its document's segment is gone");
    }
    locators[r->document_segment].push_back(r->document_at);
    owners[r->document_segment].push_back(r);
  }
  for (size_t k = 0; k < segments.size(); ++k) {
    if (locators[k].empty()) continue;
    Status mismatch;
    FATHOM_RETURN_IF_ERROR(segments[k]->ReadEntries(locators[k].data(), locators[k].size(), [&](size_t j, SegmentEntry& e) {
      Row* r = owners[k][j];
      if (!e.row.document || Checksum64(*e.row.document) != r->document_checksum) {
        if (mismatch.ok()) mismatch = DocumentMismatch(*segments[k], r->id);
        return;
      }
      r->document = std::move(e.row.document);
    }));
    FATHOM_RETURN_IF_ERROR(mismatch);
  }
  return Status::Ok();
}

uint32_t RecordTable::AddSegment(std::shared_ptr<const RecordsSegmentReader> segment) {
  segments_.push_back(std::move(segment));
  return static_cast<uint32_t>(segments_.size() - 1);
}

void RecordTable::SpillStoredDocuments() {
  for (Row& r : rows_) {
    if (r.document_stored() && r.document) r.document.reset();
  }
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

void RecordTable::ForgetStoredDocuments() {
  for (Row& r : rows_) {
    if (r.document_stored() && r.document) r.document_segment = Row::kNotStored;
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
  if (r.document) return r.document_stored() ? r.document_checksum : Checksum64(*r.document);
  if (r.document_stored()) return r.document_checksum;
  return std::nullopt;
}

size_t RecordTable::RowMemoryBytes() const {
  auto heap = [](const std::string& s) { return s.capacity() > 15 ? s.capacity() + 1 : 0; };
  size_t bytes = rows_.capacity() * sizeof(Row) + live_.capacity();
  for (const Row& r : rows_) {
    bytes += heap(r.id);
    if (r.document) bytes += heap(*r.document);
    if (r.uri) bytes += heap(*r.uri);
    if (r.metadata) {
      // std::map nodes: links and colour (32 bytes) plus the pair, per key.
      for (const auto& [key, value] : *r.metadata) {
        bytes += 32 + sizeof(std::pair<const std::string, MetadataValue>) + heap(key);
        if (const auto* s = std::get_if<std::string>(&value)) bytes += heap(*s);
      }
    }
  }
  // The id map: a node (next pointer, key, value, cached hash) per id plus a bucket each.
  bytes += index_.size() * (sizeof(void*) + sizeof(std::pair<const std::string, size_t>) + sizeof(size_t)) +
           index_.bucket_count() * sizeof(void*);
  for (const auto& [id, slot] : index_) bytes += heap(id);
  return bytes;
}

RecordView RecordTable::IndexView(size_t slot, RowIndex::Field field) const {
  const Row& r = rows_[slot];
  // An index of metadata never reads the document: no read for it.
  if (field == RowIndex::Field::kMetadata && !r.document) return RecordView{r.id, kNoDocument, r.metadata};
  return view(static_cast<uint32_t>(slot));
}

void RecordTable::IndexAdd(RowIndex::Field field, size_t slot) {
  const Row& r = rows_[slot];
  if (bulk_load_ || !row_indexes_enabled_ || !HasField(r, field)) return;
  for (RowIndex* index : row_indexes()) {
    if (index != nullptr && index->field() == field) index->Add(static_cast<uint32_t>(slot), IndexView(slot, field));
  }
}

void RecordTable::IndexRemove(RowIndex::Field field, size_t slot) {
  const Row& r = rows_[slot];
  if (bulk_load_ || !row_indexes_enabled_ || !HasField(r, field)) return;
  const bool in_ram = field == RowIndex::Field::kMetadata || r.document.has_value();
  for (RowIndex* index : row_indexes()) {
    if (index == nullptr || index->field() != field) continue;
    if (!in_ram && index->RemoveReadsValue()) {
      // The old document is in a segment and this write must not wait for (or fail on) a
      // read. Such an index is a candidate filter whose answers are verified against the
      // rows (the trigram index): leaving the slot in the old document's lists costs a
      // false candidate, never a wrong answer, until the next rebuild. The index remembers
      // the slot, so that the copy compaction persists holds no stale entry.
      index->RemoveSkipped(static_cast<uint32_t>(slot));
      continue;
    }
    index->Remove(static_cast<uint32_t>(slot), RecordView{r.id, in_ram ? r.document : kNoDocument, r.metadata});
  }
}

void RecordTable::SetMetadata(size_t slot, std::optional<Metadata> metadata) {
  IndexRemove(RowIndex::Field::kMetadata, slot);
  rows_[slot].metadata = std::move(metadata);
  IndexAdd(RowIndex::Field::kMetadata, slot);
}

void RecordTable::SetDocument(size_t slot, std::optional<std::string> document) {
  IndexRemove(RowIndex::Field::kDocument, slot);
  Row& r = rows_[slot];
  r.document = std::move(document);
  r.document_segment = Row::kNotStored;  // the new document is in RAM until compacted
  IndexAdd(RowIndex::Field::kDocument, slot);
}

void RecordTable::set_text_analyzer(std::shared_ptr<const Analyzer> analyzer) {
  FATHOM_CHECK(rows_.empty());
  text_index_.set_analyzer(std::move(analyzer));
}

void RecordTable::set_sparse_key(const std::string& key) {
  FATHOM_CHECK(rows_.empty());
  sparse_index_ = std::make_unique<SparseIndex>(key);
}

RecordTable::DocumentIndexLoad RecordTable::RebuildIndex(RowIndex* only, const TextIndexLoader* load_text) {
  DocumentIndexLoad loaded;
  if (!row_indexes_enabled_) return loaded;
  const bool use_loader = only == nullptr && load_text != nullptr && *load_text;
  auto loadable = [&](RowIndex* index) { return index == &text_index_ || index == &trigram_index_; };
  std::vector<RowIndex*> indexes;
  for (RowIndex* index : row_indexes()) {
    if (index != nullptr && (only == nullptr || index == only) && !(use_loader && loadable(index))) {
      indexes.push_back(index);
    }
  }
  auto build = [&](RowIndex* index) {
    index->Clear();
    for (size_t slot = 0; slot < rows_.size(); ++slot) {
      const Row& r = rows_[slot];
      if (r.live && HasField(r, index->field())) index->BulkAdd(static_cast<uint32_t>(slot), IndexView(slot, index->field()));
    }
    index->Seal();
  };
  // Each index reads the rows and writes only itself: they build side by side, and the
  // loader (which writes the document indexes only) runs beside them.
  const size_t tasks = indexes.size() + (use_loader ? 1 : 0);
  DefaultExecutor().ParallelFor(tasks, tasks, [&](size_t i) {
    if (i == indexes.size()) {
      loaded = (*load_text)(*this, &text_index_, &trigram_index_);
    } else {
      build(indexes[i]);
    }
  });
  if (use_loader) {
    // What the loader could not give is built from the documents after all.
    std::vector<RowIndex*> rest;
    if (!loaded.text.ok()) rest.push_back(&text_index_);
    if (!loaded.trigram.ok()) rest.push_back(&trigram_index_);
    if (!rest.empty()) DefaultExecutor().ParallelFor(rest.size(), rest.size(), [&](size_t i) { build(rest[i]); });
  }
  return loaded;
}

RecordTable::DocumentIndexLoad RecordTable::SealIndexes(const TextIndexLoader& load_text) {
  if (bulk_load_) {
    bulk_load_ = false;
    return RebuildIndex(nullptr, &load_text);
  }
  for (RowIndex* index : row_indexes()) {
    if (index != nullptr) index->Seal();
  }
  return DocumentIndexLoad();
}

void RecordTable::SetEmbedding(size_t slot, const std::vector<float>& embedding, bool loading) {
  FATHOM_CHECK(dimension_ && embedding.size() == *dimension_);
  if (loading) {
    vectors_.LoadRow(slot, embedding.data(), rows_[slot].offset);
  } else {
    vectors_.Set(slot, embedding.data());
  }
  vector_changes_.push_back(static_cast<uint32_t>(slot));
}

void RecordTable::Reserve(size_t extra_rows) {
  size_t want = rows_.size() + extra_rows;
  vectors_.Reserve(extra_rows);
  if (want <= rows_.capacity()) return;
  want = std::max(want, rows_.capacity() * 2);  // keep growth geometric across batches
  rows_.reserve(want);
  live_.reserve(want);
  index_.reserve(want);
}

size_t RecordTable::Append(Row row, const std::vector<float>& embedding, bool loading) {
  if (!dimension_) set_dimension(static_cast<uint32_t>(embedding.size()));
  FATHOM_CHECK(embedding.size() == *dimension_);
  size_t slot = rows_.size();
  row.live = true;
  index_[row.id] = slot;
  const uint64_t offset = row.offset;
  rows_.push_back(std::move(row));
  live_.push_back(1);
  live_slots_.add(static_cast<uint32_t>(slot));
  IndexAdd(RowIndex::Field::kMetadata, slot);
  IndexAdd(RowIndex::Field::kDocument, slot);
  if (loading) {
    vectors_.LoadRow(slot, embedding.data(), offset);
  } else {
    vectors_.Append(embedding.data());
  }
  vector_changes_.push_back(static_cast<uint32_t>(slot));
  return slot;
}

void RecordTable::Kill(size_t slot) {
  SetDocument(slot, std::nullopt);
  SetMetadata(slot, std::nullopt);
  Row& r = rows_[slot];
  index_.erase(r.id);
  r.live = false;
  live_[slot] = 0;
  live_slots_.remove(static_cast<uint32_t>(slot));
  vectors_.Release(slot);
  vector_changes_.push_back(static_cast<uint32_t>(slot));
  r.uri.reset();
  ++dead_;
}

void RecordTable::Apply(Operation&& op) {
  FATHOM_CHECK(!bulk_load_);  // the index must be sealed before writes apply
  WriteRecord& rec = op.record;
  auto existing = Find(rec.id);
  switch (op.type) {
    case OpType::kAdd:
    case OpType::kUpsert: {
      if (!existing) {
        FATHOM_CHECK(rec.embedding.has_value());
        Row row;
        row.id = rec.id;
        row.offset = next_offset_++;
        row.document = std::move(rec.document);
        row.uri = std::move(rec.uri);
        if (rec.metadata) row.metadata = ApplyMetadataPatch(std::nullopt, std::move(*rec.metadata));
        Append(std::move(row), *rec.embedding, /*loading=*/false);
        dirty_.insert(std::move(rec.id));
        return;
      }
      if (op.type == OpType::kAdd) return;  // first write wins
      [[fallthrough]];
    }
    case OpType::kUpdate: {
      if (!existing) return;  // update of a missing id is ignored
      Row& row = rows_[*existing];
      if (rec.embedding) SetEmbedding(*existing, *rec.embedding, /*loading=*/false);
      if (rec.document) SetDocument(*existing, std::move(rec.document));
      if (rec.uri) row.uri = std::move(rec.uri);
      if (rec.metadata) {
        IndexRemove(RowIndex::Field::kMetadata, *existing);
        row.metadata = ApplyMetadataPatch(std::move(row.metadata), std::move(*rec.metadata));
        IndexAdd(RowIndex::Field::kMetadata, *existing);
      }
      dirty_.insert(rec.id);
      return;
    }
    case OpType::kDelete: {
      if (!existing) return;
      Kill(*existing);
      dirty_.insert(rec.id);
      return;
    }
  }
}

void RecordTable::LoadRow(Row row, const std::vector<float>& embedding,
                          std::optional<std::pair<uint32_t, SegmentEntryLocator>> stored) {
  const bool store = stored.has_value() && row.document.has_value();
  const uint64_t checksum = store ? Checksum64(*row.document) : 0;
  size_t slot;
  if (auto existing = Find(row.id); existing && rows_[*existing].offset == row.offset) {
    slot = *existing;
    Row& current = rows_[slot];
    SetDocument(slot, std::move(row.document));
    current.uri = std::move(row.uri);
    SetMetadata(slot, std::move(row.metadata));
    SetEmbedding(slot, embedding, /*loading=*/true);
  } else {
    if (existing) Kill(*existing);  // deleted and re-added: the new incarnation goes to the end
    row.document_segment = Row::kNotStored;
    slot = Append(std::move(row), embedding, /*loading=*/true);
  }
  if (store) {
    // The document stays in RAM too until SpillStoredDocuments.
    Row& r = rows_[slot];
    r.document_segment = stored->first;
    r.document_at = stored->second;
    r.document_checksum = checksum;
  }
}

void RecordTable::LoadTombstone(const std::string& id) {
  if (auto existing = Find(id)) Kill(*existing);
}

std::vector<uint32_t> RecordTable::TakeVectorChanges() {
  std::vector<uint32_t> out;
  out.swap(vector_changes_);
  return out;
}

std::vector<uint32_t> RecordTable::MaybeShrink() {
  if (dead_ < 1024 || dead_ < index_.size()) return {};
  size_t out = 0;
  std::vector<uint32_t> renumbered(rows_.size(), kNoSlot);
  for (size_t slot = 0; slot < rows_.size(); ++slot) {
    if (!rows_[slot].live) continue;
    renumbered[slot] = static_cast<uint32_t>(out);
    if (out != slot) {
      rows_[out] = std::move(rows_[slot]);
      live_[out] = 1;
    }
    index_[rows_[out].id] = out;
    ++out;
  }
  rows_.resize(out);
  vectors_.Renumber(renumbered, out);
  live_.resize(out);
  live_slots_ = Roaring();
  live_slots_.addRange(0, out);
  if (!bulk_load_) {
    for (RowIndex* index : row_indexes()) {
      if (index != nullptr && !index->Renumber(renumbered)) (void)RebuildIndex(index);
    }
  }
  dead_ = 0;
  size_t kept = 0;
  for (uint32_t slot : vector_changes_) {
    if (renumbered[slot] != kNoSlot) vector_changes_[kept++] = renumbered[slot];
  }
  vector_changes_.resize(kept);
  return renumbered;
}

std::unordered_set<std::string> RecordTable::TakeDirty() {
  std::unordered_set<std::string> out;
  out.swap(dirty_);
  return out;
}

void RecordTable::RestoreDirty(const std::unordered_set<std::string>& ids) {
  dirty_.insert(ids.begin(), ids.end());
}

}  // namespace fathom
