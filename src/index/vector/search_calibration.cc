#include "index/vector/search_calibration.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "index/vector/distance.h"
#include "index/vector/int8_first_pass.h"
#include "index/vector/int8_scan_copy.h"
#include "index/vector/kmeans.h"
#include "index/vector/space_scorer.h"
#include "index/vector/top_k.h"

namespace fathom {

namespace {

// z of the one-sided 99% bound: held-out queries are another sample, and a budget that
// only just clears the target on this one would miss it on about half of the others.
constexpr double kConfidenceZ = 2.326;
// The int8 first pass keeps k * this rows for the exact re-score (the collection keeps
// k * its re-rank factor, 10 unless calibrated otherwise).
constexpr size_t kInt8ScanDepth = 10;

// One sampled row used as a query: its own slot (excluded from its answers), its vector
// and the true distance of its k-th nearest other row.
struct SampleQuery {
  uint32_t slot = 0;
  std::vector<float> vector;
  float norm = 0.0f;
  float kth_true = 0.0f;
};

uint32_t SampleSize(const IvfIndex& index, const CalibrationOptions& options) {
  if (options.sample_queries != 0) return options.sample_queries;
  const double work_per_query = static_cast<double>(index.rows()) * index.dim();
  const double fits = ivf_limits::kCalibrationTruthWorkMax / std::max(1.0, work_per_query);
  return static_cast<uint32_t>(std::clamp<double>(std::floor(fits), ivf_limits::kCalibrationQueriesMin,
                                                  ivf_limits::kCalibrationQueriesMax));
}

// Picks `count` distinct rows of the index and computes each one's true k-th distance
// among the other rows by brute force (one pass over the rows, every query per row).
Result<std::vector<SampleQuery>> SampleWithTruth(const IvfIndex& index, const VectorSource& exact,
                                                 const CalibrationOptions& options, uint32_t count) {
  std::vector<uint32_t> slots;
  slots.reserve(index.rows());
  index.ForEachSlot([&](uint32_t slot) { slots.push_back(slot); });
  std::sort(slots.begin(), slots.end());
  count = static_cast<uint32_t>(std::min<size_t>(count, slots.size()));
  // A partial Fisher-Yates shuffle: the first `count` are a uniform sample.
  Rng rng(MixSeed(options.seed, 0xca1b));
  for (uint32_t i = 0; i < count; ++i) std::swap(slots[i], slots[i + rng.Below(slots.size() - i)]);
  const uint32_t dim = index.dim();
  const DistanceSpace space = index.space();
  const bool cosine = space == DistanceSpace::kCosine;
  std::vector<float> scratch(dim);
  std::vector<SampleQuery> queries(count);
  for (uint32_t i = 0; i < count; ++i) {
    const float* v = exact.Fetch(slots[i], scratch.data());
    if (v == nullptr) return Status::IOError("search calibration: cannot read row " + std::to_string(slots[i]));
    queries[i].slot = slots[i];
    queries[i].vector.assign(v, v + dim);
    queries[i].norm = cosine ? std::sqrt(DotProduct(v, v, dim)) : 0.0f;
  }
  std::vector<TopK> truth(count, TopK(options.k));
  for (uint32_t slot : slots) {
    const float* row = exact.Fetch(slot, scratch.data());
    if (row == nullptr) return Status::IOError("search calibration: cannot read row " + std::to_string(slot));
    const float norm = cosine ? std::sqrt(DotProduct(row, row, dim)) : 0.0f;
    for (uint32_t i = 0; i < count; ++i) {
      if (queries[i].slot == slot) continue;
      truth[i].Push(SpaceDistance(space, queries[i].vector.data(), queries[i].norm, row, norm, dim), slot);
    }
  }
  for (uint32_t i = 0; i < count; ++i) {
    const std::vector<Hit> hits = truth[i].Take();
    queries[i].kth_true = hits.empty() ? 0.0f : hits.back().distance;
  }
  return queries;
}

// Runs every sample query at (probes, rerank_factor) and measures recall and cost.
Result<CalibrationPoint> Measure(const IvfIndex& index, const VectorSource& exact, const CalibrationOptions& options,
                                 const std::vector<SampleQuery>& queries, uint32_t probes, uint32_t rerank_factor) {
  CalibrationPoint point;
  point.probes = probes;
  point.rerank_factor = rerank_factor;
  IvfSearchOptions search;
  search.k = options.k + 1;  // the query's own row comes back too; it is dropped below
  search.probes = probes;
  search.rerank_factor = rerank_factor;
  if (options.approximate != nullptr) search.exact = &exact;
  const VectorSource& ranking = options.approximate != nullptr ? *options.approximate : exact;
  double sum = 0.0, sum_squares = 0.0, cost = 0.0;
  size_t n = 0;
  // Mean and one-sided bound of the first n queries.
  auto bound = [&](double z) { return ConfidenceBound(sum, sum_squares, static_cast<double>(n), z); };
  for (const SampleQuery& query : queries) {
    IvfSearchStats stats;
    FATHOM_ASSIGN_OR_RETURN(std::vector<Hit> hits, index.Search(query.vector.data(), search, ranking, &stats));
    std::erase_if(hits, [&](const Hit& h) { return h.slot == query.slot; });
    if (hits.size() > options.k) hits.resize(options.k);
    const double recall = TieAwareRecall(hits, query.kth_true, options.k);
    sum += recall;
    sum_squares += recall * recall;
    cost += static_cast<double>(stats.codes_scored) * ivf_limits::kCodeCostRelativeToExact +
            static_cast<double>(stats.reranked) + static_cast<double>(stats.refined) +
            static_cast<double>(stats.centroids_scored) +
            static_cast<double>(stats.clusters_probed) * ivf_limits::kProbeOverheadCost;
    ++n;
    // A setting clearly short of the target (its upper bound below it after a block of
    // queries) is rejected without running the rest: most settings a bisection tries
    // fail, and the failing ones near the answer cost as much as the answer.
    if (n % ivf_limits::kCalibrationEarlyRejectQueries == 0 && n < queries.size() &&
        bound(kConfidenceZ) < options.recall_target) {
      break;
    }
  }
  point.recall = sum / n;
  point.lower_bound = bound(-kConfidenceZ);
  point.cost = cost / n;
  return point;
}

// Seconds to answer `queries` through the index at (probes, rerank_factor), and by an
// exact scan of every row through the same sources (ranking by the approximations and
// re-scoring the best exactly when there are approximations, as a collection's scan of
// cold rows does).
// Seconds for the first `count` queries by the exact plan's int8 first pass, through the
// function a collection scans its copies with (int8_first_pass.h): rank every row by its
// copy, re-score the best k * kInt8ScanDepth exactly in order of their lower bounds. The
// copies are made first, untimed.
double TimeInt8Scan(DistanceSpace space, const VectorSource& exact, const CalibrationOptions& options,
                    const std::vector<SampleQuery>& queries, size_t count, const std::vector<uint32_t>& slots) {
  const uint32_t dim = exact.dim();
  const bool cosine = space == DistanceSpace::kCosine;
  std::vector<float> scratch(dim);
  Int8ScanCopy copy;
  copy.Reset(dim);
  for (uint32_t slot : slots) {
    const float* row = exact.Fetch(slot, scratch.data());
    if (row != nullptr) copy.Set(slot, row);
  }
  size_t sink = 0;  // keeps the work observable
  const double start = options.clock_seconds();
  for (size_t i = 0; i < count; ++i) {
    const SampleQuery& query = queries[i];
    TopK top(options.k);
    const bool exact_answer = Int8FirstPassSearch(
        copy, space, query.vector.data(), query.norm, slots, kInt8ScanDepth, &top, [](uint32_t) { return true; },
        [&](uint32_t slot) {
          const float* row = exact.Fetch(slot, scratch.data());
          if (row == nullptr) return;
          const float norm = cosine ? std::sqrt(DotProduct(row, row, dim)) : 0.0f;
          top.Push(SpaceDistance(space, query.vector.data(), query.norm, row, norm, dim), slot);
        });
    sink += top.Take().size() + (exact_answer ? 1 : 0);
  }
  const double seconds = options.clock_seconds() - start;
  (void)sink;
  return seconds;
}

struct PlanTimes {
  double index = 0.0;
  double exact = 0.0;
};

PlanTimes TimePlans(const IvfIndex& index, const VectorSource& exact, const CalibrationOptions& options,
                    const std::vector<SampleQuery>& queries, const CalibrationPoint& point) {
  std::vector<uint32_t> slots;
  slots.reserve(index.rows());
  index.ForEachSlot([&](uint32_t slot) { slots.push_back(slot); });
  std::sort(slots.begin(), slots.end());  // a scan walks rows in storage order
  const size_t count = std::min<size_t>(queries.size(), ivf_limits::kCalibrationTimedQueries);
  const uint32_t dim = index.dim();
  const DistanceSpace space = index.space();
  const bool cosine = space == DistanceSpace::kCosine;
  const VectorSource& ranking = options.approximate != nullptr ? *options.approximate : exact;
  IvfSearchOptions search;
  search.k = options.k;
  search.probes = point.probes;
  search.rerank_factor = point.rerank_factor;
  if (options.approximate != nullptr) search.exact = &exact;
  std::vector<float> scratch(dim);
  PlanTimes times;
  size_t sink = 0;  // keeps the work observable
  const double index_start = options.clock_seconds();
  for (size_t i = 0; i < count; ++i) {
    auto hits = index.Search(queries[i].vector.data(), search, ranking);
    sink += hits.ok() ? hits->size() : 0;
  }
  times.index = options.clock_seconds() - index_start;
  if (options.int8_exact_scan && options.approximate == nullptr) {
    times.exact = TimeInt8Scan(space, exact, options, queries, count, slots);
    return times;
  }
  // The scan timed is the collection's (collection_vector_index.cc, ExactSearch): the
  // kernel resolved once per query, the cut tested before the heap, and for cosine the
  // rows' norms read, not computed (a collection stores them; computing them here timed
  // a scan twice as slow as the one that runs). Approximations' norms are computed per
  // row, as the collection's scoring of cold rows does.
  const bool stored_norms = cosine && options.approximate == nullptr;
  std::vector<float> norms(stored_norms ? slots.size() : 0);
  for (size_t j = 0; j < norms.size(); ++j) {
    const float* row = ranking.Fetch(slots[j], scratch.data());
    norms[j] = row != nullptr ? std::sqrt(DotProduct(row, row, dim)) : 0.0f;
  }
  const double exact_start = options.clock_seconds();
  for (size_t i = 0; i < count; ++i) {
    const SampleQuery& query = queries[i];
    const uint32_t kept = options.approximate != nullptr ? options.k * ivf_limits::kRefineFactorDefault : options.k;
    TopK top(kept);
    const SpaceScorer score(space, query.vector.data(), query.norm, dim);
    for (size_t j = 0; j < slots.size(); ++j) {
      const float* row = ranking.Fetch(slots[j], scratch.data());
      if (row == nullptr) continue;
      const float norm = stored_norms ? norms[j] : cosine ? std::sqrt(DotProduct(row, row, dim)) : 0.0f;
      const float distance = score(row, norm);
      if (distance <= top.threshold()) top.Push(distance, slots[j]);
    }
    std::vector<Hit> hits = top.Take();
    if (options.approximate != nullptr) {
      TopK rescored(options.k);
      for (const Hit& h : hits) {
        const float* row = exact.Fetch(h.slot, scratch.data());
        if (row == nullptr) continue;
        const float norm = cosine ? std::sqrt(DotProduct(row, row, dim)) : 0.0f;
        rescored.Push(SpaceDistance(space, query.vector.data(), query.norm, row, norm, dim), h.slot);
      }
      hits = rescored.Take();
    }
    sink += hits.size();
  }
  times.exact = options.clock_seconds() - exact_start;
  (void)sink;
  return times;
}

Status CheckCalibrationOptions(const IvfIndex& index, const VectorSource& exact, const CalibrationOptions& options) {
  if (!(options.recall_target > 0.0 && options.recall_target <= 1.0)) {
    return Status::InvalidArgument("search calibration: the recall target must be in (0, 1]");
  }
  if (options.k == 0 || options.k > ivf_limits::kTopKMax) {
    return Status::InvalidArgument("search calibration: k out of range");
  }
  if (exact.dim() != index.dim() || (options.approximate != nullptr && options.approximate->dim() != index.dim())) {
    return Status::InvalidArgument("search calibration: vectors of another dimension");
  }
  return Status::Ok();
}

// The search for the cheapest (probes, re-rank depth) whose recall over the sample
// reaches the target, each setting measured at most once. Borrows everything it is given.
class SettingSearch {
 public:
  SettingSearch(const IvfIndex& index, const VectorSource& exact, const CalibrationOptions& options,
                const std::vector<SampleQuery>& queries)
      : index_(index),
        exact_(exact),
        options_(options),
        queries_(queries),
        // Both the lower bound and the mean with a margin: leave-one-out queries are not
        // quite the queries users send (those are not rows of the collection).
        // The margin is at most half the distance to 1: a flat +0.02 asked a target of 0.98
        // for a perfect sample mean, which bought recall 0.999 at twice the probes of 0.99.
        mean_wanted_(std::min(1.0, options.recall_target + std::min(ivf_limits::kCalibrationMeanMargin,
                                                                     (1.0 - options.recall_target) / 2))) {}

