#include "db/collection_vector_index.h"

#include <algorithm>
#include <cmath>
#include <bit>
#include <cstring>
#include <type_traits>

#include "common/assert.h"
#include "common/checksum.h"
#include "common/coding.h"
#include "common/limits.h"
#include "db/roaring_bitset.h"
#include "db/vector_index_envelope.h"
#include "index/vector/bounded_rescore.h"
#include "index/vector/distance.h"
#include "index/vector/int8_first_pass.h"
#include "index/vector/int8_matrix.h"
#include "index/vector/space_scorer.h"

namespace fathom {

namespace {

// Cold rows per batch of an exact scan without RAM copies: a batch's blocks (at most two
// a row) stay within one VectorFile::PrefetchRows call.
constexpr size_t kColdScanBatchRows = 256;
// The int8 first pass of an exact-plan scan keeps at least k * this rows for the re-score.
constexpr size_t kScanCopyDepthMin = 4;

// A build task's rows by slot: row i of `rows` (a source whose slot i is row i) is slot
// slots[i].
class SlotsOfRowsSource final : public VectorSource {
 public:
  SlotsOfRowsSource(const VectorSource& rows, const std::vector<uint32_t>& slots) : rows_(rows) {
    const uint32_t bound = slots.empty() ? 0 : *std::max_element(slots.begin(), slots.end()) + 1;
    row_.assign(bound, UINT32_MAX);
    for (size_t i = 0; i < slots.size(); ++i) row_[slots[i]] = static_cast<uint32_t>(i);
  }
  uint32_t dim() const override { return rows_.dim(); }
  const float* Fetch(uint32_t slot, float* scratch) const override {
    if (slot >= row_.size() || row_[slot] == UINT32_MAX) return nullptr;
    return rows_.Fetch(row_[slot], scratch);
  }
  float ApproximationError(uint32_t slot) const override {
    return slot < row_.size() && row_[slot] != UINT32_MAX ? rows_.ApproximationError(row_[slot]) : 0.0f;
  }

 private:
  const VectorSource& rows_;
  std::vector<uint32_t> row_;
};

// A scan's hit into `top`: most rows of a scan miss the cut, and this test of it is
// inline, where TopK::Push is a call (a tie still enters by slot in Push).
inline void PushIfCloser(float distance, uint32_t slot, TopK* top) {
  if (distance <= top->threshold()) top->Push(distance, slot);
}

// Hints the row of the slot kAhead places on in a slot list (PrefetchToCache: the hot row,
// or a cold row's int8 code): a filter's allowed rows are scattered runs, and the hardware
// prefetcher loses the stream at every gap. Only once the rows' f32 bytes reach
// `min_bytes` (the collection's int8_scan_min_bytes: where the rows outgrow the CPU
// caches, the int8 first pass's threshold for the same reason). Measured on runs of 10
// rows in every 100: 1.3x at 100k rows of 128-d and 256-d, 0.9-1.0x at 10k rows (in
// cache the hint only costs). A scan of every slot (AllSlots) walks the rows in storage
// order and gets no hints.
template <typename Slots>
class RowHintsAhead {
 public:
  RowHintsAhead(const RecordTable& table, const Slots& slots, size_t min_bytes) : table_(table) {
    const size_t f32_bytes = table.live_count() * size_t{table.dimension().value_or(0)} * sizeof(float);
    if constexpr (std::is_same_v<Slots, std::vector<uint32_t>>) {
      if (f32_bytes >= min_bytes) {
        next_ = slots.data() + std::min(kAhead, slots.size());
        end_ = slots.data() + slots.size();
      }
    }
    (void)f32_bytes;
  }
  // Call once per slot of the list, in order.
  void Advance() {
    if (next_ == end_) return;
    if (table_.live()[*next_]) table_.vectors().PrefetchToCache(*next_);
    ++next_;
  }

