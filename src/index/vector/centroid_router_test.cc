#include "index/vector/centroid_router.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
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

// The query's quantization: the AVX2 level gives the scalar level's codes, norm and
// error bit for bit (the router's levels route alike only if it does), on values inside
// and outside the code range, halves that round away from zero, and signed zeros.
TEST(CentroidRouterTest, AvxQuantizationEqualsScalar) {
  if (SupportedSimdLevel() < SimdLevel::kAvx2) GTEST_SKIP() << "no AVX2 on this CPU";
  const uint64_t seed = testing::SeedForTest("CentroidRouterTest.AvxQuantizationEqualsScalar");
  Rng rng(seed);
  for (uint32_t dim : {16u, 64u, 128u, 784u, 4096u}) {
    for (int trial = 0; trial < 20; ++trial) {
      std::vector<float> x(dim);
      const float scale = 0.01f + static_cast<float>(rng.Uniform());
      for (uint32_t d = 0; d < dim; ++d) {
        switch (rng.Below(6)) {
          case 0: x[d] = static_cast<float>(rng.Gaussian()) * scale * 300.0f; break;  // often clamped
          case 1: x[d] = (static_cast<float>(rng.Below(255)) - 127.0f + 0.5f) * scale; break;  // near a half
          case 2: x[d] = rng.Below(2) == 0 ? 0.0f : -0.0f; break;
          default: x[d] = static_cast<float>(rng.Gaussian()) * scale * 40.0f; break;
        }
      }
      std::vector<int16_t> scalar(dim), avx2(dim);
      float scalar_error = 0.0f, avx2_error = 0.0f;
      const int32_t scalar_norm = router_kernels::QuantizeScalar(x.data(), dim, scale, scalar.data(), &scalar_error);
      const int32_t avx2_norm = router_kernels::QuantizeAvx2(x.data(), dim, scale, avx2.data(), &avx2_error);
      const std::string where = "dim " + std::to_string(dim) + " trial " + std::to_string(trial) +
                                " (FATHOM_SEED=" + std::to_string(seed) + ")";
      ASSERT_EQ(scalar, avx2) << where;
      ASSERT_EQ(scalar_norm, avx2_norm) << where;
      ASSERT_EQ(scalar_error, avx2_error) << where;
      // And the scalar level against its definition: codes in range, the error a bound.
      double residual = 0.0;
      for (uint32_t d = 0; d < dim; ++d) {
        ASSERT_LE(std::abs(scalar[d]), 127) << where;
        const double r = static_cast<double>(x[d]) - static_cast<double>(scale) * scalar[d];
        residual += r * r;
      }
      EXPECT_GE(static_cast<double>(scalar_error), std::sqrt(residual)) << where;
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
        ASSERT_GE(n, order.size());
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

// The centroid sets of the property test below: each family is a way the int8 bounds
// get loose or the order gets crowded.
enum class Family { kClustered, kLargeNorm, kSkewedScale, kHighDim, kDuplicates, kGrid, kCount };

const char* FamilyName(Family family) {
  switch (family) {
    case Family::kClustered: return "clustered";
    case Family::kLargeNorm: return "large-norm";
    case Family::kSkewedScale: return "skewed-scale";
    case Family::kHighDim: return "high-dim";
    case Family::kDuplicates: return "duplicates";
    case Family::kGrid: return "grid";
    case Family::kCount: break;
  }
  return "?";
}

struct CentroidSet {
  uint32_t count = 0;
  uint32_t dim = 0;
  std::vector<float> rows;
};

CentroidSet MakeFamily(Rng& rng, Family family) {
  CentroidSet set;
  set.dim = 16 * (1 + static_cast<uint32_t>(rng.Below(12)));  // 16 .. 192
  set.count = 1 + static_cast<uint32_t>(rng.Below(400));
  if (family == Family::kHighDim) {
    set.dim = 16 * (64 + static_cast<uint32_t>(rng.Below(193)));  // 1024 .. 4096
    set.count = 1 + static_cast<uint32_t>(rng.Below(40));
  }
  const uint32_t dim = set.dim;
  switch (family) {
    case Family::kClustered:
    case Family::kHighDim:
      set.rows = MakeCentroids(rng, set.count, dim);
      break;
    case Family::kLargeNorm: {
      // Far from the origin and close together: the scale follows the offset, so the
      // quantization error dwarfs the gaps between the distances.
      const double offset = std::pow(10.0, 2.0 + rng.Below(4));
      std::vector<float> base(dim);
      for (float& x : base) x = static_cast<float>(offset * (rng.Uniform() < 0.5 ? -1.0 : 1.0));
      set.rows.resize(size_t{set.count} * dim);
      for (size_t i = 0; i < set.rows.size(); ++i) {
        set.rows[i] = base[i % dim] + static_cast<float>(rng.Gaussian());
      }
      break;
    }
    case Family::kSkewedScale: {
      // Per-dimension scales from 1e-3 to 1e3: a few dimensions set the shared scale and
      // the rest quantize to almost nothing.
      std::vector<double> scale(dim);
      for (double& x : scale) x = std::pow(10.0, -3.0 + 6.0 * rng.Uniform());
      set.rows.resize(size_t{set.count} * dim);
      for (size_t i = 0; i < set.rows.size(); ++i) set.rows[i] = static_cast<float>(scale[i % dim] * rng.Gaussian());
      break;
    }
    case Family::kDuplicates: {
      // A few distinct rows repeated, and some rows one ulp-sized step from another.
      const uint32_t distinct = 1 + static_cast<uint32_t>(rng.Below(6));
      const std::vector<float> source = MakeCentroids(rng, distinct, dim);
      set.rows.resize(size_t{set.count} * dim);
      for (uint32_t j = 0; j < set.count; ++j) {
        std::copy_n(source.data() + rng.Below(distinct) * dim, dim, set.rows.data() + size_t{j} * dim);
        if (rng.Below(4) == 0) {
          float& x = set.rows[size_t{j} * dim + rng.Below(dim)];
          x = std::nextafter(x, 1e30f);
        }
      }
      break;
    }
    case Family::kGrid: {
      // Small integers: many rows quantize exactly (error zero) and distances tie.
      set.rows.resize(size_t{set.count} * dim);
      for (float& x : set.rows) x = static_cast<float>(static_cast<int>(rng.Below(5)) - 2);
      break;
    }
    case Family::kCount:
      break;
  }
  return set;
}

// A query for `set`: on a centroid, near one, between two (equidistant), far outside
// the centroids' range (clamped codes), or anywhere in the box.
std::vector<float> MakeQuery(Rng& rng, const CentroidSet& set) {
  const uint32_t dim = set.dim;
  std::vector<float> query(dim);
  const float* a = set.rows.data() + rng.Below(set.count) * size_t{dim};
  const float* b = set.rows.data() + rng.Below(set.count) * size_t{dim};
  float spread = 0.0f;
  for (float x : set.rows) spread = std::max(spread, std::fabs(x));
  switch (rng.Below(5)) {
    case 0:
      std::copy_n(a, dim, query.data());
      break;
    case 1:
      for (uint32_t d = 0; d < dim; ++d) query[d] = a[d] + static_cast<float>(rng.Gaussian() * 0.1);
      break;
    case 2:
      for (uint32_t d = 0; d < dim; ++d) query[d] = 0.5f * (a[d] + b[d]);
      break;
    case 3:
      for (uint32_t d = 0; d < dim; ++d) query[d] = a[d] + static_cast<float>(rng.Gaussian() * 100.0 * (1.0 + spread));
      break;
    default:
      for (float& x : query) x = static_cast<float>((2.0 * rng.Uniform() - 1.0) * spread);
      break;
  }
  return query;
}

// The routed set is a prefix of the true order: it holds at least `wanted` centroids and
// no centroid left out is nearer than one it holds, so a caller may use every entry of
// it (sorted) as the next nearest. The regression of issue 11: the set held the `wanted`
// nearest but also farther centroids that skipped nearer ones, and IvfIndex::Search,
// going past `wanted` probes, took those as the next nearest.
TEST(CentroidRouterTest, RoutedSetIsANearestPrefix) {
  const uint64_t seed = testing::SeedForTest("CentroidRouterTest.RoutedSetIsANearestPrefix");
  Rng rng(seed);
  std::vector<SimdLevel> levels = {SimdLevel::kScalar};
  if (SupportedSimdLevel() >= SimdLevel::kAvx2) levels.push_back(SimdLevel::kAvx2);
  constexpr int kSets = 120;
  size_t routes = 0, failures = 0;
  for (int trial = 0; trial < kSets && failures < 5; ++trial) {
    const Family family = static_cast<Family>(trial % static_cast<int>(Family::kCount));
    const CentroidSet set = MakeFamily(rng, family);
    const CentroidRouter router = CentroidRouter::Build(set.rows.data(), set.count, set.dim);
    ASSERT_FALSE(router.empty());
    for (int q = 0; q < 6 && failures < 5; ++q) {
      const std::vector<float> query = MakeQuery(rng, set);
      std::vector<float> exact(set.count);
      for (uint32_t j = 0; j < set.count; ++j) {
        exact[j] = L2Squared(query.data(), set.rows.data() + size_t{j} * set.dim, set.dim);
      }
      const uint32_t random_wanted = 1 + static_cast<uint32_t>(rng.Below(set.count));
      for (uint32_t wanted : {1u, 2u, random_wanted, set.count}) {
        wanted = std::min(wanted, set.count);
        std::vector<std::pair<float, uint32_t>> first;
        for (SimdLevel level : levels) {
          std::vector<std::pair<float, uint32_t>> order;
          const size_t computed = router.Route(query.data(), set.rows.data(), wanted, &order, level);
          ++routes;
          const std::string where = std::string(FamilyName(family)) + " set " + std::to_string(trial) + " query " +
                                    std::to_string(q) + " count " + std::to_string(set.count) + " dim " +
                                    std::to_string(set.dim) + " wanted " + std::to_string(wanted) + " level " +
                                    SimdLevelName(level) + " (FATHOM_SEED=" + std::to_string(seed) + ")";
          ASSERT_GE(computed, order.size()) << where;
          ASSERT_GE(order.size(), wanted) << where;
          std::vector<uint8_t> in(set.count, 0);
          float farthest_in = 0.0f;
          for (const auto& [distance, j] : order) {
            ASSERT_LT(j, set.count) << where;
            ASSERT_EQ(in[j], 0) << "a centroid twice: " << where;
            in[j] = 1;
            ASSERT_EQ(distance, exact[j]) << where;
            farthest_in = std::max(farthest_in, distance);
          }
          float nearest_out = std::numeric_limits<float>::infinity();
          uint32_t nearest_out_row = 0;
          for (uint32_t j = 0; j < set.count; ++j) {
            if (!in[j] && exact[j] < nearest_out) nearest_out = exact[j], nearest_out_row = j;
          }
          if (farthest_in > nearest_out) {
            ++failures;
            ADD_FAILURE() << "centroid " << nearest_out_row << " at " << nearest_out
                          << " left out of a routed set reaching " << farthest_in << " (" << order.size()
                          << " routed): " << where;
          }
          std::sort(order.begin(), order.end());
          if (level == levels.front()) {
            first = order;
          } else {
            EXPECT_EQ(order, first) << "the levels route differently: " << where;
          }
        }
      }
    }
  }
  std::printf("%zu routes over %d centroid sets\n", routes, kSets);
}

// Rows as wide as the router takes, at the largest int8 distance (every code 127
// against -127): |q8 - c8|^2 = 32768 * 254^2 fits an int32; wider rows get no router.
TEST(CentroidRouterTest, WidestRowsDoNotOverflow) {
  const uint32_t dim = CentroidRouter::kDimMax;
  std::vector<float> rows(size_t{2} * dim);
  std::fill(rows.begin(), rows.begin() + dim, 1.0f);
  std::fill(rows.begin() + dim, rows.end(), -1.0f);
  const CentroidRouter router = CentroidRouter::Build(rows.data(), 2, dim);
  ASSERT_FALSE(router.empty());
  std::vector<float> query(dim, -1.0f);
  std::vector<SimdLevel> levels = {SimdLevel::kScalar};
  if (SupportedSimdLevel() >= SimdLevel::kAvx2) levels.push_back(SimdLevel::kAvx2);
  for (SimdLevel level : levels) {
    std::vector<std::pair<float, uint32_t>> order;
    router.Route(query.data(), rows.data(), 1, &order, level);
    std::sort(order.begin(), order.end());
    ASSERT_FALSE(order.empty());
    EXPECT_EQ(order[0].second, 1u) << SimdLevelName(level);
    EXPECT_EQ(order[0].first, 0.0f) << SimdLevelName(level);
  }
  std::vector<float> wider(size_t{dim} + 16, 1.0f);
  EXPECT_TRUE(CentroidRouter::Build(wider.data(), 1, dim + 16).empty());
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
