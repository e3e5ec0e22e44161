// IvfIndex's search: routing, the code scan of the probed clusters, the re-rank of the
// candidates and the optional second stage (ivf_index.h; docs/design/vector-index.md).
#include "index/vector/ivf_index.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "index/vector/bounded_rescore.h"
#include "index/vector/distance.h"

namespace fathom {

namespace {

// The filter planner's cost of one row of a probed cluster (its slot tested against the
// filter; the allowed ones scored), relative to one row of the exact scan of the allowed
// rows. The exact scan reads its rows at scattered addresses (sparse filters: a cache miss
// per row; in a collection with cold vectors, an int8 row decoded) while a cluster's slots
// and codes are contiguous. Measured in a collection (200k x 128, 2-core EPYC, thread CPU
// time): about 150 ns per exact-scan row (1 % filter, 2000 rows, cold vectors) against
// about 9 ns per probed row (10 % filter, everything a query does included), so 1/16.
// (ivf_limits::kCodeCostRelativeToExact, 1/8, compares a code with an f32 distance over
// contiguous rows: the calibration's unfiltered plans.)
constexpr double kFilteredProbedRowCostRelativeToExact = 0.0625;

// A candidate from the code scan.
struct Candidate {
  float estimate;
  float lower;  // estimate - error bound
  uint32_t slot;
};

struct CandidateLess {
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.estimate < b.estimate || (a.estimate == b.estimate && a.slot < b.slot);
  }
};

// The `capacity` smallest estimates seen. A reservoir rather than a heap: candidates below
// the threshold are appended, and once twice the capacity have gathered the best
// `capacity` are selected (nth_element) and the threshold tightened. Each push is O(1)
// amortized, where a heap paid a sift per push; at many probes most codes of the first
// clusters pass the threshold, and the heap was the search's largest cost.
class CandidateReservoir {
 public:
  explicit CandidateReservoir(size_t capacity) : capacity_(capacity) { buffer_.reserve(2 * capacity); }
  float threshold() const { return threshold_; }
  void Push(const Candidate& c) {
    buffer_.push_back(c);
    if (buffer_.size() >= 2 * capacity_) Select();
  }
  std::vector<Candidate> TakeSorted() {
    if (buffer_.size() > capacity_) Select();
    std::sort(buffer_.begin(), buffer_.end(), CandidateLess());
    return std::move(buffer_);
  }

 private:
  void Select() {
    std::nth_element(buffer_.begin(), buffer_.begin() + (capacity_ - 1), buffer_.end(), CandidateLess());
    buffer_.resize(capacity_);
    threshold_ = buffer_[capacity_ - 1].estimate;
  }

  size_t capacity_;
  std::vector<Candidate> buffer_;
  float threshold_ = std::numeric_limits<float>::infinity();
};

float Norm(const float* v, uint32_t n) { return std::sqrt(DotProduct(v, v, n)); }

// Exact distance of the re-rank, mapped into the internal squared-L2 space so it can be
// compared with lower bounds of estimates: internal = scale * distance + shift.
struct InternalMap {
  float scale = 1.0f;
  float shift = 0.0f;
  float operator()(float distance) const { return scale * distance + shift; }
  // The Chroma distance of an internal one (scale > 0: the map is increasing).
  float Inverse(float internal) const { return (internal - shift) / scale; }
};

// How the first-stage re-rank hints its reads to the source (VectorSource::Prefetch and
// friends). The order of the reads and where they stop are the re-rank's own, the same
// for every source, so both kinds of hints give the same answer.
//
// Rows in memory: a few candidates ahead of their distance (the re-rank is bound by cache
// misses: a 128-d row is 8 lines at a random address); the per-slot entries that locate a
// row twice as far ahead.
class LookaheadHints {
 public:
  LookaheadHints(const std::vector<Candidate>& candidates, uint32_t k, const VectorSource& vectors)
      : candidates_(candidates), vectors_(vectors) {
    // The first k * 2 candidates' reads as one hint (most searches stop soon after k).
    const std::vector<uint32_t> first = FirstSlots(candidates, size_t{k} * 2);
    vectors.Prefetch(first.data(), first.size());
    for (size_t i = 0; i < std::min(kLocationLookahead, candidates.size()); ++i) {
      vectors.PrefetchLocation(candidates[i].slot);
    }
    for (size_t i = 0; i < std::min(kRowLookahead, candidates.size()); ++i) vectors.PrefetchToCache(candidates[i].slot);
  }
  // Before candidate i is read, while candidates whose lower bound is below `reach` may
  // still be read.
  void Before(size_t i, float /*reach*/) {
    if (i + kLocationLookahead < candidates_.size()) vectors_.PrefetchLocation(candidates_[i + kLocationLookahead].slot);
    if (i + kRowLookahead < candidates_.size()) vectors_.PrefetchToCache(candidates_[i + kRowLookahead].slot);
  }

