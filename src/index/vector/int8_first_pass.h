// Int8FirstPassSearch: the exact k nearest rows through their int8 copies
// (int8_scan_copy.h), the scan of a collection whose calibrated plan is the exact scan
// with every row in RAM (docs/design/recall-calibration.md, "Int8 first pass"). Every row
// is ranked by its copy (a row without one is scored exactly at once); the best k * depth
// are re-scored exactly in order of their lower bounds (bounded_rescore.h); then a check
// tells whether a row left out could still have entered the top k.
//
// One function for both of its users, so that the plan is chosen on the scan that runs:
// the collection's scan (CollectionVectorIndex, ExactSearchWithCopy) and calibration's
// timing of it (search_calibration.cc, TimeInt8Scan).
//
// Thread-safety: reentrant; uses only its arguments (the copy read-only).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "fathom/status.h"
#include "fathom/types.h"
#include "index/vector/bounded_rescore.h"
#include "index/vector/distance.h"
#include "index/vector/int8_scan_copy.h"
#include "index/vector/top_k.h"

namespace fathom {

// The k nearest of the `slots` for which include(slot) holds, into `top` (empty, capacity
// k). exact(slot) pushes slot's exact distance into `top`: for each row without a copy,
// and for the re-scored ones. False when a row outside the best k * depth could still
// have entered the top k (its copy's distance is at least the k * depth-th, so its lower
// bound is at least that distance's bound with the copy's largest error): `top` is then
// not the exact answer, and the caller scans the f32 rows.
template <typename Slots, typename Include, typename Exact>
bool Int8FirstPassSearch(const Int8ScanCopy& copy, DistanceSpace space, const float* query, float query_norm,
                         const Slots& slots, size_t depth, TopK* top, Include include, Exact exact) {
  TopK ranked(top->capacity() * depth);
  for (uint32_t slot : slots) {
    if (!include(slot)) continue;
    if (copy.Has(slot)) {
      // Most rows miss the cut: test it before the heap (a tie enters by slot in Push).
      const float distance = copy.Distance(space, query, query_norm, slot);
      if (distance <= ranked.threshold()) ranked.Push(distance, slot);
    } else {
      exact(slot);
    }
  }
  const float cut = ranked.threshold();  // infinity unless some row was left out
  std::vector<BoundedCandidate> candidates;
  for (const Hit& h : ranked.Take()) {
    const float error = copy.error(h.slot), norm = copy.approx_norm(h.slot);
    candidates.push_back({DistanceLowerBound(space, h.distance, error, query_norm, norm), h.slot});
  }
  std::sort(candidates.begin(), candidates.end(), [](const BoundedCandidate& a, const BoundedCandidate& b) {
    return a.lower < b.lower || (a.lower == b.lower && a.slot < b.slot);
  });
  Status rescored = BoundedRescore(candidates, *top, [&](uint32_t slot) {
    exact(slot);
    return Status::Ok();
  });
  (void)rescored;  // exact() cannot fail
  if (cut == std::numeric_limits<float>::infinity()) return true;
  // With a margin for float rounding: a distance of near-identical rows computes to
  // +-1e-7, about the bound's own slack.
  const float left_out = DistanceLowerBound(space, cut, copy.max_error(), query_norm, copy.min_norm());
  const float kth = top->threshold();
  return left_out > kth + 1e-6f * (1.0f + std::fabs(kth));
}

}  // namespace fathom
