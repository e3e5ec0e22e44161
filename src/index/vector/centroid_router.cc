#include "index/vector/centroid_router.h"

#include <algorithm>
#include <cmath>

#include "common/assert.h"
#include "index/vector/distance.h"

namespace fathom {

namespace {

// Relative slack on both bounds, far above the float rounding of the exact distances
// and of s * sqrt(integer distance), so rounding never drops a centroid that belongs.
constexpr float kBoundSlack = 1e-4f;

using DistancesKernel = void (*)(const int16_t*, int32_t, const int8_t*, const int32_t*, size_t, uint32_t, float,
                                 float*);
using QuantizeKernel = int32_t (*)(const float*, uint32_t, float, int16_t*, float*);

bool UseAvx2(SimdLevel level) { return std::min(level, SupportedSimdLevel()) >= SimdLevel::kAvx2; }

DistancesKernel KernelFor(SimdLevel level) {
  return UseAvx2(level) ? router_kernels::Int8DistancesAvx2 : router_kernels::Int8DistancesScalar;
}

QuantizeKernel QuantizerFor(SimdLevel level) {
  return UseAvx2(level) ? router_kernels::QuantizeAvx2 : router_kernels::QuantizeScalar;
}

}  // namespace

namespace router_kernels {
int32_t QuantizeScalar(const float* x, uint32_t n, float scale, int16_t* code, float* error) {
  const float inverse = 1.0f / scale;
  int32_t norm = 0;
  double lanes[kResidualLanes] = {};
  for (uint32_t d = 0; d < n; ++d) {
    const float c = Code(x[d], inverse);
    code[d] = static_cast<int16_t>(c);
    norm += static_cast<int32_t>(c) * static_cast<int32_t>(c);
    const double r = static_cast<double>(x[d]) - static_cast<double>(scale) * static_cast<double>(c);
    lanes[d % kResidualLanes] += r * r;
  }
  *error = RoundedUpNorm(SumLanes(lanes));
  return norm;
}

void Int8DistancesScalar(const int16_t* query, int32_t query_norm, const int8_t* rows, const int32_t* norms,
                         size_t count, uint32_t dim, float scale, float* out) {
  for (size_t i = 0; i < count; ++i) {
    const int8_t* row = rows + i * dim;
    int32_t dot = 0;
    for (uint32_t d = 0; d < dim; ++d) dot += int32_t{query[d]} * int32_t{row[d]};
    out[i] = Int8Distance(query_norm, norms[i], dot, scale);
  }
}
}  // namespace router_kernels

CentroidRouter CentroidRouter::Build(const float* centroids, uint32_t count, uint32_t dim) {
  FATHOM_CHECK(dim % 16 == 0);
  CentroidRouter router;
  if (count == 0 || dim == 0 || dim > kDimMax) return router;
  const size_t values = size_t{count} * dim;
  float max_abs = 0.0f;
  for (size_t i = 0; i < values; ++i) max_abs = std::max(max_abs, std::fabs(centroids[i]));
  router.count_ = count;
  router.dim_ = dim;
  router.scale_ = max_abs > 0.0f && std::isfinite(max_abs) ? max_abs / router_kernels::kCodeMax : 1.0f;
  router.codes_.resize(values);
  router.norms_.resize(count);
  router.errors_.resize(count);
  std::vector<int16_t> row(dim);
  for (uint32_t j = 0; j < count; ++j) {
    router.norms_[j] =
        router_kernels::QuantizeScalar(centroids + size_t{j} * dim, dim, router.scale_, row.data(), &router.errors_[j]);
    std::copy(row.begin(), row.end(), router.codes_.data() + size_t{j} * dim);  // codes are within [-127, 127]
  }
  return router;
}

size_t CentroidRouter::Route(const float* query, const float* centroids, uint32_t wanted,
                             std::vector<std::pair<float, uint32_t>>* order, SimdLevel level) const {
  order->clear();
  wanted = std::clamp<uint32_t>(wanted, 1, count_);
  // The query on the centroids' scale; what the codes miss (rounding, and clamping of a
  // query outside the centroids' range) is its error e_q.
  std::vector<int16_t, AlignedAllocator<int16_t>> code(dim_);
  float query_error = 0.0f;
  const int32_t query_norm = QuantizerFor(level)(query, dim_, scale_, code.data(), &query_error);

  // s |q8 - c8| per centroid.
  std::vector<float> approx(count_);
  KernelFor(level)(code.data(), query_norm, codes_.data(), norms_.data(), count_, dim_, scale_, approx.data());
  const float* const errors = errors_.data();
  float* const a = approx.data();
  const uint32_t count = count_;
  // The `wanted` smallest upper bounds, (s |q8 - c8| + e_q + e_c)(1 + slack), in a
  // max-heap of s |q8 - c8| + e_c: e_q and the slack are the same for every centroid.
  std::vector<float> upper;
  upper.reserve(wanted);
  for (uint32_t j = 0; j < wanted; ++j) upper.push_back(a[j] + errors[j]);
  std::make_heap(upper.begin(), upper.end());
  float top = upper.front();
  for (uint32_t j = wanted; j < count; ++j) {
    const float bound = a[j] + errors[j];
    if (bound < top) {
      std::pop_heap(upper.begin(), upper.end());
      upper.back() = bound;
      std::push_heap(upper.begin(), upper.end());
      top = upper.front();
    }
  }
  // Any of the `wanted` nearest lies within the wanted-th smallest upper bound, and so
  // does every centroid nearer than `limit`: those are the candidates, the centroids
  // whose lower bound (s |q8 - c8| - e_q - e_c)(1 - slack) is at most `limit`.
  const float limit = (top + query_error) * (1.0f + kBoundSlack);
  std::vector<uint32_t> candidate(count);
  uint32_t candidates = 0;
  for (uint32_t j = 0; j < count; ++j) {
    const float lower = (a[j] - query_error - errors[j]) * (1.0f - kBoundSlack);
    candidate[candidates] = j;
    candidates += lower <= limit ? 1 : 0;
  }
  order->reserve(candidates);
  for (uint32_t i = 0; i < candidates; ++i) {
    const uint32_t j = candidate[i];
    order->push_back({L2Squared(query, centroids + size_t{j} * dim_, dim_), j});
  }
  const size_t computed = order->size();
  // A candidate farther than `limit` may have nearer centroids that the bounds left out,
  // so it is not the next nearest of anything: drop it. What stays is every centroid
  // within max(limit, the wanted-th nearest distance), i.e. the nearest ones in true
  // order. A caller that wants more than this prefix must route again with a larger
  // `wanted` (issue 11: IvfIndex::Search took such a candidate as its next probe).
  // `limit` was computed with the slack on both bounds, so a left-out centroid's exact
  // distance exceeds it by a relative 1e-4, far above the float rounding of the
  // distances compared here.
  std::nth_element(order->begin(), order->begin() + (wanted - 1), order->end());
  const float keep = std::max(limit * limit, (*order)[wanted - 1].first);
  order->erase(std::remove_if(order->begin() + wanted, order->end(),
                              [keep](const std::pair<float, uint32_t>& entry) { return entry.first > keep; }),
               order->end());
  return computed;
}

size_t CentroidRouter::MemoryBytes() const {
  return codes_.capacity() + norms_.capacity() * sizeof(int32_t) + errors_.capacity() * sizeof(float);
}

}  // namespace fathom
