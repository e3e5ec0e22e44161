#include "index/vector/rabitq.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "index/vector/distance.h"
#include "index/vector/kmeans.h"
#include "test_util.h"

namespace fathom {
namespace {

std::vector<float> Gaussian(Rng* rng, size_t n, double scale = 1.0) {
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(scale * rng->Gaussian());
  return v;
}

double Dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

// Estimated squared distance between rotated residuals y (coded) and r (query).
float Estimate(const RabitqQuantizer& quantizer, const std::vector<float>& y, const std::vector<float>& r,
               float* bound, float epsilon) {
  std::vector<uint64_t> code(quantizer.code_words());
  float add, rescale, error;
  quantizer.Encode(y.data(), code.data(), &add, &rescale, &error);
  RabitqQuery query;
  quantizer.PrepareQuery(r.data(), &query);
  float out;
  RabitqEstimate(query, quantizer.code_words(), code.data(), &add, &rescale, nullptr, 1, &out);
  if (bound != nullptr) *bound = RabitqErrorBound(query, error, epsilon);
  return out;
}

TEST(RabitqTest, RotationPreservesNormsAndInnerProducts) {
  Rng rng(testing::SeedForTest("RabitqTest.RotationPreservesNormsAndInnerProducts"));
  for (RotationKind kind : {RotationKind::kDense, RotationKind::kHadamard})
  for (uint32_t dim : {1u, 7u, 64u, 100u, 700u}) {
    auto quantizer = RabitqQuantizer::Create(dim, rng.Next(), kind);
    ASSERT_TRUE(quantizer.ok());
    EXPECT_EQ(quantizer->rotation_kind(), kind);
    EXPECT_EQ(quantizer->padded_dim() % 64, 0u);
    std::vector<float> a = Gaussian(&rng, dim), b = Gaussian(&rng, dim);
    std::vector<float> pa(quantizer->padded_dim()), pb(quantizer->padded_dim());
    quantizer->Rotate(a.data(), pa.data());
    quantizer->Rotate(b.data(), pb.data());
    EXPECT_NEAR(Dot(pa, pa), Dot(a, a), 1e-3 * Dot(a, a));
    EXPECT_NEAR(Dot(pa, pb), Dot(a, b), 1e-3 * std::sqrt(Dot(a, a) * Dot(b, b)));
  }
}

TEST(RabitqTest, EstimatorIsUnbiasedOverRotations) {
  // For one fixed pair, the mean estimate over many random rotations converges to the
  // true squared distance (the paper's unbiasedness is over the rotation).
  uint64_t seed = testing::SeedForTest("RabitqTest.EstimatorIsUnbiasedOverRotations");
  Rng rng(seed);
  constexpr uint32_t kDim = 64;
  constexpr int kRotations = 300;
  std::vector<float> o = Gaussian(&rng, kDim), q = Gaussian(&rng, kDim);
  for (uint32_t d = 0; d < kDim; ++d) q[d] = 0.6f * o[d] + 0.8f * q[d];  // correlated, as neighbours are
  for (RotationKind kind : {RotationKind::kDense, RotationKind::kHadamard}) {
  double truth = 0;
  for (uint32_t d = 0; d < kDim; ++d) truth += (o[d] - q[d]) * (o[d] - q[d]);
  double sum = 0, sum_sq = 0;
  for (int t = 0; t < kRotations; ++t) {
    auto quantizer = RabitqQuantizer::Create(kDim, rng.Next(), kind);
    ASSERT_TRUE(quantizer.ok());
    std::vector<float> y(kDim), r(kDim);
    quantizer->Rotate(o.data(), y.data());
    quantizer->Rotate(q.data(), r.data());
    double e = Estimate(*quantizer, y, r, nullptr, 0.0f);
    sum += e;
    sum_sq += e * e;
  }
  double mean = sum / kRotations;
  double stddev = std::sqrt(std::max(0.0, sum_sq / kRotations - mean * mean));
  double standard_error = stddev / std::sqrt(kRotations);
  std::printf("rotation %u: truth %.3f mean estimate %.3f (standard error %.3f, stddev %.3f)\n",
              static_cast<unsigned>(kind), truth, mean, standard_error, stddev);
  EXPECT_NEAR(mean, truth, 4 * standard_error + 0.01 * truth);
  }
}

TEST(RabitqTest, TrueDistanceLiesWithinTheErrorBound) {
  uint64_t seed = testing::SeedForTest("RabitqTest.TrueDistanceLiesWithinTheErrorBound");
  Rng rng(seed);
  for (RotationKind kind : {RotationKind::kDense, RotationKind::kHadamard})
  for (uint32_t dim : {96u, 128u, 256u, 768u}) {
    auto quantizer = RabitqQuantizer::Create(dim, rng.Next(), kind);
    ASSERT_TRUE(quantizer.ok());
    const uint32_t padded = quantizer->padded_dim();
    std::vector<float> centroid = Gaussian(&rng, dim);
    int inside = 0, total = 0;
    double signed_error = 0, scale = 0;
    for (int pair = 0; pair < 2000; ++pair) {
      std::vector<float> o = Gaussian(&rng, dim, 0.5), q = Gaussian(&rng, dim, 0.5);
      for (uint32_t d = 0; d < dim; ++d) {
        o[d] += centroid[d];
        q[d] = 0.5f * o[d] + 0.5f * (q[d] + centroid[d]);
      }
      std::vector<float> y(padded), r(padded), c(padded);
      quantizer->Rotate(o.data(), y.data());
      quantizer->Rotate(q.data(), r.data());
      quantizer->Rotate(centroid.data(), c.data());
      for (uint32_t d = 0; d < padded; ++d) {
        y[d] -= c[d];
        r[d] -= c[d];
      }
      double truth = L2Squared(o.data(), q.data(), dim);
      float bound;
      double e = Estimate(*quantizer, y, r, &bound, ivf_limits::kErrorBoundEpsilonDefault);
      inside += std::fabs(e - truth) <= bound;
      ++total;
      signed_error += e - truth;
      scale += truth;
    }
    double coverage = static_cast<double>(inside) / total;
    double bias = signed_error / scale;
    std::printf("rotation %u dim %u: bound holds for %.4f of pairs, mean signed error %.4f of the mean distance\n",
                static_cast<unsigned>(kind), dim, coverage, bias);
    EXPECT_GE(coverage, 0.97);
    EXPECT_LT(std::fabs(bias), 0.02);
  }
}

TEST(RabitqTest, VectorAtItsCentroidIsExact) {
  auto quantizer = RabitqQuantizer::Create(10, 3);
  ASSERT_TRUE(quantizer.ok());
  std::vector<float> y(64, 0.0f), r(64, 0.0f);
  r[3] = 2.0f;
  float bound;
  EXPECT_FLOAT_EQ(Estimate(*quantizer, y, r, &bound, 1.9f), 4.0f);
  EXPECT_EQ(bound, 0.0f);
}

TEST(RabitqTest, KernelsAgreeWithScalar) {
  if (SupportedSimdLevel() < SimdLevel::kAvx2) GTEST_SKIP() << "no AVX2 on this CPU";
  Rng rng(testing::SeedForTest("RabitqTest.KernelsAgreeWithScalar"));
  for (uint32_t dim : {64u, 128u, 192u, 320u, 768u, 832u}) {
    // The kernels never see the rotation (inputs here are already "rotated"), so a zero
    // matrix stands in for it and keeps the test fast under sanitizers.
    const uint32_t padded = RabitqQuantizer::PaddedDimension(dim);
    auto quantizer =
        RabitqQuantizer::FromRotation(dim, padded, RotationKind::kDense, std::vector<float>(size_t{padded} * dim, 0.0f));
    ASSERT_TRUE(quantizer.ok());
    const uint32_t words = quantizer->code_words();
    constexpr size_t kCodes = 50;
    std::vector<uint64_t> codes(kCodes * words);
    std::vector<float> add(kCodes), rescale(kCodes), error(kCodes);
    for (size_t i = 0; i < kCodes; ++i) {
      std::vector<float> y = Gaussian(&rng, quantizer->padded_dim());
      quantizer->Encode(y.data(), codes.data() + i * words, &add[i], &rescale[i], &error[i]);
    }
    RabitqQuery query;
    std::vector<float> r = Gaussian(&rng, quantizer->padded_dim());
    quantizer->PrepareQuery(r.data(), &query);
    std::vector<uint32_t> rows = {49, 0, 7, 7, 13};
    for (const uint32_t* selection : {static_cast<const uint32_t*>(nullptr), static_cast<const uint32_t*>(rows.data())}) {
      size_t count = selection == nullptr ? kCodes : rows.size();
      std::vector<float> scalar(count), avx2(count);
      rabitq_kernels::EstimateScalar(query, words, codes.data(), add.data(), rescale.data(), selection, count,
                                     scalar.data());
      rabitq_kernels::EstimateAvx2(query, words, codes.data(), add.data(), rescale.data(), selection, count,
                                   avx2.data());
      for (size_t i = 0; i < count; ++i) EXPECT_NEAR(scalar[i], avx2[i], 1e-4f * (1 + std::fabs(scalar[i])));
    }
  }
}

TEST(RabitqTest, QueryQuantizationKernelsAgree) {
  if (SupportedSimdLevel() < SimdLevel::kAvx2) GTEST_SKIP() << "no AVX2 on this CPU";
  Rng rng(testing::SeedForTest("RabitqTest.QueryQuantizationKernelsAgree"));
  for (uint32_t padded : {64u, 128u, 768u}) {
    std::vector<float> r = Gaussian(&rng, padded), dither(padded);
    for (float& u : dither) u = static_cast<float>(rng.Uniform());
    RabitqQuery scalar, avx2;
    rabitq_kernels::PrepareQueryScalar(r.data(), dither.data(), padded, &scalar);
    rabitq_kernels::PrepareQueryAvx2(r.data(), dither.data(), padded, &avx2);
    EXPECT_EQ(scalar.planes, avx2.planes);
    EXPECT_FLOAT_EQ(scalar.ip_scale, avx2.ip_scale);
    EXPECT_FLOAT_EQ(scalar.popcount_scale, avx2.popcount_scale);
    EXPECT_NEAR(scalar.offset, avx2.offset, 1e-4f * std::fabs(scalar.offset));
    EXPECT_NEAR(scalar.residual_norm_sq, avx2.residual_norm_sq, 1e-4f * scalar.residual_norm_sq);
  }
}

TEST(RabitqTest, SquaredL2ToManyMatchesL2Squared) {
  Rng rng(testing::SeedForTest("RabitqTest.SquaredL2ToManyMatchesL2Squared"));
  for (uint32_t dim : {8u, 64u, 129u, 768u}) {
    for (size_t count : {0u, 1u, 5u, 33u}) {
      std::vector<float> query = Gaussian(&rng, dim), rows = Gaussian(&rng, count * dim), out(count);
      SquaredL2ToMany(query.data(), rows.data(), count, dim, out.data());
      if (SupportedSimdLevel() >= SimdLevel::kAvx2 && dim % 8 == 0) {
        std::vector<float> avx2(count);
        rabitq_kernels::SquaredL2ToManyAvx2(query.data(), rows.data(), count, dim, avx2.data());
        out = avx2;
      }
      for (size_t i = 0; i < count; ++i) {
        float expected = kernels::L2SquaredScalar(query.data(), rows.data() + i * dim, dim);
        EXPECT_NEAR(out[i], expected, 1e-4f * expected);
      }
    }
  }
}

TEST(RabitqTest, RejectsBadShapes) {
  EXPECT_FALSE(RabitqQuantizer::Create(0, 1).ok());
  EXPECT_FALSE(RabitqQuantizer::Create(ivf_limits::kRotatedDimensionMax + 1, 1).ok());
  EXPECT_TRUE(RabitqQuantizer::FromRotation(3, 64, RotationKind::kDense, std::vector<float>(10)).status().IsCorruption());
  std::vector<float> bad(64 * 3, 0.0f);
  bad[5] = NAN;
  EXPECT_TRUE(RabitqQuantizer::FromRotation(3, 64, RotationKind::kDense, bad).status().IsCorruption());
  // Hadamard rounds hold signs only, kHadamardRounds x padded of them.
  std::vector<float> signs(ivf_limits::kHadamardRounds * 64, 1.0f);
  EXPECT_TRUE(RabitqQuantizer::FromRotation(3, 64, RotationKind::kHadamard, signs).ok());
  signs[7] = 0.5f;
  EXPECT_TRUE(RabitqQuantizer::FromRotation(3, 64, RotationKind::kHadamard, signs).status().IsCorruption());
  signs.pop_back();
  EXPECT_TRUE(RabitqQuantizer::FromRotation(3, 64, RotationKind::kHadamard, signs).status().IsCorruption());
  EXPECT_TRUE(RabitqQuantizer::FromRotation(3, 64, static_cast<RotationKind>(7), std::vector<float>(64 * 3, 0.0f))
                  .status()
                  .IsCorruption());
}

}  // namespace
}  // namespace fathom