 private:
  static constexpr size_t kRowLookahead = 4;
  static constexpr size_t kLocationLookahead = 2 * kRowLookahead;
  const std::vector<Candidate>& candidates_;
  const VectorSource& vectors_;
};

// Rows read on demand (IvfSearchOptions::batched_reads): the reads the re-rank will make
// in one batch before the first (one round trip to an object store rather than one per
// row). The re-rank reads candidate i only while suffix_lower[i] (the smallest lower bound
// from i on) is below the kept-th exact distance. Once the kept candidates with the
// smallest upper bounds (estimate + error bound) are read, that distance is at most T,
// their largest upper bound, whenever the bounds hold; those candidates come before the
// first i with suffix_lower[i] > T (each has a lower bound at most T), so the re-rank stops
// there and the first batch is that prefix. It hints 1.6-1.7x the rows read (24-d
// synthetic data, every cluster probed, depth 16); T from half the error bound hinted
// 1.1-1.3x but left about 1 % of queries a second round trip, which a cold query on an
// object store pays in latency (memory-budget.md). Should the re-rank get past the
// prefix (a bound did not hold, a read failed, float slack), each further batch is the
// candidates it can still reach at that moment; at most kRescoreBatchMax per batch.
class BatchHints {
 public:
  BatchHints(const std::vector<Candidate>& candidates, const std::vector<float>& suffix_lower, size_t kept,
             bool bounded, const VectorSource& vectors)
      : candidates_(candidates), suffix_lower_(suffix_lower), vectors_(vectors) {
    float t = std::numeric_limits<float>::infinity();
    if (bounded && candidates.size() >= kept) {
      std::vector<float> upper;
      upper.reserve(candidates.size());
      for (const Candidate& c : candidates) upper.push_back(c.estimate + (c.estimate - c.lower));
      std::nth_element(upper.begin(), upper.begin() + (kept - 1), upper.end());
      t = upper[kept - 1];
    }
    Hint(0, t);
  }
  void Before(size_t i, float reach) {
    if (i >= hinted_end_) Hint(i, reach);
  }

 private:
  // Hints the candidates from `begin` while the smallest lower bound from there on is at
  // most `reach` (at least candidate `begin`).
  void Hint(size_t begin, float reach) {
    size_t end = std::min(begin + 1, candidates_.size());
    while (end < candidates_.size() && end - begin < kRescoreBatchMax && suffix_lower_[end] <= reach) ++end;
    slots_.clear();
    for (size_t i = begin; i < end; ++i) slots_.push_back(candidates_[i].slot);
    if (!slots_.empty()) vectors_.Prefetch(slots_.data(), slots_.size());
    hinted_end_ = end;
  }

