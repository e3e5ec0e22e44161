// Every SIMD level against the scalar reference, on lengths that exercise every tail.
#include "index/vector/distance.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "index/vector/space_scorer.h"
#include "index/vector/top_k.h"

namespace fathom {
namespace {

TEST(DistanceTest, AllLevelsAgreeWithScalar) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  SimdLevel supported = SupportedSimdLevel();
  std::printf("CPU supports: %s, active: %s\n", SimdLevelName(supported), SimdLevelName(ActiveSimdLevel()));
  for (size_t n : {1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 100, 128, 384, 768, 1000, 1536}) {
    std::vector<float> a(n), b(n);
    for (size_t i = 0; i < n; ++i) {
      a[i] = normal(rng);
      b[i] = normal(rng);
    }
    float l2 = kernels::L2SquaredScalar(a.data(), b.data(), n);
    float dot = kernels::DotProductScalar(a.data(), b.data(), n);
    float tol_l2 = 1e-4f * std::max(1.0f, l2), tol_dot = 1e-4f * static_cast<float>(n);
    EXPECT_NEAR(L2Squared(a.data(), b.data(), n), l2, tol_l2) << n;
    EXPECT_NEAR(DotProduct(a.data(), b.data(), n), dot, tol_dot) << n;
    if (supported >= SimdLevel::kAvx2) {
      EXPECT_NEAR(kernels::L2SquaredAvx2(a.data(), b.data(), n), l2, tol_l2) << n;
      EXPECT_NEAR(kernels::DotProductAvx2(a.data(), b.data(), n), dot, tol_dot) << n;
    }
    if (supported >= SimdLevel::kAvx512) {
      EXPECT_NEAR(kernels::L2SquaredAvx512(a.data(), b.data(), n), l2, tol_l2) << n;
      EXPECT_NEAR(kernels::DotProductAvx512(a.data(), b.data(), n), dot, tol_dot) << n;
    }
  }
}

TEST(DistanceTest, Int8KernelsAgreeWithDecodedRows) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal;
  std::uniform_int_distribution<int> code(-127, 127);
  for (size_t n : {1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100, 128, 384, 768, 1536}) {
    std::vector<float> a(n), decoded(n);
    std::vector<int8_t> codes(n);
    const float scale = 0.013f;
    for (size_t i = 0; i < n; ++i) {
      a[i] = normal(rng);
      codes[i] = static_cast<int8_t>(code(rng));
      decoded[i] = scale * static_cast<float>(codes[i]);
    }
    const float l2 = kernels::L2SquaredScalar(a.data(), decoded.data(), n);
    const float dot = kernels::DotProductScalar(a.data(), decoded.data(), n);
    const float tol_l2 = 1e-4f * std::max(1.0f, l2), tol_dot = 1e-4f * static_cast<float>(n);
    EXPECT_NEAR(kernels::L2SquaredInt8Scalar(a.data(), codes.data(), scale, n), l2, tol_l2) << n;
    EXPECT_NEAR(scale * kernels::DotProductInt8Scalar(a.data(), codes.data(), n), dot, tol_dot) << n;
    EXPECT_NEAR(L2SquaredInt8(a.data(), codes.data(), scale, n), l2, tol_l2) << n;
    EXPECT_NEAR(scale * DotProductInt8(a.data(), codes.data(), n), dot, tol_dot) << n;
    if (SupportedSimdLevel() >= SimdLevel::kAvx2) {
      EXPECT_NEAR(kernels::L2SquaredInt8Avx2(a.data(), codes.data(), scale, n), l2, tol_l2) << n;
      EXPECT_NEAR(scale * kernels::DotProductInt8Avx2(a.data(), codes.data(), n), dot, tol_dot) << n;
    }
  }
}

TEST(DistanceTest, ChromaSpaces) {
  float a[] = {1, 1}, b[] = {3, 4};
  float na = std::sqrt(2.0f), nb = 5.0f;
  EXPECT_FLOAT_EQ(SpaceDistance(DistanceSpace::kL2, a, 0, b, 0, 2), 13.0f);
  EXPECT_FLOAT_EQ(SpaceDistance(DistanceSpace::kInnerProduct, a, 0, b, 0, 2), -6.0f);
  EXPECT_NEAR(SpaceDistance(DistanceSpace::kCosine, a, na, b, nb, 2), 0.010050476f, 1e-6);
  float zero[] = {0, 0};
  EXPECT_FLOAT_EQ(SpaceDistance(DistanceSpace::kCosine, zero, 0, b, nb, 2), 1.0f);
}

// The scan's scorer is SpaceDistance with the kernel resolved once: equal bit for bit in
// every space, zero vectors included (an exact scan's answers must not change).
TEST(DistanceTest, SpaceScorerEqualsSpaceDistanceExactly) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal;
  for (size_t n : {3, 8, 17, 64, 128, 384}) {
    std::vector<float> query(n), zero(n, 0.0f);
    for (float& x : query) x = normal(rng);
    const float query_norm = std::sqrt(DotProduct(query.data(), query.data(), n));
    for (DistanceSpace space : {DistanceSpace::kL2, DistanceSpace::kInnerProduct, DistanceSpace::kCosine}) {
      const SpaceScorer score(space, query.data(), query_norm, n);
      for (int r = 0; r < 50; ++r) {
        std::vector<float> row(n);
        for (float& x : row) x = normal(rng) * static_cast<float>(r);  // r = 0: a zero row
        const float row_norm = std::sqrt(DotProduct(row.data(), row.data(), n));
        const float expected = SpaceDistance(space, query.data(), query_norm, row.data(), row_norm, n);
        EXPECT_EQ(score(row.data(), row_norm), expected) << n << " " << static_cast<int>(space) << " " << r;
      }
      const SpaceScorer zero_query(space, zero.data(), 0.0f, n);
      EXPECT_EQ(zero_query(query.data(), query_norm),
                SpaceDistance(space, zero.data(), 0.0f, query.data(), query_norm, n));
    }
  }
}

TEST(TopKTest, KeepsSmallestWithStableTies) {
  TopK top(3);
  float d[] = {5, 1, 3, 1, 9, 0.5};
  for (uint32_t i = 0; i < 6; ++i) top.Push(d[i], i);
  auto hits = top.Take();
  ASSERT_EQ(hits.size(), 3u);
  EXPECT_EQ(hits[0].slot, 5u);
  EXPECT_EQ(hits[1].slot, 1u);  // tie at 1.0 broken by slot
  EXPECT_EQ(hits[2].slot, 3u);
  TopK none(0);
  none.Push(1, 1);
  EXPECT_TRUE(none.Take().empty());
}

}  // namespace
}  // namespace fathom
