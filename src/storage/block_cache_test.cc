#include "storage/block_cache.h"

#include <gtest/gtest.h>

#include <cstring>
#include <list>
#include <random>
#include <string>

#include "test_util.h"

namespace fathom {
namespace {

TEST(BlockCacheTest, ReadOutsideABlockIsAMissAndEraseFileDropsBlocks) {
  BlockCache cache(1 << 16, 1024, 2);
  const uint64_t a = cache.NewFileId();
  const uint64_t b = cache.NewFileId();
  EXPECT_NE(a, b);
  const std::string bytes_a(100, 'a'), bytes_b(100, 'b');
  cache.Insert(a, 0, bytes_a.data(), bytes_a.size());
  cache.Insert(b, 0, bytes_b.data(), bytes_b.size());
  char out[100];
  EXPECT_TRUE(cache.Read(a, 0, 10, 90, out));
  EXPECT_EQ(out[0], 'a');
  EXPECT_FALSE(cache.Read(a, 0, 10, 91, out));
  EXPECT_FALSE(cache.Read(a, 1, 0, 1, out));
  cache.EraseFile(a);
  EXPECT_FALSE(cache.Read(a, 0, 0, 1, out));
  EXPECT_TRUE(cache.Read(b, 0, 0, 100, out));
  EXPECT_EQ(cache.charged_bytes(), 1024 + BlockCache::kEntryOverheadBytes);
  // A block larger than the cache's block size is not cached at all.
  const std::string large(1025, 'x');
  cache.Insert(b, 1, large.data(), large.size());
  EXPECT_FALSE(cache.Read(b, 1, 0, 1, out));
}

TEST(BlockCacheTest, EvictsLeastRecentlyUsedWithinCapacity) {
  // One shard of exactly three slots.
  BlockCache cache(3 * (64 + BlockCache::kEntryOverheadBytes), 64, 1);
  const uint64_t f = cache.NewFileId();
  const std::string bytes(64, 'z');
  char out[64];
  for (uint64_t b = 0; b < 3; ++b) cache.Insert(f, b, bytes.data(), bytes.size());
  EXPECT_TRUE(cache.Read(f, 0, 0, 64, out));  // 0 is now the most recent; 1 the least
  cache.Insert(f, 3, bytes.data(), bytes.size());
  EXPECT_FALSE(cache.Read(f, 1, 0, 1, out));
  EXPECT_TRUE(cache.Read(f, 0, 0, 1, out));
  EXPECT_TRUE(cache.Read(f, 2, 0, 1, out));
  EXPECT_TRUE(cache.Read(f, 3, 0, 1, out));
  EXPECT_EQ(cache.stats().evictions, 1u);
  EXPECT_LE(cache.charged_bytes(), cache.capacity_bytes());
  // A cache smaller than one slot holds nothing and never fails.
  BlockCache tiny(10, 64);
  tiny.Insert(f, 0, bytes.data(), bytes.size());
  EXPECT_FALSE(tiny.Read(f, 0, 0, 1, out));
}

// Property test against a model LRU: random inserts (new, replacing, too large), reads,
// and file erasures on one shard, so every hit, miss and eviction is predictable. Few
// distinct blocks and a small table make long probe runs, exercising the open-addressing
// table's backward-shift deletion.
TEST(BlockCacheTest, MatchesAModelLru) {
  const uint64_t seed = testing::SeedForTest("BlockCacheTest.MatchesAModelLru");
  std::mt19937_64 rng(seed);
  for (size_t slots : {1u, 2u, 7u, 64u}) {
    constexpr size_t kBlockBytes = 16;
    BlockCache cache(slots * (kBlockBytes + BlockCache::kEntryOverheadBytes), kBlockBytes, 1);
    const uint64_t files[2] = {cache.NewFileId(), cache.NewFileId()};
    struct Entry {
      uint64_t file, block;
      std::string bytes;
    };
    std::list<Entry> model;  // front = most recently used
    auto find = [&](uint64_t file, uint64_t block) {
      for (auto it = model.begin(); it != model.end(); ++it) {
        if (it->file == file && it->block == block) return it;
      }
      return model.end();
    };
    for (int step = 0; step < 20000; ++step) {
      const uint64_t file = files[rng() % 2];
      const uint64_t block = rng() % (3 * slots + 2);
      const int op = static_cast<int>(rng() % 10);
      if (op < 4) {
        std::string bytes(1 + rng() % kBlockBytes, static_cast<char>('a' + rng() % 26));
        bytes[0] = static_cast<char>(step);
        if (rng() % 50 == 0) bytes.assign(kBlockBytes + 1, 'x');  // too large: ignored
        cache.Insert(file, block, bytes.data(), bytes.size());
        if (bytes.size() > kBlockBytes) continue;
        if (auto it = find(file, block); it != model.end()) model.erase(it);
        if (model.size() == slots) model.pop_back();
        model.push_front({file, block, bytes});
      } else if (op < 9) {
        char out[kBlockBytes];
        const auto it = find(file, block);
        const bool hit = cache.Read(file, block, 0, 1, out);
        ASSERT_EQ(hit, it != model.end()) << "seed " << seed << " step " << step;
        if (hit) {
          ASSERT_EQ(out[0], it->bytes[0]);
          ASSERT_TRUE(cache.Read(file, block, 0, it->bytes.size(), out));
          ASSERT_EQ(std::string(out, it->bytes.size()), it->bytes);
          model.splice(model.begin(), model, it);
        }
      } else if (rng() % 20 == 0) {
        cache.EraseFile(file);
        model.remove_if([&](const Entry& e) { return e.file == file; });
      }
      ASSERT_EQ(cache.charged_bytes(), model.size() * (kBlockBytes + BlockCache::kEntryOverheadBytes));
    }
  }
}

}  // namespace
}  // namespace fathom
