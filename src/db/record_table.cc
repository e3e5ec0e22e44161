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
}  // namespace

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
  if (field == RowIndex::Field::kMetadata && !r.document) return RecordView{r.id, NoDocument(), r.metadata};
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
    index->Remove(static_cast<uint32_t>(slot), RecordView{r.id, in_ram ? r.document : NoDocument(), r.metadata});
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

Executor& RecordTable::build_executor() const { return executor_ != nullptr ? *executor_ : DefaultExecutor(); }

Status RecordTable::RebuildIndex(RowIndex* only, const TextIndexLoader* load_text, DocumentIndexLoad* loaded_out,
                                 const SparseIndexLoader* load_sparse) {
  DocumentIndexLoad loaded;
  if (loaded_out != nullptr) *loaded_out = loaded;
  if (!row_indexes_enabled_) return Status::Ok();
  const bool use_loader = only == nullptr && load_text != nullptr && *load_text;
  std::vector<RowIndex*> of_documents, of_rows;
  for (RowIndex* index : row_indexes()) {
    if (index == nullptr || (only != nullptr && index != only)) continue;
    (index->field() == RowIndex::Field::kDocument ? of_documents : of_rows).push_back(index);
  }
  // Side by side: the indexes of rows build from the rows; beside them the document
  // indexes are first offered to the loader (a persisted text index object, which needs no
  // document), and those it could not load read the stored documents in one streaming
  // pass (BuildDocumentIndexes).
  Status built = Status::Ok();
  build_executor().ParallelFor(of_rows.size() + 1, of_rows.size() + 1, [&](size_t i) {
    if (i == of_rows.size()) {
      if (use_loader) {
        loaded = (*load_text)(*this, &text_index_, &trigram_index_);
        std::erase_if(of_documents, [&](RowIndex* index) {
          return (index == &text_index_ && loaded.text.ok()) || (index == &trigram_index_ && loaded.trigram.ok());
        });
      }
      built = BuildDocumentIndexes(of_documents);
      return;
    }
    RowIndex* index = of_rows[i];
    // A sparse index object, when there is one and it describes the rows, takes the
    // place of the build.
    if (only == nullptr && index == sparse_index_.get() && load_sparse != nullptr && *load_sparse &&
        (*load_sparse)(*this, sparse_index_.get()).ok()) {
      return;
    }
    index->Clear();
    for (size_t slot = 0; slot < rows_.size(); ++slot) {
      const Row& r = rows_[slot];
      if (r.live && HasField(r, index->field())) index->BulkAdd(static_cast<uint32_t>(slot), IndexView(slot, index->field()));
    }
    index->Seal();
  });
  if (loaded_out != nullptr) *loaded_out = loaded;
  return built;
}

Status RecordTable::SealIndexes(const TextIndexLoader& load_text, DocumentIndexLoad* loaded) {
  if (loaded != nullptr) *loaded = DocumentIndexLoad();
  const SparseIndexLoader load_sparse = std::exchange(offered_sparse_loader_, SparseIndexLoader());
  if (bulk_load_) {
    bulk_load_ = false;
    return RebuildIndex(nullptr, &load_text, loaded, &load_sparse);
  }
  for (RowIndex* index : row_indexes()) {
    if (index != nullptr) index->Seal();
  }
  return Status::Ok();
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
                          std::optional<std::pair<uint32_t, SegmentDocumentLocator>> stored) {
  const bool store = stored.has_value() && row.document.has_value();
  const uint64_t checksum = store ? Checksum64(*row.document) : 0;
  // A stored document stays in its segment: the row keeps where, and its checksum.
  if (store) row.document.reset();
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
      // Only indexes of metadata fall back to a rebuild (the document indexes renumber),
      // and a rebuild from metadata reads nothing, so it cannot fail.
      if (index != nullptr && !index->Renumber(renumbered)) FATHOM_CHECK(RebuildIndex(index).ok());
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