  const std::vector<Candidate>& candidates_;
  const std::vector<float>& suffix_lower_;
  const VectorSource& vectors_;
  std::vector<uint32_t> slots_;
  size_t hinted_end_ = 0;  // candidates [0, hinted_end_) were hinted
};

// The first-stage re-rank: the candidates in order of estimate, each re-scored from
// `vectors`; stops when the smallest lower bound among the remaining candidates cannot
// beat the kept-th exact distance (only once kept exact distances exist). The best
// k * refine_factor (k without a second stage). Reading in estimate order rather than in
// lower-bound order is what keeps a true neighbour whose estimate errs past its bound:
// it is read when a later candidate's bound is still open (lower-bound order missed 0.4-0.8 %
// of the top 10 at 24 dimensions against 0.1-0.3 % here; memory-budget.md). Rows in memory
// and rows read on demand take the same reads, hinted differently (Hints).
template <typename Hints>
std::vector<Hit> Rerank(DistanceSpace space, uint32_t dim, const float* query, float query_norm,
                        const std::vector<Candidate>& candidates, const std::vector<float>& suffix_lower,
                        const InternalMap& to_internal, bool early_stop, size_t kept, Hints& hints,
                        const VectorSource& vectors, IvfSearchStats* stats) {
  constexpr float kInfinity = std::numeric_limits<float>::infinity();
  std::vector<float> scratch(dim);
  TopK top(kept);
  for (size_t i = 0; i < candidates.size(); ++i) {
    float reach = kInfinity;  // candidates whose lower bound is below it may still be read
    if (early_stop && top.threshold() != kInfinity) {
      reach = to_internal(top.threshold());
      if (suffix_lower[i] >= reach) break;
    }
    hints.Before(i, reach);
    float distance;
    if (!vectors.Distance(candidates[i].slot, space, query, query_norm, scratch.data(), &distance)) continue;
    top.Push(distance, candidates[i].slot);
    ++stats->reranked;
  }
  return top.Take();
}

// Rerank with the hints that suit the source.
std::vector<Hit> RerankCandidates(DistanceSpace space, uint32_t dim, const float* query, float query_norm, uint32_t k,
                                  const std::vector<Candidate>& candidates, const InternalMap& to_internal,
                                  bool early_stop, const VectorSource& vectors, const IvfSearchOptions& options,
                                  IvfSearchStats* stats) {
  std::vector<float> suffix_lower(candidates.size() + 1, std::numeric_limits<float>::infinity());
  for (size_t i = candidates.size(); i-- > 0;) suffix_lower[i] = std::min(suffix_lower[i + 1], candidates[i].lower);
  const size_t kept = options.exact != nullptr ? size_t{k} * options.refine_factor : k;
  if (options.batched_reads) {
    BatchHints hints(candidates, suffix_lower, kept, early_stop, vectors);
    return Rerank(space, dim, query, query_norm, candidates, suffix_lower, to_internal, early_stop, kept, hints,
                  vectors, stats);
  }
  LookaheadHints hints(candidates, k, vectors);
  return Rerank(space, dim, query, query_norm, candidates, suffix_lower, to_internal, early_stop, kept, hints, vectors,
                stats);
}

// The map from Chroma's distance in `space` to the internal squared-L2 distance of the
// transformed query (TransformQuery) and rows.
InternalMap InternalMapFor(DistanceSpace space, float query_norm, float ip_max_norm) {
  InternalMap to_internal;
  switch (space) {
    case DistanceSpace::kL2:
      break;
    case DistanceSpace::kCosine:
      to_internal.scale = 2.0f;  // |a - b|^2 = 2 - 2 cos for unit vectors
      break;
    case DistanceSpace::kInnerProduct: {
      // With s = M / |q|: |t(o) - t(q)|^2 = 2 M^2 - 2 s <o, q> and distance = 1 - <o, q>.
      const float s = query_norm > 0.0f ? ip_max_norm / query_norm : 0.0f;
      to_internal.scale = 2.0f * s;
      to_internal.shift = 2.0f * ip_max_norm * ip_max_norm - 2.0f * s;
      break;
    }
  }
  return to_internal;
}

// Search's checks of its arguments against an index of `dim` dimensions.
Status CheckSearchArguments(uint32_t dim, const float* query, const IvfSearchOptions& options,
                            const VectorSource& vectors) {
  if (vectors.dim() != dim) {
    return Status::InvalidArgument("IVF search: the full-precision vectors do not match the index");
  }
  if (options.k > ivf_limits::kTopKMax) return Status::InvalidArgument("IVF search: k too large");
  if (options.probes == 0) return Status::InvalidArgument("IVF search: probes must be at least 1");
  if (!(options.error_bound_epsilon >= 0.0f)) return Status::InvalidArgument("IVF search: bad epsilon");
  if (options.exact != nullptr) {
    if (options.exact->dim() != dim) return Status::InvalidArgument("IVF search: exact vectors of another dimension");
    if (options.refine_factor == 0 || options.refine_factor > ivf_limits::kRefineFactorMax) {
      return Status::InvalidArgument("IVF search: refine_factor out of range");
    }
  }
  for (uint32_t d = 0; d < dim; ++d) {
    if (!std::isfinite(query[d])) return Status::InvalidArgument("IVF search: query must be finite");
  }
  return Status::Ok();
}

// The filter planner: whether a filtered search of an index of `rows` rows in `clusters`
// clusters scans the allowed rows exactly instead of probing. An exact scan of the allowed
// rows costs allowed_count exact distances; the IVF scan keeps probing until it has scored
// as many allowed rows as an unfiltered search would score, i.e. it goes through about
// probes * mean / selectivity rows of probed clusters (each tested against the filter, the
// allowed ones scored). A forced strategy (tests, benchmarks) is taken as it is.
bool PlanFilteredSearch(const SlotFilter& filter, size_t rows, uint32_t clusters, uint32_t probes, uint32_t k,
                        FilterStrategy strategy) {
  if (strategy != FilterStrategy::kAuto) return strategy == FilterStrategy::kExactScan;
  const double mean_cluster_rows = static_cast<double>(rows) / clusters;
  const size_t allowed = filter.allowed_count();
  const double selectivity = std::max(1.0 / rows, static_cast<double>(allowed) / rows);
  const double probed_rows = std::min<double>(rows, probes * mean_cluster_rows / selectivity);
  const double ivf_cost = probed_rows * kFilteredProbedRowCostRelativeToExact;
  return allowed <= std::max<size_t>(ivf_limits::kExactScanAllowedRowsMin, k) ||
         static_cast<double>(allowed) <= ivf_cost;
}

// How many clusters a search routes for at first: `probes`, or for a filtered search the
// about probes / selectivity it is expected to probe (it stops once it has scored as many
// allowed rows as an unfiltered one would).
uint32_t ClustersToRoute(const SlotFilter& filter, size_t rows, uint32_t probes, uint32_t clusters) {
  double expected_probes = probes;
  if (!filter.allows_all()) {
    expected_probes = probes * static_cast<double>(rows) / std::max<double>(1.0, filter.allowed_count());
  }
  const double wanted = std::ceil(expected_probes);
  return static_cast<uint32_t>(std::min<double>(wanted, clusters));
}

// The clusters of a search by distance of their centroids from the query. `route(wanted,
// order)` is IvfIndex::RouteQuery for the rotated query: it fills `order` with (at least)
// the `wanted` nearest clusters, unsorted, and returns the exact centroid distances it
// computed (added to IvfSearchStats::centroids_scored). The first `probes` are sorted at
// once; with a filter the probe count is open-ended, so further ones are sorted in
// doubling batches as the scan reaches them.
template <typename Route>
class ProbeOrder {
 public:
  ProbeOrder(Route route, uint32_t clusters, uint32_t wanted, uint32_t probes, IvfSearchStats* stats)
      : route_(std::move(route)), clusters_(clusters), stats_(stats) {
    stats_->centroids_scored = route_(wanted, &order_);
    std::partial_sort(order_.begin(), order_.begin() + probes, order_.end());
    sorted_ = probes;
  }

