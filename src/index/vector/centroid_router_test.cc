#include "index/vector/centroid_router.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <vector>

#include "index/vector/distance.h"
#include "index/vector/kmeans.h"
#include "test_util.h"

namespace fathom {
namespace {

// Random centroids: Gaussian clusters of centres (so that many lie close to each other,
// the hard case for the bounds) with a few large coordinates that stretch the scale.
std::vector<float> MakeCentroids(Rng& rng, uint32_t count, uint32_t dim) {
  std::vector<float> centres(size_t{8} * dim);
  for (float& x : centres) x = static_cast<float>(rng.Gaussian() * 3.0);
  std::vector<float> out(size_t{count} * dim);
  for (uint32_t j = 0; j < count; ++j) {
    const float* centre = centres.data() + (j % 8) * size_t{dim};
    for (uint32_t d = 0; d < dim; ++d) out[size_t{j} * dim + d] = centre[d] + static_cast<float>(rng.Gaussian());
  }
  for (int i = 0; i < 4; ++i) out[rng.Below(out.size())] = static_cast<float>(rng.Gaussian() * 20.0);
  return out;
}

TEST(CentroidRouterTest, AvxDistancesEqualScalar) {
  if (SupportedSimdLevel() < SimdLevel::kAvx2) GTEST_SKIP() << "no AVX2 on this CPU";
  Rng rng(testing::SeedForTest("CentroidRouterTest.AvxDistancesEqualScalar"));
  for (uint32_t dim : {16u, 64u, 128u, 784u, 4096u}) {
    for (size_t count : {1u, 3u, 4u, 9u, 33u}) {
      std::vector<int16_t> query(dim);
      std::vector<int8_t> rows(count * dim);
      for (auto& q : query) q = static_cast<int16_t>(static_cast<int>(rng.Below(255)) - 127);
      for (auto& r : rows) r = static_cast<int8_t>(static_cast<int>(rng.Below(255)) - 127);
      // Extremes too: the largest distance (every coordinate -127 against 127).
      if (count == 9) {
        std::fill(query.begin(), query.end(), int16_t{-127});
        std::fill(rows.begin(), rows.end(), int8_t{127});
      }
      int32_t query_norm = 0;
      for (int16_t q : query) query_norm += int32_t{q} * q;
      std::vector<int32_t> norms(count, 0);
      for (size_t i = 0; i < count; ++i) {
        for (uint32_t d = 0; d < dim; ++d) norms[i] += int32_t{rows[i * dim + d]} * rows[i * dim + d];
      }
      std::vector<float> scalar(count), avx2(count);
      router_kernels::Int8DistancesScalar(query.data(), query_norm, rows.data(), norms.data(), count, dim, 0.5f,
                                          scalar.data());
      router_kernels::Int8DistancesAvx2(query.data(), query_norm, rows.data(), norms.data(), count, dim, 0.5f,
                                        avx2.data());
      EXPECT_EQ(scalar, avx2) << "dim " << dim << " count " << count;
      // Against a double reference of the same integer distance.
      for (size_t i = 0; i < count; ++i) {
        int64_t squared = 0;
        for (uint32_t d = 0; d < dim; ++d) {
          const int64_t diff = int64_t{query[d]} - rows[i * dim + d];
          squared += diff * diff;
        }
        EXPECT_NEAR(scalar[i], 0.5 * std::sqrt(static_cast<double>(squared)), 1e-5 * (1 + scalar[i]));
      }
    }
  }
}

// The routed set holds the exact `wanted` nearest centroids, with exact distances, for
// queries inside and far outside the centroids' range.
TEST(CentroidRouterTest, HoldsTheExactNearest) {
  Rng rng(testing::SeedForTest("CentroidRouterTest.HoldsTheExactNearest"));
  for (uint32_t dim : {16u, 128u, 768u}) {
    const uint32_t count = dim == 768 ? 300 : 1000;
    const std::vector<float> centroids = MakeCentroids(rng, count, dim);
    const CentroidRouter router = CentroidRouter::Build(centroids.data(), count, dim);
    ASSERT_FALSE(router.empty());
    EXPECT_GT(router.MemoryBytes(), size_t{count} * dim);
    size_t computed = 0, routes = 0;
    for (int q = 0; q < 40; ++q) {
      std::vector<float> query(dim);
      const float* near = centroids.data() + rng.Below(count) * size_t{dim};
      const double spread = q % 10 == 9 ? 100.0 : 1.0;  // some queries far out of range
      for (uint32_t d = 0; d < dim; ++d) query[d] = near[d] + static_cast<float>(rng.Gaussian() * spread);
      std::vector<std::pair<float, uint32_t>> exact(count);
      for (uint32_t j = 0; j < count; ++j) {
        exact[j] = {L2Squared(query.data(), centroids.data() + size_t{j} * dim, dim), j};
      }
      std::sort(exact.begin(), exact.end());
      for (uint32_t wanted : {1u, 2u, 10u, count - 1, count}) {
        std::vector<std::pair<float, uint32_t>> order;
        const size_t n = router.Route(query.data(), centroids.data(), wanted, &order);
        ASSERT_EQ(n, order.size());
        ASSERT_GE(order.size(), wanted);
        computed += n;
        ++routes;
        std::set<uint32_t> got;
        for (const auto& [distance, j] : order) {
          ASSERT_LT(j, count);
          EXPECT_EQ(distance, L2Squared(query.data(), centroids.data() + size_t{j} * dim, dim));
          got.insert(j);
        }
        EXPECT_EQ(got.size(), order.size()) << "a centroid twice";
        for (uint32_t i = 0; i < wanted; ++i) {
          // A tie at the cut may stand in for the true i-th nearest.
          if (!got.count(exact[i].second)) {
            EXPECT_EQ(exact[i].first, exact[wanted - 1].first) << "dim " << dim << " wanted " << wanted << " i " << i;
          }
        }
      }
    }
    std::printf("dim %u: %.1f exact distances per route of %u centroids\n", dim,
                static_cast<double>(computed) / routes, count);
  }
}

// Degenerate tables: one centroid, all-zero centroids.
TEST(CentroidRouterTest, DegenerateTables) {
  const uint32_t dim = 16;
  std::vector<float> zeros(size_t{5} * dim, 0.0f);
  const CentroidRouter router = CentroidRouter::Build(zeros.data(), 5, dim);
  std::vector<float> query(dim, 3.0f);
  std::vector<std::pair<float, uint32_t>> order;
  EXPECT_EQ(router.Route(query.data(), zeros.data(), 2, &order), 5u);  // all tie
  std::vector<float> one(dim, 1.0f);
  const CentroidRouter single = CentroidRouter::Build(one.data(), 1, dim);
  ASSERT_EQ(single.Route(query.data(), one.data(), 1, &order), 1u);
  EXPECT_EQ(order[0].second, 0u);
  EXPECT_FLOAT_EQ(order[0].first, 4.0f * dim);
  EXPECT_TRUE(CentroidRouter().empty());
}

}  // namespace
}  // namespace fathom
