// CollectionVectorIndex: a collection's IVF + RaBitQ index (index/vector/ivf_index.h)
// kept in step with its record table, and the query path that combines it with exact
// search. Design: docs/design/vector-index.md, "In a collection".
//
// The index names record-table slots. A live slot is "covered" when the index holds its
// current vector; every other live slot (rows added or changed since the last
// maintenance: the WAL tail, in effect) is "pending" and searched exactly, so results
// never miss a row. Below limits::kVectorIndexMinRows live rows there is no index and
// every query is exact.
//
// Phases and locks (the caller, CollectionImpl, owns the table and its lock):
// - Absorb: after every change to the table, under its exclusive lock.
// - Search, NeedsMaintenance, Plan, Snapshot: under the shared (or exclusive) lock.
// - Build / Updated work: Plan returns a task whose heavy part runs without the lock
//   (full builds copy the vectors) or under the shared lock (incremental updates read
//   the table directly); Install then takes the exclusive lock and re-applies the
//   changes that arrived meanwhile.
// Only one maintenance runs at a time (the caller serialises them).
//
// To its collection it is a PersistedIndex and a BackgroundIndex (db/collection_index.h,
// implemented in collection_vector_index_lifecycle.cc): CollectionImpl drives its life
// cycle through those loops and calls it by name only for the search (Search,
// PrepareCandidates, ExactNearest) and the cold spill (covers, ClusterOrder, VectorsMoved).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <roaring/roaring.hh>

#include "db/collection_index.h"
#include "db/record_table.h"
#include "fathom/status.h"
#include "fathom/types.h"
#include "index/vector/int8_scan_copy.h"
#include "index/vector/ivf_index.h"
#include "index/vector/search_calibration.h"
#include "io/clock.h"

namespace fathom {

// The record table as a VectorSource for ranking: slot -> its embedding, exact for hot
// rows and the int8 approximation for cold ones (db/vector_column.h); live slots only.
class TableVectorSource final : public VectorSource {
 public:
  explicit TableVectorSource(const RecordTable& table) : table_(table) {}
  uint32_t dim() const override { return table_.dimension().value_or(0); }
  const float* Fetch(uint32_t slot, float* scratch) const override;
  float ApproximationError(uint32_t slot) const override;
  // The stored norm for a hot row (its exact vector); computed for a cold row's
  // approximation.
  float RowNorm(uint32_t slot, const float* row) const override;
  void PrefetchToCache(uint32_t slot) const override;
  void PrefetchLocation(uint32_t slot) const override;
  // A cold row's approximation is scored on its int8 codes (L2SquaredInt8,
  // DotProductInt8) in l2 and ip, without decoding it; cosine and hot rows as Fetch.
  bool Distance(uint32_t slot, DistanceSpace space, const float* query, float query_norm, float* scratch,
                float* out) const override;

 private:
  const RecordTable& table_;
};

// The record table's exact vectors (cold rows read from their part). A failed read is
// kept (first one wins) for the caller to report: the index skips the row meanwhile.
class TableExactSource final : public VectorSource {
 public:
  explicit TableExactSource(const RecordTable& table) : table_(table) {}
  uint32_t dim() const override { return table_.dimension().value_or(0); }
  const float* Fetch(uint32_t slot, float* scratch) const override;
  void Prefetch(const uint32_t* slots, size_t count) const override { table_.vectors().PrefetchCold(slots, count); }
  // The stored norm of the slot's exact vector.
  float RowNorm(uint32_t slot, const float* row) const override {
    (void)row;
    return table_.norm(slot);
  }
  Status status() const {
    std::lock_guard<std::mutex> lock(mu_);
    return status_;
  }

 private:
  const RecordTable& table_;
  mutable std::mutex mu_;
  mutable Status status_;
};

struct VectorSearchKnobs {
  uint32_t probes = 0;         // clusters scanned; 0 = the calibrated budget's probes * effort
  double effort = 1.0;
  uint32_t rerank_factor = 0;  // 0 = the calibrated budget's depth, scaled by the effort
};

// The rows a filtered query may return, prepared once per request (for all of its query
// vectors) by CollectionVectorIndex::PrepareCandidates: either a short sorted slot list
// for an exact scan, or the allowed rows the index covers as a flat bitset (the IVF
// scan's filter: one bit test per row of a probed cluster) plus the allowed rows it does
// not cover (searched exactly). Valid while the caller holds the table's lock.
class VectorCandidates {
 public:
  // Allowed live rows.
  size_t count() const { return count_; }
  // Whether the search is an exact scan of the allowed rows.
  bool exact() const { return exact_; }