  uint32_t clusters() const { return clusters_; }

  // The cluster of probe p, asked for p = 0, 1, 2, ... in turn: the true p-th nearest.
  uint32_t Cluster(uint32_t p) {
    if (p == order_.size()) RouteFurther();
    if (p == sorted_) {
      const uint32_t next = std::min<uint32_t>(static_cast<uint32_t>(order_.size()), 2 * sorted_);
      std::partial_sort(order_.begin() + sorted_, order_.begin() + next, order_.end());
      sorted_ = next;
    }
    return order_[p].second;
  }

 private:
  // order_ holds the nearest clusters in true order as far as it goes (at least `wanted`;
  // the router returns a closed prefix, never a farther cluster that skips a nearer one).
  // A search that goes past it (a filtered one short of its target, or clusters holding
  // fewer than k rows) routes again for twice as many and appends the clusters it has not
  // got yet, so probe p is always the true p-th nearest.
  void RouteFurther() {
    const uint32_t more = static_cast<uint32_t>(std::min<size_t>(clusters_, 2 * order_.size()));
    std::vector<uint8_t> seen(clusters_, 0);
    for (const auto& entry : order_) seen[entry.second] = 1;
    std::vector<std::pair<float, uint32_t>> further;
    stats_->centroids_scored += route_(more, &further);
    for (const auto& entry : further) {
      if (!seen[entry.second]) order_.push_back(entry);
    }
  }

