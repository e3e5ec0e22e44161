// CentroidRouter: the nearest centroids of a query, found exactly at a quarter of the
// memory traffic of a scan of the f32 centroids.
//
// Every IVF query needs the distances to the centroids to pick the clusters it probes.
// At 1M x 128 that is 2 176 x 128 floats (1.1 MB, streamed from L3 on every query) and
// was about a quarter of a two-stage query's time. The router keeps an int8 copy of the
// centroids on one shared scale s (c ~ s * c8) and each row's measured error
// e_c = |c - s c8|. A query is quantized on the same scale (error e_q), the squared
// distance |q8 - c8|^2 of every centroid is computed in integer arithmetic, and the
// triangle inequality bounds the true distance:
//
//   s |q8 - c8| - e_q - e_c  <=  |q - c|  <=  s |q8 - c8| + e_q + e_c
//
// Every centroid whose lower bound is at most the `wanted`-th smallest upper bound L may
// be among the `wanted` nearest; only those get an exact f32 distance. Of those, the ones
// within max(L, the wanted-th exact distance) are returned: exactly the nearest
// centroids up to that distance, with their exact distances, so a search probes the
// same clusters as a scan of every f32 centroid (docs/design/vector-index.md,
// "Centroid routing").
//
// Ownership: the router copies what it needs at Build; the f32 centroids are passed to
// Route by the owner (IvfIndex). Thread-safety: Route is const and safe from many threads.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "common/aligned_allocator.h"
#include "index/vector/distance.h"

namespace fathom {

class CentroidRouter {
 public:
  // The widest rows the int32 kernels take: |q8 - c8|^2 <= dim * 254^2 must fit an
  // int32 (33 285 would), and so must |q8|^2 + |c8|^2 on the way to it.
  static constexpr uint32_t kDimMax = 32768;

  // An empty router (Route must not be called; empty() is true).
  CentroidRouter() = default;

  // Quantizes `count` centroids of `dim` floats each (row-major). dim must be a multiple
  // of 16 (IVF centroids live in the padded rotated space, a multiple of 64). Above
  // kDimMax the router is empty: the caller scans the f32 centroids instead.
  static CentroidRouter Build(const float* centroids, uint32_t count, uint32_t dim);

  bool empty() const { return count_ == 0; }

  // Appends to *order (cleared first) (exact squared distance, centroid) for the n
  // nearest centroids to `query`, for some n >= `wanted` (ties aside), where `centroids`
  // are the f32 rows given to Build; 1 <= wanted <= count. The set is closed: no
  // centroid left out is nearer than one in it, so sorted by distance it is the true
  // nearest order, every entry of it (not only the first `wanted`). *order is not
  // sorted. Returns how many exact distances were computed (>= order->size()).
  size_t Route(const float* query, const float* centroids, uint32_t wanted,
               std::vector<std::pair<float, uint32_t>>* order) const {
    return Route(query, centroids, wanted, order, ActiveSimdLevel());
  }
  // The same with the int8 kernel of `level` (capped at what the CPU supports), so tests
  // check every level, whatever FATHOM_SIMD chose for the process.
  size_t Route(const float* query, const float* centroids, uint32_t wanted,
               std::vector<std::pair<float, uint32_t>>* order, SimdLevel level) const;

  size_t MemoryBytes() const;

 private:
  uint32_t count_ = 0;
  uint32_t dim_ = 0;
  float scale_ = 1.0f;
  std::vector<int8_t, AlignedAllocator<int8_t>> codes_;  // count x dim
  std::vector<int32_t> norms_;                            // per row: |c8|^2
  std::vector<float> errors_;                             // per row: |c - s c8|, rounded up
};

namespace router_kernels {
inline constexpr float kCodeMax = 127.0f;
// Squared residuals are summed in this many double lanes, lane d % kResidualLanes, and the
// lanes added in index order at the end: the order the AVX2 quantizer's two 4-wide double
// accumulators give, so every level computes the same error bit for bit.
inline constexpr uint32_t kResidualLanes = 8;

// x / scale rounded (half away from zero) to a code in [-127, 127]. Plain arithmetic
// rather than nearbyint, which the baseline x86-64 build calls out of line.
inline float Code(float x, float inverse_scale) {
  const float v = std::min(std::max(x * inverse_scale, -kCodeMax), kCodeMax);  // inputs are finite
  return static_cast<float>(static_cast<int32_t>(v + (v >= 0.0f ? 0.5f : -0.5f)));
}

// sqrt(sum) as a float no smaller than the true value.
inline float RoundedUpNorm(double squared_sum) {
  return static_cast<float>(std::sqrt(squared_sum)) * (1.0f + 1e-6f) + 1e-30f;
}

// The lanes of the residual sum, added in index order.
inline double SumLanes(const double* lanes) {
  double sum = 0.0;
  for (uint32_t l = 0; l < kResidualLanes; ++l) sum += lanes[l];
  return sum;
}

// Codes the `n` values of x (n a multiple of 16) on `scale` into `code`; returns |code|^2
// and sets *error to |x - scale * code|, rounded up. Both levels give the same codes,
// norm and error bit for bit.
int32_t QuantizeScalar(const float* x, uint32_t n, float scale, int16_t* code, float* error);
int32_t QuantizeAvx2(const float* x, uint32_t n, float scale, int16_t* code, float* error);

// s |q8 - c8| from the exact integer |q8|^2 + |c8|^2 - 2 <q8, c8> (each level computes it
// with these same float operations, so the levels agree exactly).
inline float Int8Distance(int32_t query_norm, int32_t row_norm, int32_t dot, float scale) {
  return scale * std::sqrt(static_cast<float>(query_norm + row_norm - 2 * dot));
}
// out[i] = Int8Distance(query_norm, norms[i], <query, row i>, scale) for count rows of dim
// int8 values (row-major); query holds dim int16 values in [-127, 127] with squared norm
// query_norm. dim must be a multiple of 16 and at most CentroidRouter::kDimMax.
void Int8DistancesScalar(const int16_t* query, int32_t query_norm, const int8_t* rows, const int32_t* norms,
                         size_t count, uint32_t dim, float scale, float* out);
void Int8DistancesAvx2(const int16_t* query, int32_t query_norm, const int8_t* rows, const int32_t* norms,
                       size_t count, uint32_t dim, float scale, float* out);
}  // namespace router_kernels

}  // namespace fathom
