#include "index/vector/ivf_index.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

#include "common/assert.h"
#include "common/checksum.h"
#include "common/coding.h"
#include "index/vector/bounded_rescore.h"
#include "index/vector/distance.h"

namespace fathom {

namespace {

// ---- serialized format constants (docs/format/vector_index.md) ----
constexpr char kMagic[8] = {'F', 'T', 'H', 'M', 'I', 'V', 'F', '1'};
// Version 2 stores the rotation kind in what version 1 kept as a reserved zero word
// (version 1 indexes are dense and still read).
constexpr uint32_t kFormatVersion = 2;
constexpr size_t kHeaderBytes = 48;     // fields before the header checksum
constexpr size_t kChecksumBytes = 8;
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
// Seed streams derived from IvfBuildOptions::seed.
constexpr uint64_t kKmeansSeedStream = 1;
constexpr uint64_t kRotationSeedStream = 2;

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
// from i on) is below the kept-th exact distance. Were that distance known to be at most
// T, the reads would end before the first i with suffix_lower[i] > T, and the first batch
// is that prefix. The kept-th smallest upper bound (estimate + error bound) is such a T
// whenever the bounds hold, but it hints 1.6-1.7x the rows read; the kept-th smallest of
// estimate + half the error bound hints 1.1-1.3x and leaves about 1 % of queries a second
// batch (24-d synthetic data, every cluster probed, depth 16:
// IvfBatchedReadsTest.DefaultBoundAnswersAsTheInMemoryReRank). Should the re-rank get past
// the hinted prefix, each further batch is the candidates it can still reach at that
// moment; at most kRescoreBatchMax per batch.
class BatchHints {
 public:
  BatchHints(const std::vector<Candidate>& candidates, const std::vector<float>& suffix_lower, size_t kept,
             bool bounded, const VectorSource& vectors)
      : candidates_(candidates), suffix_lower_(suffix_lower), vectors_(vectors) {
    float t = std::numeric_limits<float>::infinity();
    if (bounded && candidates.size() >= kept) {
      std::vector<float> upper;
      upper.reserve(candidates.size());
      for (const Candidate& c : candidates) upper.push_back(c.estimate + kErrorShare * (c.estimate - c.lower));
      std::nth_element(upper.begin(), upper.begin() + (kept - 1), upper.end());
      t = upper[kept - 1];
    }
    Hint(0, t);
  }
  void Before(size_t i, float reach) {
    if (i >= hinted_end_) Hint(i, reach);
  }