  Route route_;
  const uint32_t clusters_;
  IvfSearchStats* const stats_;
  std::vector<std::pair<float, uint32_t>> order_;  // (squared centroid distance, cluster)
  uint32_t sorted_ = 0;                             // order_[0, sorted_) is in true order
};

// The parts of an IvfIndex its code scan reads (borrowed; layout in ivf_index.h).
struct ClusterCodes {
  const RabitqQuantizer& quantizer;
  const float* centroids;   // clusters x padded_dim, rotated
  const uint32_t* offsets;  // clusters + 1
  const uint32_t* slots;    // per row, in cluster order
  const uint64_t* codes;    // per row: code_words words
  const float* add;         // per row: RaBitQ factors
  const float* rescale;
  const float* error;
};

// The rows of cluster rows [begin, begin + count) that `filter` allows, as positions in
// the cluster. The allowed codes sit at scattered offsets of the cluster: they are
// requested all at once, so their cache misses overlap each other and the query
// quantization that follows instead of queueing behind the popcounts of the previous code.
inline void SelectAllowed(const ClusterCodes& index, const SlotFilter& filter, size_t begin, size_t count,
                          uint32_t words, std::vector<uint32_t>* selected) {
  const uint64_t* codes = index.codes + begin * words;
  const uint32_t* slots = index.slots + begin;
  selected->clear();
  for (size_t i = 0; i < count; ++i) {
    if (filter.Allows(slots[i])) selected->push_back(static_cast<uint32_t>(i));
  }
  for (uint32_t r : *selected) {
    PrefetchLines(codes + size_t{r} * words, size_t{words} * sizeof(uint64_t));
    __builtin_prefetch(index.add + begin + r, 0, 3);
    __builtin_prefetch(index.rescale + begin + r, 0, 3);
  }
}

// The code scan: clusters in `order`, the allowed codes of each scored against the
// rotated query's residual from its centroid (quantized per cluster), the k *
// rerank_factor best estimates kept (sorted). Past `probes` it goes on only while fewer
// than k rows were scored (a query asking for k rows gets k when the index has them) or a
// filtered search has not scored as many allowed rows as the first `probes` clusters hold.
template <typename Route>
std::vector<Candidate> ScanCodes(const ClusterCodes& index, const float* rotated, ProbeOrder<Route>& order,
                                 const SlotFilter& filter, uint32_t k, uint32_t probes,
                                 const IvfSearchOptions& options, IvfSearchStats* stats) {
  const RabitqQuantizer& quantizer = index.quantizer;
  const uint32_t padded = quantizer.padded_dim();
  const uint32_t words = quantizer.code_words();
  size_t allowed_target = 0;  // with a filter: allowed rows to score before stopping
  for (uint32_t p = 0; p < probes; ++p) {
    const uint32_t j = order.Cluster(p);
    allowed_target += index.offsets[j + 1] - index.offsets[j];
  }
  allowed_target = std::min(allowed_target, filter.allowed_count());

  const size_t capacity = std::clamp<size_t>(static_cast<size_t>(k) * std::max(1u, options.rerank_factor), k,
                                             ivf_limits::kRerankCandidatesMax);
  CandidateReservoir reservoir(capacity);
  RabitqQuery prepared;
  std::vector<float> residual(padded);
  std::vector<float> estimates;
  std::vector<uint32_t> selected;
  size_t allowed_scored = 0;
  float threshold = reservoir.threshold();
  size_t total_scored = 0;  // rows scored (allowed ones, with a filter)
  for (uint32_t p = 0; p < order.clusters(); ++p) {
    if (p >= probes && total_scored >= k && (filter.allows_all() || allowed_scored >= allowed_target)) break;
    const uint32_t j = order.Cluster(p);
    const size_t begin = index.offsets[j], count = index.offsets[j + 1] - begin;
    if (count == 0) continue;
    const uint64_t* codes = index.codes + begin * words;
    const uint32_t* slots = index.slots + begin;
    const uint32_t* rows = nullptr;
    size_t scored = count;
    if (!filter.allows_all()) {
      SelectAllowed(index, filter, begin, count, words, &selected);
      rows = selected.data();
      scored = selected.size();
      allowed_scored += scored;
      if (scored == 0) {  // nothing allowed here: no need to quantize the query for it
        ++stats->clusters_probed;
        continue;
      }
    }
    const float* centroid = index.centroids + static_cast<size_t>(j) * padded;
    for (uint32_t d = 0; d < padded; ++d) residual[d] = rotated[d] - centroid[d];
    quantizer.PrepareQuery(residual.data(), &prepared);
    total_scored += scored;
    estimates.resize(scored);
    RabitqEstimate(prepared, words, codes, index.add + begin, index.rescale + begin, rows, scored, estimates.data());
    for (size_t i = 0; i < scored; ++i) {
      if (estimates[i] >= threshold) continue;
      const size_t local = rows == nullptr ? i : rows[i];
      const float bound = RabitqErrorBound(prepared, index.error[begin + local], options.error_bound_epsilon);
      reservoir.Push(Candidate{estimates[i], estimates[i] - bound, slots[local]});
      threshold = reservoir.threshold();
    }
    ++stats->clusters_probed;
    stats->codes_scored += scored;
  }
  return reservoir.TakeSorted();
}

// Rows per Prefetch hint of a batched exact scan: a batch's blocks stay well within one
// VectorFile::PrefetchRows call (kPrefetchRowsBlocksMax) even when every row spans two.
constexpr size_t kExactScanBatchRows = 256;

}  // namespace