  // The cheapest setting that reaches the target, or nullopt where none does.
  Result<std::optional<CalibrationPoint>> Cheapest() {
    FATHOM_ASSIGN_OR_RETURN(std::optional<CalibrationPoint> best, CheapestAtDefaultOrDeeper());
    if (best && best->rerank_factor == ivf_limits::kCalibrationRerankFactors[0]) {
      FATHOM_ASSIGN_OR_RETURN(best, CheaperAtShallower(*best));
    }
    return best;
  }

 private:
  Result<CalibrationPoint> MeasureOnce(uint32_t probes, uint32_t rerank_factor) {
    const auto key = std::make_pair(probes, rerank_factor);
    if (auto it = measured_.find(key); it != measured_.end()) return it->second;
    FATHOM_ASSIGN_OR_RETURN(CalibrationPoint point, Measure(index_, exact_, options_, queries_, probes, rerank_factor));
    measured_.emplace(key, point);
    return point;
  }

  bool Reaches(const CalibrationPoint& point) const {
    return point.lower_bound >= options_.recall_target && point.recall >= mean_wanted_;
  }

  // The fewest probes that reach the target at one re-rank depth: doubling from `high`,
  // then bisection down to just above `low` (a count known to fall short; 0: none).
  // Recall grows with probes at a fixed depth (more clusters only add candidates), so the
  // bisection is sound up to sampling noise, which the lower bound absorbs.
  Result<std::optional<CalibrationPoint>> FewestProbes(uint32_t rerank_factor, uint32_t low, uint32_t high,
                                                       uint32_t upper) {
    std::optional<CalibrationPoint> found;
    while (true) {
      FATHOM_ASSIGN_OR_RETURN(CalibrationPoint point, MeasureOnce(high, rerank_factor));
      if (Reaches(point)) {
        found = point;
        break;
      }
      low = high;
      if (high >= upper) break;
      high = std::min(upper, high * 2);
    }
    if (!found) return found;
    while (high - low > 1) {
      const uint32_t mid = low + (high - low) / 2;
      FATHOM_ASSIGN_OR_RETURN(CalibrationPoint point, MeasureOnce(mid, rerank_factor));
      if (Reaches(point)) {
        high = mid;
        found = point;
      } else {
        low = mid;
      }
    }
    return found;
  }