 private:
  static constexpr size_t kAhead = 4;
  const RecordTable& table_;
  const uint32_t* next_ = nullptr;
  const uint32_t* end_ = nullptr;
};

// Exact k nearest among `slots` (live ones) when cold rows have no RAM copies: hot rows
// are scored from RAM, cold ones read exactly in batches (each batch's rows hinted at
// once: one round of reads per batch, not one per row).
template <typename Slots>
Status ExactSearchReadingCold(const RecordTable& table, DistanceSpace space, const float* query, float query_norm,
                              const Slots& slots, size_t hint_min_bytes, TopK* top) {
  const VectorColumn& vectors = table.vectors();
  const size_t d = table.dimension().value_or(0);
  const uint8_t* live = table.live();
  std::vector<float> scratch(d);
  std::vector<uint32_t> batch;
  batch.reserve(kColdScanBatchRows);
  auto flush = [&]() -> Status {
    vectors.PrefetchCold(batch.data(), batch.size());
    for (uint32_t slot : batch) {
      Status status;
      const float* v = vectors.Exact(slot, scratch.data(), &status);
      if (v == nullptr) return status.WithContext("vector search");
      top->Push(SpaceDistance(space, query, query_norm, v, table.norm(slot), d), slot);
    }
    batch.clear();
    return Status::Ok();
  };
  const SpaceScorer score(space, query, query_norm, d);
  RowHintsAhead<Slots> hints(table, slots, hint_min_bytes);
  for (uint32_t slot : slots) {
    hints.Advance();
    if (!live[slot]) continue;
    if (!vectors.is_cold(slot)) {
      PushIfCloser(score(vectors.Approx(slot, nullptr), table.norm(slot)), slot, top);
      continue;
    }
    batch.push_back(slot);
    if (batch.size() == kColdScanBatchRows) FATHOM_RETURN_IF_ERROR(flush());
  }
  return batch.empty() ? Status::Ok() : flush();
}

// Exact k nearest among `slots` (live ones): hot rows are scored from RAM at once; cold
// rows are ranked by their int8 approximations and the best k * rerank_factor of them
// re-scored from their parts, skipping those whose lower bound cannot make the top k, so
// every returned distance is exact. A slot list's rows are hinted ahead once the rows'
// f32 bytes reach `hint_min_bytes` (RowHintsAhead).
template <typename Slots>
Status ExactSearch(const RecordTable& table, DistanceSpace space, const float* query, float query_norm,
                   const Slots& slots, uint32_t rerank_factor, size_t hint_min_bytes, TopK* top) {
  const VectorColumn& vectors = table.vectors();
  const size_t d = table.dimension().value_or(0);
  const uint8_t* live = table.live();
  std::vector<float> scratch(d);
  if (!vectors.cold_approximations()) {
    return ExactSearchReadingCold(table, space, query, query_norm, slots, hint_min_bytes, top);
  }
  TopK cold(top->capacity() * rerank_factor);
  bool any_cold = false;
  const TableVectorSource approximations(table);  // cold rows scored on their int8 codes
  const SpaceScorer score(space, query, query_norm, d);
  RowHintsAhead<Slots> hints(table, slots, hint_min_bytes);
  for (uint32_t slot : slots) {
    hints.Advance();
    if (!live[slot]) continue;
    if (!vectors.is_cold(slot)) {
      PushIfCloser(score(vectors.Approx(slot, nullptr), table.norm(slot)), slot, top);
      continue;
    }
    float distance;
    if (approximations.Distance(slot, space, query, query_norm, scratch.data(), &distance)) {
      PushIfCloser(distance, slot, &cold);
    }
    any_cold = true;
  }
  if (!any_cold) return Status::Ok();
  // Re-score in order of the lower bound on the exact distance, while it can still beat
  // the k-th exact one (bounded_rescore.h). Every row the re-score can reach is read
  // ahead in one batch (one round trip to an object store) before the first exact read.
  const std::vector<BoundedCandidate> candidates = LowerBounds(space, query_norm, cold.Take(), approximations);
  return BoundedRescoreBatched(
      candidates, *top,
      [&](uint32_t slot) {
        Status status;
        const float* v = vectors.Exact(slot, scratch.data(), &status);
        if (v == nullptr) return status.WithContext("vector search");
        top->Push(SpaceDistance(space, query, query_norm, v, table.norm(slot), d), slot);
        return Status::Ok();
      },
      [&](const uint32_t* batch, size_t count) { vectors.PrefetchCold(batch, count); });
}

// The exact k nearest of `slots` (live ones) through int8 copies: Int8FirstPassSearch
// (int8_first_pass.h) over the table's rows, every one of which must be hot.
template <typename Slots>
bool ExactSearchWithCopy(const RecordTable& table, const Int8ScanCopy& copy, DistanceSpace space,
                         const float* query, float query_norm, const Slots& slots, size_t depth, TopK* top) {
  const VectorColumn& vectors = table.vectors();
  const size_t d = table.dimension().value_or(0);
  const uint8_t* live = table.live();
  return Int8FirstPassSearch(
      copy, space, query, query_norm, slots, depth, top, [&](uint32_t slot) { return live[slot] != 0; },
      [&](uint32_t slot) {
        top->Push(SpaceDistance(space, query, query_norm, vectors.Approx(slot, nullptr), table.norm(slot), d), slot);
      });
}

// The live slots of a table, as a range for ExactSearch.
struct AllSlots {
  size_t n;
  struct It {
    uint32_t v;
    uint32_t operator*() const { return v; }
    It& operator++() {
      ++v;
      return *this;
    }
    bool operator!=(const It& o) const { return v != o.v; }
  };
  It begin() const { return It{0}; }
  It end() const { return It{static_cast<uint32_t>(n)}; }
};

// How the re-rank depths follow the search effort: proportionally, between half and 16
// times the calibrated depth. Raising hnsw.ef_search then buys recall on both fronts
// (more clusters probed and a deeper re-rank), and lowering it buys speed on both.
double DepthScale(const VectorSearchKnobs& knobs) { return std::clamp(knobs.effort, 0.5, 16.0); }

// The candidates kept for re-ranking, k * this: the calibrated depth, or the space's
// fixed default while the budget is not calibrated.
uint32_t RerankFactor(DistanceSpace space, const SearchBudget& budget, const VectorSearchKnobs& knobs) {
  if (knobs.rerank_factor != 0) return knobs.rerank_factor;
  uint32_t base = budget.rerank_factor;
  if (!budget.calibrated() || base == 0) {
    base = space == DistanceSpace::kInnerProduct ? ivf_limits::kRerankFactorInnerProduct
                                                 : limits::kVectorIndexRerankFactor;
  }
  const double scaled = std::ceil(base * DepthScale(knobs));
  return static_cast<uint32_t>(std::min<double>(scaled, kVectorIndexRerankFactorMax));
}

// How far RaBitQ's error bound is trusted in the re-rank (it stops once no remaining
// candidate's lower bound can beat the k-th exact distance): the default epsilon up to
// effort 1, times the square root of the effort above it. At the default a true
// neighbour's estimate now and then errs past its bound (0.1-0.3 % of the top 10 at 24
// dimensions), a loss no depth or probe count buys back; a higher effort buys it back too,
// and the deepest (16) trusts the bound only to 4x the default.
float ErrorBoundEpsilon(const VectorSearchKnobs& knobs) {
  return static_cast<float>(ivf_limits::kErrorBoundEpsilonDefault * std::sqrt(std::max(1.0, DepthScale(knobs))));
}

// Exact re-scores after the int8 re-rank of cold rows, k * this.
uint32_t RefineFactor(const VectorSearchKnobs& knobs) {
  const double scaled = ivf_limits::kRefineFactorDefault * DepthScale(knobs);
  return static_cast<uint32_t>(std::clamp<double>(std::ceil(scaled), 1, ivf_limits::kRefineFactorMax));
}

}  // namespace

const float* TableVectorSource::Fetch(uint32_t slot, float* scratch) const {
  if (slot >= table_.slot_count() || !table_.live()[slot]) return nullptr;
  return table_.vectors().Approx(slot, scratch);
}

float TableVectorSource::ApproximationError(uint32_t slot) const {
  if (slot >= table_.slot_count() || !table_.live()[slot]) return 0.0f;
  return table_.vectors().ApproxError(slot);
}

void TableVectorSource::PrefetchToCache(uint32_t slot) const {
  if (slot >= table_.slot_count()) return;
  table_.vectors().PrefetchToCache(slot);
}

void TableVectorSource::PrefetchLocation(uint32_t slot) const {
  if (slot >= table_.slot_count()) return;
  table_.vectors().PrefetchLocation(slot);
  __builtin_prefetch(&table_.live()[slot], 0, 3);
}

bool TableVectorSource::Distance(uint32_t slot, DistanceSpace space, const float* query, float query_norm,
                                 float* scratch, float* out) const {
  if (slot >= table_.slot_count() || !table_.live()[slot]) return false;
  if (!table_.vectors().is_cold(slot)) {  // most rows: no virtual Fetch and RowNorm calls
    *out = SpaceDistance(space, query, query_norm, table_.vectors().Approx(slot, nullptr), table_.norm(slot), dim());
    return true;
  }
  float scale = 0.0f;
  const int8_t* codes = space == DistanceSpace::kCosine ? nullptr : table_.vectors().ColdCodes(slot, &scale);
  if (codes == nullptr) return VectorSource::Distance(slot, space, query, query_norm, scratch, out);
  *out = space == DistanceSpace::kL2 ? L2SquaredInt8(query, codes, scale, dim())
                                     : 1.0f - scale * DotProductInt8(query, codes, dim());
  return true;
}

float TableVectorSource::RowNorm(uint32_t slot, const float* row) const {
  if (table_.vectors().is_cold(slot)) return std::sqrt(DotProduct(row, row, dim()));
  return table_.norm(slot);
}

const float* TableExactSource::Fetch(uint32_t slot, float* scratch) const {
  if (slot >= table_.slot_count() || !table_.live()[slot]) return nullptr;
  Status status;
  const float* v = table_.vectors().Exact(slot, scratch, &status);
  if (v == nullptr) {
    std::lock_guard<std::mutex> lock(mu_);
    if (status_.ok()) status_ = std::move(status);
  }
  return v;
}

std::vector<size_t> CollectionVectorIndex::ClusterOrder(const std::vector<uint32_t>& slots) const {
  std::vector<size_t> order(slots.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  if (index_ == nullptr || slots.empty()) return order;
  // Each wanted slot's position in the index's cluster order (UINT32_MAX: not indexed).
  const uint32_t bound = *std::max_element(slots.begin(), slots.end()) + 1;
  std::vector<uint32_t> rank(bound, UINT32_MAX);
  uint32_t position = 0;
  index_->ForEachSlot([&](uint32_t slot) {
    if (slot < bound) rank[slot] = position;
    ++position;
  });
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return rank[slots[a]] < rank[slots[b]]; });
  return order;
}