 private:
  friend class CollectionVectorIndex;
  size_t count_ = 0;
  bool exact_ = true;
  std::vector<uint32_t> slots_;        // exact_: the allowed slots
  std::vector<uint64_t> covered_bits_;  // !exact_: allowed and covered, by slot
  size_t covered_count_ = 0;
  std::vector<uint32_t> uncovered_;    // !exact_: allowed and not covered
};

// What maintenance will do; produced by Plan under the lock.
struct VectorIndexTask {
  enum class Kind { kBuild, kUpdate, kDrop } kind = Kind::kBuild;
  uint64_t generation = 0;  // the table's shrink generation when planned
  // kBuild: copies of the live vectors and their slots; cold rows are read by RunBuild
  // (position in `slots`, where the row lives).
  std::vector<float> vectors;
  std::vector<uint32_t> slots;
  std::vector<std::pair<size_t, VectorColumn::ColdRef>> cold_rows;
  // kUpdate: the pending live slots to add (their stale entries are dropped).
  std::vector<uint32_t> added;
  // kUpdate: calibrate the updated index's search budget again (RunBuild, on copies of
  // the live vectors in `vectors` / `slots` / `cold_rows`, as a build has).
  bool recalibrate = false;
  // The result, ready to install, with its search budget: calibrated by RunBuild for a
  // build or a recalibrating update, else the current index's (its centroids stay).
  std::shared_ptr<const IvfIndex> result;
  SearchBudget budget;
  size_t built_rows = 0;
};

class CollectionVectorIndex final : public PersistedIndex, public BackgroundIndex {
 public:
  // `min_rows`: live rows below which there is no index (0 = limits::kVectorIndexMinRows).
  // `recall_target`: the recall@10 the default search is calibrated to (0 =
  // ivf_limits::kRecallTargetDefault).
  // `int8_scan_min_bytes`: DatabaseOptions::int8_scan_min_bytes (0 = the default).
  explicit CollectionVectorIndex(size_t min_rows = 0, double recall_target = 0.0, size_t int8_scan_min_bytes = 0);

  // The probe count of an index whose budget is not calibrated yet (an index persisted
  // before calibration existed, until its rebuild): grows with the cluster count.
  static uint32_t UncalibratedProbes(uint32_t clusters);

  // ---- exclusive lock ----
  // Folds the table's change journal in; `renumbered` is MaybeShrink's result (may be empty).
  void Absorb(RecordTable& table, const std::vector<uint32_t>& renumbered) override;
  // Rows moved between RAM and cold parts without changing (exclusive lock): the exact
  // plan's int8 copies are kept only while every row is hot.
  void VectorsMoved(const RecordTable& table) { SyncScanCopy(table, {}, {}); }
  // Forgets everything (recovery starts over).
  void Reset() override;
  // A planned task failed: nothing is installed.
  void Abandon() override {
    maintaining_ = false;
    changed_during_task_.clear();
  }
  // Installs a finished task. Returns false (and installs nothing) when the table was
  // renumbered since Plan.
  bool Install(const RecordTable& table, VectorIndexTask task);
  // Installs an index loaded at open (before the WAL tail is replayed): bytes as written
  // by EncodeSnapshot for exactly the table's current rows. Any mismatch is an error and
  // leaves no index and the table's change journal untouched (the caller logs it, then
  // Absorbs; maintenance rebuilds). Takes the bytes to free them as soon as they are
  // decoded.
  Status Load(RecordTable& table, std::string object);

  // ---- shared lock ----
  bool has_index() const { return index_ != nullptr; }
  bool covers(uint32_t slot) const { return IsCovered(slot); }
  // Changes whenever the index itself changes (installed, loaded, dropped, renumbered),
  // so the owner can tell whether its persisted copy is current.
  uint64_t index_version() const { return index_version_; }
  size_t covered_rows() const { return covered_count_; }
  size_t pending_rows() const { return pending_.size(); }
  uint32_t clusters() const { return index_ ? index_->clusters() : 0; }
  // What a query that names no probes gets (search_calibration.h); not calibrated
  // without an index.
  const SearchBudget& budget() const { return budget_; }
  double recall_target() const { return recall_target_; }
  size_t int8_scan_min_bytes() const { return int8_scan_min_bytes_; }
  // Positions into `slots`, ordered by the index's cluster order (IvfIndex::ForEachSlot),
  // slots the index lacks last, ties in their given order. A spill writes rows in this
  // order so that the rows one search re-scores (a few clusters' nearest) share blocks.
  std::vector<size_t> ClusterOrder(const std::vector<uint32_t>& slots) const;
  size_t index_memory_bytes() const { return (index_ ? index_->MemoryBytes() : 0) + scan_copy_.MemoryBytes(); }
  // Rows with an int8 copy for the exact plan's first pass (int8_scan_copy.h), and the
  // scans whose check sent them back to the f32 rows.
  size_t scan_copy_rows() const { return scan_copy_.rows(); }
  uint64_t scan_copy_fallbacks() const { return scan_copy_fallbacks_.load(std::memory_order_relaxed); }