  // Deeper re-ranks first, from the default depth: a deeper one needs no more probes than
  // a shallower one, and is tried while it lowers the cost.
  Result<std::optional<CalibrationPoint>> CheapestAtDefaultOrDeeper() {
    std::optional<CalibrationPoint> best;
    uint32_t upper = index_.clusters();
    for (uint32_t rerank_factor : ivf_limits::kCalibrationRerankFactors) {
      FATHOM_ASSIGN_OR_RETURN(std::optional<CalibrationPoint> found, FewestProbes(rerank_factor, 0, 1, upper));
      if (!found) continue;  // this depth cannot reach the target: try a deeper one
      upper = found->probes;
      const bool cheaper = !best || found->cost < best->cost;
      if (cheaper) best = found;
      // A deeper re-rank that did not pay here will not pay deeper still.
      if (!cheaper) break;
      if (found->probes == 1) break;  // one probe suffices: nothing deeper can be cheaper
    }
    return best;
  }

  // Where the default depth was the cheapest, shallower ones may be cheaper still (easy
  // data whose estimates already rank well: fewer exact reads for a few more probes).
  // They need at least as many probes as the default depth did.
  Result<CalibrationPoint> CheaperAtShallower(CalibrationPoint best) {
    for (uint32_t rerank_factor : ivf_limits::kCalibrationShallowRerankFactors) {
      FATHOM_ASSIGN_OR_RETURN(std::optional<CalibrationPoint> found,
                              FewestProbes(rerank_factor, best.probes - 1, best.probes, index_.clusters()));
      if (!found || found->cost >= best.cost) break;
      best = *found;
    }
    return best;
  }