uint64_t LiveOffsetsHash(const RecordTable& table) {
  std::string offsets;
  offsets.reserve(table.live_count() * 8);
  for (size_t slot = 0; slot < table.slot_count(); ++slot) {
    if (table.live()[slot]) PutFixed64(&offsets, table.row(slot).offset);
  }
  return Checksum64(offsets);
}

CollectionVectorIndex::CollectionVectorIndex(size_t min_rows, double recall_target, size_t int8_scan_min_bytes)
    : min_rows_(min_rows != 0 ? min_rows : limits::kVectorIndexMinRows),
      recall_target_(recall_target > 0.0 ? recall_target : ivf_limits::kRecallTargetDefault),
      int8_scan_min_bytes_(int8_scan_min_bytes != 0 ? int8_scan_min_bytes : ivf_limits::kInt8ScanMinF32Bytes) {}

uint32_t CollectionVectorIndex::UncalibratedProbes(uint32_t clusters) {
  const uint32_t scaled = static_cast<uint32_t>(std::ceil(clusters * limits::kVectorIndexProbeFraction));
  return std::max(limits::kVectorIndexProbesMin, scaled);
}

// ---------------------------------------------------------------- exclusive-lock phases

void CollectionVectorIndex::SetCovered(uint32_t slot, bool on) {
  if (on) {
    if (slot >= covered_.size() * 64) covered_.resize(slot / 64 + 1, 0);
    if (!IsCovered(slot)) ++covered_count_;
    covered_[slot >> 6] |= uint64_t{1} << (slot & 63);
  } else if (IsCovered(slot)) {
    covered_[slot >> 6] &= ~(uint64_t{1} << (slot & 63));
    --covered_count_;
  }
}

