// The fast Walsh-Hadamard transform, normalized: x <- H x / sqrt(n) for n a power of two
// (at least 8). H / sqrt(n) is orthogonal and symmetric, so the transform preserves
// norms and inner products and is its own inverse. With random sign flips around it, it
// is the structured random rotation RaBitQ uses (rabitq.h, RotationKind::kHadamard):
// O(n log n) instead of the n^2 of a dense matrix.
//
// Runtime dispatch: an AVX2 kernel (hadamard_avx2.cc) when the CPU has it; both levels
// perform the same additions in the same order, so they agree exactly.
#pragma once

#include <cstdint>

namespace fathom {

void FastHadamardTransform(float* x, uint32_t n);

namespace hadamard_kernels {
void TransformScalar(float* x, uint32_t n);
void TransformAvx2(float* x, uint32_t n);
}  // namespace hadamard_kernels

}  // namespace fathom
