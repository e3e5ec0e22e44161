#include "index/vector/kmeans.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "index/vector/synthetic_data.h"
#include "test_util.h"

namespace fathom {
namespace {

TEST(KmeansTest, SameSeedSameResultAtAnyThreadCount) {
  uint64_t seed = testing::SeedForTest("KmeansTest.SameSeedSameResultAtAnyThreadCount");
  SyntheticOptions data_options;
  data_options.rows = 3000;
  data_options.queries = 0;
  data_options.dim = 16;
  data_options.seed = seed;
  auto data = GenerateSynthetic(data_options);
  ASSERT_TRUE(data.ok());
  KmeansOptions options;
  options.clusters = 20;
  options.seed = seed;
  auto one = BalancedKmeans(data->base.view(), options);
  options.threads = 3;
  auto three = BalancedKmeans(data->base.view(), options);
  ASSERT_TRUE(one.ok() && three.ok());
  EXPECT_EQ(one->centroids, three->centroids);
  EXPECT_EQ(one->assignment, three->assignment);
}

TEST(KmeansTest, NoClusterExceedsTheCap) {
  uint64_t seed = testing::SeedForTest("KmeansTest.NoClusterExceedsTheCap");
  SyntheticOptions data_options;
  data_options.rows = 4000;
  data_options.queries = 0;
  data_options.dim = 8;
  data_options.clusters = 3;  // a few dense blobs: plain k-means would be very unbalanced
  data_options.seed = seed;
  auto data = GenerateSynthetic(data_options);
  ASSERT_TRUE(data.ok());
  KmeansOptions options;
  options.clusters = 40;
  options.seed = seed;
  options.size_cap_factor = 1.5;
  auto result = BalancedKmeans(data->base.view(), options);
  ASSERT_TRUE(result.ok());
  std::vector<size_t> sizes(result->clusters(), 0);
  for (uint32_t a : result->assignment) ++sizes[a];
  size_t cap = static_cast<size_t>(std::ceil(1.5 * 4000 / 40));
  for (size_t s : sizes) {
    EXPECT_GT(s, 0u);
    EXPECT_LE(s, cap);
  }
}

TEST(KmeansTest, SeparatesWellSeparatedBlobs) {
  // Four tight blobs far apart: each must become exactly one cluster.
  std::vector<float> values;
  Rng rng(testing::SeedForTest("KmeansTest.SeparatesWellSeparatedBlobs"));
  std::vector<uint32_t> blob;
  for (int i = 0; i < 400; ++i) {
    uint32_t b = static_cast<uint32_t>(i % 4);
    blob.push_back(b);
    for (int d = 0; d < 4; ++d) values.push_back((d == static_cast<int>(b) ? 100.0f : 0.0f) + static_cast<float>(rng.Gaussian()));
  }
  KmeansOptions options;
  options.clusters = 4;
  options.size_cap_factor = 0.0;
  auto result = BalancedKmeans(MatrixView{values.data(), 400, 4}, options);
  ASSERT_TRUE(result.ok());
  ASSERT_EQ(result->clusters(), 4u);
  std::set<std::pair<uint32_t, uint32_t>> pairs;
  for (size_t i = 0; i < 400; ++i) pairs.insert({blob[i], result->assignment[i]});
  EXPECT_EQ(pairs.size(), 4u);
}

TEST(KmeansTest, FewerRowsThanClustersAndDuplicates) {
  std::vector<float> values(5 * 3, 1.0f);  // five identical rows
  KmeansOptions options;
  options.clusters = 10;
  auto result = BalancedKmeans(MatrixView{values.data(), 5, 3}, options);
  ASSERT_TRUE(result.ok());
  EXPECT_GE(result->clusters(), 1u);
  EXPECT_LE(result->clusters(), 5u);
  for (uint32_t a : result->assignment) EXPECT_LT(a, result->clusters());
}

TEST(KmeansTest, RejectsBadOptions) {
  std::vector<float> values(8, 0.0f);
  KmeansOptions options;
  options.clusters = 0;
  EXPECT_FALSE(BalancedKmeans(MatrixView{values.data(), 4, 2}, options).ok());
  options.clusters = 2;
  EXPECT_FALSE(BalancedKmeans(MatrixView{values.data(), 0, 2}, options).ok());
}

}  // namespace
}  // namespace fathom