void CollectionVectorIndex::RebuildPending(const RecordTable& table) {
  pending_.clear();
  pending_bits_.assign((table.slot_count() + 63) / 64, 0);
  const uint8_t* live = table.live();
  for (size_t slot = 0; slot < table.slot_count(); ++slot) {
    if (live[slot] && !IsCovered(static_cast<uint32_t>(slot))) {
      pending_.push_back(static_cast<uint32_t>(slot));
      pending_bits_[slot >> 6] |= uint64_t{1} << (slot & 63);
    }
  }
}

void CollectionVectorIndex::Reset() {
  index_.reset();
  budget_ = SearchBudget();
  covered_.clear();
  covered_count_ = 0;
  pending_.clear();
  pending_bits_.clear();
  built_rows_ = 0;
  ++generation_;
  ++index_version_;
  persisted_version_ = index_version_;  // no index, and (so far) no object
  changed_during_task_.clear();
  scan_copy_ = Int8ScanCopy();
}

void CollectionVectorIndex::Absorb(RecordTable& table, const std::vector<uint32_t>& renumbered) {
  if (!renumbered.empty()) {
    ++generation_;
    ++index_version_;
    auto moved = [&](uint32_t slot) -> std::optional<uint32_t> {
      if (slot >= renumbered.size() || renumbered[slot] == RecordTable::kNoSlot) return std::nullopt;
      return renumbered[slot];
    };
    if (index_) {
      auto remapped = index_->Remapped([&](uint32_t slot) -> std::optional<uint32_t> {
        return IsCovered(slot) ? moved(slot) : std::nullopt;
      });
      index_ = remapped.ok() ? std::make_shared<const IvfIndex>(std::move(*remapped)) : nullptr;
    }
    std::vector<uint64_t> old = std::move(covered_);
    covered_.assign((table.slot_count() + 63) / 64, 0);
    covered_count_ = 0;
    if (index_) {
      for (size_t w = 0; w < old.size(); ++w) {
        for (uint64_t bits = old[w]; bits != 0; bits &= bits - 1) {
          if (auto to = moved(static_cast<uint32_t>(w * 64 + __builtin_ctzll(bits)))) SetCovered(*to, true);
        }
      }
    }
    changed_during_task_.clear();  // the task's install will be refused anyway
    RebuildPending(table);
  }
  const std::vector<uint32_t> changes = table.TakeVectorChanges();
  const uint8_t* live = table.live();
  if (pending_bits_.size() * 64 < table.slot_count()) pending_bits_.resize((table.slot_count() + 63) / 64, 0);
  for (uint32_t slot : changes) {
    SetCovered(slot, false);
    if (maintaining_) changed_during_task_.push_back(slot);
    const uint64_t bit = uint64_t{1} << (slot & 63);
    if (live[slot] && !(pending_bits_[slot >> 6] & bit)) {
      pending_bits_[slot >> 6] |= bit;
      pending_.push_back(slot);
    }
  }
  SyncScanCopy(table, renumbered, changes);
}

void CollectionVectorIndex::SyncScanCopy(const RecordTable& table, const std::vector<uint32_t>& renumbered,
                                         const std::vector<uint32_t>& changes) {
  const VectorColumn& vectors = table.vectors();
  // Copies pay once the f32 rows outgrow the CPU caches; kept down to half that size.
  const size_t f32_bytes = table.live_count() * table.dimension().value_or(0) * sizeof(float);
  const size_t min_bytes = scan_copy_.dim() != 0 ? int8_scan_min_bytes_ / 2 : int8_scan_min_bytes_;
  const bool wanted = index_ != nullptr && budget_.calibrated() && budget_.plan == SearchBudget::Plan::kExactScan &&
                      table.dimension().has_value() && vectors.cold_rows() == 0 && f32_bytes >= min_bytes;
  if (!wanted) {
    if (scan_copy_.dim() != 0) scan_copy_ = Int8ScanCopy();  // frees the copies
    return;
  }
  const uint8_t* live = table.live();
  auto copy = [&](uint32_t slot) {
    if (slot < table.slot_count() && live[slot] && !vectors.is_cold(slot)) {
      scan_copy_.Set(slot, vectors.Approx(slot, nullptr));
    } else {
      scan_copy_.Drop(slot);
    }
  };
  if (scan_copy_.dim() != *table.dimension()) {  // the plan just became the scan: copy every row
    scan_copy_.Reset(*table.dimension());
    for (size_t slot = 0; slot < table.slot_count(); ++slot) {
      if (live[slot]) copy(static_cast<uint32_t>(slot));
    }
    return;
  }
  if (!renumbered.empty()) scan_copy_.Renumber(renumbered, table.slot_count());
  for (uint32_t slot : changes) copy(slot);
}

bool CollectionVectorIndex::Install(const RecordTable& table, VectorIndexTask task) {
  maintaining_ = false;
  std::vector<uint32_t> changed = std::move(changed_during_task_);
  changed_during_task_.clear();
  if (task.generation != generation_) return false;
  ++index_version_;
  if (task.kind == VectorIndexTask::Kind::kDrop) {
    index_.reset();
    budget_ = SearchBudget();
    covered_.clear();
    covered_count_ = 0;
    built_rows_ = 0;
    RebuildPending(table);
    SyncScanCopy(table, {}, {});
    return true;
  }
  index_ = std::move(task.result);
  budget_ = task.budget;
  if (task.kind == VectorIndexTask::Kind::kBuild) built_rows_ = task.built_rows;
  covered_.assign((table.slot_count() + 63) / 64, 0);
  covered_count_ = 0;
  const uint8_t* live = table.live();
  index_->ForEachSlot([&](uint32_t slot) {
    if (slot < table.slot_count() && live[slot]) SetCovered(slot, true);
  });
  for (uint32_t slot : changed) SetCovered(slot, false);
  RebuildPending(table);
  SyncScanCopy(table, {}, {});
  return true;
}

