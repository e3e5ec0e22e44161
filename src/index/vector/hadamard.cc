#include "index/vector/hadamard.h"

#include <cmath>

#include "index/vector/distance.h"

namespace fathom {

namespace hadamard_kernels {
void TransformScalar(float* x, uint32_t n) {
  for (uint32_t h = 1; h < n; h *= 2) {
    for (uint32_t i = 0; i < n; i += 2 * h) {
      for (uint32_t j = i; j < i + h; ++j) {
        const float a = x[j], b = x[j + h];
        x[j] = a + b;
        x[j + h] = a - b;
      }
    }
  }
  const float scale = 1.0f / std::sqrt(static_cast<float>(n));
  for (uint32_t i = 0; i < n; ++i) x[i] *= scale;
}
}  // namespace hadamard_kernels

void FastHadamardTransform(float* x, uint32_t n) {
  static const bool avx2 = ActiveSimdLevel() >= SimdLevel::kAvx2;
  if (avx2) {
    hadamard_kernels::TransformAvx2(x, n);
  } else {
    hadamard_kernels::TransformScalar(x, n);
  }
}

}  // namespace fathom