void IvfIndex::TransformQuery(const float* query, float query_norm, float* out) const {
  switch (space_) {
    case DistanceSpace::kL2:
      std::copy_n(query, dim_, out);
      break;
    case DistanceSpace::kCosine: {
      float inverse = query_norm > 0.0f ? 1.0f / query_norm : 0.0f;
      for (uint32_t d = 0; d < dim_; ++d) out[d] = query[d] * inverse;
      break;
    }
    case DistanceSpace::kInnerProduct: {
      // Any positive scale of the query ranks rows the same; scaling it to norm M puts it
      // on the sphere where all transformed rows lie, which keeps centroid distances
      // informative (an unscaled small query sees every centroid at nearly the same
      // distance, and probing degrades to picking clusters by centroid norm).
      float scale = query_norm > 0.0f ? ip_max_norm_ / query_norm : 0.0f;
      for (uint32_t d = 0; d < dim_; ++d) out[d] = query[d] * scale;
      out[dim_] = 0.0f;
      break;
    }
  }
}

std::vector<Hit> IvfIndex::ExactScan(const float* query, float query_norm, uint32_t k, const SlotFilter& filter,
                                     const VectorSource& vectors, bool batched_reads) const {
  TopK top(k);
  std::vector<float> scratch(dim_);
  auto score = [&](uint32_t slot) {
    float distance;
    if (vectors.Distance(slot, space_, query, query_norm, scratch.data(), &distance)) top.Push(distance, slot);
  };
  if (!batched_reads) {
    filter.ForEachAllowed(slot_bound_, [&](uint32_t slot) {
      if (Contains(slot)) score(slot);
    });
    return top.Take();
  }
  // Rows read on demand: hint each batch of allowed rows, then score it, so a scan costs
  // one round of reads per batch rather than one per row.
  std::vector<uint32_t> batch;
  batch.reserve(kExactScanBatchRows);
  auto flush = [&] {
    vectors.Prefetch(batch.data(), batch.size());
    for (uint32_t slot : batch) score(slot);
    batch.clear();
  };
  filter.ForEachAllowed(slot_bound_, [&](uint32_t slot) {
    if (!Contains(slot)) return;
    batch.push_back(slot);
    if (batch.size() == kExactScanBatchRows) flush();
  });
  if (!batch.empty()) flush();
  return top.Take();
}