Status CollectionVectorIndex::Load(RecordTable& table, std::string object) {
  Reset();
  auto corrupt = [](const std::string& what) { return Status::Corruption("vector index object: " + what); };
  FATHOM_ASSIGN_OR_RETURN(VectorIndexEnvelope envelope, DecodeVectorIndexEnvelope(object));
  // The object's bytes are decoded: freed now, not when the load returns, so the open's
  // peak holds the index once beside them, not twice (memory-budget.md, "Measured").
  std::string().swap(object);
  const VectorIndexEnvelopeHeader& header = envelope.header;
  if (header.live_rows != table.live_count() || header.offsets_hash != LiveOffsetsHash(table)) {
    return corrupt("built for other rows than the segments hold");
  }
  if (table.dimension() != envelope.index.dim()) return corrupt("dimension disagrees with the collection");
  std::vector<uint32_t> live_slots;
  live_slots.reserve(table.live_count());
  for (size_t slot = 0; slot < table.slot_count(); ++slot) {
    if (table.live()[slot]) live_slots.push_back(static_cast<uint32_t>(slot));
  }
  bool out_of_range = false;
  // In place: a renamed copy would hold the codes twice at the open's peak.
  Status renamed = envelope.index.RenameSlots([&](uint32_t rank) -> std::optional<uint32_t> {
    if (rank >= live_slots.size()) {
      out_of_range = true;
      return std::nullopt;
    }
    return live_slots[rank];
  });
  if (out_of_range) return corrupt("names a row the segments do not hold");
  if (!renamed.ok()) return corrupt(renamed.message());
  VectorIndexTask task;
  task.kind = VectorIndexTask::Kind::kBuild;
  task.generation = generation_;
  task.result = std::make_shared<const IvfIndex>(std::move(envelope.index));
  task.budget = header.budget;
  // Before version 3 the last full build's rows were not recorded: counted from the rows
  // the index holds, as if it had been built at this size.
  task.built_rows = header.built_rows != 0 ? header.built_rows : task.result->rows();
  (void)table.TakeVectorChanges();  // the rows just loaded are what the index describes
  Install(table, std::move(task));
  return Status::Ok();
}

// ---------------------------------------------------------------- shared-lock phases

bool CollectionVectorIndex::NeedsMaintenance(const RecordTable& table, bool force) const {
  if (maintaining_ || !table.dimension()) return false;
  const size_t live = table.live_count();
  if (!index_) return live >= min_rows_;
  if (live < min_rows_ / 2) return true;
  // Loaded from before calibration, or calibrated for another target: rebuild.
  if (!budget_.calibrated() || std::fabs(budget_.recall_target - recall_target_) > 1e-6) return true;
  const size_t pending_due = force ? 1
                                    : std::max<size_t>(limits::kVectorIndexPendingRowsMin,
                                                       covered_count_ / limits::kVectorIndexPendingFractionInverse);
  if (pending_.size() >= pending_due) return true;
  // Many rows of the index are stale (deleted or changed): an update drops them.
  const size_t stale = index_->rows() - std::min(index_->rows(), covered_count_);
  return stale >= pending_due;
}

std::optional<VectorIndexTask> CollectionVectorIndex::Plan(const RecordTable& table, bool force) {
  if (!NeedsMaintenance(table, force)) return std::nullopt;
  VectorIndexTask task;
  task.generation = generation_;
  const size_t live = table.live_count();
  if (index_ && live < min_rows_ / 2) {
    task.kind = VectorIndexTask::Kind::kDrop;
  } else if (index_ && budget_.calibrated() && std::fabs(budget_.recall_target - recall_target_) <= 1e-6 &&
             live < built_rows_ * limits::kVectorIndexRebuildGrowth) {
    task.kind = VectorIndexTask::Kind::kUpdate;
    task.budget = budget_;
    const uint8_t* live_bytes = table.live();
    for (uint32_t slot : pending_) {
      if (live_bytes[slot] && !IsCovered(slot)) task.added.push_back(slot);
    }
    std::sort(task.added.begin(), task.added.end());
    task.added.erase(std::unique(task.added.begin(), task.added.end()), task.added.end());
    const SlotFilter keep = SlotFilter::Bitset(covered_.data(), covered_.size() * 64, covered_count_);
    IvfUpdateOptions options;
    options.seed = generation_ + built_rows_ + live;
    IvfUpdateStats stats;
    const TableExactSource exact(table);
    auto updated = index_->Updated(keep, task.added, exact, options, &stats);
    const bool overflowing = stats.norm_overflow * limits::kVectorIndexNormOverflowInverse > live;
    if (updated.ok() && !overflowing && exact.status().ok()) {
      task.result = std::make_shared<const IvfIndex>(std::move(*updated));
      // Splits add clusters; the calibrated probe count stays valid for the new count.
      task.budget.probes = std::min(task.budget.probes, task.result->clusters());
      // Grown well past the size it was calibrated at: the budget no longer reaches the
      // target (limits.h); calibrate it again on the updated index.
      const size_t calibrated_rows = budget_.calibrated_rows != 0 ? budget_.calibrated_rows : built_rows_;
      if (static_cast<double>(task.result->rows()) >=
          static_cast<double>(calibrated_rows) * limits::kVectorIndexRecalibrateGrowth) {
        task.recalibrate = true;
        CopyLiveRows(table, &task);
      }
    } else {
      task.kind = VectorIndexTask::Kind::kBuild;  // fall through to a full build
    }
  } else {
    task.kind = VectorIndexTask::Kind::kBuild;
  }
  if (task.kind == VectorIndexTask::Kind::kBuild) {
    task.added.clear();
    CopyLiveRows(table, &task);
  }
  maintaining_ = true;
  changed_during_task_.clear();
  return task;
}

