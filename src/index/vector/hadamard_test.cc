#include "index/vector/hadamard.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "index/vector/distance.h"
#include "index/vector/kmeans.h"
#include "test_util.h"

namespace fathom {
namespace {

// Against the definition: (H x)_i = sum_j (-1)^popcount(i & j) x_j / sqrt(n). Applying
// the transform twice gives x back (H / sqrt(n) is an orthogonal involution).
TEST(HadamardTest, MatchesDefinitionAndIsAnInvolution) {
  Rng rng(testing::SeedForTest("HadamardTest.MatchesDefinitionAndIsAnInvolution"));
  for (uint32_t n : {8u, 16u, 64u, 512u}) {
    std::vector<float> x(n);
    for (float& v : x) v = static_cast<float>(rng.Gaussian());
    std::vector<float> y = x;
    FastHadamardTransform(y.data(), n);
    for (uint32_t i = 0; i < n; ++i) {
      double sum = 0;
      for (uint32_t j = 0; j < n; ++j) sum += (__builtin_popcount(i & j) % 2 ? -1.0 : 1.0) * x[j];
      EXPECT_NEAR(y[i], sum / std::sqrt(double(n)), 1e-4) << "n " << n << " i " << i;
    }
    FastHadamardTransform(y.data(), n);
    for (uint32_t i = 0; i < n; ++i) EXPECT_NEAR(y[i], x[i], 1e-4) << "n " << n << " i " << i;
  }
}

TEST(HadamardTest, AvxEqualsScalar) {
  if (SupportedSimdLevel() < SimdLevel::kAvx2) GTEST_SKIP() << "no AVX2 on this CPU";
  Rng rng(testing::SeedForTest("HadamardTest.AvxEqualsScalar"));
  for (uint32_t n : {8u, 32u, 128u, 1024u, 4096u}) {
    std::vector<float> a(n);
    for (float& v : a) v = static_cast<float>(rng.Gaussian() * 10);
    std::vector<float> b = a;
    hadamard_kernels::TransformScalar(a.data(), n);
    hadamard_kernels::TransformAvx2(b.data(), n);
    EXPECT_EQ(a, b) << "n " << n;
  }
}

}  // namespace
}  // namespace fathom
