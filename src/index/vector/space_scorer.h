// SpaceScorer: Chroma's distance for one space (SpaceDistance, distance.h) from one query
// to many rows, with the SIMD kernel resolved once rather than on every call. An exact
// scan scores every row of a collection with one: the per-call dispatch (a guarded static
// and an indirect call through a wrapper) and the switch on the space cost a few ns a
// row, next to 6-15 ns for a 64- to 128-d row's distance itself. It calls the same
// kernels as SpaceDistance with the same arithmetic, so its results equal SpaceDistance's
// bit for bit (distance_test.cc). docs/design/simd-dispatch.md.
//
// Thread-safety: immutable; the query and the rows are only read.
#pragma once

#include <cstddef>

#include "fathom/types.h"
#include "index/vector/distance.h"

namespace fathom {

// The active level's f32 kernels themselves: what L2Squared and DotProduct call
// (distance.cc).
using F32DistanceKernel = float (*)(const float*, const float*, size_t);
F32DistanceKernel L2SquaredKernel();
F32DistanceKernel DotProductKernel();

class SpaceScorer {
 public:
  SpaceScorer(DistanceSpace space, const float* query, float query_norm, size_t n)
      : space_(space),
        kernel_(space == DistanceSpace::kL2 ? L2SquaredKernel() : DotProductKernel()),
        query_(query),
        query_norm_(query_norm),
        n_(n) {}

  // SpaceDistance(space, query, query_norm, row, row_norm, n); `row_norm` is read for
  // cosine only. (1 - dot / 1 is 1 - dot exactly, so inner product shares cosine's line.)
  float operator()(const float* row, float row_norm) const {
    const float raw = kernel_(query_, row, n_);
    if (space_ == DistanceSpace::kL2) return raw;
    const float denom = space_ == DistanceSpace::kCosine ? query_norm_ * row_norm : 1.0f;
    return denom == 0.0f ? 1.0f : 1.0f - raw / denom;  // a zero vector is orthogonal to everything
  }

 private:
  DistanceSpace space_;
  F32DistanceKernel kernel_;
  const float* query_;
  float query_norm_;
  size_t n_;
};

}  // namespace fathom
