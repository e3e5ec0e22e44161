#include "io/cache_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "io/cache_page.h"
#include "io/fault_file_system.h"
#include "io/mem_store.h"
#include "test_util.h"

namespace fathom {
namespace {

// A MemStore that counts the Gets that reach it (a batch's reads included) and the
// GetRanges batches.
class CountingStore : public MemStore {
 public:
  Result<std::string> Get(const std::string& key, std::optional<ByteRange> range) override {
    ++gets;
    return MemStore::Get(key, range);
  }
  Result<std::vector<std::string>> GetRanges(const std::vector<RangedRead>& reads) override {
    ++batches;
    return MemStore::GetRanges(reads);
  }
  std::atomic<uint64_t> gets{0}, batches{0};
};

std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

// Sum of the page files' sizes on disk.
uint64_t BytesOnDisk(const std::string& dir) {
  uint64_t total = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir + "/pages")) {
    if (entry.is_regular_file()) total += entry.file_size();
  }
  return total;
}

std::shared_ptr<CacheStore> OpenCache(std::shared_ptr<ObjectStore> inner, const std::string& dir, uint32_t page_bytes,
                                      uint64_t capacity = uint64_t{1} << 30,
                                      std::shared_ptr<FileSystem> fs = nullptr) {
  CacheStoreOptions options;
  options.dir = dir;
  options.page_bytes = page_bytes;
  options.capacity_bytes = capacity;
  options.file_system = std::move(fs);
  auto cache = CacheStore::Open(std::move(inner), options);
  EXPECT_TRUE(cache.ok()) << cache.status().ToString();
  return cache.ok() ? *cache : nullptr;
}

TEST(CachePageTest, RoundTripAndDamage) {
  auto encoded = EncodeCachePage(CachePage{"seg/abc", 7, 16, "0123456789"});
  ASSERT_TRUE(encoded.ok());
  auto page = DecodeCachePage(*encoded);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->key, "seg/abc");
  EXPECT_EQ(page->index, 7u);
  EXPECT_EQ(page->page_bytes, 16u);
  EXPECT_EQ(page->data, "0123456789");
  for (size_t i = 0; i < encoded->size(); ++i) {
    std::string bad = *encoded;
    bad[i] ^= 0x20;
    EXPECT_TRUE(DecodeCachePage(bad).status().IsCorruption()) << i;
  }
  for (size_t n = 0; n < encoded->size(); ++n) {
    EXPECT_TRUE(DecodeCachePage(std::string_view(*encoded).substr(0, n)).status().IsCorruption()) << n;
  }
  EXPECT_TRUE(EncodeCachePage(CachePage{"k", 0, 4, "12345"}).status().code() == StatusCode::kInvalidArgument);
  EXPECT_TRUE(EncodeCachePage(CachePage{"", 0, 4, "1"}).status().code() == StatusCode::kInvalidArgument);
  EXPECT_TRUE(EncodeCachePage(CachePage{"k", 0, 0, ""}).status().code() == StatusCode::kInvalidArgument);
  EXPECT_TRUE(EncodeCachePage(CachePage{"k", 0, 4, ""}).ok());  // an empty last page
}

