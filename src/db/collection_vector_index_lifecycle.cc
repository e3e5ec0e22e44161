// CollectionVectorIndex as one of its collection's indexes (db/collection_index.h): its
// object beside the manifest, its maintenance as a task planned, run and installed by the
// compaction job, and its part of the collection's stats.
#include "db/collection_vector_index.h"

#include "common/assert.h"

namespace fathom {

namespace {

class VectorIndexObject final : public IndexSnapshot {
 public:
  explicit VectorIndexObject(CollectionVectorIndex::Snapshot snapshot) : snapshot_(std::move(snapshot)) {}
  uint64_t rows() const override { return snapshot_.covered_rows; }
  Result<std::string> Encode() override { return CollectionVectorIndex::EncodeSnapshot(snapshot_); }

 private:
  CollectionVectorIndex::Snapshot snapshot_;
};

class VectorIndexMaintenance final : public IndexTask {
 public:
  VectorIndexMaintenance(VectorIndexTask task, uint32_t dim, const CollectionVectorIndex& index)
      : task_(std::move(task)), dim_(dim) {
    settings_.recall_target = index.recall_target();
    settings_.int8_scan_min_bytes = index.int8_scan_min_bytes();
  }

  Status Run(const IndexBuildContext& context) override {
    CollectionVectorIndex::BuildSettings settings = settings_;
    settings.clock = context.clock;
    // Rows past the spill threshold are searched through int8 approximations (cold
    // parts), unless cold rows keep none (a memory budget): then the search is the
    // all-f32 one, its rows read from the parts.
    const bool spilled = context.spill_min_rows != 0 && dim_ != 0 && task_.slots.size() >= context.spill_min_rows;
    settings.two_stage = spilled && context.cold_approximations;
    settings.cold_reads = spilled && !context.cold_approximations;
    return CollectionVectorIndex::RunBuild(context.space, dim_, settings, &task_);
  }

  VectorIndexTask& task() { return task_; }

 private:
  VectorIndexTask task_;
  uint32_t dim_;
  CollectionVectorIndex::BuildSettings settings_;
};

}  // namespace

const PersistedIndexKind CollectionVectorIndex::kKind = {"vector index", &Manifest::vector_index,
                                                          &VectorIndexPrefix, &VectorIndexKey};

Status CollectionVectorIndex::LoadObject(RecordTable& table, const std::string& key, std::string bytes) {
  (void)key;  // the caller names it in its message
  FATHOM_RETURN_IF_ERROR(Load(table, std::move(bytes)));
  persisted_version_ = index_version_;
  return Status::Ok();
}

bool CollectionVectorIndex::ObjectStale(const RecordTable& table) const {
  (void)table;  // the index's version says it all
  return persisted_version_ != index_version_;
}

std::unique_ptr<IndexSnapshot> CollectionVectorIndex::SnapshotObject(const RecordTable& table) {
  snapshot_version_ = index_version_;
  std::optional<Snapshot> snapshot = TakeSnapshot(table);
  if (!snapshot) return nullptr;
  return std::make_unique<VectorIndexObject>(std::move(*snapshot));
}

std::unique_ptr<IndexTask> CollectionVectorIndex::PlanTask(const RecordTable& table, bool force) {
  std::optional<VectorIndexTask> task = Plan(table, force);
  if (!task) return nullptr;
  return std::make_unique<VectorIndexMaintenance>(std::move(*task), table.dimension().value_or(0), *this);
}

bool CollectionVectorIndex::InstallTask(const RecordTable& table, std::unique_ptr<IndexTask> task) {
  // Only PlanTask makes this index's tasks.
  auto* maintenance = dynamic_cast<VectorIndexMaintenance*>(task.get());
  FATHOM_CHECK(maintenance != nullptr);
  return Install(table, std::move(maintenance->task()));
}

void CollectionVectorIndex::AddStats(VectorIndexStats* stats) const {
  stats->active = has_index();
  stats->indexed_rows = covered_rows();
  stats->pending_rows = pending_rows();
  stats->clusters = clusters();
  if (stats->active) {
    stats->plan = budget_.plan == SearchBudget::Plan::kExactScan ? VectorIndexStats::Plan::kExactScan
                                                                 : VectorIndexStats::Plan::kIndex;
    stats->default_probes = budget_.calibrated() ? budget_.probes : UncalibratedProbes(stats->clusters);
    stats->default_rerank_factor = budget_.rerank_factor;
    stats->calibrated = budget_.calibrated();
    stats->calibration_queries = budget_.sample_queries;
    stats->calibrated_recall = budget_.measured_recall;
    stats->calibrated_recall_lower_bound = budget_.recall_lower_bound;
    stats->calibrated_rows = budget_.calibrated_rows;
  }
  stats->recall_target = recall_target();
  stats->index_memory_bytes = index_memory_bytes();
  stats->scan_copy_rows = scan_copy_rows();
  stats->scan_copy_fallbacks = scan_copy_fallbacks();
}

}  // namespace fathom
