#include "index/vector/distance.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "index/vector/space_scorer.h"

namespace fathom {

namespace kernels {

float L2SquaredScalar(const float* a, const float* b, size_t n) {
  float sum = 0.0f;
  for (size_t i = 0; i < n; ++i) {
    float d = a[i] - b[i];
    sum += d * d;
  }
  return sum;
}

float DotProductScalar(const float* a, const float* b, size_t n) {
  float sum = 0.0f;
  for (size_t i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

float L2SquaredInt8Scalar(const float* a, const int8_t* codes, float scale, size_t n) {
  float sum = 0.0f;
  for (size_t i = 0; i < n; ++i) {
    float d = a[i] - scale * static_cast<float>(codes[i]);
    sum += d * d;
  }
  return sum;
}

float DotProductInt8Scalar(const float* a, const int8_t* codes, size_t n) {
  float sum = 0.0f;
  for (size_t i = 0; i < n; ++i) sum += a[i] * static_cast<float>(codes[i]);
  return sum;
}

}  // namespace kernels

namespace {

using Kernel = F32DistanceKernel;
using Int8L2Kernel = float (*)(const float*, const int8_t*, float, size_t);
using Int8DotKernel = float (*)(const float*, const int8_t*, size_t);

struct Dispatch {
  SimdLevel supported = SimdLevel::kScalar;
  SimdLevel active = SimdLevel::kScalar;
  Kernel l2 = kernels::L2SquaredScalar;
  Kernel dot = kernels::DotProductScalar;
  Int8L2Kernel l2_int8 = kernels::L2SquaredInt8Scalar;
  Int8DotKernel dot_int8 = kernels::DotProductInt8Scalar;
};

const Dispatch& GetDispatch() {
  static const Dispatch dispatch = [] {
    Dispatch d;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) d.supported = SimdLevel::kAvx2;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")) {
      d.supported = SimdLevel::kAvx512;
    }
    // AVX2 is the default even where AVX-512 exists: on the machines we measured (AMD
    // EPYC) the AVX-512 kernels scanned 128-d vectors 10-35% slower than AVX2 (see
    // docs/design/simd-dispatch.md). FATHOM_SIMD=avx512 opts in; scalar|avx2 force lower.
    d.active = std::min(d.supported, SimdLevel::kAvx2);
    if (const char* force = std::getenv("FATHOM_SIMD")) {
      SimdLevel wanted = d.active;
      if (std::strcmp(force, "scalar") == 0) wanted = SimdLevel::kScalar;
      if (std::strcmp(force, "avx2") == 0) wanted = SimdLevel::kAvx2;
      if (std::strcmp(force, "avx512") == 0) wanted = SimdLevel::kAvx512;
      d.active = std::min(wanted, d.supported);
    }
    switch (d.active) {
      case SimdLevel::kAvx512:
        d.l2 = kernels::L2SquaredAvx512;
        d.dot = kernels::DotProductAvx512;
        d.l2_int8 = kernels::L2SquaredInt8Avx2;
        d.dot_int8 = kernels::DotProductInt8Avx2;
        break;
      case SimdLevel::kAvx2:
        d.l2 = kernels::L2SquaredAvx2;
        d.dot = kernels::DotProductAvx2;
        d.l2_int8 = kernels::L2SquaredInt8Avx2;
        d.dot_int8 = kernels::DotProductInt8Avx2;
        break;
      case SimdLevel::kScalar:
        break;
    }
    return d;
  }();
  return dispatch;
}

}  // namespace

SimdLevel ActiveSimdLevel() { return GetDispatch().active; }
SimdLevel SupportedSimdLevel() { return GetDispatch().supported; }

const char* SimdLevelName(SimdLevel level) {
  switch (level) {
    case SimdLevel::kScalar: return "scalar";
    case SimdLevel::kAvx2: return "avx2";
    case SimdLevel::kAvx512: return "avx512";
  }
  return "?";
}

F32DistanceKernel L2SquaredKernel() { return GetDispatch().l2; }
F32DistanceKernel DotProductKernel() { return GetDispatch().dot; }

float L2Squared(const float* a, const float* b, size_t n) { return GetDispatch().l2(a, b, n); }
float DotProduct(const float* a, const float* b, size_t n) { return GetDispatch().dot(a, b, n); }
float L2SquaredInt8(const float* a, const int8_t* codes, float scale, size_t n) {
  return GetDispatch().l2_int8(a, codes, scale, n);
}
float DotProductInt8(const float* a, const int8_t* codes, size_t n) { return GetDispatch().dot_int8(a, codes, n); }

float DistanceLowerBound(DistanceSpace space, float approx_distance, float error, float query_norm,
                         float approx_norm) {
  if (error <= 0.0f) return approx_distance;
  // Rounding slack: the bound may only be looser than the exact one.
  constexpr float kSlack = 1e-4f;
  error *= 1.0f + kSlack;
  float bound = 0.0f;
  switch (space) {
    case DistanceSpace::kL2: {
      const float gap = std::sqrt(std::max(0.0f, approx_distance)) - error;
      bound = gap > 0.0f ? gap * gap : 0.0f;
      break;
    }
    case DistanceSpace::kInnerProduct:
      bound = approx_distance - query_norm * error;
      break;
    case DistanceSpace::kCosine: {
      if (approx_norm <= error || query_norm == 0.0f) return 0.0f;
      const float direction_error = 2.0f * error / (approx_norm - error);
      const float gap = std::sqrt(std::max(0.0f, 2.0f * approx_distance)) - direction_error;
      bound = gap > 0.0f ? 0.5f * gap * gap : 0.0f;
      break;
    }
  }
  return bound - kSlack * (std::abs(bound) + 1e-3f);
}

float DistanceUpperBound(DistanceSpace space, float approx_distance, float error, float query_norm,
                         float approx_norm) {
  if (error <= 0.0f) return approx_distance;
  // Rounding slack: the bound may only be looser than the exact one.
  constexpr float kSlack = 1e-4f;
  error *= 1.0f + kSlack;
  float bound = 0.0f;
  switch (space) {
    case DistanceSpace::kL2: {
      const float reach = std::sqrt(std::max(0.0f, approx_distance)) + error;
      bound = reach * reach;
      break;
    }
    case DistanceSpace::kInnerProduct:
      bound = approx_distance + query_norm * error;
      break;
    case DistanceSpace::kCosine: {
      if (approx_norm <= error || query_norm == 0.0f) {
        bound = 2.0f;
        break;
      }
      const float direction_error = 2.0f * error / (approx_norm - error);
      const float reach = std::sqrt(std::max(0.0f, 2.0f * approx_distance)) + direction_error;
      bound = 0.5f * reach * reach;
      break;
    }
  }
  return bound + kSlack * (std::abs(bound) + 1e-3f);
}

}  // namespace fathom
