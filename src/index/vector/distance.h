// f32 distance kernels with run-time CPU dispatch (scalar, AVX2+FMA, AVX-512).
//
// The shipped binary is baseline x86-64; the AVX2 and AVX-512 versions live in files
// compiled for those instruction sets (distance_avx2.cc, distance_avx512.cc) and are
// picked once at start-up from CPUID. The default is AVX2 (measured faster than AVX-512
// here); FATHOM_SIMD=scalar|avx2|avx512 chooses explicitly (capped at what the CPU has). All levels agree with the scalar reference up to float
// rounding (tested in distance_test.cc).
#pragma once

#include <cstddef>
#include <cstdint>

#include "fathom/types.h"

namespace fathom {

enum class SimdLevel { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

// The level in use, and the best one this CPU supports.
SimdLevel ActiveSimdLevel();
SimdLevel SupportedSimdLevel();
const char* SimdLevelName(SimdLevel level);

float L2Squared(const float* a, const float* b, size_t n);
float DotProduct(const float* a, const float* b, size_t n);

// An f32 vector against an int8 row whose values are scale * codes[i] (Int8Matrix's rows):
// |a - scale * codes|^2, and <a, codes> (unscaled: multiply by the scale). A quarter of the
// bytes of the f32 kernels for the first pass of a scan (int8_scan_copy.h).
float L2SquaredInt8(const float* a, const int8_t* codes, float scale, size_t n);
float DotProductInt8(const float* a, const int8_t* codes, size_t n);

// Chroma's distance for `space` between a query and a stored vector, given their norms
// (used for cosine only; pass 0 when unknown for other spaces).
inline float SpaceDistance(DistanceSpace space, const float* query, float query_norm,
                           const float* row, float row_norm, size_t n) {
  switch (space) {
    case DistanceSpace::kL2:
      return L2Squared(query, row, n);
    case DistanceSpace::kInnerProduct:
      return 1.0f - DotProduct(query, row, n);
    case DistanceSpace::kCosine: {
      float denom = query_norm * row_norm;
      if (denom == 0.0f) return 1.0f;  // a zero vector is orthogonal to everything
      return 1.0f - DotProduct(query, row, n) / denom;
    }
  }
  return 0.0f;
}

// A lower bound on SpaceDistance(space, query, query_norm, x, |x|) for a stored vector x
// known only through an approximation x~ with |x - x~| <= error (L2), given
// approx_distance = SpaceDistance(space, query, query_norm, x~, |x~|) and approx_norm =
// |x~|. With error 0 it is approx_distance itself. Slightly loose (a relative slack
// absorbs float rounding): a caller uses it only to skip re-scoring rows that cannot
// make the cut.
//   l2:     |q - x| >= |q - x~| - error
//   ip:     <q, x> <= <q, x~> + |q| error
//   cosine: |x/|x| - x~/|x~|| <= 2 error / (|x~| - error) (unit directions), then as l2
//           on the unit sphere, where the cosine distance is half the squared L2 distance.
float DistanceLowerBound(DistanceSpace space, float approx_distance, float error, float query_norm,
                         float approx_norm);

// The matching upper bound on SpaceDistance(space, query, query_norm, x, |x|), slightly
// loose the other way. A two-stage search uses it to know, before reading any exact row,
// which rows its bounded re-score can read at most (bounded_rescore.h, ReadSetSize), so
// that it reads them in one batch.
//   l2:     |q - x| <= |q - x~| + error
//   ip:     <q, x> >= <q, x~> - |q| error
//   cosine: the unit directions as for the lower bound; 2 (the largest cosine distance)
//           when |x~| <= error leaves the direction unknown.
float DistanceUpperBound(DistanceSpace space, float approx_distance, float error, float query_norm,
                         float approx_norm);

namespace kernels {
// Per-level implementations, exposed for tests. Calling a level the CPU lacks is undefined.
float L2SquaredScalar(const float* a, const float* b, size_t n);
float DotProductScalar(const float* a, const float* b, size_t n);
float L2SquaredAvx2(const float* a, const float* b, size_t n);
float DotProductAvx2(const float* a, const float* b, size_t n);
float L2SquaredAvx512(const float* a, const float* b, size_t n);
// The int8 kernels have scalar and AVX2 levels; the AVX-512 level uses the AVX2 ones.
float L2SquaredInt8Scalar(const float* a, const int8_t* codes, float scale, size_t n);
float DotProductInt8Scalar(const float* a, const int8_t* codes, size_t n);
float L2SquaredInt8Avx2(const float* a, const int8_t* codes, float scale, size_t n);
float DotProductInt8Avx2(const float* a, const int8_t* codes, size_t n);
float DotProductAvx512(const float* a, const float* b, size_t n);
}  // namespace kernels

}  // namespace fathom