// Property: every read through the cache equals the store's, cold and warm, at page sizes
// that put object ends before, on and after page boundaries.
TEST(CacheStoreTest, ReadsEqualTheStoresAtAnyPageSize) {
  const uint64_t seed = testing::SeedForTest("CacheStoreTest.ReadsEqualTheStoresAtAnyPageSize");
  std::mt19937_64 rng(seed);
  for (uint32_t page_bytes : {1u, 7u, 64u, 4096u}) {
    testing::TempDir dir;
    auto inner = std::make_shared<CountingStore>();
    std::vector<std::pair<std::string, std::string>> objects;
    const size_t sizes[] = {0, 1, page_bytes - 1u, page_bytes, page_bytes + 1u, 3u * page_bytes, 5000};
    for (size_t size : sizes) {
      std::string key = "obj/" + std::to_string(objects.size());
      std::string bytes = RandomBytes(rng, size);
      inner->Set(key, bytes);
      objects.emplace_back(key, bytes);
    }
    auto cache = OpenCache(inner, dir.path(), page_bytes);
    ASSERT_NE(cache, nullptr);
    for (int pass = 0; pass < 3; ++pass) {
      for (int i = 0; i < 300; ++i) {
        const auto& [key, bytes] = objects[rng() % objects.size()];
        if (rng() % 8 == 0) {
          auto got = cache->Get(key, std::nullopt);
          ASSERT_TRUE(got.ok()) << got.status().ToString();
          ASSERT_EQ(*got, bytes) << key << " page " << page_bytes;
          continue;
        }
        const uint64_t offset = rng() % (bytes.size() + 2 * page_bytes + 1);
        const uint64_t length = rng() % 4 == 0 ? UINT64_MAX - offset : rng() % (3 * page_bytes + 2);
        auto got = cache->Get(key, ByteRange{offset, length});
        auto want = inner->MemStore::Get(key, ByteRange{offset, length});
        ASSERT_TRUE(got.ok()) << got.status().ToString();
        ASSERT_EQ(*got, *want) << key << " [" << offset << ", +" << length << ") page " << page_bytes;
      }
    }
    // Once everything was read, reads are served from disk.
    const uint64_t before = inner->gets;
    for (const auto& [key, bytes] : objects) ASSERT_EQ(*cache->Get(key, std::nullopt), bytes);
    EXPECT_EQ(inner->gets, before) << "page " << page_bytes;
    EXPECT_TRUE(cache->Get("obj/missing", std::nullopt).status().IsNotFound());
    EXPECT_TRUE(cache->Get("obj/missing", ByteRange{0, 10}).status().IsNotFound());
    EXPECT_EQ(cache->stats().damaged_pages, 0u);
  }
}

// Property: a batch through the cache equals the store's reads, cold and warm, and costs
// the store at most one batch, none once every page is cached.
TEST(CacheStoreTest, GetRangesEqualsTheStoresInOneBatch) {
  const uint64_t seed = testing::SeedForTest("CacheStoreTest.GetRangesEqualsTheStoresInOneBatch");
  std::mt19937_64 rng(seed);
  for (uint32_t page_bytes : {1u, 7u, 64u, 4096u}) {
    testing::TempDir dir;
    auto inner = std::make_shared<CountingStore>();
    std::vector<std::pair<std::string, std::string>> objects;
    const size_t sizes[] = {0, 1, page_bytes - 1u, page_bytes, page_bytes + 1u, 3u * page_bytes, 5000};
    for (size_t size : sizes) {
      std::string key = "obj/" + std::to_string(objects.size());
      std::string bytes = RandomBytes(rng, size);
      inner->Set(key, bytes);
      objects.emplace_back(key, bytes);
    }
    auto cache = OpenCache(inner, dir.path(), page_bytes);
    ASSERT_NE(cache, nullptr);
    for (int pass = 0; pass < 6; ++pass) {
      std::vector<RangedRead> reads;
      for (int i = 0; i < 60; ++i) {
        const auto& [key, bytes] = objects[rng() % objects.size()];
        if (rng() % 8 == 0) {
          reads.push_back({key, std::nullopt});
          continue;
        }
        const uint64_t offset = rng() % (bytes.size() + 2 * page_bytes + 1);
        const uint64_t length = rng() % 4 == 0 ? UINT64_MAX - offset : rng() % (3 * page_bytes + 2);
        reads.push_back({key, ByteRange{offset, length}});
      }
      const uint64_t batches_before = inner->batches;
      auto got = cache->GetRanges(reads);
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      EXPECT_LE(inner->batches - batches_before, 1u);
      for (size_t i = 0; i < reads.size(); ++i) {
        auto want = inner->MemStore::Get(reads[i].key, reads[i].range);
        ASSERT_EQ((*got)[i], *want) << reads[i].key << " page " << page_bytes << " read " << i;
      }
    }
    // Once every object was read whole, a batch is served from disk.
    for (const auto& [key, bytes] : objects) ASSERT_EQ(*cache->Get(key, std::nullopt), bytes);
    const uint64_t gets = inner->gets, batches = inner->batches;
    std::vector<RangedRead> all;
    for (const auto& [key, bytes] : objects) {
      all.push_back({key, std::nullopt});
      all.push_back({key, ByteRange{bytes.size() / 2, bytes.size() + 1}});  // (length 0 always asks the store)
    }
    auto got = cache->GetRanges(all);
    ASSERT_TRUE(got.ok());
    for (size_t i = 0; i < objects.size(); ++i) EXPECT_EQ((*got)[2 * i], objects[i].second);
    EXPECT_EQ(inner->gets, gets);
    EXPECT_EQ(inner->batches, batches);
    EXPECT_TRUE(cache->GetRanges({{"obj/0", std::nullopt}, {"obj/missing", ByteRange{0, 3}}}).status().IsNotFound());
  }
}

