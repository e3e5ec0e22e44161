// RaBitQ (Gao & Long, SIGMOD 2024): 1-bit codes of vectors after a random rotation, and
// the unbiased distance estimator with its error bound.
//
// A vector o is coded relative to its cluster centroid c. Let y = P(o - c) in the rotated
// space (P: a random orthogonal map from `dim` to `padded_dim` = dim rounded up to 64
// dimensions, so every code bit carries signal). The code is the sign bits b of y, i.e.
// the codebook vector x = (2b - 1) / sqrt(D) (D = padded_dim), and per vector we keep
//   a = <x, y/|y|> = |y|_1 / (sqrt(D) |y|)      (the paper's <o_bar, o>, always > 0)
// folded into three factors:
//   add     = |y|^2
//   rescale = -2 |y| / (a sqrt(D))
//   error   = 2 |y| sqrt(1 - a^2) / (a sqrt(D - 1))
// For a query residual r = P(q - c), the paper's estimator reads
//   <y/|y|, r> ~= <x, r> / a                   (unbiased over the random rotation)
// so |o - q|^2 = add + |r|^2 - 2 |y| <y/|y|, r> ~= add + |r|^2 + rescale * sqrt(D) <x, r>,
// and with probability about 0.99 for epsilon = 1.9 the estimate is within
//   error * epsilon * |r|
// of the true squared distance (the paper's Theorem 3.2 bound, scaled).
//
// sqrt(D) <x, r> = 2 sum_i b_i r_i - sum_i r_i. The query residual is quantized to 4
// bits per dimension with randomized rounding (r_i ~= lower + delta * u_i, u_i in 0..15),
// stored as 4 bit planes, so sum_i b_i u_i = sum_j 2^j popcount(b & plane_j): the scan
// of one code is 4 ANDs and popcounts per 64 dimensions.
//
// The rotation P comes in two kinds (RotationKind): a dense Haar-random matrix (format
// version 1's only kind; padded_dim x dim floats, 2.4 MB and about a third of a query's
// time at 768-d), or, for new indexes, kHadamardRounds rounds of random sign flips and
// normalized fast Walsh-Hadamard transforms (hadamard.h): O(D log D) per query and D
// floats of signs per round. When D is not a power of two, each round transforms two
// overlapping blocks of the largest power of two B <= D, [0, B) and [D - B, D) (B > D/2,
// so they overlap and every coordinate mixes with every other within two rounds). Each
// step is orthogonal, so P is.
//
// Ownership: RabitqQuantizer owns its rotation; RabitqQuery owns its planes (reuse one
// per thread to avoid allocation). Thread-safety: a const RabitqQuantizer may be used
// from many threads; a RabitqQuery is per thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "fathom/status.h"
#include "index/vector/ivf_limits.h"

namespace fathom {

// A query residual prepared for scanning the codes of one cluster.
struct RabitqQuery {
  // kQueryBits planes of `words` 64-bit words, word-major: planes[w * 4 + j] holds bit j
  // of the quantized values of dimensions 64w .. 64w + 63.
  std::vector<uint64_t> planes;
  // sqrt(D) <x, r> ~= ip_scale * sum_j 2^j popcount(b & plane_j)
  //                 + popcount_scale * popcount(b) + offset
  float ip_scale = 0.0f;
  float popcount_scale = 0.0f;
  float offset = 0.0f;
  float residual_norm_sq = 0.0f;  // |r|^2, exact
  float residual_norm = 0.0f;     // |r|
};

// How the random orthogonal map P is represented (stored as the index's rotation kind,
// docs/format/vector_index.md).
enum class RotationKind : uint32_t {
  kDense = 0,     // padded_dim x dim floats: a Haar-random matrix's first dim columns
  kHadamard = 1,  // kHadamardRounds x padded_dim signs (+1 / -1), then Hadamard blocks
};

// A Haar-random n x n orthogonal matrix (rows orthonormal, row-major, doubles) from
// Rng(seed): the dense RaBitQ rotation, and the data zoo's random rotations.
Result<std::vector<double>> RandomOrthogonalMatrix(uint32_t n, uint64_t seed);

class RabitqQuantizer {
 public:
  // A quantizer for `dim`-dimensional inputs with a random rotation of `kind` drawn from
  // `seed`: dense = QR of a gaussian matrix (modified Gram-Schmidt in double precision);
  // Hadamard = independent random signs per round.
  static Result<RabitqQuantizer> Create(uint32_t dim, uint64_t seed, RotationKind kind = RotationKind::kHadamard);
  // Rebuilds a quantizer from a stored rotation (dense: padded_dim x dim, row-major;
  // Hadamard: kHadamardRounds x padded_dim signs). Corruption for values that cannot be
  // such a rotation.
  static Result<RabitqQuantizer> FromRotation(uint32_t dim, uint32_t padded_dim, RotationKind kind,
                                              std::vector<float> rotation);
  // Floats of a stored rotation of `kind`.
  static size_t RotationFloats(RotationKind kind, uint32_t dim, uint32_t padded_dim) {
    return kind == RotationKind::kDense ? size_t{padded_dim} * dim
                                        : size_t{ivf_limits::kHadamardRounds} * padded_dim;
  }

