#include "db/roaring_bitset.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "test_util.h"

namespace fathom {
namespace {

// The bitset RoaringToBitset writes, against one bit set per member.
void ExpectSameBits(const Roaring& bitmap, size_t word_count, uint64_t seed) {
  std::vector<uint64_t> expected(word_count, 0);
  size_t expected_count = 0;
  for (uint32_t v : bitmap) {
    if (v / 64 >= word_count) continue;
    expected[v / 64] |= uint64_t{1} << (v % 64);
    ++expected_count;
  }
  std::vector<uint64_t> words(word_count, 0);
  EXPECT_EQ(RoaringToBitset(bitmap, words.data(), word_count), expected_count) << "seed " << seed;
  EXPECT_EQ(words, expected) << "seed " << seed;
}

TEST(RoaringToBitsetTest, EveryContainerKindMatchesOneBitPerMember) {
  const uint64_t seed = testing::SeedForTest("RoaringToBitsetTest.EveryContainerKindMatchesOneBitPerMember");
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 20; ++round) {
    Roaring bitmap;
    const uint32_t universe = 1 + static_cast<uint32_t>(rng() % 400000);
    // Dense stretches (bitset containers), sparse ones (array containers) and runs.
    const double density = (rng() % 1000) / 1000.0;
    for (uint32_t v = 0; v < universe; ++v) {
      if ((rng() % 100000) < density * 100000) bitmap.add(v);
    }
    if (round % 3 == 0) bitmap.addRange(rng() % universe, universe + rng() % 70000);
    if (round % 2 == 0) bitmap.runOptimize();
    const size_t word_count = (universe + 63) / 64;
    ExpectSameBits(bitmap, word_count, seed);
    ExpectSameBits(bitmap, word_count / 2 + 1, seed);  // members past the bound ignored
    // A copy shares its containers (copy on write) when the bitmap allows it.
    Roaring copy(bitmap);
    ExpectSameBits(copy, word_count, seed);
  }
}

TEST(RoaringToBitsetTest, EmptyAndEdgeMembers) {
  std::vector<uint64_t> words(4, 0);
  EXPECT_EQ(RoaringToBitset(Roaring(), words.data(), words.size()), 0u);
  Roaring edges;
  edges.add(0);
  edges.add(63);
  edges.add(64);
  edges.add(255);
  edges.add(256);  // past the bound
  EXPECT_EQ(RoaringToBitset(edges, words.data(), words.size()), 4u);
  EXPECT_EQ(words[0], (uint64_t{1} << 63) | 1);
  EXPECT_EQ(words[1], 1u);
  EXPECT_EQ(words[3], uint64_t{1} << 63);
}

}  // namespace
}  // namespace fathom
