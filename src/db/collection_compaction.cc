// CollectionImpl, maintenance: compaction (the fold of the WAL tail into a segment is in
// db/collection_fold.cc; merging segments), index and cold-vector maintenance, repair,
// and deleting obsolete objects.
#include "db/collection_impl.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>
#include <type_traits>
#include <variant>
#include <unordered_set>

#include "common/assert.h"
#include "common/checksum.h"
#include "common/limits.h"
#include "common/random.h"
#include "db/validate.h"
#include "fathom/db.h"
#include "index/meta/filter.h"
#include "query/select.h"
#include "index/vector/distance.h"
#include "index/vector/top_k.h"
#include "io/commit_object.h"
#include "storage/records_segment.h"
#include "wal/wal_format.h"

namespace fathom {

// ---- compaction -------------------------------------------------------------------------

void CollectionImpl::MaybeScheduleCompaction() {
  bool due;
  {
    std::shared_lock<std::shared_mutex> lock(state_mu_);
    due = tail_ops_ >= compaction_trigger_ops_ || tail_bytes_ >= TailBytesMax() ||
          indexes_.NeedsMaintenance(table_);
  }
  if (due && schedule_ && !compaction_scheduled_.exchange(true)) schedule_(weak_from_this());
}

Status CollectionImpl::CommitManifest(Manifest next) {
  // `next` was derived from manifest_, which must be known (RunCompaction resolves it).
  if (uncertain_manifest_) {
    return Status::Unavailable("the outcome of an earlier manifest commit is not known yet; compaction retries");
  }
  next.version = manifest_.version + 1;
  if (shared_ && clock_->Now() - compaction_started_ > gc_grace_ / 2) {
    // Another node's garbage collection may delete the objects this compaction wrote a
    // grace period after it first found them unreferenced: a manifest naming them is
    // committed well within that, or not at all.
    return Status::Unavailable("compaction took longer than half the GC grace period (DatabaseOptions::gc_grace); "
                               "it retries");
  }
  FATHOM_ASSIGN_OR_RETURN(std::string bytes, EncodeManifest(next));
  Status s = CommitObject(*store_, ManifestKey(id_, next.version), bytes);
  if (!s.ok()) {
    // Unknown outcome: the manifest may be the collection's current one. Until that is
    // known nothing may take its version or delete what it references.
    if (!s.IsAlreadyExists()) uncertain_manifest_ = UncertainManifest{std::move(next), std::move(bytes)};
    return s;
  }
  manifest_ = std::move(next);
  known_manifest_version_ = manifest_.version;
  DropCoveredTail();
  return Status::Ok();
}

Status CollectionImpl::ResolveUncertainManifest() {
  if (!uncertain_manifest_) return Status::Ok();
  const std::string key = ManifestKey(id_, uncertain_manifest_->manifest.version);
  Status s = ResolveObject(*store_, key, uncertain_manifest_->bytes);
  if (s.IsNotFound()) {
    uncertain_manifest_.reset();  // it never landed
    return Status::Ok();
  }
  if (s.IsAlreadyExists()) return Status::Corruption(key + " was written by another writer");
  FATHOM_RETURN_IF_ERROR(s.WithContext("resolving the outcome of " + key));
  // It landed: it is the collection's manifest. The index objects it names may be older
  // than the indexes in memory (or missing), so the next fold writes them again.
  manifest_ = std::move(uncertain_manifest_->manifest);
  known_manifest_version_ = manifest_.version;
  uncertain_manifest_.reset();
  indexes_.ForgetObjects();
  DropCoveredTail();
  return Status::Ok();
}

void CollectionImpl::DropCoveredTail() {
  std::unique_lock<std::shared_mutex> lock(state_mu_);
  while (!tail_.empty() && tail_.front().sequence <= manifest_.wal_sequence_covered) {
    tail_ops_ -= tail_.front().ops;
    tail_bytes_ -= tail_.front().bytes;
    tail_.pop_front();
  }
}

DistanceSpace CollectionImpl::Space() const {
  std::lock_guard<std::mutex> lock(meta_->mu);
  return meta_->entry.space;
}

Result<VectorIndexStats> CollectionImpl::IndexStats() {
  CallScope call(*this);
  FATHOM_RETURN_IF_ERROR(call.status());
  FATHOM_RETURN_IF_ERROR(EnsureOpen());
  std::shared_lock<std::shared_mutex> lock(state_mu_);
  VectorIndexStats stats;
  vector_index_.AddStats(&stats);
  const RecallMonitor::Report monitor = recall_monitor_.report();
  stats.monitored_samples = monitor.samples;
  stats.monitored_recall = monitor.mean_recall;
  stats.monitored_recall_lower_bound = monitor.lower_bound;
  stats.monitor_discarded = monitor.discarded_total;
  stats.recall_below_target =
      monitor.samples >= limits::kRecallWarnMinSamples && monitor.mean_recall < stats.recall_target;
  const VectorColumn& vectors = table_.vectors();
  stats.hot_vectors = vectors.hot_rows();
  stats.cold_vectors = vectors.cold_rows();
  stats.cold_parts = static_cast<uint32_t>(vectors.parts().size());
  stats.vector_memory_bytes = vectors.MemoryBytes();
  stats.cold_vector_copies = vectors.cold_rows() > 0 && vectors.cold_approximations();
  stats.over_memory_budget = OverMemoryBudget();
  lock.unlock();
  std::lock_guard<std::mutex> background_lock(background_mu_);
  stats.background_failures = background_failures_;
  stats.background_error = background_error_;
  return stats;
}

Status CollectionImpl::Compact() { return RunCompaction(/*fold_always=*/true); }

Status CollectionImpl::BackgroundWork() {
  Status s = RunCompaction(/*fold_always=*/false);
  std::lock_guard<std::mutex> lock(background_mu_);
  if (s.ok() || s.IsNotFound()) {
    background_failures_ = 0;
    background_error_.clear();
  } else {
    ++background_failures_;
    background_error_ = s.ToString();
  }
  return s;
}

Status CollectionImpl::RunCompaction(bool fold_always) {
  // Cleared first, so that a job that fails below does not keep later ones from being
  // scheduled (a duplicate job meanwhile is harmless: it finds nothing to do).
  compaction_scheduled_.store(false);
  CallScope call(*this);
  FATHOM_RETURN_IF_ERROR(call.status());
  FATHOM_RETURN_IF_ERROR(EnsureOpen());
  std::lock_guard<std::mutex> compaction_lock(compaction_mu_);
  FATHOM_RETURN_IF_ERROR(CheckUsable());
  compaction_started_ = clock_->Now();
  // A table a failed reload left half loaded must never be folded into a manifest.
  if (reload_failed_.load()) FATHOM_RETURN_IF_ERROR(ReloadLocked());
  // An earlier commit whose outcome is unknown decides what manifest_ is.
  FATHOM_RETURN_IF_ERROR(ResolveUncertainManifest());
  const bool sweep_due = obsolete_sweep_due_.exchange(false);
  Status compacted = CompactLocked(fold_always);
  if (compacted.ok() && (sweep_due || !obsolete_since_.empty())) {
    // Objects waiting out the grace period go once it passed, whether or not this job
    // folded anything (a collection that stopped taking writes still gets its space back);
    // after an open, the sweep Recover left to this job.
    DeleteObsolete(manifest_);
  } else if (sweep_due && !compacted.ok()) {
    obsolete_sweep_due_.store(true);  // the retried job sweeps
  }
  if (compacted.IsAlreadyExists()) {
    // Another node committed the manifest version this one wanted: its manifest is the
    // collection's now. This node's new objects are garbage (collected after the grace
    // period); it reloads from the newest manifest, which folded the tail as this
    // compaction would have.
    spdlog::info("collection {}: another node compacted concurrently ({}); reloading", id_, compacted.ToString());
    return ReloadLocked();
  }
  return compacted;
}

Status CollectionImpl::CompactLocked(bool fold_always) {
  CheckRecallSamples();
  for (BackgroundIndex* index : indexes_.background()) {
    if (Status s = MaintainIndex(*index, /*force=*/fold_always); !s.ok()) {
      // Derived data: queries stay exact for the rows it does not cover.
      spdlog::warn("collection {}: {} maintenance failed: {}", id_, index->name(), s.ToString());
    }
  }
  if (Status s = MaintainColdVectors(); !s.ok()) {
    // Derived data too: the rows stay in RAM.
    spdlog::warn("collection {}: cold vector maintenance failed: {}", id_, s.ToString());
  }
  if (Status s = RepairColdParts(); !s.ok()) {
    spdlog::error("collection {}: cold vector repair failed: {}", id_, s.ToString());
  }
  bool due;
  {
    std::shared_lock<std::shared_mutex> lock(state_mu_);
    due = tail_ops_ >= compaction_trigger_ops_ || tail_bytes_ >= TailBytesMax();
  }
  const bool merge_due = manifest_.segments.size() > limits::kSegmentsPerCollectionMax;
  if (!fold_always && !due && !merge_due) {
    // A spill or drop of cold parts is recorded at the next fold; until then the new
    // parts are simply not used after a reopen.
    return Status::Ok();
  }
  Status folded = fold_always || due ? FoldTail() : Status::Ok();
  if (folded.IsCorruption()) {
    // A damaged cold part (found by this fold's reads) is repaired from the log, then
    // the fold runs again.
    if (HasDamagedColdPart()) {
      FATHOM_RETURN_IF_ERROR(RepairColdParts());
      folded = FoldTail();
    }
  }
  FATHOM_RETURN_IF_ERROR(folded);
  // Too many segments: merged after the fold, or on its own by a later job when an
  // earlier merge failed (a retry finds no tail to fold but must still merge).
  if (manifest_.segments.size() > limits::kSegmentsPerCollectionMax) {
    FATHOM_RETURN_IF_ERROR(MergeSegments());
    DeleteObsolete(manifest_);
  }
  return Status::Ok();
}

bool CollectionImpl::HasDamagedColdPart() const {
  std::shared_lock<std::shared_mutex> lock(state_mu_);
  return table_.vectors().DamagedPart() != nullptr;
}

bool CollectionImpl::RepairColdPartsNow() {
  if (!HasDamagedColdPart()) return false;
  std::lock_guard<std::mutex> compaction_lock(compaction_mu_);
  Status s = RepairColdParts();
  if (!s.ok()) spdlog::error("collection {}: cold vector repair failed: {}", id_, s.ToString());
  return s.ok();
}

Status CollectionImpl::RepairColdParts() {
  for (;;) {
    std::shared_ptr<const ColdPart> part;
    std::unordered_map<std::string, uint32_t> wanted;  // record id -> the part's row
    uint64_t upto;
    uint32_t dim;
    {
      std::shared_lock<std::shared_mutex> lock(state_mu_);
      part = table_.vectors().DamagedPart();
      if (!part) return Status::Ok();
      for (const auto& [slot, row] : table_.vectors().SlotsOf(part.get())) wanted[table_.row(slot).id] = row;
      upto = last_sequence_;
      dim = table_.vectors().dim();
    }
    spdlog::warn("collection {}: cold part {} has bad bytes; restoring its {} rows from the segments and the WAL",
                 id_, part->id, wanted.size());
    std::unordered_set<std::string> ids;
    for (const auto& [id, row] : wanted) ids.insert(id);
    FATHOM_ASSIGN_OR_RETURN(auto logged, ReadLoggedVectors(ids, upto));
    std::vector<float> rows(size_t{part->rows()} * dim, 0.0f);
    for (const auto& [id, row] : wanted) {
      auto it = logged.find(id);
      if (it == logged.end() || it->second.size() != dim) {
        return Status::Corruption("cold part " + part->id + " is damaged and the vector of record " + id +
                                  " has no other copy");
      }
      std::copy(it->second.begin(), it->second.end(), rows.begin() + size_t{row} * dim);
    }
    // Rows that changed meanwhile no longer refer to the part; the rest are as logged.
    std::unique_lock<std::shared_mutex> lock(state_mu_);
    table_.mutable_vectors().DropPart(part.get(), rows);
    vector_index_.VectorsMoved(table_);
  }
}

Result<std::unordered_map<std::string, std::vector<float>>> CollectionImpl::ReadLoggedVectors(
    const std::unordered_set<std::string>& ids, uint64_t upto) {
  // The records' state as recovery would rebuild it: the manifest's segments, then the
  // WAL objects after them. Only operations on `ids` matter (each touches its own id).
  RecordTable replay;
  replay.DisableRowIndexes();
  if (manifest_.dimension != 0) replay.set_dimension(manifest_.dimension);
  for (const SegmentRef& ref : manifest_.segments) {
    const std::string key = SegmentKey(id_, ref.id);
    FATHOM_ASSIGN_OR_RETURN(std::shared_ptr<RecordsSegmentReader> segment, OpenSegment(ref));
    auto summary = segment->Scan([&](SegmentEntry& e, SegmentEntryLocator) {
      if (ids.count(e.row.id) == 0) return;
      if (e.tombstone) {
        replay.LoadTombstone(e.row.id);
      } else if (e.embedding.size() == manifest_.dimension) {
        replay.LoadRow(std::move(e.row), e.embedding);
      }
    });
    if (!summary.ok()) return summary.status().WithContext(key);
  }
  for (uint64_t sequence = manifest_.wal_sequence_covered + 1; sequence <= upto; ++sequence) {
    const std::string key = WalKey(id_, sequence);
    FATHOM_ASSIGN_OR_RETURN(std::string bytes, store_->Get(key));
    FATHOM_ASSIGN_OR_RETURN(WalObject decoded, DecodeWalObjectAt(bytes, key, sequence));
    for (Operation& op : decoded.ops) {
      if (ids.count(op.record.id) != 0) replay.Apply(std::move(op));
    }
  }
  std::unordered_map<std::string, std::vector<float>> out;
  const size_t dim = replay.dimension().value_or(0);
  for (const std::string& id : ids) {
    auto slot = replay.Find(id);
    if (!slot || !replay.row(*slot).live) continue;
    const float* v = replay.vectors().Approx(*slot, nullptr);  // no cold parts: exact
    out.emplace(id, std::vector<float>(v, v + dim));
  }
  return out;
}

IndexBuildContext CollectionImpl::BuildContext(uint32_t dim) const {
  IndexBuildContext context;
  context.space = Space();
  context.clock = options_.clock.get();
  context.spill_min_rows = options_.cold_vectors && dim != 0 ? SpillMinRows(dim) : 0;
  context.cold_approximations = memory_budget_.cold_approximations;
  return context;
}

Status CollectionImpl::MaintainIndex(BackgroundIndex& index, bool force) {
  std::unique_ptr<IndexTask> task;
  uint32_t dim = 0;
  {
    std::shared_lock<std::shared_mutex> lock(state_mu_);
    task = index.PlanTask(table_, force);
    dim = table_.dimension().value_or(0);
  }
  if (!task) return Status::Ok();
  Status built = task->Run(BuildContext(dim));
  std::unique_lock<std::shared_mutex> lock(state_mu_);
  if (!built.ok()) {
    index.Abandon();
    return built;
  }
  if (!index.InstallTask(table_, std::move(task))) {
    spdlog::debug("collection {}: rows were renumbered during {} maintenance; it runs again later", id_, index.name());
  }
  (void)OverMemoryBudget();  // warns once if the budget cannot hold the index
  return Status::Ok();
}

bool CollectionImpl::OverMemoryBudget() const {
  if (!memory_budget_.bounded()) return false;
  const uint64_t index_bytes = vector_index_.index_memory_bytes();
  // Hot vectors (the WAL tail, rows not spilled yet) have their own share
  // (MemoryBudget::hot_vector_bytes_max); the per-row share holds the index and the
  // column's per-slot locator and norm (cold rows keep nothing else under a budget).
  const uint64_t slot_bytes = uint64_t{table_.vectors().slots()} * (sizeof(uint64_t) + sizeof(float));
  const uint64_t resident = index_bytes + slot_bytes;
  if (resident <= memory_budget_.resident_share_bytes) return false;
  if (!over_budget_warned_.exchange(true)) {
    spdlog::warn(
        "collection {}: its vector index ({} MiB) and per-row vector structures ({} MiB) exceed the {} MiB the "
        "memory budget of {} MiB leaves for them; it is served anyway (a search needs the index): raise "
        "--memory-budget-mib",
        id_, index_bytes >> 20, slot_bytes >> 20, memory_budget_.resident_share_bytes >> 20,
        memory_budget_.budget_bytes >> 20);
  }
  return true;
}

uint64_t CollectionImpl::TailBytesMax() const {
  // Under a memory budget the WAL tail (in RAM, its vectors hot) is folded once it holds
  // the budget's hot-vector share, not 256 MiB.
  if (memory_budget_.bounded()) return std::min<uint64_t>(limits::kWalTailBytesMax, memory_budget_.hot_vector_bytes_max);
  return limits::kWalTailBytesMax;
}

size_t CollectionImpl::ColdPartRows(uint32_t dim) {
  return std::max<size_t>(1, limits::kColdPartBytesMax / (size_t{dim} * sizeof(float)));
}

size_t CollectionImpl::SpillMinRows(uint32_t dim) const {
  if (options_.cold_spill_min_rows) return options_.cold_spill_min_rows;
  // A budget bounds the hot indexed vectors (MemoryBudget::hot_vector_bytes_max).
  if (memory_budget_.bounded()) return std::min<size_t>(ColdPartRows(dim), memory_budget_.SpillRows(dim));
  return ColdPartRows(dim);
}

BlockCache* CollectionImpl::VectorCache(uint32_t dim) const {
  return vector_caches_->ForBlockBytes(VectorFile::BlockBytesFor(dim));
}

Status CollectionImpl::MaintainColdVectors() {
  if (!options_.cold_vectors) return Status::Ok();
  // Parts mostly left by their rows (every part, once there is no index to search the
  // cold rows through) are read back into RAM and forgotten; the next spill rewrites the
  // live rows compactly.
  for (int round = 0; round < 4; ++round) {
    std::shared_ptr<const ColdPart> part;
    {
      std::shared_lock<std::shared_mutex> lock(state_mu_);
      part = table_.vectors().PartToDrop(/*all=*/!vector_index_.has_index());
    }
    if (!part) break;
    std::vector<float> rows;
    FATHOM_RETURN_IF_ERROR(VectorColumn::ReadPart(*part, &rows).WithContext("cold part " + part->id));
    std::unique_lock<std::shared_mutex> lock(state_mu_);
    table_.mutable_vectors().DropPart(part.get(), rows);
    vector_index_.VectorsMoved(table_);
  }
  for (;;) {
    VectorColumn::SpillPlan plan;
    uint32_t dim = 0;
    {
      std::shared_lock<std::shared_mutex> lock(state_mu_);
      const VectorColumn& vectors = table_.vectors();
      dim = vectors.dim();
      if (!vector_index_.has_index() || dim == 0) return Status::Ok();
      if (vectors.parts().size() + 1 > limits::kColdPartsMax) {
        // A manifest names a bounded number of parts: past it rows stay in RAM.
        if (!cold_parts_full_warned_.exchange(true)) {
          spdlog::warn("collection {}: {} cold vector parts, the limit; further vectors stay in memory", id_,
                       vectors.parts().size());
        }
        return Status::Ok();
      }
      const size_t spill_min = SpillMinRows(dim);
      // Under a memory budget a part is at most the budget's hot share, and the hot rows
      // do not grow with the cold ones (more, smaller parts instead).
      const size_t part_rows =
          memory_budget_.bounded()
              ? std::max<size_t>(spill_min, std::min<size_t>(ColdPartRows(dim), memory_budget_.SpillRows(dim)))
              : ColdPartRows(dim);
      const size_t due = memory_budget_.bounded()
                             ? spill_min
                             : std::max(spill_min, vectors.cold_rows() / limits::kColdSpillFractionInverse);
      if (vectors.hot_rows() < due) return Status::Ok();
      plan = vectors.PlanSpill([&](uint32_t slot) { return vector_index_.covers(slot); },
                               [&](size_t slot) { return table_.row(slot).offset; }, part_rows);
      // Only indexed rows are spilled (the rest are searched exactly, from RAM).
      if (plan.slots.size() < std::min(due, part_rows)) return Status::Ok();
      // In the index's cluster order, so that the rows one search re-scores share blocks.
      VectorColumn::ReorderPlan(vector_index_.ClusterOrder(plan.slots), &plan);
    }
    const std::string part_id = NewUuidV4();
    FATHOM_ASSIGN_OR_RETURN(std::shared_ptr<ColdPart> part,
                            VectorColumn::WritePart(store_, ColdPartKey(id_, part_id), part_id, VectorCache(dim),
                                                    dim, plan, memory_budget_.cold_approximations));
    size_t moved;
    {
      std::unique_lock<std::shared_mutex> lock(state_mu_);
      moved = table_.mutable_vectors().InstallPart(std::move(part), plan);
      vector_index_.VectorsMoved(table_);  // cold rows: the exact plan's int8 copies go
    }
    spdlog::debug("collection {}: spilled {} of {} vectors to cold part {}", id_, moved, plan.slots.size(), part_id);
    if (moved == 0) return Status::Ok();  // renumbered meanwhile: the next pass plans again
  }
}

Status CollectionImpl::MergeSegments() {
  // Segments are immutable, so the merge reads them back instead of holding the table's
  // lock; writers go on meanwhile.
  RecordTable merged;
  merged.DisableRowIndexes();
  if (manifest_.dimension != 0) merged.set_dimension(manifest_.dimension);
  for (const SegmentRef& ref : manifest_.segments) {
    FATHOM_ASSIGN_OR_RETURN(std::shared_ptr<RecordsSegmentReader> segment, OpenSegment(ref));
    bool wrong_dimension = false;
    auto summary = segment->Scan([&](SegmentEntry& e, SegmentEntryLocator) {
      if (e.tombstone) {
        merged.LoadTombstone(e.row.id);
      } else if (e.embedding.size() != manifest_.dimension) {
        wrong_dimension = true;
      } else {
        merged.LoadRow(std::move(e.row), e.embedding);
      }
    });
    if (!summary.ok()) return summary.status().WithContext("merge");
    if (wrong_dimension) return Status::Corruption("merge: segment dimension disagrees with the manifest");
  }
  RecordsSegmentWriter writer(manifest_.dimension);
  std::vector<RecordTable::StoredEntry> stored;  // where the rows' documents land
  for (size_t slot = 0; slot < merged.slot_count(); ++slot) {
    // A table loaded for a merge has no cold parts: Approx is the exact row.
    const Row& row = merged.row(slot);
    if (!row.live) continue;
    const SegmentDocumentLocator at = writer.AddRow(row, merged.vectors().Approx(slot, nullptr));
    if (row.document) stored.push_back({row.id, row.offset, true, Checksum64(*row.document), at});
  }
  merged = RecordTable();
  SegmentRef ref{NewUuidV4(), writer.rows(), 0, 0};
  FATHOM_ASSIGN_OR_RETURN(std::string bytes, writer.Finish());
  ref.size_bytes = bytes.size();
  FATHOM_RETURN_IF_ERROR(CommitObject(*store_, SegmentKey(id_, ref.id), bytes));
  Manifest next = manifest_;
  next.segments = {ref};
  FATHOM_RETURN_IF_ERROR(CommitManifest(next));
  // The table's documents move to the merged segment before the old ones are deleted.
  AdoptSegmentDocuments(ref, stored);
  return Status::Ok();
}

void CollectionImpl::AdoptSegmentDocuments(const SegmentRef& ref,
                                           const std::vector<RecordTable::StoredEntry>& stored) {
  // Without a reader the documents simply stay where they are (in RAM, or in segments
  // the table's readers keep readable).
  auto reader = OpenSegment(ref);
  if (!reader.ok()) {
    spdlog::warn("collection {}: documents stay in RAM: {}", id_, reader.status().ToString());
    return;
  }
  std::unique_lock<std::shared_mutex> lock(state_mu_);
  table_.AdoptStoredDocuments(table_.AddSegment(std::move(*reader)), stored);
}

void CollectionImpl::DeleteObsolete(const Manifest& current) {
  // Everything here is garbage once `current` is committed; failures only leave garbage
  // for the next pass.
  std::vector<std::string> obsolete;
  std::unordered_set<std::string> live;
  for (const SegmentRef& s : current.segments) live.insert(SegmentKey(id_, s.id));
  {
    // Segments rows still read their documents from stay until no row refers to them: a
    // compaction whose new segment could not be opened for adoption leaves rows pointing
    // into the segments it replaced (documents-on-demand.md, "Locator lifetime"). A
    // reader of a local file is named by its path, not its key, and reads a deleted file.
    std::shared_lock<std::shared_mutex> lock(state_mu_);
    for (const auto& reader : table_.segments()) {
      if (reader != nullptr) live.insert(reader->name());
    }
  }
  if (auto segments = store_->List(SegmentPrefix(id_)); segments.ok()) {
    for (const ObjectInfo& o : *segments) {
      if (live.count(o.key) == 0) obsolete.push_back(o.key);
    }
  }
  indexes_.ListObsolete(*store_, id_, current, &obsolete);
  if (auto parts = store_->List(ColdPartPrefix(id_)); parts.ok()) {
    std::unordered_set<std::string> keep;
    for (const ColdPartRef& p : current.cold_parts) keep.insert(ColdPartKey(id_, p.id));
    for (const ObjectInfo& o : *parts) {
      if (keep.count(o.key) == 0) obsolete.push_back(o.key);
    }
  }
  if (current.wal_sequence_covered > 0) {
    if (auto wal = store_->List(WalPrefix(id_)); wal.ok()) {
      const std::string last = WalKey(id_, current.wal_sequence_covered);
      for (const ObjectInfo& o : *wal) {
        if (o.key > last) break;
        obsolete.push_back(o.key);
      }
    }
  }
  if (current.version > 0) {
    if (auto manifests = store_->List(ManifestPrefix(id_)); manifests.ok()) {
      const std::string keep = ManifestKey(id_, current.version);
      for (const ObjectInfo& o : *manifests) {
        if (o.key < keep) obsolete.push_back(o.key);
      }
    }
  }
  if (gc_grace_ == Clock::Duration::zero()) {
    // One node: nobody reads an older manifest. At once: against S3 hundreds of WAL
    // objects one request after another took 30 s at 50 ms a request (bench/s3_commit).
    (void)store_->DeleteMany(obsolete);
    return;
  }
  if (shared_) {
    // Only the newest manifest can say what is unreferenced: a newer one (another node's)
    // may name a segment `current` does not. This node reloads before its next fold.
    auto newer = store_->List(ManifestPrefix(id_), ManifestKey(id_, current.version), 1);
    if (!newer.ok() || !newer->empty()) return;
  }
  // Deleted once found obsolete for a grace period. The clock starts when this process
  // first sees the object obsolete, which is never earlier than when it became obsolete:
  // a restart only delays deletion (to the first compaction a grace period after it).
  const Clock::TimePoint now = clock_->Now();
  std::unordered_map<std::string, Clock::TimePoint> still;
  std::vector<std::string> due;
  std::vector<Clock::TimePoint> due_since;
  for (const std::string& key : obsolete) {
    auto found = obsolete_since_.find(key);
    const Clock::TimePoint since = found == obsolete_since_.end() ? now : found->second;
    if (now - since >= gc_grace_) {
      due.push_back(key);
      due_since.push_back(since);
    } else {
      still.emplace(key, since);
    }
  }
  const std::vector<Status> deleted = store_->DeleteMany(due);
  for (size_t i = 0; i < due.size(); ++i) {
    if (!deleted[i].ok()) still.emplace(due[i], due_since[i]);  // tried again next job
  }
  obsolete_since_ = std::move(still);
}

}  // namespace fathom