Result<std::vector<Hit>> IvfIndex::Search(const float* query, const IvfSearchOptions& options,
                                          const VectorSource& vectors, IvfSearchStats* stats) const {
  IvfSearchStats local_stats;
  if (stats == nullptr) stats = &local_stats;
  *stats = IvfSearchStats{};
  FATHOM_RETURN_IF_ERROR(CheckSearchArguments(dim_, query, options, vectors));
  const uint32_t k = static_cast<uint32_t>(std::min<size_t>(options.k, rows_));
  if (k == 0) return std::vector<Hit>{};
  const SlotFilter all;
  const SlotFilter& filter = options.filter != nullptr ? *options.filter : all;
  const float query_norm = Norm(query, dim_);
  const uint32_t clusters = this->clusters();
  const uint32_t probes = std::min(options.probes, clusters);
  if (!filter.allows_all() && PlanFilteredSearch(filter, rows_, clusters, probes, k, options.filter_strategy)) {
    stats->exact_scan = true;
    const uint32_t kept = options.exact != nullptr ? k * options.refine_factor : k;
    return Refine(query, query_norm, k, ExactScan(query, query_norm, kept, filter, vectors, options.batched_reads),
                  vectors, options, stats);
  }

  // The code scan of the nearest clusters, in the rotated search space.
  const uint32_t padded = quantizer_->padded_dim();
  std::vector<float> internal_query(padded, 0.0f);
  std::vector<float> rotated(padded);
  TransformQuery(query, query_norm, internal_query.data());
  quantizer_->Rotate(internal_query.data(), rotated.data());
  std::vector<float> centroid_distances;
  ProbeOrder order(
      [&](uint32_t wanted, std::vector<std::pair<float, uint32_t>>* out) {
        return RouteQuery(rotated.data(), wanted, out, &centroid_distances);
      },
      clusters, ClustersToRoute(filter, rows_, probes, clusters), probes, stats);
  const ClusterCodes codes{*quantizer_,  centroids_.data(), offsets_.data(), slots_.data(),
                           codes_.data(), add_.data(),       rescale_.data(), error_.data()};
  const std::vector<Candidate> candidates = ScanCodes(codes, rotated.data(), order, filter, k, probes, options, stats);
  stats->candidates = candidates.size();

  // Exact re-rank of the candidates, then the second stage if there is one.
  const InternalMap to_internal = InternalMapFor(space_, query_norm, ip_max_norm_);
  const bool early_stop = options.error_bound_epsilon > 0.0f;
  std::vector<Hit> reranked =
      RerankCandidates(space_, dim_, query, query_norm, k, candidates, to_internal, early_stop, vectors, options, stats);
  return Refine(query, query_norm, k, std::move(reranked), vectors, options, stats);
}

std::vector<Hit> IvfIndex::Refine(const float* query, float query_norm, uint32_t k, std::vector<Hit> approximate,
                                  const VectorSource& approx, const IvfSearchOptions& options,
                                  IvfSearchStats* stats) const {
  if (options.exact == nullptr) return approximate;
  const std::vector<BoundedCandidate> candidates = LowerBounds(space_, query_norm, approximate, approx);
  const bool cosine = space_ == DistanceSpace::kCosine;
  std::vector<float> scratch(dim_);
  TopK refined(k);
  // Every row the re-score can reach is hinted at once (one batch of reads from an
  // object store), before the first exact read. A row the exact source cannot read is
  // skipped (the caller learns of it through the source), as in the first stage.
  Status ignored = BoundedRescoreBatched(
      candidates, refined,
      [&](uint32_t slot) {
        const float* row = options.exact->Fetch(slot, scratch.data());
        if (row != nullptr) {
          const float norm = cosine ? options.exact->RowNorm(slot, row) : 0.0f;
          refined.Push(SpaceDistance(space_, query, query_norm, row, norm, dim_), slot);
        }
        return Status::Ok();
      },
      [&](const uint32_t* slots, size_t count) { options.exact->Prefetch(slots, count); }, &stats->refined);
  (void)ignored;
  return refined.Take();
}

}  // namespace fathom