// Reads of one batch that need the same pages share one fetch, cached once.
TEST(CacheStoreTest, GetRangesFetchesSharedPagesOnce) {
  testing::TempDir dir;
  auto inner = std::make_shared<CountingStore>();
  std::string bytes(1000, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 7);
  inner->Set("k", bytes);
  auto cache = OpenCache(inner, dir.path(), 256);
  ASSERT_NE(cache, nullptr);
  auto got = cache->GetRanges({{"k", ByteRange{10, 20}}, {"k", ByteRange{100, 50}}, {"k", ByteRange{300, 10}},
                               {"k", ByteRange{260, 30}}});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ((*got)[0], bytes.substr(10, 20));
  EXPECT_EQ((*got)[1], bytes.substr(100, 50));
  EXPECT_EQ((*got)[2], bytes.substr(300, 10));
  EXPECT_EQ((*got)[3], bytes.substr(260, 30));
  EXPECT_EQ(inner->gets, 2u);  // page 0 once, page 1 once
  EXPECT_EQ(cache->stats().page_misses, 2u);
  EXPECT_EQ(cache->stats().pages_written, 2u);
}

TEST(CacheStoreTest, SurvivesARestart) {
  testing::TempDir dir;
  auto inner = std::make_shared<CountingStore>();
  const std::string bytes(10000, 'x');
  inner->Set("seg/1", bytes);
  {
    auto cache = OpenCache(inner, dir.path(), 1024);
    ASSERT_EQ(*cache->Get("seg/1", ByteRange{100, 5000}), bytes.substr(100, 5000));
    EXPECT_EQ(inner->gets, 1u);
  }
  auto cache = OpenCache(inner, dir.path(), 1024);
  EXPECT_EQ(cache->stats().resident_pages, 5u);  // pages 0..4 of the first read
  EXPECT_EQ(*cache->Get("seg/1", ByteRange{2000, 2000}), bytes.substr(2000, 2000));
  EXPECT_EQ(inner->gets, 1u);
  // The rest of the object in one request for the missing span.
  EXPECT_EQ(*cache->Get("seg/1", std::nullopt), bytes);
  EXPECT_EQ(inner->gets, 2u);
}