 private:
  static constexpr float kErrorShare = 0.5f;  // of the error bound, in the first batch's T

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

// ---------------------------------------------------------------------------- build

bool IvfIndex::IndexMembers() {
  uint32_t bound = 0;
  for (uint32_t slot : slots_) bound = std::max(bound, slot + 1);
  slot_bound_ = bound;
  members_.assign((static_cast<size_t>(bound) + 63) / 64, 0);
  for (uint32_t slot : slots_) {
    uint64_t& word = members_[slot >> 6];
    const uint64_t bit = uint64_t{1} << (slot & 63);
    if (word & bit) return false;
    word |= bit;
  }
  return true;
}

namespace {

// Build's steps, in the order it takes them.

Status CheckBuildInput(MatrixView vectors, const IvfBuildOptions& options) {
  if (vectors.rows == 0) return Status::InvalidArgument("IVF index: no vectors");
  if (vectors.rows > ivf_limits::kRowsMax) return Status::InvalidArgument("IVF index: too many vectors");
  if (vectors.dim == 0 || vectors.dim > ivf_limits::kDimensionMax) {
    return Status::InvalidArgument("IVF index: bad dimension");
  }
  if (options.threads < 1 || options.threads > ivf_limits::kBuildThreadsMax) {
    return Status::InvalidArgument("IVF index: threads out of range");
  }
  if (options.clusters > ivf_limits::kClustersMax) return Status::InvalidArgument("IVF index: too many clusters");
  for (size_t i = 0; i < vectors.rows * vectors.dim; ++i) {
    if (!std::isfinite(vectors.data[i])) return Status::InvalidArgument("IVF index: vectors must be finite");
  }
  return Status::Ok();
}

// The internal (squared-L2) representation of every row: the rows themselves in l2;
// normalized in cosine; in ip, each row with one more coordinate sqrt(M^2 - |x|^2), M the
// largest norm (the MIPS reduction), which *ip_max_norm receives (0 in l2 and cosine).
// The rows are written to *transformed unless the space is l2.
MatrixView InternalRows(MatrixView vectors, DistanceSpace space, uint32_t internal_dim,
                        std::vector<float>* transformed, float* ip_max_norm) {
  *ip_max_norm = 0.0f;
  if (space == DistanceSpace::kL2) return vectors;
  transformed->resize(vectors.rows * internal_dim);
  std::vector<float> norms(vectors.rows);
  double max_norm = 0.0;
  for (size_t i = 0; i < vectors.rows; ++i) {
    norms[i] = Norm(vectors.Row(i), vectors.dim);
    max_norm = std::max<double>(max_norm, norms[i]);
  }
  for (size_t i = 0; i < vectors.rows; ++i) {
    const float* row = vectors.Row(i);
    float* out = transformed->data() + i * internal_dim;
    if (space == DistanceSpace::kCosine) {
      float inverse = norms[i] > 0.0f ? 1.0f / norms[i] : 0.0f;
      for (uint32_t d = 0; d < vectors.dim; ++d) out[d] = row[d] * inverse;
    } else {
      std::copy_n(row, vectors.dim, out);
      double slack = max_norm * max_norm - static_cast<double>(norms[i]) * norms[i];
      out[vectors.dim] = static_cast<float>(std::sqrt(std::max(0.0, slack)));
    }
  }
  if (space == DistanceSpace::kInnerProduct) *ip_max_norm = static_cast<float>(max_norm);
  return MatrixView{transformed->data(), vectors.rows, internal_dim};
}

// The clustering's options: options.clusters, or sqrt(rows) * kClustersPerSqrtRowsDefault
// when 0.
KmeansOptions BuildKmeansOptions(size_t rows, const IvfBuildOptions& options) {
  KmeansOptions kmeans;
  kmeans.clusters = options.clusters;
  if (kmeans.clusters == 0) {
    double wanted = std::round(std::sqrt(static_cast<double>(rows)) * ivf_limits::kClustersPerSqrtRowsDefault);
    kmeans.clusters = static_cast<uint32_t>(std::clamp<double>(wanted, 1.0, ivf_limits::kClustersMax));
  }
  kmeans.iterations = options.kmeans_iterations;
  kmeans.seed = MixSeed(options.seed, kKmeansSeedStream);
  kmeans.threads = options.threads;
  return kmeans;
}

// The centroids, rotated: clusters x padded_dim floats.
std::vector<float> RotatedCentroids(const RabitqQuantizer& quantizer, const KmeansResult& clustering,
                                    uint32_t internal_dim) {
  const uint32_t padded = quantizer.padded_dim();
  std::vector<float> out(static_cast<size_t>(clustering.clusters()) * padded);
  for (uint32_t j = 0; j < clustering.clusters(); ++j) {
    quantizer.Rotate(clustering.centroids.data() + static_cast<size_t>(j) * internal_dim,
                     out.data() + static_cast<size_t>(j) * padded);
  }
  return out;
}

// A counting sort of rows by cluster (within a cluster, rows keep their order): the
// clusters' offsets (clusters + 1) and each row's position in cluster order.
void SortRowsByCluster(const KmeansResult& clustering, std::vector<uint32_t>* offsets,
                       std::vector<uint32_t>* position) {
  const uint32_t clusters = clustering.clusters();
  offsets->assign(clusters + 1, 0);
  for (uint32_t a : clustering.assignment) ++(*offsets)[a + 1];
  for (uint32_t j = 0; j < clusters; ++j) (*offsets)[j + 1] += (*offsets)[j];
  position->resize(clustering.assignment.size());
  std::vector<uint32_t> next(offsets->begin(), offsets->end() - 1);
  for (size_t i = 0; i < position->size(); ++i) (*position)[i] = next[clustering.assignment[i]]++;
}

}  // namespace

Result<IvfIndex> IvfIndex::Build(MatrixView vectors, const IvfBuildOptions& options, const uint32_t* slots) {
  FATHOM_RETURN_IF_ERROR(CheckBuildInput(vectors, options));
  IvfIndex index;
  index.space_ = options.space;
  index.dim_ = vectors.dim;
  index.rows_ = vectors.rows;
  index.internal_dim_ = vectors.dim + (options.space == DistanceSpace::kInnerProduct ? 1 : 0);
  const uint32_t internal_dim = index.internal_dim_;
  std::vector<float> transformed;
  const MatrixView internal = InternalRows(vectors, options.space, internal_dim, &transformed, &index.ip_max_norm_);

  FATHOM_ASSIGN_OR_RETURN(KmeansResult clustering, BalancedKmeans(internal, BuildKmeansOptions(vectors.rows, options)));
  FATHOM_ASSIGN_OR_RETURN(RabitqQuantizer quantizer,
                          RabitqQuantizer::Create(internal_dim, MixSeed(options.seed, kRotationSeedStream),
                                                  options.rotation));
  index.centroids_ = RotatedCentroids(quantizer, clustering, internal_dim);
  std::vector<uint32_t> position;
  SortRowsByCluster(clustering, &index.offsets_, &position);

  // Each row's code, of its rotated residual from its centroid, at its place in cluster
  // order.
  const uint32_t padded = quantizer.padded_dim();
  const uint32_t words = quantizer.code_words();
  index.slots_.resize(vectors.rows);
  index.codes_.resize(vectors.rows * words);
  index.add_.resize(vectors.rows);
  index.rescale_.resize(vectors.rows);
  index.error_.resize(vectors.rows);
  ParallelForChunks(vectors.rows, ivf_limits::kParallelChunkRows, options.threads, [&](size_t begin, size_t end) {
    std::vector<float> rotated(padded);
    for (size_t i = begin; i < end; ++i) {
      const uint32_t p = position[i];
      const float* centroid = index.centroids_.data() + static_cast<size_t>(clustering.assignment[i]) * padded;
      quantizer.Rotate(internal.Row(i), rotated.data());
      for (uint32_t d = 0; d < padded; ++d) rotated[d] -= centroid[d];
      quantizer.Encode(rotated.data(), index.codes_.data() + static_cast<size_t>(p) * words, &index.add_[p],
                       &index.rescale_[p], &index.error_[p]);
      index.slots_[p] = slots != nullptr ? slots[i] : static_cast<uint32_t>(i);
    }
  });
  index.quantizer_.emplace(std::move(quantizer));
  if (slots != nullptr && vectors.rows > 0 && *std::max_element(slots, slots + vectors.rows) == UINT32_MAX) {
    return Status::InvalidArgument("IVF index: slot 2^32-1 is reserved");
  }
  if (!index.IndexMembers()) return Status::InvalidArgument("IVF index: slots must be distinct");
  index.BuildRouting();
  return index;
}

void IvfIndex::BuildRouting() {
  router_ = clusters() >= ivf_limits::kRoutingClustersMin
                ? CentroidRouter::Build(centroids_.data(), clusters(), quantizer_->padded_dim())
                : CentroidRouter();
}

IvfIndex IvfIndex::WithoutRouting() const {
  IvfIndex copy = *this;
  copy.router_ = CentroidRouter();
  return copy;
}

size_t IvfIndex::RouteQuery(const float* rotated, uint32_t wanted, std::vector<std::pair<float, uint32_t>>* order,
                            std::vector<float>* scratch) const {
  const uint32_t clusters = this->clusters();
  const uint32_t padded = quantizer_->padded_dim();
  if (!router_.empty() && wanted < clusters) return router_.Route(rotated, centroids_.data(), wanted, order);
  scratch->resize(clusters);
  SquaredL2ToMany(rotated, centroids_.data(), clusters, padded, scratch->data());
  order->resize(clusters);
  for (uint32_t j = 0; j < clusters; ++j) (*order)[j] = {(*scratch)[j], j};
  return clusters;
}

std::vector<std::pair<float, uint32_t>> IvfIndex::CentroidOrder(const float* query) const {
  const uint32_t padded = quantizer_->padded_dim();
  std::vector<float> internal_query(padded, 0.0f), rotated(padded), scratch(clusters());
  TransformQuery(query, Norm(query, dim_), internal_query.data());
  quantizer_->Rotate(internal_query.data(), rotated.data());
  SquaredL2ToMany(rotated.data(), centroids_.data(), clusters(), padded, scratch.data());
  std::vector<std::pair<float, uint32_t>> order(clusters());
  for (uint32_t j = 0; j < clusters(); ++j) order[j] = {scratch[j], j};
  std::sort(order.begin(), order.end());
  return order;
}

std::vector<uint32_t> IvfIndex::ClusterOfSlots() const {
  std::vector<uint32_t> out(slot_bound_, UINT32_MAX);
  for (uint32_t j = 0; j < clusters(); ++j) {
    for (uint32_t r = offsets_[j]; r < offsets_[j + 1]; ++r) out[slots_[r]] = j;
  }
  return out;
}

IvfIndex IvfIndex::EmptyWithSameShape() const {
  IvfIndex out;
  out.space_ = space_;
  out.dim_ = dim_;
  out.internal_dim_ = internal_dim_;
  out.ip_max_norm_ = ip_max_norm_;
  out.quantizer_ = quantizer_;
  return out;
}

Result<IvfIndex> IvfIndex::Remapped(const std::function<std::optional<uint32_t>(uint32_t)>& map) const {
  const uint32_t words = quantizer_->code_words();
  IvfIndex out = EmptyWithSameShape();
  out.centroids_ = centroids_;
  out.router_ = router_;
  out.offsets_.assign(offsets_.size(), 0);
  out.slots_.reserve(slots_.size());
  out.codes_.reserve(codes_.size());
  for (uint32_t j = 0; j < clusters(); ++j) {
    for (size_t r = offsets_[j]; r < offsets_[j + 1]; ++r) {
      const std::optional<uint32_t> slot = map(slots_[r]);
      if (!slot) continue;
      if (*slot == UINT32_MAX) return Status::InvalidArgument("IVF remap: slot 2^32-1 is reserved");
      out.slots_.push_back(*slot);
      out.codes_.insert(out.codes_.end(), codes_.begin() + r * words, codes_.begin() + (r + 1) * words);
      out.add_.push_back(add_[r]);
      out.rescale_.push_back(rescale_[r]);
      out.error_.push_back(error_[r]);
    }
    out.offsets_[j + 1] = static_cast<uint32_t>(out.slots_.size());
  }
  out.rows_ = out.slots_.size();
  if (out.rows_ == 0) return Status::InvalidArgument("IVF remap: no row left");
  if (!out.IndexMembers()) return Status::InvalidArgument("IVF remap: slots must stay distinct");
  return out;
}

size_t IvfIndex::MemoryBytes() const {
  size_t bytes = sizeof(*this);
  bytes += centroids_.capacity() * sizeof(float) + offsets_.capacity() * sizeof(uint32_t);
  bytes += slots_.capacity() * sizeof(uint32_t) + codes_.capacity() * sizeof(uint64_t);
  bytes += members_.capacity() * sizeof(uint64_t);
  bytes += router_.MemoryBytes();
  bytes += (add_.capacity() + rescale_.capacity() + error_.capacity()) * sizeof(float);
  if (quantizer_) bytes += quantizer_->rotation().capacity() * sizeof(float) + quantizer_->padded_dim() * sizeof(float);
  return bytes;
}

// ---------------------------------------------------------------------------- search

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

// ---------------------------------------------------------------------------- bytes

std::string IvfIndex::Serialize() const {
  const uint32_t padded = quantizer_->padded_dim();
  const uint32_t words = quantizer_->code_words();
  std::string out;
  out.append(kMagic, sizeof(kMagic));
  PutFixed32(&out, kFormatVersion);
  out.push_back(static_cast<char>(space_));
  out.append(3, '\0');
  PutFixed32(&out, dim_);
  PutFixed32(&out, internal_dim_);
  PutFixed32(&out, padded);
  PutFixed32(&out, clusters());
  PutFixed64(&out, rows_);
  uint32_t norm_bits;
  std::memcpy(&norm_bits, &ip_max_norm_, 4);
  PutFixed32(&out, norm_bits);
  PutFixed32(&out, static_cast<uint32_t>(quantizer_->rotation_kind()));
  FATHOM_CHECK(out.size() == kHeaderBytes);
  PutFixed64(&out, Checksum64(out));

  // Each section is followed by the XXH3 of its bytes.
  auto seal = [&out](size_t start) { PutFixed64(&out, Checksum64(std::string_view(out).substr(start))); };
  size_t start = out.size();
  PutFloats(&out, quantizer_->rotation().data(), quantizer_->rotation().size());
  seal(start);
  start = out.size();
  PutFloats(&out, centroids_.data(), centroids_.size());
  seal(start);
  start = out.size();
  for (uint32_t j = 0; j < clusters(); ++j) PutFixed32(&out, static_cast<uint32_t>(ClusterRows(j)));
  seal(start);
  for (uint32_t j = 0; j < clusters(); ++j) {
    start = out.size();
    const size_t begin = offsets_[j], count = ClusterRows(j);
    for (size_t i = 0; i < count; ++i) PutFixed32(&out, slots_[begin + i]);
    for (size_t i = 0; i < count * words; ++i) PutFixed64(&out, codes_[begin * words + i]);
    PutFloats(&out, add_.data() + begin, count);
    PutFloats(&out, rescale_.data() + begin, count);
    PutFloats(&out, error_.data() + begin, count);
    seal(start);
  }
  return out;
}

namespace {

// Deserialize's steps, in the order it takes them.

Status CorruptIndex(const char* what) { return Status::Corruption(std::string("vector index: ") + what); }

// The header's fields, each checked against the format and the limits.
struct SerializedShape {
  DistanceSpace space;
  RotationKind rotation;
  uint32_t dim, internal_dim, padded, clusters;
  uint64_t rows;
  float ip_max_norm;
};

Result<SerializedShape> DecodeShape(std::string_view bytes) {
  if (bytes.size() > ivf_limits::kSerializedBytesMax) return CorruptIndex("too large");
  if (bytes.size() < kHeaderBytes + kChecksumBytes) return CorruptIndex("truncated header");
  if (std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) return CorruptIndex("bad magic");
  if (DecodeFixed64(bytes.data() + kHeaderBytes) != Checksum64(bytes.substr(0, kHeaderBytes))) {
    return CorruptIndex("header checksum mismatch");
  }
  Decoder header(bytes.substr(sizeof(kMagic), kHeaderBytes - sizeof(kMagic)));
  uint32_t version = 0, dim = 0, internal_dim = 0, padded = 0, clusters = 0, norm_bits = 0, kind_word = 0;
  uint8_t space = 0, pad = 0;
  uint64_t rows = 0;
  bool ok = header.GetFixed32(&version) && header.GetU8(&space);
  for (int i = 0; i < 3 && ok; ++i) ok = header.GetU8(&pad) && pad == 0;
  ok = ok && header.GetFixed32(&dim) && header.GetFixed32(&internal_dim) && header.GetFixed32(&padded) &&
       header.GetFixed32(&clusters) && header.GetFixed64(&rows) && header.GetFixed32(&norm_bits) &&
       header.GetFixed32(&kind_word) && header.empty();
  if (!ok) return CorruptIndex("bad header");
  if (version != 1 && version != kFormatVersion) return CorruptIndex("unknown version");
  // Version 1: a reserved zero word, and the rotation is dense.
  if (kind_word > static_cast<uint32_t>(RotationKind::kHadamard) || (version == 1 && kind_word != 0)) {
    return CorruptIndex("unknown rotation kind");
  }
  if (space > static_cast<uint8_t>(DistanceSpace::kInnerProduct)) return CorruptIndex("unknown space");
  SerializedShape shape{static_cast<DistanceSpace>(space), static_cast<RotationKind>(kind_word), dim, internal_dim,
                        padded, clusters, rows, 0.0f};
  if (dim == 0 || dim > ivf_limits::kDimensionMax ||
      internal_dim != dim + (shape.space == DistanceSpace::kInnerProduct ? 1 : 0) ||
      padded != RabitqQuantizer::PaddedDimension(internal_dim) || padded > ivf_limits::kRotatedDimensionMax) {
    return CorruptIndex("bad dimensions");
  }
  if (rows == 0 || rows > ivf_limits::kRowsMax || clusters == 0 || clusters > ivf_limits::kClustersMax ||
      clusters > rows) {
    return CorruptIndex("bad row or cluster count");
  }
  std::memcpy(&shape.ip_max_norm, &norm_bits, 4);
  if (!std::isfinite(shape.ip_max_norm) || shape.ip_max_norm < 0.0f) return CorruptIndex("bad norm");
  return shape;
}

// Sizes the shape fixes. Every size is bounded by the limits DecodeShape checked, so none
// overflows 64 bits.
struct SerializedSizes {
  uint64_t words;            // code words per row
  uint64_t row_bytes;        // slot, code and three factors
  uint64_t rotation_floats;
  uint64_t total;            // the whole object
};

SerializedSizes SizesOf(const SerializedShape& shape) {
  SerializedSizes sizes;
  sizes.words = shape.padded / ivf_limits::kCodeWordBits;
  sizes.row_bytes = 4 + sizes.words * 8 + 3 * 4;
  sizes.rotation_floats = RabitqQuantizer::RotationFloats(shape.rotation, shape.internal_dim, shape.padded);
  sizes.total = kHeaderBytes + kChecksumBytes + (sizes.rotation_floats * 4 + kChecksumBytes) +
                (uint64_t{shape.clusters} * shape.padded * 4 + kChecksumBytes) +
                (uint64_t{shape.clusters} * 4 + kChecksumBytes) + shape.rows * sizes.row_bytes +
                uint64_t{shape.clusters} * kChecksumBytes;
  return sizes;
}

// Walks the sections after the header, each followed by the XXH3 of its bytes. The
// caller has checked that the object's size is the sum of the sections it reads.
class SectionReader {
 public:
  explicit SectionReader(std::string_view bytes) : bytes_(bytes) {}
  // The next section, of `n` bytes; false if its checksum does not match.
  bool Next(size_t n, std::string_view* out) {
    *out = bytes_.substr(pos_, n);
    const bool good = DecodeFixed64(bytes_.data() + pos_ + n) == Checksum64(*out);
    pos_ += n + kChecksumBytes;
    return good;
  }
  bool at_end() const { return pos_ == bytes_.size(); }

