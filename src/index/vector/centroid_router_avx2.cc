// The router's int8 dot-product kernel compiled for AVX2 (this file gets -mavx2 -mfma).
// Chosen at run time by centroid_router.cc.
#include <immintrin.h>

#include "index/vector/centroid_router.h"

namespace fathom::router_kernels {

namespace {

// Sum of the eight int32 lanes.
inline int32_t HorizontalSum(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(s);
}

// Sixteen int8 values widened to int16 and multiplied pairwise with the query's: eight
// int32 sums of two products each (|product| <= 127^2, so no overflow).
inline __m256i MulAdd(const int8_t* row, __m256i query) {
  const __m256i x = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row)));
  return _mm256_madd_epi16(x, query);
}

}  // namespace

int32_t QuantizeAvx2(const float* x, uint32_t n, float scale, int16_t* code, float* error) {
  static_assert(kResidualLanes == 8, "two 4-wide double accumulators, lanes d % 8");
  const __m256 inverse = _mm256_set1_ps(1.0f / scale);
  const __m256 code_max = _mm256_set1_ps(kCodeMax), code_min = _mm256_set1_ps(-kCodeMax);
  const __m256 half = _mm256_set1_ps(0.5f), minus_half = _mm256_set1_ps(-0.5f);
  const __m256d scale_d = _mm256_set1_pd(static_cast<double>(scale));
  __m256i norm = _mm256_setzero_si256();
  __m256d low = _mm256_setzero_pd(), high = _mm256_setzero_pd();  // lanes 0-3 and 4-7
  for (uint32_t d = 0; d < n; d += 8) {
    const __m256 v0 = _mm256_loadu_ps(x + d);
    // Code(): clamp(x / s) rounded half away from zero (v >= 0 ? +0.5 : -0.5, truncated).
    const __m256 v = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(v0, inverse), code_min), code_max);
    const __m256 offset = _mm256_blendv_ps(minus_half, half, _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_GE_OQ));
    const __m256i c = _mm256_cvttps_epi32(_mm256_add_ps(v, offset));
    norm = _mm256_add_epi32(norm, _mm256_mullo_epi32(c, c));
    const __m128i packed = _mm_packs_epi32(_mm256_castsi256_si128(c), _mm256_extracti128_si256(c, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(code + d), packed);
    // r = x - s c in double, r * r added to lane d % 8.
    const __m256 cf = _mm256_cvtepi32_ps(c);
    const __m256d r0 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v0)),
                                     _mm256_mul_pd(scale_d, _mm256_cvtps_pd(_mm256_castps256_ps128(cf))));
    const __m256d r1 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v0, 1)),
                                     _mm256_mul_pd(scale_d, _mm256_cvtps_pd(_mm256_extractf128_ps(cf, 1))));
    low = _mm256_add_pd(low, _mm256_mul_pd(r0, r0));
    high = _mm256_add_pd(high, _mm256_mul_pd(r1, r1));
  }
  alignas(32) double lanes[kResidualLanes];
  _mm256_store_pd(lanes, low);
  _mm256_store_pd(lanes + 4, high);
  *error = RoundedUpNorm(SumLanes(lanes));
  return HorizontalSum(norm);
}

void Int8DistancesAvx2(const int16_t* query, int32_t query_norm, const int8_t* rows, const int32_t* norms,
                       size_t count, uint32_t dim, float scale, float* out) {
  // Four rows at a time share each load of the query.
  constexpr size_t kRowsPerStep = 4;
  size_t i = 0;
  for (; i + kRowsPerStep <= count; i += kRowsPerStep) {
    const int8_t* r0 = rows + i * dim;
    const int8_t* r1 = r0 + dim;
    const int8_t* r2 = r1 + dim;
    const int8_t* r3 = r2 + dim;
    __m256i a0 = _mm256_setzero_si256(), a1 = _mm256_setzero_si256();
    __m256i a2 = _mm256_setzero_si256(), a3 = _mm256_setzero_si256();
    for (uint32_t d = 0; d < dim; d += 16) {
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(query + d));
      a0 = _mm256_add_epi32(a0, MulAdd(r0 + d, q));
      a1 = _mm256_add_epi32(a1, MulAdd(r1 + d, q));
      a2 = _mm256_add_epi32(a2, MulAdd(r2 + d, q));
      a3 = _mm256_add_epi32(a3, MulAdd(r3 + d, q));
    }
    // Horizontal sums of the four accumulators into four lanes.
    const __m256i s = _mm256_hadd_epi32(_mm256_hadd_epi32(a0, a1), _mm256_hadd_epi32(a2, a3));
    const __m128i dots = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    // scale * sqrt(|q8|^2 + |c8|^2 - 2 <q8, c8>), the same float operations as the scalar
    // level (the integer is exact; cvt, sqrt and mul are correctly rounded).
    const __m128i squared = _mm_sub_epi32(
        _mm_add_epi32(_mm_set1_epi32(query_norm), _mm_loadu_si128(reinterpret_cast<const __m128i*>(norms + i))),
        _mm_slli_epi32(dots, 1));
    _mm_storeu_ps(out + i, _mm_mul_ps(_mm_set1_ps(scale), _mm_sqrt_ps(_mm_cvtepi32_ps(squared))));
  }
  for (; i < count; ++i) {
    const int8_t* r = rows + i * dim;
    __m256i a = _mm256_setzero_si256();
    for (uint32_t d = 0; d < dim; d += 16) {
      a = _mm256_add_epi32(a, MulAdd(r + d, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(query + d))));
    }
    out[i] = Int8Distance(query_norm, norms[i], HorizontalSum(a), scale);
  }
}

}  // namespace fathom::router_kernels