TEST(CacheStoreTest, ADamagedPageIsFetchedAgainNeverServed) {
  testing::TempDir dir;
  auto inner = std::make_shared<CountingStore>();
  inner->Set("seg/1", std::string(3000, 'a') + std::string(3000, 'b'));
  auto cache = OpenCache(inner, dir.path(), 4096);
  ASSERT_EQ(cache->Get("seg/1", std::nullopt)->size(), 6000u);
  // Flip one byte in every page file.
  int damaged = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir.path() + "/pages")) {
    if (!entry.is_regular_file()) continue;
    std::fstream f(entry.path(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(40);
    f.put('!');
    ++damaged;
  }
  ASSERT_EQ(damaged, 2);
  EXPECT_EQ(*cache->Get("seg/1", std::nullopt), std::string(3000, 'a') + std::string(3000, 'b'));
  EXPECT_EQ(cache->stats().damaged_pages, 1u);  // the first page failed; the rest came with the fetch
  EXPECT_EQ(inner->gets, 2u);
  // Fetched again and cached again.
  EXPECT_EQ(*cache->Get("seg/1", ByteRange{4000, 100}), std::string(100, 'b'));
  EXPECT_EQ(inner->gets, 2u);
}

TEST(CacheStoreTest, StaysWithinItsCapacity) {
  const uint64_t seed = testing::SeedForTest("CacheStoreTest.StaysWithinItsCapacity");
  std::mt19937_64 rng(seed);
  testing::TempDir dir;
  auto inner = std::make_shared<CountingStore>();
  std::vector<std::string> contents;
  for (int i = 0; i < 40; ++i) {
    contents.push_back(RandomBytes(rng, 500 + rng() % 3000));
    inner->Set("obj/" + std::to_string(i), contents.back());
  }
  const uint64_t capacity = 16 * 1024;
  auto cache = OpenCache(inner, dir.path(), 1024, capacity);
  for (int i = 0; i < 400; ++i) {
    const size_t n = rng() % contents.size();
    ASSERT_EQ(*cache->Get("obj/" + std::to_string(n), std::nullopt), contents[n]);
    ASSERT_LE(cache->stats().resident_bytes, capacity);
  }
  EXPECT_GT(cache->stats().evictions, 0u);
  EXPECT_EQ(BytesOnDisk(dir.path()), cache->stats().resident_bytes);
  // Reopened with less room: the oldest pages go at open.
  cache.reset();
  cache = OpenCache(inner, dir.path(), 1024, capacity / 2);
  EXPECT_LE(cache->stats().resident_bytes, capacity / 2);
  EXPECT_EQ(BytesOnDisk(dir.path()), cache->stats().resident_bytes);
  // An object larger than half the capacity is passed through, not cached.
  inner->Set("big", std::string(capacity, 'z'));
  const uint64_t written = cache->stats().pages_written;
  EXPECT_EQ(cache->Get("big", std::nullopt)->size(), capacity);
  EXPECT_EQ(cache->stats().pages_written, written);
}

TEST(CacheStoreTest, PutsWriteThroughAndDeletesDropPages) {
  testing::TempDir dir;
  auto inner = std::make_shared<CountingStore>();
  auto cache = OpenCache(inner, dir.path(), 64);
  ASSERT_TRUE(cache->Put("seg/1", std::string(128, 'q'), PutMode::kCreateOnly).ok());
  EXPECT_EQ(*cache->Get("seg/1", std::nullopt), std::string(128, 'q'));
  EXPECT_EQ(*cache->Get("seg/1", ByteRange{60, 10}), std::string(10, 'q'));
  EXPECT_EQ(inner->gets, 0u);
  EXPECT_EQ(cache->stats().resident_pages, 3u);  // two full pages and the empty end marker
  // A refused create-only Put caches nothing of its bytes.
  EXPECT_TRUE(cache->Put("seg/1", std::string(128, 'r'), PutMode::kCreateOnly).IsAlreadyExists());
  EXPECT_EQ(*cache->Get("seg/1", std::nullopt), std::string(128, 'q'));
  ASSERT_TRUE(cache->Delete("seg/1").ok());
  EXPECT_EQ(cache->stats().resident_pages, 0u);
  EXPECT_TRUE(cache->Get("seg/1", std::nullopt).status().IsNotFound());
  ASSERT_TRUE(cache->Put("seg/1", "new", PutMode::kCreateOnly).ok());
  EXPECT_EQ(*cache->Get("seg/1", std::nullopt), "new");
}

TEST(CacheStoreTest, CacheFailuresFallBackToTheStore) {
  testing::TempDir dir;
  auto fs = std::make_shared<FaultFileSystem>(PosixFileSystem::Default(), dir.path() + "/scratch",
                                              FaultFileSystemOptions{});
  auto inner = std::make_shared<CountingStore>();
  inner->Set("seg/1", std::string(5000, 'w'));
  auto cache = OpenCache(inner, dir.path() + "/cache", 1024, uint64_t{1} << 30, fs);
  ASSERT_NE(cache, nullptr);
  fs->FailNext(FsOp::kCreate, "", ENOSPC, 1000);
  EXPECT_EQ(*cache->Get("seg/1", std::nullopt), std::string(5000, 'w'));
  EXPECT_EQ(*cache->Get("seg/1", std::nullopt), std::string(5000, 'w'));
  EXPECT_EQ(inner->gets, 2u);
  EXPECT_GT(cache->stats().io_errors, 0u);
  EXPECT_EQ(cache->stats().resident_pages, 0u);
  fs->FailNext(FsOp::kCreate, "", 0, 0);
  fs->SetOptions(FaultFileSystemOptions{});
}

TEST(CacheStoreTest, TornPagesAfterACrashAreNotServed) {
  const uint64_t seed = testing::SeedForTest("CacheStoreTest.TornPagesAfterACrashAreNotServed");
  std::mt19937_64 rng(seed);
  testing::TempDir dir;
  FaultFileSystemOptions fault_options;
  fault_options.seed = seed;
  fault_options.torn_unsynced_tail = true;
  auto fs = std::make_shared<FaultFileSystem>(PosixFileSystem::Default(), dir.path() + "/scratch", fault_options);
  auto inner = std::make_shared<CountingStore>();
  std::vector<std::string> contents;
  for (int i = 0; i < 20; ++i) {
    contents.push_back(RandomBytes(rng, 100 + rng() % 5000));
    inner->Set("obj/" + std::to_string(i), contents.back());
  }
  {
    auto cache = OpenCache(inner, dir.path() + "/cache", 512, uint64_t{1} << 30, fs);
    for (size_t i = 0; i < contents.size(); ++i) ASSERT_EQ(*cache->Get("obj/" + std::to_string(i), std::nullopt), contents[i]);
  }
  // The cache fsyncs nothing. Make the directory entries durable (as the kernel may have
  // written them back) but not the files' data: the crash keeps a random prefix of each.
  const std::string root = dir.path() + "/cache";
  ASSERT_EQ(fs->SyncDirectory(root), 0);
  ASSERT_EQ(fs->SyncDirectory(root + "/tmp"), 0);
  ASSERT_EQ(fs->SyncDirectory(root + "/pages"), 0);
  for (const auto& entry : std::filesystem::directory_iterator(root + "/pages")) {
    ASSERT_EQ(fs->SyncDirectory(entry.path().string()), 0);
  }
  ASSERT_TRUE(fs->SimulateCrash().ok());
  auto cache = OpenCache(inner, dir.path() + "/cache", 512, uint64_t{1} << 30, fs);
  ASSERT_NE(cache, nullptr);
  ASSERT_GT(cache->stats().resident_pages, 0u);
  for (int round = 0; round < 2; ++round) {
    for (size_t i = 0; i < contents.size(); ++i) {
      ASSERT_EQ(*cache->Get("obj/" + std::to_string(i), std::nullopt), contents[i]) << i;
      const uint64_t offset = rng() % contents[i].size();
      ASSERT_EQ(*cache->Get("obj/" + std::to_string(i), ByteRange{offset, 700}), contents[i].substr(offset, 700));
    }
  }
  EXPECT_GT(cache->stats().damaged_pages, 0u);
}

TEST(CacheStoreTest, KeysOutsideTheFilterPassThrough) {
  testing::TempDir dir;
  auto inner = std::make_shared<CountingStore>();
  CacheStoreOptions options;
  options.dir = dir.path();
  options.page_bytes = 64;
  options.cacheable = [](const std::string& key) { return key.rfind("data/", 0) == 0; };
  auto cache = CacheStore::Open(inner, options);
  ASSERT_TRUE(cache.ok());
  ASSERT_TRUE((*cache)->Put("data/1", "kept", PutMode::kCreateOnly).ok());
  ASSERT_TRUE((*cache)->Put("wal/1", "asked every time", PutMode::kCreateOnly).ok());
  EXPECT_EQ(*(*cache)->Get("data/1", std::nullopt), "kept");
  EXPECT_EQ(*(*cache)->Get("wal/1", std::nullopt), "asked every time");
  EXPECT_EQ(*(*cache)->Get("wal/1", ByteRange{0, 5}), "asked");
  EXPECT_EQ(inner->gets, 2u);
  EXPECT_EQ((*cache)->stats().resident_pages, 1u);
  // Deleted from the store behind the cache's back: an uncached key says so at once.
  ASSERT_TRUE(inner->Delete("wal/1").ok());
  EXPECT_TRUE((*cache)->Get("wal/1", std::nullopt).status().IsNotFound());
}

TEST(CacheStoreTest, OneProcessPerDirectoryAndLeftoversAreRemoved) {
  testing::TempDir dir;
  auto inner = std::make_shared<CountingStore>();
  {
    auto cache = OpenCache(inner, dir.path(), 64);
    auto second = CacheStore::Open(inner, CacheStoreOptions{.dir = dir.path()});
    ASSERT_TRUE(second.status().code() == StatusCode::kFailedPrecondition);
    EXPECT_NE(second.status().message().find("give each node its own --cache-dir"), std::string::npos);
  }
  std::ofstream(dir.path() + "/tmp/17") << "half a page";
  std::filesystem::create_directories(dir.path() + "/pages/00");
  std::ofstream(dir.path() + "/pages/00/not-a-page") << "x";
  auto cache = OpenCache(inner, dir.path(), 64);
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/tmp/17"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/pages/00/not-a-page"));
  EXPECT_EQ(cache->stats().resident_pages, 0u);
  EXPECT_TRUE(CacheStore::Open(inner, CacheStoreOptions{.dir = dir.path() + "/x", .page_bytes = 0})
                  .status().code() == StatusCode::kInvalidArgument);
  EXPECT_TRUE(CacheStore::Open(nullptr, CacheStoreOptions{.dir = dir.path() + "/y"}).status().code() == StatusCode::kInvalidArgument);
}

