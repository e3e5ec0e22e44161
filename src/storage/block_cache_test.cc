#include "storage/block_cache.h"

#include <gtest/gtest.h>

#include <string>

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

}  // namespace
}  // namespace fathom