void CollectionVectorIndex::CopyLiveRows(const RecordTable& table, VectorIndexTask* task) {
  const size_t live = table.live_count();
  const uint32_t dim = table.dimension().value_or(0);
  task->slots.reserve(live);
  task->vectors.reserve(live * dim);
  const uint8_t* live_bytes = table.live();
  const VectorColumn& vectors = table.vectors();
  for (size_t slot = 0; slot < table.slot_count(); ++slot) {
    if (!live_bytes[slot]) continue;
    if (auto ref = vectors.cold_ref(slot)) {
      task->cold_rows.emplace_back(task->slots.size(), std::move(*ref));
      task->vectors.resize(task->vectors.size() + dim);
    } else {
      const float* v = vectors.Approx(slot, nullptr);  // a hot row: exact, in RAM
      task->vectors.insert(task->vectors.end(), v, v + dim);
    }
    task->slots.push_back(static_cast<uint32_t>(slot));
  }
}

Status CollectionVectorIndex::RunBuild(DistanceSpace space, uint32_t dim, const BuildSettings& settings,
                                       VectorIndexTask* task) {
  const bool build = task->kind == VectorIndexTask::Kind::kBuild;
  if (!build && !(task->kind == VectorIndexTask::Kind::kUpdate && task->recalibrate)) return Status::Ok();
  for (const auto& [position, ref] : task->cold_rows) {
    FATHOM_RETURN_IF_ERROR(VectorColumn::ReadCold(ref, task->vectors.data() + position * dim));
  }
  task->cold_rows = {};
  MatrixView matrix{task->vectors.data(), task->slots.size(), dim};
  const uint64_t seed = task->slots.size();
  std::optional<IvfIndex> built;
  if (build) {
    IvfBuildOptions options;
    options.space = space;
    options.seed = seed;
    options.threads = 1;  // background work: leave the other cores to queries
    FATHOM_ASSIGN_OR_RETURN(built, IvfIndex::Build(matrix, options, task->slots.data()));
  }
  const IvfIndex& index = build ? *built : *task->result;
  CalibrationOptions calibration;
  calibration.recall_target = settings.recall_target;
  calibration.seed = seed;
  // The plan (index or exact scan) is chosen by timing both on this machine.
  const Clock* clock = settings.clock != nullptr ? settings.clock : RealClock().get();
  if (settings.cold_reads) {
    calibration.exact_row_cost = kColdExactRowCost;
  } else {
    calibration.clock_seconds = [clock] { return clock->NowSeconds(); };
    // Every row stays in RAM: an exact plan would scan through int8 copies (SyncScanCopy).
    calibration.int8_exact_scan =
        !settings.two_stage && task->slots.size() * dim * sizeof(float) >= settings.int8_scan_min_bytes;
  }
  const MatrixSource rows(matrix);
  const SlotsOfRowsSource exact(rows, task->slots);
  std::optional<Int8Matrix> int8;
  std::optional<Int8MatrixSource> int8_rows;
  std::optional<SlotsOfRowsSource> approximate;
  if (settings.two_stage) {
    FATHOM_ASSIGN_OR_RETURN(int8, Int8Matrix::Quantize(matrix));
    int8_rows.emplace(*int8);
    approximate.emplace(*int8_rows, task->slots);
    calibration.approximate = &*approximate;
  }
  FATHOM_ASSIGN_OR_RETURN(task->budget, CalibrateSearch(index, exact, calibration));
  if (build) {
    task->built_rows = task->slots.size();
    task->result = std::make_shared<const IvfIndex>(std::move(*built));
  }
  task->vectors = {};
  task->slots = {};
  return Status::Ok();
}

bool CollectionVectorIndex::ScansExactly(const VectorSearchKnobs& knobs) const {
  // The calibration found that the index cannot reach the recall target on this data
  // more cheaply than a scan: every query scans, unless it names its own probes.
  const bool scan_planned = budget_.plan == SearchBudget::Plan::kExactScan && knobs.probes == 0;
  return !index_ || covered_count_ == 0 || scan_planned;
}

VectorCandidates CollectionVectorIndex::PrepareCandidates(const RecordTable& table, const Roaring& allowed,
                                                          const VectorSearchKnobs& knobs) const {
  VectorCandidates out;
  const uint64_t count = allowed.cardinality();
  if (ScansExactly(knobs) || count <= ivf_limits::kExactScanAllowedRowsMin) {
    out.count_ = count;
    out.slots_.resize(count);
    allowed.toUint32Array(out.slots_.data());
    return out;
  }
  out.covered_bits_.assign((table.slot_count() + 63) / 64, 0);
  out.count_ = RoaringToBitset(allowed, out.covered_bits_.data(), out.covered_bits_.size());
  FinishCandidates(table, &out);
  return out;
}

VectorCandidates CollectionVectorIndex::PrepareCandidates(const RecordTable& table, const std::vector<uint32_t>& allowed,
                                                          const VectorSearchKnobs& knobs) const {
  VectorCandidates out;
  out.count_ = allowed.size();
  if (ScansExactly(knobs) || allowed.size() <= ivf_limits::kExactScanAllowedRowsMin) {
    out.slots_ = allowed;
    return out;
  }
  out.covered_bits_.assign((table.slot_count() + 63) / 64, 0);
  for (uint32_t slot : allowed) out.covered_bits_[slot >> 6] |= uint64_t{1} << (slot & 63);
  FinishCandidates(table, &out);
  return out;
}