  // Whether maintenance is due: enough pending or stale rows to be worth a pass, or (with
  // `force`, an explicit Compact) any at all.
  bool NeedsMaintenance(const RecordTable& table, bool force = false) const override;
  // The task for the current state, or nullopt when none is due. kUpdate tasks are
  // computed here (they read the table; cheap), kBuild tasks carry copies for RunBuild.
  std::optional<VectorIndexTask> Plan(const RecordTable& table, bool force = false);
  // The heavy part of a kBuild task: the build, then the calibration of its search
  // budget on the built rows; of a recalibrating kUpdate task, that calibration alone.
  // No lock needed.
  struct BuildSettings {
    double recall_target = ivf_limits::kRecallTargetDefault;
    // The rows will be searched through int8 approximations (cold parts): calibrate that
    // two-stage path rather than the all-f32 one.
    bool two_stage = false;
    // The rows will be searched from cold parts without RAM copies (a memory budget): an
    // exact scan then reads every row from its part, so the plan is chosen by the work
    // model with that cost (kColdExactRowCost) rather than by timing scans of rows in RAM.
    bool cold_reads = false;
    // The f32 bytes from which an exact plan scans through int8 copies (the timed exact
    // scan is that one then): CollectionVectorIndex::int8_scan_min_bytes().
    size_t int8_scan_min_bytes = ivf_limits::kInt8ScanMinF32Bytes;
    // Times the index plan against an exact scan (search_calibration.h); null = real time.
    const Clock* clock = nullptr;
  };
  static Status RunBuild(DistanceSpace space, uint32_t dim, const BuildSettings& settings, VectorIndexTask* task);
  // The cost of one exact-scan row read from a cold part through the block cache, in
  // exact f32 distances (BuildSettings::cold_reads): a block-cache lookup and copy, or a
  // read on a miss, against one distance of a row in RAM.
  static constexpr double kColdExactRowCost = 8.0;

  // The k nearest rows to `query` among `candidates` (sorted live slots), or among all
  // live rows when `candidates` is null. Distances are Chroma's for `space`.
  Result<std::vector<Hit>> Search(const RecordTable& table, DistanceSpace space, const float* query, uint32_t k,
                                  const std::vector<uint32_t>* candidates, const VectorSearchKnobs& knobs) const;
  // The same among prepared candidates (PrepareCandidates, same knobs and table state).
  Result<std::vector<Hit>> Search(const RecordTable& table, DistanceSpace space, const float* query, uint32_t k,
                                  const VectorCandidates& candidates, const VectorSearchKnobs& knobs) const;
  // A query's allowed rows (live slots: a Roaring bitmap from the metadata index, or a
  // sorted list) in the form the search uses. Costs O(allowed / 64 + pending) from a
  // bitmap (containers are copied whole), O(allowed) from a list.
  VectorCandidates PrepareCandidates(const RecordTable& table, const Roaring& allowed,
                                     const VectorSearchKnobs& knobs) const;
  VectorCandidates PrepareCandidates(const RecordTable& table, const std::vector<uint32_t>& allowed,
                                     const VectorSearchKnobs& knobs) const;

  // The exact k nearest live rows to `query` (what Search answers without an index); the
  // recall monitor's truth.
  Result<std::vector<Hit>> ExactNearest(const RecordTable& table, DistanceSpace space, const float* query,
                                        uint32_t k) const;

  // The persisted form of the index for the table's current state (dense slots = rank of
  // the live row in slot order), or nullopt without an index. Under the exclusive lock
  // at the moment the manifest's state is fixed; the returned closure-free struct is
  // encoded later without the lock.
  struct Snapshot {
    std::shared_ptr<const IvfIndex> index;
    SearchBudget budget;
    std::vector<uint32_t> rank_of_slot;  // RecordTable::kNoSlot where not covered
    uint64_t live_rows = 0;
    uint64_t offsets_hash = 0;
    uint64_t covered_rows = 0;
    uint64_t built_rows = 0;  // rows at the index's last full build
  };
  std::optional<Snapshot> TakeSnapshot(const RecordTable& table) const;
  static Result<std::string> EncodeSnapshot(const Snapshot& snapshot);

