// BoundedRescore: the second stage of a two-stage search. Candidates ranked by
// approximate distances (int8 rows, VectorSource::ApproximationError > 0) are re-scored
// from exact vectors, in order of a lower bound on their exact distance
// (DistanceLowerBound), and the re-scoring stops as soon as the next candidate's bound
// cannot beat the k-th exact distance found. The answer is the same as re-scoring every
// candidate; only reads that cannot change it are skipped (each one a block-cache lookup,
// or a read of the row from its file on a miss).
//
// BoundedRescoreBatched makes the reads in batches: before the first exact read it
// hints (VectorSource::Prefetch) every candidate the re-score can reach, which an upper
// bound on each exact distance settles in advance (ReadSetSize), so a cold re-score
// costs one batch of reads (one round trip to an object store) instead of one read after
// another.
//
// Thread-safety: reentrant; uses only its arguments.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
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
  float upper = std::numeric_limits<float>::infinity();  // upper bound on it
};

// Candidates per batch of hints after the first (see BoundedRescoreBatched).
inline constexpr size_t kRescoreBatchMax = 1024;

// `approximate` hits (distance from `approx`) with their lower and upper bounds, smallest
// lower bound first. For cosine the approximate row is fetched again for its norm.
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
    out.push_back({DistanceLowerBound(space, h.distance, error, query_norm, approx_norm), h.slot,
                   DistanceUpperBound(space, h.distance, error, query_norm, approx_norm)});
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

// How many of `candidates` (sorted by LowerBounds) a BoundedRescore into `top` can
// re-score, when every read succeeds and pushes its exact distance: those whose lower
// bound is at most T, the k-th smallest among top's distances and the candidates' upper
// bounds. Why: the k candidates with the smallest upper bounds have lower bounds <= T, so
// all of them come before any candidate whose lower bound exceeds T; once they are
// re-scored, top's k-th distance is at most T, and the re-score stops at that candidate.
inline size_t ReadSetSize(const std::vector<BoundedCandidate>& candidates, const TopK& top) {
  TopK bound = top;
  for (const BoundedCandidate& c : candidates) bound.Push(c.upper, c.slot);
  const float t = bound.threshold();
  size_t n = 0;
  while (n < candidates.size() && candidates[n].lower <= t) ++n;
  return n;
}

// BoundedRescore with its reads hinted in batches: prefetch(slots, count) first gets the
// ReadSetSize candidates (at most kRescoreBatchMax of them); should the re-score get
// past the hinted ones (a read failed and pushed nothing, or the bounds' float slack fell
// short), each further batch is the next candidates that can still enter top at that
// moment, up to kRescoreBatchMax. The answer is BoundedRescore's; *batches (when not
// null) counts the hints given.
template <typename Rescore, typename Prefetch>
Status BoundedRescoreBatched(const std::vector<BoundedCandidate>& candidates, const TopK& top, Rescore rescore,
                             Prefetch prefetch, size_t* rescored = nullptr, size_t* batches = nullptr) {
  std::vector<uint32_t> slots;
  size_t hinted_end = 0;  // candidates [0, hinted_end) were hinted
  auto hint = [&](size_t begin, size_t end) {
    slots.clear();
    for (size_t i = begin; i < end; ++i) slots.push_back(candidates[i].slot);
    if (!slots.empty()) prefetch(slots.data(), slots.size());
    if (batches != nullptr && !slots.empty()) ++*batches;
    hinted_end = end;
  };
  hint(0, std::min(ReadSetSize(candidates, top), kRescoreBatchMax));
  for (size_t i = 0; i < candidates.size(); ++i) {
    const float threshold = top.threshold();
    if (candidates[i].lower > threshold) break;  // sorted by bound: no later one can enter
    if (i >= hinted_end) {
      size_t end = i;
      while (end < candidates.size() && end - i < kRescoreBatchMax && candidates[end].lower <= threshold) ++end;
      hint(i, end);
    }
    FATHOM_RETURN_IF_ERROR(rescore(candidates[i].slot));
    if (rescored != nullptr) ++*rescored;
  }
  return Status::Ok();
}

}  // namespace fathom
