// The RaBitQ scan kernel compiled for AVX2 + POPCNT (this file gets -mavx2 -mfma, which
// with GCC also enables POPCNT); the scalar build's __builtin_popcountll is a software
// routine, several times slower. Chosen at run time by rabitq.cc.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <cstddef>
#include <cstdint>

#include "index/vector/rabitq.h"
#include "index/vector/rabitq_estimate_loop.h"

namespace fathom {

namespace rabitq_kernels {

void EstimateAvx2(const RabitqQuery& query, uint32_t words, const uint64_t* codes, const float* add,
                  const float* rescale, const uint32_t* rows, size_t count, float* out) {
  switch (words) {
    case 2:
      return EstimateLoop<2>(query, words, codes, add, rescale, rows, count, out);
    case 3:
      return EstimateLoop<3>(query, words, codes, add, rescale, rows, count, out);
    case 4:
      return EstimateLoop<4>(query, words, codes, add, rescale, rows, count, out);
    case 12:
      return EstimateLoop<12>(query, words, codes, add, rescale, rows, count, out);
    case 13:
      return EstimateLoop<13>(query, words, codes, add, rescale, rows, count, out);
    default:
      return EstimateLoop<0>(query, words, codes, add, rescale, rows, count, out);
  }
}

void SquaredL2ToManyAvx2(const float* query, const float* rows, size_t count, uint32_t dim, float* out) {
  // Four rows at a time share each load of the query.
  constexpr size_t kRowsPerStep = 4;
  size_t i = 0;
  for (; i + kRowsPerStep <= count; i += kRowsPerStep) {
    const float* r0 = rows + i * dim;
    const float* r1 = r0 + dim;
    const float* r2 = r1 + dim;
    const float* r3 = r2 + dim;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    for (uint32_t d = 0; d < dim; d += 8) {
      const __m256 q = _mm256_loadu_ps(query + d);
      const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(r0 + d), q);
      const __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(r1 + d), q);
      const __m256 d2 = _mm256_sub_ps(_mm256_loadu_ps(r2 + d), q);
      const __m256 d3 = _mm256_sub_ps(_mm256_loadu_ps(r3 + d), q);
      a0 = _mm256_fmadd_ps(d0, d0, a0);
      a1 = _mm256_fmadd_ps(d1, d1, a1);
      a2 = _mm256_fmadd_ps(d2, d2, a2);
      a3 = _mm256_fmadd_ps(d3, d3, a3);
    }
    // Horizontal sums of the four accumulators into four lanes.
    const __m256 s = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
    _mm_storeu_ps(out + i, _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1)));
  }
  for (; i < count; ++i) {
    const float* r = rows + i * dim;
    __m256 a = _mm256_setzero_ps();
    for (uint32_t d = 0; d < dim; d += 8) {
      const __m256 diff = _mm256_sub_ps(_mm256_loadu_ps(r + d), _mm256_loadu_ps(query + d));
      a = _mm256_fmadd_ps(diff, diff, a);
    }
    const __m128 h = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    const __m128 h2 = _mm_add_ps(h, _mm_movehl_ps(h, h));
    out[i] = _mm_cvtss_f32(_mm_add_ss(h2, _mm_shuffle_ps(h2, h2, 1)));
  }
}

void PrepareQueryAvx2(const float* r, const float* dither, uint32_t padded_dim, RabitqQuery* query) {
  static_assert(ivf_limits::kQueryBits == 4 && ivf_limits::kCodeWordBits == 64);
  constexpr float kLevels = 15.0f;
  const uint32_t words = padded_dim / 64;
  query->planes.assign(static_cast<size_t>(words) * 4, 0);
  // Min, max and squared norm (padded_dim is a multiple of 64).
  __m256 vmin = _mm256_loadu_ps(r), vmax = vmin, vsq = _mm256_setzero_ps();
  for (uint32_t i = 0; i < padded_dim; i += 8) {
    __m256 v = _mm256_loadu_ps(r + i);
    vmin = _mm256_min_ps(vmin, v);
    vmax = _mm256_max_ps(vmax, v);
    vsq = _mm256_fmadd_ps(v, v, vsq);
  }
  alignas(32) float lanes_min[8], lanes_max[8], lanes_sq[8];
  _mm256_store_ps(lanes_min, vmin);
  _mm256_store_ps(lanes_max, vmax);
  _mm256_store_ps(lanes_sq, vsq);
  float lower = lanes_min[0], upper = lanes_max[0], norm_sq = 0.0f;
  for (int l = 0; l < 8; ++l) {
    lower = std::min(lower, lanes_min[l]);
    upper = std::max(upper, lanes_max[l]);
    norm_sq += lanes_sq[l];
  }
  const float delta = (upper - lower) / kLevels;
  const float inverse = delta >= std::numeric_limits<float>::min() ? 1.0f / delta : 0.0f;  // as the scalar kernel
  const __m256 vlower = _mm256_set1_ps(lower), vinverse = _mm256_set1_ps(inverse), vzero = _mm256_setzero_ps();
  const __m256i vtop = _mm256_set1_epi32(15);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  __m256i sums = _mm256_setzero_si256();
  for (uint32_t w = 0; w < words; ++w) {
    for (uint32_t half = 0; half < 2; ++half) {
      const uint32_t base = w * 64 + half * 32;
      __m256i level[4];
      for (int g = 0; g < 4; ++g) {
        // Same arithmetic as the scalar kernel (multiply, then add: no FMA), so levels match.
        __m256 x = _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(r + base + 8 * g), vlower), vinverse),
                                 _mm256_loadu_ps(dither + base + 8 * g));
        x = _mm256_max_ps(x, vzero);
        level[g] = _mm256_min_epi32(_mm256_cvttps_epi32(x), vtop);
      }
      // 32 levels as bytes in dimension order.
      __m256i bytes = _mm256_packus_epi16(_mm256_packs_epi32(level[0], level[1]), _mm256_packs_epi32(level[2], level[3]));
      bytes = _mm256_permutevar8x32_epi32(bytes, order);
      sums = _mm256_add_epi64(sums, _mm256_sad_epu8(bytes, _mm256_setzero_si256()));
      // Bit j of every byte to its top bit, then one movemask per plane.
      const uint32_t shift = half * 32;
      uint64_t* planes = query->planes.data() + w * 4;
      planes[0] |= static_cast<uint64_t>(static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_slli_epi16(bytes, 7)))) << shift;
      planes[1] |= static_cast<uint64_t>(static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_slli_epi16(bytes, 6)))) << shift;
      planes[2] |= static_cast<uint64_t>(static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_slli_epi16(bytes, 5)))) << shift;
      planes[3] |= static_cast<uint64_t>(static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_slli_epi16(bytes, 4)))) << shift;
    }
  }
  alignas(32) uint64_t lane_sums[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lane_sums), sums);
  const uint64_t sum_levels = lane_sums[0] + lane_sums[1] + lane_sums[2] + lane_sums[3];
  SetQueryScalars(delta, lower, sum_levels, padded_dim, norm_sq, query);
}

}  // namespace rabitq_kernels

}  // namespace fathom
