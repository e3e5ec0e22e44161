#include "index/vector/rabitq.h"
#include "index/vector/rabitq_estimate_loop.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "common/assert.h"
#include "index/vector/distance.h"
#include "index/vector/hadamard.h"
#include "index/vector/kmeans.h"

namespace fathom {

namespace {

constexpr uint64_t kDitherSeed = 0x7261626974717164ull;  // "rabitqqd": fixed on purpose
constexpr uint32_t kQueryLevels = (1u << ivf_limits::kQueryBits) - 1;

using EstimateKernel = void (*)(const RabitqQuery&, uint32_t, const uint64_t*, const float*, const float*,
                                const uint32_t*, size_t, float*);

EstimateKernel ChooseKernel() {
  return ActiveSimdLevel() >= SimdLevel::kAvx2 ? rabitq_kernels::EstimateAvx2 : rabitq_kernels::EstimateScalar;
}

}  // namespace

namespace rabitq_kernels {
void EstimateScalar(const RabitqQuery& query, uint32_t words, const uint64_t* codes, const float* add,
                    const float* rescale, const uint32_t* rows, size_t count, float* out) {
  static_assert(ivf_limits::kQueryBits == 4, "the kernels unroll four bit planes");
  EstimateLoop<0>(query, words, codes, add, rescale, rows, count, out);
}
}  // namespace rabitq_kernels

void RabitqEstimate(const RabitqQuery& query, uint32_t words, const uint64_t* codes, const float* add,
                    const float* rescale, const uint32_t* rows, size_t count, float* out) {
  static const EstimateKernel kernel = ChooseKernel();
  kernel(query, words, codes, add, rescale, rows, count, out);
}

void SquaredL2ToMany(const float* query, const float* rows, size_t count, uint32_t dim, float* out) {
  static const bool avx2 = ActiveSimdLevel() >= SimdLevel::kAvx2;
  if (avx2 && dim % 8 == 0) {
    rabitq_kernels::SquaredL2ToManyAvx2(query, rows, count, dim, out);
    return;
  }
  for (size_t i = 0; i < count; ++i) out[i] = L2Squared(query, rows + i * dim, dim);
}

RabitqQuantizer::RabitqQuantizer(uint32_t dim, uint32_t padded_dim, RotationKind kind, std::vector<float> rotation)
    : dim_(dim), padded_dim_(padded_dim), kind_(kind), rotation_(std::move(rotation)), dither_(padded_dim) {
  Rng rng(kDitherSeed);
  for (float& u : dither_) u = static_cast<float>(rng.Uniform());
}

Result<std::vector<double>> RandomOrthogonalMatrix(uint32_t n, uint64_t seed) {
  // Rows of a square gaussian matrix, orthonormalized (modified Gram-Schmidt, twice for
  // numerical orthogonality).
  Rng rng(seed);
  std::vector<double> q(static_cast<size_t>(n) * n);
  for (double& v : q) v = rng.Gaussian();
  for (uint32_t i = 0; i < n; ++i) {
    double* qi = q.data() + static_cast<size_t>(i) * n;
    constexpr int kPasses = 2;
    for (int pass = 0; pass < kPasses; ++pass) {
      for (uint32_t j = 0; j < i; ++j) {
        const double* qj = q.data() + static_cast<size_t>(j) * n;
        double dot = 0.0;
        for (uint32_t d = 0; d < n; ++d) dot += qi[d] * qj[d];
        for (uint32_t d = 0; d < n; ++d) qi[d] -= dot * qj[d];
      }
    }
    double norm = 0.0;
    for (uint32_t d = 0; d < n; ++d) norm += qi[d] * qi[d];
    norm = std::sqrt(norm);
    if (norm == 0.0) return Status::Internal("RaBitQ: degenerate random matrix");
    for (uint32_t d = 0; d < n; ++d) qi[d] /= norm;
  }
  return q;
}

Result<RabitqQuantizer> RabitqQuantizer::Create(uint32_t dim, uint64_t seed, RotationKind kind) {
  if (dim == 0 || PaddedDimension(dim) > ivf_limits::kRotatedDimensionMax) {
    return Status::InvalidArgument("RaBitQ: dimension must be in [1, " +
                                   std::to_string(ivf_limits::kRotatedDimensionMax) + "]");
  }
  const uint32_t padded = PaddedDimension(dim);
  if (kind == RotationKind::kHadamard) {
    Rng rng(seed);
    std::vector<float> signs(RotationFloats(kind, dim, padded));
    for (float& s : signs) s = rng.Uniform() < 0.5 ? -1.0f : 1.0f;
    return RabitqQuantizer(dim, padded, kind, std::move(signs));
  }
  // A Haar-random orthogonal matrix Q; P is its first `dim` columns, so P has orthonormal
  // columns and preserves norms and inner products.
  FATHOM_ASSIGN_OR_RETURN(const std::vector<double> q, RandomOrthogonalMatrix(padded, seed));
  std::vector<float> rotation(static_cast<size_t>(padded) * dim);
  for (uint32_t i = 0; i < padded; ++i) {
    for (uint32_t d = 0; d < dim; ++d) {
      rotation[static_cast<size_t>(i) * dim + d] = static_cast<float>(q[static_cast<size_t>(i) * padded + d]);
    }
  }
  return RabitqQuantizer(dim, padded, kind, std::move(rotation));
}

Result<RabitqQuantizer> RabitqQuantizer::FromRotation(uint32_t dim, uint32_t padded_dim, RotationKind kind,
                                                      std::vector<float> rotation) {
  if (dim == 0 || padded_dim != PaddedDimension(dim) || padded_dim > ivf_limits::kRotatedDimensionMax) {
    return Status::Corruption("RaBitQ: bad rotation shape");
  }
  if (kind != RotationKind::kDense && kind != RotationKind::kHadamard) {
    return Status::Corruption("RaBitQ: unknown rotation kind");
  }
  if (rotation.size() != RotationFloats(kind, dim, padded_dim)) return Status::Corruption("RaBitQ: bad rotation size");
  for (float v : rotation) {
    const bool good = kind == RotationKind::kDense ? std::isfinite(v) && std::fabs(v) <= 1.0f : v == 1.0f || v == -1.0f;
    if (!good) return Status::Corruption("RaBitQ: rotation entry out of range");
  }
  return RabitqQuantizer(dim, padded_dim, kind, std::move(rotation));
}

void RabitqQuantizer::Rotate(const float* x, float* out) const {
  if (kind_ == RotationKind::kDense) {
    for (uint32_t i = 0; i < padded_dim_; ++i) {
      out[i] = DotProduct(rotation_.data() + static_cast<size_t>(i) * dim_, x, dim_);
    }
    return;
  }
  std::copy_n(x, dim_, out);
  std::fill(out + dim_, out + padded_dim_, 0.0f);
  uint32_t block = 1;
  while (block * 2 <= padded_dim_) block *= 2;
  for (uint32_t round = 0; round < ivf_limits::kHadamardRounds; ++round) {
    const float* signs = rotation_.data() + static_cast<size_t>(round) * padded_dim_;
    for (uint32_t i = 0; i < padded_dim_; ++i) out[i] *= signs[i];
    FastHadamardTransform(out, block);
    if (block < padded_dim_) FastHadamardTransform(out + padded_dim_ - block, block);
  }
}

void RabitqQuantizer::Encode(const float* y, uint64_t* code, float* add, float* rescale, float* error) const {
  const uint32_t words = code_words();
  double sum_sq = 0.0, sum_abs = 0.0;
  for (uint32_t w = 0; w < words; ++w) {
    uint64_t bits = 0;
    for (uint32_t b = 0; b < ivf_limits::kCodeWordBits; ++b) {
      float v = y[w * ivf_limits::kCodeWordBits + b];
      if (v > 0.0f) bits |= 1ull << b;
      sum_sq += static_cast<double>(v) * v;
      sum_abs += std::fabs(v);
    }
    code[w] = bits;
  }
  const double norm = std::sqrt(sum_sq);
  if (norm == 0.0) {
    // The vector is its centroid: the estimate |r|^2 is exact.
    *add = 0.0f;
    *rescale = 0.0f;
    *error = 0.0f;
    return;
  }
  const double sqrt_d = std::sqrt(static_cast<double>(padded_dim_));
  const double a = sum_abs / (sqrt_d * norm);  // >= 1/sqrt(D) since |y|_1 >= |y|_2
  *add = static_cast<float>(sum_sq);
  *rescale = static_cast<float>(-2.0 * norm / (a * sqrt_d));
  const double spread = std::sqrt(std::max(0.0, 1.0 - a * a)) / a;
  *error = static_cast<float>(2.0 * norm * spread / std::sqrt(std::max(1.0, padded_dim_ - 1.0)));
}

void RabitqQuantizer::PrepareQuery(const float* r, RabitqQuery* query) const {
  static const bool avx2 = ActiveSimdLevel() >= SimdLevel::kAvx2;
  if (avx2) {
    rabitq_kernels::PrepareQueryAvx2(r, dither_.data(), padded_dim_, query);
  } else {
    rabitq_kernels::PrepareQueryScalar(r, dither_.data(), padded_dim_, query);
  }
}

namespace rabitq_kernels {

void PrepareQueryScalar(const float* r, const float* dither, uint32_t padded_dim, RabitqQuery* query) {
  const uint32_t words = padded_dim / ivf_limits::kCodeWordBits;
  query->planes.assign(static_cast<size_t>(words) * ivf_limits::kQueryBits, 0);
  float lower = r[0], upper = r[0];
  float norm_sq = 0.0f;
  for (uint32_t i = 0; i < padded_dim; ++i) {
    lower = std::min(lower, r[i]);
    upper = std::max(upper, r[i]);
    norm_sq += r[i] * r[i];
  }
  const float delta = (upper - lower) / static_cast<float>(kQueryLevels);
  // A subnormal delta would make the inverse infinite; such a residual is constant anyway.
  const float inverse = delta >= std::numeric_limits<float>::min() ? 1.0f / delta : 0.0f;
  uint64_t sum_levels = 0;
  for (uint32_t i = 0; i < padded_dim; ++i) {
    // Randomized rounding: floor(x + u), u uniform, is unbiased for x.
    const float scaled = (r[i] - lower) * inverse + dither[i];
    const uint32_t level = std::min<uint32_t>(kQueryLevels, static_cast<uint32_t>(std::max(0.0f, scaled)));
    sum_levels += level;
    const uint32_t w = i / ivf_limits::kCodeWordBits, b = i % ivf_limits::kCodeWordBits;
    for (int j = 0; j < ivf_limits::kQueryBits; ++j) {
      query->planes[w * ivf_limits::kQueryBits + j] |= static_cast<uint64_t>((level >> j) & 1) << b;
    }
  }
  SetQueryScalars(delta, lower, sum_levels, padded_dim, norm_sq, query);
}

void SetQueryScalars(float delta, float lower, uint64_t sum_levels, uint32_t padded_dim, float norm_sq,
                     RabitqQuery* query) {
  query->ip_scale = 2.0f * delta;
  query->popcount_scale = 2.0f * lower;
  query->offset = -(delta * static_cast<float>(sum_levels) + lower * static_cast<float>(padded_dim));
  query->residual_norm_sq = norm_sq;
  query->residual_norm = std::sqrt(norm_sq);
}

}  // namespace rabitq_kernels

}  // namespace fathom
