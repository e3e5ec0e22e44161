// The fast Walsh-Hadamard transform compiled for AVX2 (this file gets -mavx2 -mfma).
// Chosen at run time by hadamard.cc.
#include <immintrin.h>

#include <cmath>

#include "index/vector/hadamard.h"

namespace fathom::hadamard_kernels {

void TransformAvx2(float* x, uint32_t n) {
  // Stages h = 1, 2, 4 inside each 8-float register: x' = x * signs + partner, which
  // computes a + b for the first of a pair and a - b (as -b + a) for the second, the
  // same rounded sums as the scalar butterflies.
  const __m256 signs1 = _mm256_setr_ps(1, -1, 1, -1, 1, -1, 1, -1);
  const __m256 signs2 = _mm256_setr_ps(1, 1, -1, -1, 1, 1, -1, -1);
  const __m256 signs4 = _mm256_setr_ps(1, 1, 1, 1, -1, -1, -1, -1);
  for (uint32_t i = 0; i < n; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    v = _mm256_add_ps(_mm256_mul_ps(v, signs1), _mm256_permute_ps(v, 0xB1));
    v = _mm256_add_ps(_mm256_mul_ps(v, signs2), _mm256_permute_ps(v, 0x4E));
    v = _mm256_add_ps(_mm256_mul_ps(v, signs4), _mm256_permute2f128_ps(v, v, 0x01));
    _mm256_storeu_ps(x + i, v);
  }
  for (uint32_t h = 8; h < n; h *= 2) {
    for (uint32_t i = 0; i < n; i += 2 * h) {
      for (uint32_t j = i; j < i + h; j += 8) {
        const __m256 a = _mm256_loadu_ps(x + j), b = _mm256_loadu_ps(x + j + h);
        _mm256_storeu_ps(x + j, _mm256_add_ps(a, b));
        _mm256_storeu_ps(x + j + h, _mm256_sub_ps(a, b));
      }
    }
  }
  const __m256 scale = _mm256_set1_ps(1.0f / std::sqrt(static_cast<float>(n)));
  for (uint32_t i = 0; i < n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), scale));
}

}  // namespace fathom::hadamard_kernels
