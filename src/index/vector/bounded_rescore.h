// BoundedRescore: the second stage of a two-stage search. Candidates ranked by
// approximate distances (int8 rows, VectorSource::ApproximationError > 0) are re-scored
// from exact vectors, in order of a lower bound on their exact distance
// (DistanceLowerBound), and the re-scoring stops as soon as the next candidate's bound
// cannot beat the k-th exact distance found. The answer is the same as re-scoring every
// candidate; only reads that cannot change it are skipped (each one a block-cache lookup,
// or a read of the row from its file on a miss).
//
// Thread-safety: reentrant; uses only its arguments.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "fathom/status.h"
#include "fathom/types.h"
#include "index/vector/distance.h"
#include "index/vector/top_k.h"
#include "index/vector/vector_source.h"

namespace fathom {

struct BoundedCandidate {
  float lower;  // lower bound on the exact distance
  uint32_t slot;
};

// `approximate` hits (distance from `approx`) with their lower bounds, smallest bound
// first. For cosine the approximate row is fetched again for its norm.
inline std::vector<BoundedCandidate> LowerBounds(DistanceSpace space, float query_norm,
                                                 const std::vector<Hit>& approximate, const VectorSource& approx) {
  std::vector<BoundedCandidate> out;
  out.reserve(approximate.size());
  std::vector<float> scratch(space == DistanceSpace::kCosine ? approx.dim() : 0);
  for (const Hit& h : approximate) {
    const float error = approx.ApproximationError(h.slot);
    float approx_norm = 0.0f;
    if (error > 0.0f && space == DistanceSpace::kCosine) {
      const float* row = approx.Fetch(h.slot, scratch.data());
      approx_norm = row != nullptr ? std::sqrt(DotProduct(row, row, approx.dim())) : 0.0f;
    }
    out.push_back({DistanceLowerBound(space, h.distance, error, query_norm, approx_norm), h.slot});
  }
  std::sort(out.begin(), out.end(), [](const BoundedCandidate& a, const BoundedCandidate& b) {
    return a.lower < b.lower || (a.lower == b.lower && a.slot < b.slot);
  });
  return out;
}

// Calls rescore(slot) (which pushes the slot's exact distance into `top`, or fails) for
// the candidates in bound order while their bound can still beat top's k-th distance.
// Stops at the first error. *rescored (when not null) counts the calls.
template <typename Rescore>
Status BoundedRescore(const std::vector<BoundedCandidate>& candidates, const TopK& top, Rescore rescore,
                      size_t* rescored = nullptr) {
  for (const BoundedCandidate& c : candidates) {
    if (c.lower > top.threshold()) break;  // sorted by bound: no later one can enter
    FATHOM_RETURN_IF_ERROR(rescore(c.slot));
    if (rescored != nullptr) ++*rescored;
  }
  return Status::Ok();
}

}  // namespace fathom