 private:
  std::string_view bytes_;
  size_t pos_ = kHeaderBytes + kChecksumBytes;
};

// Cluster offsets (clusters + 1) from the directory's cluster sizes, which must add up to
// the row count.
Status DecodeDirectory(std::string_view directory, uint32_t clusters, uint64_t rows, std::vector<uint32_t>* offsets) {
  offsets->assign(clusters + 1, 0);
  for (uint32_t j = 0; j < clusters; ++j) {
    uint64_t next = uint64_t{(*offsets)[j]} + DecodeFixed32(directory.data() + 4 * j);
    if (next > rows) return CorruptIndex("cluster sizes exceed the row count");
    (*offsets)[j + 1] = static_cast<uint32_t>(next);
  }
  if ((*offsets)[clusters] != rows) return CorruptIndex("cluster sizes do not add up to the row count");
  return Status::Ok();
}

// Where one cluster's rows go: `count` slots, count x words codes and count of each
// factor (add, rescale, error).
struct ClusterRowArrays {
  size_t count;
  uint32_t* slots;
  uint64_t* codes;
  float* factors[3];
};

// One cluster's section: slots (below the format's bound for `rows`), codes, then each
// factor for every row (finite).
Status DecodeClusterRows(std::string_view block, uint64_t words, uint64_t rows, const ClusterRowArrays& out) {
  const char* p = block.data();
  for (size_t i = 0; i < out.count; ++i, p += 4) {
    uint32_t slot = DecodeFixed32(p);
    if (slot >= ivf_limits::SerializedSlotBound(rows)) return CorruptIndex("slot out of range");
    out.slots[i] = slot;
  }
  for (size_t i = 0; i < out.count * words; ++i, p += 8) out.codes[i] = DecodeFixed64(p);
  for (float* factors : out.factors) {
    std::memcpy(factors, p, out.count * 4);
    p += out.count * 4;
    for (size_t i = 0; i < out.count; ++i) {
      if (!std::isfinite(factors[i])) return CorruptIndex("factor not finite");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<IvfIndex> IvfIndex::Deserialize(std::string_view bytes) {
  FATHOM_ASSIGN_OR_RETURN(const SerializedShape shape, DecodeShape(bytes));
  const SerializedSizes sizes = SizesOf(shape);
  if (bytes.size() != sizes.total) return CorruptIndex("size does not match the header");
  SectionReader sections(bytes);
  std::string_view rotation_bytes, centroid_bytes, directory_bytes;
  if (!sections.Next(sizes.rotation_floats * 4, &rotation_bytes)) return CorruptIndex("rotation checksum mismatch");
  if (!sections.Next(size_t{shape.clusters} * shape.padded * 4, &centroid_bytes)) {
    return CorruptIndex("centroid checksum mismatch");
  }
  if (!sections.Next(size_t{shape.clusters} * 4, &directory_bytes)) return CorruptIndex("directory checksum mismatch");

  IvfIndex index;
  index.space_ = shape.space;
  index.dim_ = shape.dim;
  index.internal_dim_ = shape.internal_dim;
  index.ip_max_norm_ = shape.ip_max_norm;
  index.rows_ = shape.rows;
  std::vector<float> rotation(sizes.rotation_floats);
  std::memcpy(rotation.data(), rotation_bytes.data(), rotation_bytes.size());
  FATHOM_ASSIGN_OR_RETURN(RabitqQuantizer quantizer, RabitqQuantizer::FromRotation(shape.internal_dim, shape.padded,
                                                                                   shape.rotation, std::move(rotation)));
  index.quantizer_.emplace(std::move(quantizer));
  index.centroids_.resize(size_t{shape.clusters} * shape.padded);
  std::memcpy(index.centroids_.data(), centroid_bytes.data(), centroid_bytes.size());
  for (float v : index.centroids_) {
    if (!std::isfinite(v)) return CorruptIndex("centroid not finite");
  }
  FATHOM_RETURN_IF_ERROR(DecodeDirectory(directory_bytes, shape.clusters, shape.rows, &index.offsets_));

  index.slots_.resize(shape.rows);
  index.codes_.resize(shape.rows * sizes.words);
  index.add_.resize(shape.rows);
  index.rescale_.resize(shape.rows);
  index.error_.resize(shape.rows);
  for (uint32_t j = 0; j < shape.clusters; ++j) {
    const size_t begin = index.offsets_[j], count = index.ClusterRows(j);
    std::string_view block;
    if (!sections.Next(count * sizes.row_bytes, &block)) return CorruptIndex("cluster checksum mismatch");
    FATHOM_RETURN_IF_ERROR(DecodeClusterRows(
        block, sizes.words, shape.rows,
        ClusterRowArrays{count, index.slots_.data() + begin, index.codes_.data() + begin * sizes.words,
                    {index.add_.data() + begin, index.rescale_.data() + begin, index.error_.data() + begin}}));
  }
  FATHOM_CHECK(sections.at_end());
  if (!index.IndexMembers()) return CorruptIndex("repeated slot");
  index.BuildRouting();
  return index;
}

}  // namespace fathom
