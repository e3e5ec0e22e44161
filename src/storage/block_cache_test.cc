#include "storage/block_cache.h"

#include <gtest/gtest.h>

#include <string>

namespace fathom {
namespace {

TEST(BlockCacheTest, ReadOutsideABlockIsAMissAndEraseFileDropsBlocks) {
  BlockCache cache(1 << 16, 2);
  const uint64_t a = cache.NewFileId();
  const uint64_t b = cache.NewFileId();
  EXPECT_NE(a, b);
  cache.Insert(a, 0, std::string(100, 'a'));
  cache.Insert(b, 0, std::string(100, 'b'));
  char out[100];
  EXPECT_TRUE(cache.Read(a, 0, 10, 90, out));
  EXPECT_EQ(out[0], 'a');
  EXPECT_FALSE(cache.Read(a, 0, 10, 91, out));
  EXPECT_FALSE(cache.Read(a, 1, 0, 1, out));
  cache.EraseFile(a);
  EXPECT_FALSE(cache.Read(a, 0, 0, 1, out));
  EXPECT_TRUE(cache.Read(b, 0, 0, 100, out));
  EXPECT_EQ(cache.charged_bytes(), 100 + BlockCache::kEntryOverheadBytes);
  // A block larger than a shard's share is not cached at all.
  cache.Insert(b, 1, std::string(1 << 16, 'x'));
  EXPECT_FALSE(cache.Read(b, 1, 0, 1, out));
}

}  // namespace
}  // namespace fathom