  // ---- as a PersistedIndex (its object: the Snapshot, encoded) ----
  static const PersistedIndexKind kKind;
  const PersistedIndexKind& kind() const override { return kKind; }
  Status LoadObject(RecordTable& table, const std::string& key, std::string bytes) override;
  void ForgetObject() override { persisted_version_ = kNoVersion; }
  // The index changed (installed, dropped, renumbered) since its object was written.
  bool ObjectStale(const RecordTable& table) const override;
  std::unique_ptr<IndexSnapshot> SnapshotObject(const RecordTable& table) override;
  void ObjectCommitted(bool written) override { persisted_version_ = written ? snapshot_version_ : kNoVersion; }

  // ---- as a BackgroundIndex: Plan, RunBuild and Install behind the interface ----
  const char* name() const override { return kKind.name; }
  std::unique_ptr<IndexTask> PlanTask(const RecordTable& table, bool force) override;
  bool InstallTask(const RecordTable& table, std::unique_ptr<IndexTask> task) override;

  // Sets the index's fields of `stats` (state, calibrated budget, memory). Shared lock.
  void AddStats(VectorIndexStats* stats) const;

 private:
  static constexpr uint64_t kNoVersion = UINT64_MAX;
  void SetCovered(uint32_t slot, bool on);
  bool IsCovered(uint32_t slot) const {
    return slot < covered_.size() * 64 && ((covered_[slot >> 6] >> (slot & 63)) & 1);
  }
  void RebuildPending(const RecordTable& table);
  // Copies of every live row's vector (hot rows copied, cold ones noted for RunBuild to
  // read) into the task, for a build or a calibration without the lock.
  static void CopyLiveRows(const RecordTable& table, VectorIndexTask* task);
  // Whether a query with these knobs scans exactly (no index to use, or the calibration
  // chose the exact plan), before looking at its filter.
  bool ScansExactly(const VectorSearchKnobs& knobs) const;
  // PrepareCandidates once the allowed rows are in `candidates->covered_bits_` (sized to
  // the table's slots) and counted: the exact-or-index choice, the uncovered rows, and
  // the mask with the covered bits.
  void FinishCandidates(const RecordTable& table, VectorCandidates* candidates) const;
  // The IVF search of the covered rows `filter` allows (null: every row of the index),
  // its hits pushed into `top`.
  Status SearchIndex(const RecordTable& table, const float* query, uint32_t k, const SlotFilter* filter,
                     const VectorSearchKnobs& knobs, TopK* top) const;
  // The exact k nearest of `slots` (live ones) pushed into `top`: through the int8 copies
  // when the exact plan keeps them, else ExactSearch.
  template <typename Slots>
  Status ScanExactly(const RecordTable& table, DistanceSpace space, const float* query, float query_norm,
                     const Slots& slots, uint32_t rerank_factor, TopK* top) const;
  // Keeps scan_copy_ in step with the table (exclusive lock): every live row copied while
  // the calibrated plan is the exact scan and every row is hot, nothing otherwise.
  // `renumbered` and `changes` as Absorb got them.
  void SyncScanCopy(const RecordTable& table, const std::vector<uint32_t>& renumbered,
                    const std::vector<uint32_t>& changes);

  size_t min_rows_;
  double recall_target_;
  size_t int8_scan_min_bytes_;
  std::shared_ptr<const IvfIndex> index_;
  SearchBudget budget_;
  std::vector<uint64_t> covered_;  // bitset over table slots
  size_t covered_count_ = 0;
  std::vector<uint32_t> pending_;  // live, uncovered slots (deduplicated via pending_bits_)
  std::vector<uint64_t> pending_bits_;
  size_t built_rows_ = 0;          // rows at the last full build (persisted with the index)
  uint64_t generation_ = 0;        // bumped by every renumbering
  uint64_t index_version_ = 0;
  // index_version_ of the index the manifest's object holds (kNoVersion: unknown, or the
  // manifest names none although there is an index), and at the last SnapshotObject.
  uint64_t persisted_version_ = 0;
  uint64_t snapshot_version_ = 0;
  // A planned task is out (set by Plan under the shared lock, read by NeedsMaintenance
  // under the shared lock from other threads).
  std::atomic<bool> maintaining_{false};
  std::vector<uint32_t> changed_during_task_;
  Int8ScanCopy scan_copy_;
  mutable std::atomic<uint64_t> scan_copy_fallbacks_{0};
};

// XXH3 of the live rows' offsets in slot order: ties a persisted index's dense slots to
// one exact table state.
uint64_t LiveOffsetsHash(const RecordTable& table);

}  // namespace fathom