  static uint32_t PaddedDimension(uint32_t dim) {
    return (dim + ivf_limits::kCodeWordBits - 1) / ivf_limits::kCodeWordBits * ivf_limits::kCodeWordBits;
  }

  uint32_t dim() const { return dim_; }
  uint32_t padded_dim() const { return padded_dim_; }
  uint32_t code_words() const { return padded_dim_ / ivf_limits::kCodeWordBits; }
  RotationKind rotation_kind() const { return kind_; }
  const std::vector<float>& rotation() const { return rotation_; }

  // out[padded_dim] = P x.
  void Rotate(const float* x, float* out) const;

  // Codes a rotated residual y = P(o - c) (padded_dim values): code_words() words of sign
  // bits, and the three factors described above.
  void Encode(const float* rotated_residual, uint64_t* code, float* add, float* rescale, float* error) const;

  // Quantizes a rotated query residual r = P(q - c) (padded_dim values).
  void PrepareQuery(const float* rotated_residual, RabitqQuery* query) const;

 private:
  RabitqQuantizer(uint32_t dim, uint32_t padded_dim, RotationKind kind, std::vector<float> rotation);

  uint32_t dim_ = 0;
  uint32_t padded_dim_ = 0;
  RotationKind kind_ = RotationKind::kDense;
  // Dense: padded_dim x dim, orthonormal columns. Hadamard: per round, padded_dim signs.
  std::vector<float> rotation_;
  // Fixed dither in [0, 1) per rotated dimension for the randomized rounding of queries
  // (a constant sequence rather than fresh randomness, so searches are repeatable).
  std::vector<float> dither_;
};

// Estimated squared distances between the prepared query and `count` codes. With `rows`
// null, codes 0..count-1 are scored; otherwise codes rows[0..count-1]. Codes are
// `words` words each; add/rescale are per code. out[i] is the estimate for the i-th
// scored code. Dispatches to an AVX2 + POPCNT kernel when the CPU has it.
void RabitqEstimate(const RabitqQuery& query, uint32_t words, const uint64_t* codes, const float* add,
                    const float* rescale, const uint32_t* rows, size_t count, float* out);

// The half-width of the estimate's confidence interval for one code.
inline float RabitqErrorBound(const RabitqQuery& query, float error_factor, float epsilon) {
  return error_factor * query.residual_norm * epsilon;
}

// out[i] = squared L2 distance between `query` and row i of `rows` (count x dim,
// row-major), for i < count. Used for the centroid scan of every query and for k-means
// assignment: one query against many rows keeps the query in registers, about 3x faster
// than one L2Squared call per row at 128 dimensions.
void SquaredL2ToMany(const float* query, const float* rows, size_t count, uint32_t dim, float* out);

namespace rabitq_kernels {
// Per-level implementations, exposed for tests. Calling a level the CPU lacks is undefined.
void EstimateScalar(const RabitqQuery& query, uint32_t words, const uint64_t* codes, const float* add,
                    const float* rescale, const uint32_t* rows, size_t count, float* out);
void EstimateAvx2(const RabitqQuery& query, uint32_t words, const uint64_t* codes, const float* add,
                  const float* rescale, const uint32_t* rows, size_t count, float* out);
// Query quantization: fills query->planes (resized to 4 * padded_dim / 64 words) and its
// scalars from a rotated residual. Both levels produce identical planes.
void PrepareQueryScalar(const float* residual, const float* dither, uint32_t padded_dim, RabitqQuery* query);
void PrepareQueryAvx2(const float* residual, const float* dither, uint32_t padded_dim, RabitqQuery* query);
// The scalars both levels derive from the quantization: levels are lower + delta * k,
// sum_levels = sum of the k, norm_sq = |residual|^2.
void SetQueryScalars(float delta, float lower, uint64_t sum_levels, uint32_t padded_dim, float norm_sq,
                     RabitqQuery* query);
// dim must be a multiple of 8.
void SquaredL2ToManyAvx2(const float* query, const float* rows, size_t count, uint32_t dim, float* out);
}  // namespace rabitq_kernels

}  // namespace fathom
