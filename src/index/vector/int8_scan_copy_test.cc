// Int8ScanCopy: copies by slot, their distances and bounds against the exact rows, drops
// and renumbering.
#include "index/vector/int8_scan_copy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "index/vector/distance.h"
#include "test_util.h"

namespace fathom {
namespace {

constexpr uint32_t kDim = 37;  // exercises the kernels' tails

std::vector<float> RandomRow(std::mt19937_64& rng) {
  std::normal_distribution<float> normal(0.3f, 2.0f);
  std::vector<float> v(kDim);
  for (float& x : v) x = normal(rng);
  return v;
}

TEST(Int8ScanCopyTest, BoundsHoldInEverySpace) {
  const uint64_t seed = testing::SeedForTest("Int8ScanCopyTest.BoundsHoldInEverySpace");
  std::mt19937_64 rng(seed);
  Int8ScanCopy copy;
  copy.Reset(kDim);
  std::vector<std::vector<float>> rows;
  for (uint32_t slot = 0; slot < 200; ++slot) {
    rows.push_back(RandomRow(rng));
    copy.Set(slot, rows.back().data());
  }
  ASSERT_EQ(copy.rows(), 200u);
  for (int q = 0; q < 50; ++q) {
    const std::vector<float> query = RandomRow(rng);
    const float query_norm = std::sqrt(DotProduct(query.data(), query.data(), kDim));
    for (DistanceSpace space : {DistanceSpace::kL2, DistanceSpace::kCosine, DistanceSpace::kInnerProduct}) {
      for (uint32_t slot = 0; slot < rows.size(); ++slot) {
        const float row_norm = std::sqrt(DotProduct(rows[slot].data(), rows[slot].data(), kDim));
        const float exact = SpaceDistance(space, query.data(), query_norm, rows[slot].data(), row_norm, kDim);
        const float approx = copy.Distance(space, query.data(), query_norm, slot);
        const float lower = DistanceLowerBound(space, approx, copy.error(slot), query_norm, copy.approx_norm(slot));
        const float upper = DistanceUpperBound(space, approx, copy.error(slot), query_norm, copy.approx_norm(slot));
        ASSERT_LE(lower, exact) << DistanceSpaceName(space) << " slot " << slot << " seed " << seed;
        ASSERT_GE(upper, exact) << DistanceSpaceName(space) << " slot " << slot << " seed " << seed;
        // The copy-wide bounds are at least as loose as the row's own.
        ASSERT_LE(DistanceLowerBound(space, approx, copy.max_error(), query_norm, copy.min_norm()), lower + 1e-6f);
      }
    }
  }
}

TEST(Int8ScanCopyTest, DropsRenumbersAndRefusesRowsItCannotBound) {
  std::mt19937_64 rng(3);
  Int8ScanCopy copy;
  copy.Reset(kDim);
  std::vector<std::vector<float>> rows;
  for (uint32_t slot = 0; slot < 10; ++slot) {
    rows.push_back(RandomRow(rng));
    copy.Set(slot, rows.back().data());
  }
  copy.Drop(3);
  copy.Drop(3);  // twice: no effect
  EXPECT_FALSE(copy.Has(3));
  EXPECT_EQ(copy.rows(), 9u);
  std::vector<float> bad = rows[0];
  bad[5] = std::numeric_limits<float>::quiet_NaN();
  copy.Set(4, bad.data());  // a non-finite row drops the slot's copy
  EXPECT_FALSE(copy.Has(4));
  const std::vector<float> zero(kDim, 0.0f);
  copy.Set(5, zero.data());  // norm 0: no direction to bound
  EXPECT_FALSE(copy.Has(5));
  EXPECT_FALSE(copy.Has(100));
  EXPECT_EQ(copy.rows(), 7u);

  // Slots 0..9 -> 9..0, slot 7 gone.
  std::vector<uint32_t> old_to_new(10);
  for (uint32_t s = 0; s < 10; ++s) old_to_new[s] = 9 - s;
  old_to_new[7] = Int8ScanCopy::kGone;
  const std::vector<float> query = RandomRow(rng);
  const float before = copy.Distance(DistanceSpace::kL2, query.data(), 0.0f, 8);
  copy.Renumber(old_to_new, 10);
  EXPECT_EQ(copy.rows(), 6u);
  EXPECT_FALSE(copy.Has(2));  // was 7
  EXPECT_FALSE(copy.Has(6));  // was 3
  EXPECT_TRUE(copy.Has(1));   // was 8
  EXPECT_EQ(copy.Distance(DistanceSpace::kL2, query.data(), 0.0f, 1), before);
  EXPECT_GT(copy.MemoryBytes(), 0u);
}

}  // namespace
}  // namespace fathom