void CollectionVectorIndex::FinishCandidates(const RecordTable& table, VectorCandidates* candidates) const {
  candidates->exact_ = false;
  std::vector<uint64_t>& bits = candidates->covered_bits_;
  // Covered rows are live; when every live row is covered (the steady state between
  // writes) the allowed rows are all covered and the mask below changes nothing.
  if (covered_count_ == table.live_count()) {
    candidates->covered_count_ = candidates->count_;
    return;
  }
  // Live rows the index does not cover are all pending (Absorb queues them).
  const uint8_t* live = table.live();
  for (uint32_t slot : pending_) {
    if (live[slot] && !IsCovered(slot) && slot < bits.size() * 64 && ((bits[slot >> 6] >> (slot & 63)) & 1)) {
      candidates->uncovered_.push_back(slot);
    }
  }
  std::sort(candidates->uncovered_.begin(), candidates->uncovered_.end());
  candidates->uncovered_.erase(std::unique(candidates->uncovered_.begin(), candidates->uncovered_.end()),
                               candidates->uncovered_.end());
  size_t covered = 0;
  for (size_t w = 0; w < bits.size(); ++w) {
    bits[w] &= w < covered_.size() ? covered_[w] : 0;
    covered += static_cast<size_t>(std::popcount(bits[w]));
  }
  candidates->covered_count_ = covered;
}

Result<std::vector<Hit>> CollectionVectorIndex::Search(const RecordTable& table, DistanceSpace space,
                                                       const float* query, uint32_t k,
                                                       const std::vector<uint32_t>* candidates,
                                                       const VectorSearchKnobs& knobs) const {
  if (candidates != nullptr) return Search(table, space, query, k, PrepareCandidates(table, *candidates, knobs), knobs);
  const size_t d = table.dimension().value_or(0);
  TopK top(k);
  if (d == 0 || k == 0) return top.Take();
  // |q| for cosine distances, and for the bounds of int8 approximations in ip (DistanceLowerBound).
  const float query_norm = space == DistanceSpace::kL2 ? 0.0f : std::sqrt(DotProduct(query, query, d));
  const uint32_t rerank_factor = RerankFactor(space, budget_, knobs);
  if (ScansExactly(knobs)) {
    FATHOM_RETURN_IF_ERROR(
        ScanExactly(table, space, query, query_norm, AllSlots{table.slot_count()}, rerank_factor, &top));
    return top.Take();
  }
  std::vector<uint32_t> uncovered;
  const uint8_t* live = table.live();
  for (uint32_t slot : pending_) {
    if (live[slot] && !IsCovered(slot)) uncovered.push_back(slot);
  }
  FATHOM_RETURN_IF_ERROR(
      ExactSearch(table, space, query, query_norm, uncovered, rerank_factor, int8_scan_min_bytes_, &top));
  // Covered slots are always rows of the index; when every row is covered (the steady
  // state) the unfiltered scan is the same search without a per-code bitset test.
  const SlotFilter filter = SlotFilter::Bitset(covered_.data(), covered_.size() * 64, covered_count_);
  const bool everything = covered_count_ == index_->rows();
  FATHOM_RETURN_IF_ERROR(SearchIndex(table, query, k, everything ? nullptr : &filter, knobs, &top));
  return top.Take();
}

Result<std::vector<Hit>> CollectionVectorIndex::Search(const RecordTable& table, DistanceSpace space,
                                                       const float* query, uint32_t k,
                                                       const VectorCandidates& candidates,
                                                       const VectorSearchKnobs& knobs) const {
  const size_t d = table.dimension().value_or(0);
  TopK top(k);
  if (d == 0 || k == 0) return top.Take();
  // |q| for cosine distances, and for the bounds of int8 approximations in ip (DistanceLowerBound).
  const float query_norm = space == DistanceSpace::kL2 ? 0.0f : std::sqrt(DotProduct(query, query, d));
  const uint32_t rerank_factor = RerankFactor(space, budget_, knobs);
  if (candidates.exact_ || ScansExactly(knobs)) {
    if (candidates.exact_) {
      FATHOM_RETURN_IF_ERROR(ScanExactly(table, space, query, query_norm, candidates.slots_, rerank_factor, &top));
      return top.Take();
    }
    // Prepared for an index that is gone (not expected under one lock): scan the bits.
    std::vector<uint32_t> slots = candidates.uncovered_;
    SlotFilter::Bitset(candidates.covered_bits_.data(), candidates.covered_bits_.size() * 64, 0)
        .ForEachAllowed(candidates.covered_bits_.size() * 64, [&](uint32_t slot) { slots.push_back(slot); });
    FATHOM_RETURN_IF_ERROR(
        ExactSearch(table, space, query, query_norm, slots, rerank_factor, int8_scan_min_bytes_, &top));
    return top.Take();
  }
  FATHOM_RETURN_IF_ERROR(ExactSearch(table, space, query, query_norm, candidates.uncovered_, rerank_factor,
                                     int8_scan_min_bytes_, &top));
  if (candidates.covered_count_ > 0) {
    const SlotFilter filter = SlotFilter::Bitset(candidates.covered_bits_.data(),
                                                 candidates.covered_bits_.size() * 64, candidates.covered_count_);
    FATHOM_RETURN_IF_ERROR(SearchIndex(table, query, k, &filter, knobs, &top));
  }
  return top.Take();
}