TEST(CacheStoreTest, ConcurrentReadersSeeTheStoresBytes) {
  const uint64_t seed = testing::SeedForTest("CacheStoreTest.ConcurrentReadersSeeTheStoresBytes");
  testing::TempDir dir;
  auto inner = std::make_shared<CountingStore>();
  std::mt19937_64 setup(seed);
  std::vector<std::string> contents;
  for (int i = 0; i < 30; ++i) {
    contents.push_back(RandomBytes(setup, 1 + setup() % 4000));
    inner->Set("obj/" + std::to_string(i), contents.back());
  }
  // Small enough that readers race with evictions.
  auto cache = OpenCache(inner, dir.path(), 256, 24 * 1024);
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(seed + static_cast<uint64_t>(t));
      for (int i = 0; i < 500; ++i) {
        const size_t n = rng() % contents.size();
        const uint64_t offset = rng() % contents[n].size();
        const uint64_t length = 1 + rng() % 1000;
        auto got = cache->Get("obj/" + std::to_string(n), ByteRange{offset, length});
        if (!got.ok() || *got != contents[n].substr(offset, length)) ++wrong;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong, 0);
  EXPECT_LE(cache->stats().resident_bytes, 24u * 1024);
  EXPECT_EQ(cache->stats().damaged_pages, 0u);
}

}  // namespace
}  // namespace fathom