  const IvfIndex& index_;
  const VectorSource& exact_;
  const CalibrationOptions& options_;
  const std::vector<SampleQuery>& queries_;
  const double mean_wanted_;
  std::map<std::pair<uint32_t, uint32_t>, CalibrationPoint> measured_;
};

// Whether the index at `best` beats an exact scan of every row: timed back to back when
// the options have a clock, else by the work model.
bool IndexPays(const IvfIndex& index, const VectorSource& exact, const CalibrationOptions& options,
               const std::vector<SampleQuery>& queries, const CalibrationPoint& best) {
  if (options.clock_seconds) {
    const PlanTimes times = TimePlans(index, exact, options, queries, best);
    return times.index < times.exact;
  }
  const double exact_cost = static_cast<double>(index.rows()) * options.exact_row_cost;
  return best.cost < ivf_limits::kExactPlanCostFraction * exact_cost;
}

void SetIndexPlan(const CalibrationPoint& best, SearchBudget* budget) {
  budget->plan = SearchBudget::Plan::kIndex;
  budget->probes = best.probes;
  budget->rerank_factor = best.rerank_factor;
  budget->measured_recall = static_cast<float>(best.recall);
  budget->recall_lower_bound = static_cast<float>(best.lower_bound);
}

// The index cannot reach the target, or only by touching about as much as a scan of
// every row (or there are too few rows to calibrate on): the exact scan is the honest
// and the cheaper plan.
void SetExactScanPlan(SearchBudget* budget) {
  budget->plan = SearchBudget::Plan::kExactScan;
  budget->measured_recall = budget->recall_lower_bound = 1.0f;
}

}  // namespace

const char* SearchPlanName(SearchBudget::Plan plan) {
  return plan == SearchBudget::Plan::kExactScan ? "exact_scan" : "index";
}

double ConfidenceBound(double sum, double sum_squares, double n, double z) {
  if (n <= 0.0) return 0.0;
  const double mean = sum / n;
  const double variance = std::max(0.0, sum_squares / n - mean * mean) * n / std::max(1.0, n - 1.0);
  return mean + z * std::sqrt(variance / n);
}

double TieAwareRecall(const std::vector<Hit>& found, float kth_true, uint32_t k) {
  if (k == 0) return 1.0;
  const float limit = kth_true + 1e-5f * std::max(1.0f, std::fabs(kth_true));
  size_t hits = 0;
  for (size_t i = 0; i < found.size() && i < k; ++i) {
    if (found[i].distance <= limit) ++hits;
  }
  return static_cast<double>(hits) / k;
}

Result<SearchBudget> CalibrateSearch(const IvfIndex& index, const VectorSource& exact,
                                     const CalibrationOptions& options) {
  FATHOM_RETURN_IF_ERROR(CheckCalibrationOptions(index, exact, options));
  SearchBudget budget;
  budget.recall_target = static_cast<float>(options.recall_target);
  budget.calibrated_rows = static_cast<uint32_t>(std::min<size_t>(index.rows(), UINT32_MAX));
  if (index.rows() <= options.k + 1) {
    budget.sample_queries = 1;
    SetExactScanPlan(&budget);
    return budget;
  }
  FATHOM_ASSIGN_OR_RETURN(std::vector<SampleQuery> queries,
                          SampleWithTruth(index, exact, options, SampleSize(index, options)));
  SettingSearch settings(index, exact, options, queries);
  FATHOM_ASSIGN_OR_RETURN(std::optional<CalibrationPoint> best, settings.Cheapest());
  budget.sample_queries = static_cast<uint32_t>(queries.size());
  if (best && IndexPays(index, exact, options, queries, *best)) {
    SetIndexPlan(*best, &budget);
  } else {
    SetExactScanPlan(&budget);
  }
  return budget;
}

}  // namespace fathom