template <typename Slots>
Status CollectionVectorIndex::ScanExactly(const RecordTable& table, DistanceSpace space, const float* query,
                                          float query_norm, const Slots& slots, uint32_t rerank_factor,
                                          TopK* top) const {
  if (scan_copy_.rows() != 0 && table.vectors().cold_rows() == 0) {
    TopK found(top->capacity());
    if (ExactSearchWithCopy(table, scan_copy_, space, query, query_norm, slots,
                            std::max<size_t>(rerank_factor, kScanCopyDepthMin), &found)) {
      for (const Hit& h : found.Take()) top->Push(h.distance, h.slot);
      return Status::Ok();
    }
    scan_copy_fallbacks_.fetch_add(1, std::memory_order_relaxed);
  }
  return ExactSearch(table, space, query, query_norm, slots, rerank_factor, int8_scan_min_bytes_, top);
}

Status CollectionVectorIndex::SearchIndex(const RecordTable& table, const float* query, uint32_t k,
                                          const SlotFilter* filter, const VectorSearchKnobs& knobs,
                                          TopK* top) const {
  IvfSearchOptions options;
  options.k = k;
  options.probes = knobs.probes;
  if (options.probes == 0) {
    const uint32_t base = budget_.calibrated() ? budget_.probes : UncalibratedProbes(index_->clusters());
    const double scaled = std::ceil(base * knobs.effort);
    options.probes = static_cast<uint32_t>(std::clamp(scaled, 1.0, static_cast<double>(index_->clusters())));
  }
  options.rerank_factor = RerankFactor(index_->space(), budget_, knobs);
  options.error_bound_epsilon = ErrorBoundEpsilon(knobs);
  options.filter = filter;
  // With cold rows the index ranks by their int8 approximations, then re-scores its best
  // k * refine_factor from the exact vectors.
  const TableExactSource exact(table);
  const bool cold = table.vectors().cold_rows() > 0;
  if (cold && !table.vectors().cold_approximations()) {
    // No RAM copies of cold rows: the index re-ranks its candidates from the exact rows
    // themselves, in order of RaBitQ's lower bound, with every read it can reach in one
    // batch (IvfSearchOptions::batched_reads): the all-f32 search, read from the parts.
    options.batched_reads = true;
    FATHOM_ASSIGN_OR_RETURN(std::vector<Hit> hits, index_->Search(query, options, exact));
    FATHOM_RETURN_IF_ERROR(exact.status().WithContext("vector search"));
    for (const Hit& h : hits) top->Push(h.distance, h.slot);
    return Status::Ok();
  }
  if (cold) {
    options.exact = &exact;
    options.refine_factor = RefineFactor(knobs);
  }
  FATHOM_ASSIGN_OR_RETURN(std::vector<Hit> hits, index_->Search(query, options, TableVectorSource(table)));
  FATHOM_RETURN_IF_ERROR(exact.status().WithContext("vector search"));
  for (const Hit& h : hits) top->Push(h.distance, h.slot);
  return Status::Ok();
}

Result<std::vector<Hit>> CollectionVectorIndex::ExactNearest(const RecordTable& table, DistanceSpace space,
                                                             const float* query, uint32_t k) const {
  const size_t d = table.dimension().value_or(0);
  TopK top(k);
  if (d == 0 || k == 0) return top.Take();
  // |q| for cosine distances, and for the bounds of int8 approximations in ip (DistanceLowerBound).
  const float query_norm = space == DistanceSpace::kL2 ? 0.0f : std::sqrt(DotProduct(query, query, d));
  FATHOM_RETURN_IF_ERROR(ExactSearch(table, space, query, query_norm, AllSlots{table.slot_count()},
                                     RerankFactor(space, budget_, VectorSearchKnobs{}), int8_scan_min_bytes_, &top));
  return top.Take();
}

// ---------------------------------------------------------------- persistence

std::optional<CollectionVectorIndex::Snapshot> CollectionVectorIndex::TakeSnapshot(const RecordTable& table) const {
  if (!index_ || covered_count_ == 0) return std::nullopt;
  Snapshot snapshot;
  snapshot.index = index_;
  snapshot.budget = budget_;
  snapshot.rank_of_slot.assign(table.slot_count(), RecordTable::kNoSlot);
  uint32_t rank = 0;
  for (size_t slot = 0; slot < table.slot_count(); ++slot) {
    if (!table.live()[slot]) continue;
    if (IsCovered(static_cast<uint32_t>(slot))) snapshot.rank_of_slot[slot] = rank;
    ++rank;
  }
  snapshot.live_rows = table.live_count();
  snapshot.offsets_hash = LiveOffsetsHash(table);
  snapshot.covered_rows = covered_count_;
  snapshot.built_rows = built_rows_;
  return snapshot;
}

Result<std::string> CollectionVectorIndex::EncodeSnapshot(const Snapshot& snapshot) {
  FATHOM_ASSIGN_OR_RETURN(IvfIndex dense, snapshot.index->Remapped([&](uint32_t slot) -> std::optional<uint32_t> {
    if (slot >= snapshot.rank_of_slot.size() || snapshot.rank_of_slot[slot] == RecordTable::kNoSlot) {
      return std::nullopt;
    }
    return snapshot.rank_of_slot[slot];
  }));
  VectorIndexEnvelopeHeader header;
  header.live_rows = snapshot.live_rows;
  header.offsets_hash = snapshot.offsets_hash;
  header.covered_rows = dense.rows();
  header.budget = snapshot.budget;
  header.built_rows = snapshot.built_rows;
  return EncodeVectorIndexEnvelope(header, dense);
}

}  // namespace fathom
