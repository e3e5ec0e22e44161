// Search calibration: the search budget an IVF index uses when a query names none,
// chosen on the index's own data so that the default reaches a recall target.
//
// A fixed default (probes as a fraction of the clusters, a fixed re-rank depth) was tuned
// on one synthetic generator and gave recall@10 0.29 on uniform random data and 0.85 on
// real text embeddings. Instead, after a build the index samples some of its own rows as
// queries (leave-one-out: a row is not its own neighbour), computes their exact
// neighbours by brute force, and searches for the cheapest (probes, re-rank depth) whose
// measured recall clears the target with a statistical margin: the one-sided 99% lower
// confidence bound of the sample mean must reach the target. Cost is counted in exact
// f32 distance equivalents from the search's own statistics (codes scored, rows
// re-ranked, centroids scored), so the choice does not depend on a noisy clock. Where no
// setting reaches the target, or the cheapest one costs about as much as scanning every
// row, the budget says to scan exactly instead. Design: docs/design/recall-calibration.md.
//
// Thread-safety: CalibrateSearch is reentrant; it reads the index (const) and the source.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "fathom/status.h"
#include "index/vector/ivf_index.h"
#include "index/vector/vector_source.h"

namespace fathom {

// What a query gets when it names no probes: persisted with the index
// (docs/format/vector_index.md, "Collection envelope").
struct SearchBudget {
  enum class Plan : uint8_t { kIndex = 0, kExactScan = 1 };
  Plan plan = Plan::kIndex;
  uint32_t probes = 0;                // clusters scanned at effort 1 (kIndex)
  uint32_t rerank_factor = 0;         // candidates kept for re-ranking: k * this
  uint32_t sample_queries = 0;        // 0: not calibrated
  float recall_target = 0.0f;         // recall@k the budget was chosen for
  float measured_recall = 0.0f;       // mean over the sample at the chosen settings
  float recall_lower_bound = 0.0f;    // its one-sided 99% lower confidence bound
  // Rows of the index it was calibrated on (capped at UINT32_MAX); 0 = not known (an
  // index persisted before this was recorded). A collection calibrates again once it
  // has grown well past it (limits::kVectorIndexRecalibrateGrowth).
  uint32_t calibrated_rows = 0;
  bool calibrated() const { return sample_queries > 0; }
};

const char* SearchPlanName(SearchBudget::Plan plan);

struct CalibrationOptions {
  double recall_target = 0.95;  // in (0, 1]
  uint32_t k = 10;              // the recall@k calibrated for
  // Sample queries; 0 = by size (ivf_limits::kCalibrationQueriesMax, fewer for very large
  // indexes so the brute-force truth stays within kCalibrationTruthWorkMax).
  uint32_t sample_queries = 0;
  uint64_t seed = 1;
  // The cost of one row of an exact scan, in exact f32 distances (a collection whose rows
  // are cold scans int8 approximations and re-reads the best: a little more than 1).
  double exact_row_cost = 1.0;
  // When set, searches rank with these approximations and re-score the best k *
  // ivf_limits::kRefineFactorDefault from the exact source (the two-stage search of a
  // collection with cold rows, IvfSearchOptions::exact), so the budget covers the
  // approximation's losses too.
  const VectorSource* approximate = nullptr;
  // Without `approximate`: the exact scan the collection would run is the int8 first pass
  // over copies of every row (int8_scan_copy.h; every row in RAM), so that is the scan
  // timed against the index.
  bool int8_exact_scan = false;
  // When set (seconds from any fixed origin), the plan is chosen by timing both on a few
  // sample queries, back to back: the cheapest index setting against an exact scan of
  // every row through the same sources, the faster one kept. The work model alone
  // misjudges both (memory stalls, per-probe overheads at low dimensions), but without
  // a clock the choice is deterministic, which tests want.
  std::function<double()> clock_seconds;
};

// Per-setting measurement over the sample (exposed for tests and the design notes).
struct CalibrationPoint {
  uint32_t probes = 0;
  uint32_t rerank_factor = 0;
  double recall = 0.0;        // mean recall@k
  double lower_bound = 0.0;   // one-sided 99% lower confidence bound
  double cost = 0.0;          // mean exact-distance equivalents per query
};

// The cheapest budget for `index`, whose rows' exact vectors `exact` yields by slot.
// InvalidArgument for bad options; an index with fewer rows than k + 1 gets the exact
// plan (nothing to calibrate on).
Result<SearchBudget> CalibrateSearch(const IvfIndex& index, const VectorSource& exact,
                                     const CalibrationOptions& options);

// Recall@k of `found` (nearest first) against the true k-th distance `kth_true`: a hit
// counts when its distance is within a relative 1e-5 of kth_true or below, so ties at
// the k-th distance (duplicates) are not counted as misses. At most k hits count.
double TieAwareRecall(const std::vector<Hit>& found, float kth_true, uint32_t k);

// mean + z * (standard error of the mean) of n values with the given sum and sum of
// squares (sample variance): a one-sided confidence bound, lower for negative z.
double ConfidenceBound(double sum, double sum_squares, double n, double z);

}  // namespace fathom
