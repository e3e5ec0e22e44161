#include "index/vector/vector_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "index/vector/kmeans.h"
#include "io/forwarding_store.h"
#include "io/mem_store.h"
#include "storage/block_cache.h"
#include "test_util.h"

namespace fathom {
namespace {

std::vector<float> RandomMatrix(uint64_t seed, size_t rows, uint32_t dim) {
  Rng rng(seed);
  std::vector<float> values(rows * dim);
  for (float& v : values) v = static_cast<float>(rng.Gaussian());
  return values;
}

// Overwrites one byte of `path` at `offset` with its complement.
void FlipByte(const std::string& path, uint64_t offset) {
  int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  char byte = 0;
  ASSERT_EQ(::pread(fd, &byte, 1, static_cast<off_t>(offset)), 1);
  byte = static_cast<char>(~byte);
  ASSERT_EQ(::pwrite(fd, &byte, 1, static_cast<off_t>(offset)), 1);
  ::close(fd);
}

struct Written {
  testing::TempDir dir;
  std::string path;
  std::vector<float> values;
  size_t rows = 0;
  uint32_t dim = 0;
};

void WriteMatrix(Written* w, uint64_t seed, size_t rows, uint32_t dim, size_t block_bytes) {
  w->path = w->dir.path() + "/vectors";
  w->rows = rows;
  w->dim = dim;
  w->values = RandomMatrix(seed, rows, dim);
  ASSERT_TRUE(VectorFile::Write(w->path, MatrixView{w->values.data(), rows, dim}, block_bytes).ok());
}

TEST(VectorFileTest, RoundTripEveryRow) {
  uint64_t seed = testing::SeedForTest("VectorFileTest.RoundTripEveryRow");
  Written w;
  // 13-d rows (52 bytes) in 4 KiB blocks: 78 rows per block, the last block short.
  WriteMatrix(&w, seed, 1000, 13, 4096);
  BlockCache cache(1 << 20, 4096);
  auto file = VectorFile::Open(w.path, &cache);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ((*file)->dim(), 13u);
  EXPECT_EQ((*file)->rows(), 1000u);
  EXPECT_EQ((*file)->rows_per_block(), 4096u / 52u);
  std::vector<float> scratch(13);
  for (int pass = 0; pass < 2; ++pass) {
    for (uint32_t slot = 0; slot < 1000; ++slot) {
      const float* row = (*file)->Fetch(slot, scratch.data());
      ASSERT_NE(row, nullptr) << slot;
      EXPECT_EQ(std::memcmp(row, w.values.data() + size_t{slot} * 13, 13 * sizeof(float)), 0) << slot;
    }
  }
  EXPECT_EQ((*file)->Fetch(1000, scratch.data()), nullptr);
  VectorFile::Stats stats = (*file)->stats();
  EXPECT_EQ(stats.hits + stats.misses, 2000u);
  EXPECT_EQ(stats.misses, 13u);  // one per block: the whole file fits in the cache
  EXPECT_EQ(stats.read_errors + stats.corruptions, 0u);
}

TEST(VectorFileTest, RowsWiderThanABlockTakeOneBlockEach) {
  uint64_t seed = testing::SeedForTest("VectorFileTest.RowsWiderThanABlockTakeOneBlockEach");
  Written w;
  WriteMatrix(&w, seed, 10, 1500, 4096);
  BlockCache narrow(1 << 20, 4096);
  auto refused = VectorFile::Open(w.path, &narrow);
  ASSERT_FALSE(refused.ok());  // the cache's 4 KiB blocks cannot hold a 6000-byte row
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  BlockCache wide(1 << 20, VectorFile::BlockBytesFor(1500, 4096));
  auto file = VectorFile::Open(w.path, &wide);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ((*file)->rows_per_block(), 1u);
  std::vector<float> scratch(1500);
  const float* row = (*file)->Fetch(7, scratch.data());
  ASSERT_NE(row, nullptr);
  EXPECT_EQ(std::memcmp(row, w.values.data() + 7 * 1500, 1500 * sizeof(float)), 0);
}

TEST(VectorFileTest, CacheStaysWithinItsCapacity) {
  uint64_t seed = testing::SeedForTest("VectorFileTest.CacheStaysWithinItsCapacity");
  Written w;
  WriteMatrix(&w, seed, 4000, 64, 4096);  // 16 rows per 4 KiB block, 250 blocks
  const size_t capacity = 10 * (4096 + BlockCache::kEntryOverheadBytes);
  BlockCache cache(capacity, 4096, 1);
  auto file = VectorFile::Open(w.path, &cache);
  ASSERT_TRUE(file.ok());
  std::vector<float> scratch(64);
  Rng rng(seed);
  for (int i = 0; i < 5000; ++i) {
    uint32_t slot = static_cast<uint32_t>(rng.Below(4000));
    const float* row = (*file)->Fetch(slot, scratch.data());
    ASSERT_NE(row, nullptr);
    ASSERT_EQ(std::memcmp(row, w.values.data() + size_t{slot} * 64, 64 * sizeof(float)), 0);
    ASSERT_LE(cache.charged_bytes(), capacity);
  }
  EXPECT_GT(cache.stats().evictions, 0u);
  // A recently used block is a hit; with 10 of 250 blocks cached most reads miss.
  VectorFile::Stats stats = (*file)->stats();
  EXPECT_GT(stats.misses, stats.hits);
  ASSERT_NE((*file)->Fetch(3, scratch.data()), nullptr);
  const uint64_t hits = (*file)->stats().hits;
  ASSERT_NE((*file)->Fetch(4, scratch.data()), nullptr);  // same block as slot 3
  EXPECT_EQ((*file)->stats().hits, hits + 1);
}

TEST(VectorFileTest, CorruptByteIsDetectedOnRead) {
  uint64_t seed = testing::SeedForTest("VectorFileTest.CorruptByteIsDetectedOnRead");
  Written w;
  WriteMatrix(&w, seed, 100, 32, 4096);  // 32 rows per block
  // Row 40 lives in block 1; flip a byte in the middle of it.
  const uint64_t block_bytes = 32 * 128 + VectorFile::kBlockChecksumBytes;
  FlipByte(w.path, VectorFile::kHeaderBytes + block_bytes + 8 * 128 + 5);
  BlockCache cache(1 << 20, 4096);
  auto file = VectorFile::Open(w.path, &cache);
  ASSERT_TRUE(file.ok());
  std::vector<float> scratch(32);
  EXPECT_EQ((*file)->Fetch(40, scratch.data()), nullptr);
  EXPECT_EQ((*file)->Fetch(33, scratch.data()), nullptr);  // same block: also refused
  EXPECT_EQ((*file)->stats().corruptions, 2u);
  // Other blocks still read.
  const float* row = (*file)->Fetch(70, scratch.data());
  ASSERT_NE(row, nullptr);
  EXPECT_EQ(std::memcmp(row, w.values.data() + 70 * 32, 32 * sizeof(float)), 0);
}

// Prefetch reads the uncached blocks of its slots in one batch and caches the verified
// ones; the Fetch calls that follow hit and return the right rows. A corrupt block is
// not cached by Prefetch, and Fetch still refuses it.
TEST(VectorFileTest, PrefetchCachesVerifiedBlocks) {
  uint64_t seed = testing::SeedForTest("VectorFileTest.PrefetchCachesVerifiedBlocks");
  Written w;
  WriteMatrix(&w, seed, 1000, 32, 512);  // 4 rows per block, 250 blocks
  const uint64_t block_bytes = 4 * 128 + VectorFile::kBlockChecksumBytes;
  FlipByte(w.path, VectorFile::kHeaderBytes + 7 * block_bytes + 3);  // block 7: rows 28-31
  BlockCache cache(1 << 20, 512);
  auto file = VectorFile::Open(w.path, &cache);
  ASSERT_TRUE(file.ok());
  Rng rng(seed);
  std::vector<uint32_t> slots;
  for (int i = 0; i < 20; ++i) slots.push_back(static_cast<uint32_t>(rng.Below(1000)));  // < 32 blocks
  slots.push_back(29);     // the corrupt block
  slots.push_back(5000);   // past the last row: ignored
  slots.push_back(slots[0]);  // repeated
  (*file)->Prefetch(slots.data(), slots.size());
  const VectorFile::Stats after_prefetch = (*file)->stats();
  EXPECT_GT(after_prefetch.prefetched, 1u);
  EXPECT_LE(after_prefetch.prefetched, VectorFile::kPrefetchBlocksMax);
  EXPECT_EQ(after_prefetch.misses, 0u);
  EXPECT_EQ(after_prefetch.corruptions, 0u);  // left to Fetch to report
  std::vector<float> scratch(32);
  // Every slot among the blocks Prefetch read is now a hit.
  size_t hits_expected = 0;
  std::vector<uint64_t> seen;
  for (uint32_t slot : slots) {
    if (slot >= 1000 || slot / 4 == 7) continue;
    if (std::find(seen.begin(), seen.end(), slot / 4) == seen.end()) seen.push_back(slot / 4);
    if (seen.size() > VectorFile::kPrefetchBlocksMax) break;
    const float* row = (*file)->Fetch(slot, scratch.data());
    ASSERT_NE(row, nullptr) << slot;
    EXPECT_EQ(std::memcmp(row, w.values.data() + size_t{slot} * 32, 32 * sizeof(float)), 0) << slot;
    ++hits_expected;
  }
  EXPECT_EQ((*file)->stats().misses, 0u);
  EXPECT_EQ((*file)->stats().hits, hits_expected);
  EXPECT_EQ((*file)->Fetch(29, scratch.data()), nullptr);
  EXPECT_EQ((*file)->stats().corruptions, 1u);
  // A batch of one block is left to Fetch.
  const uint64_t prefetched = (*file)->stats().prefetched;
  uint32_t far = 999;
  (*file)->Prefetch(&far, 1);
  EXPECT_EQ((*file)->stats().prefetched, prefetched);
}

// Counts the store calls of object-backed files.
class CountingObjects final : public ForwardingStore {
 public:
  CountingObjects() : ForwardingStore(std::make_shared<MemStore>()) {}
  Result<std::string> Get(const std::string& key, std::optional<ByteRange> range) override {
    ++gets;
    return ForwardingStore::Get(key, range);
  }
  Result<std::vector<std::string>> GetRanges(const std::vector<RangedRead>& reads) override {
    ++batches;
    reads_ += static_cast<int>(reads.size());
    return ForwardingStore::GetRanges(reads);
  }
  int gets = 0, batches = 0, reads_ = 0;
};

// PrefetchRows reads the missing blocks of rows of several object-backed files as one
// batch (one GetRanges call), caches the verified ones, and leaves a damaged block to
// Fetch; the rows then come from the cache with no further store calls.
TEST(VectorFileTest, PrefetchRowsReadsSeveralFilesInOneBatch) {
  const uint64_t seed = testing::SeedForTest("VectorFileTest.PrefetchRowsReadsSeveralFilesInOneBatch");
  auto store = std::make_shared<CountingObjects>();
  const uint32_t dim = 32;
  const size_t rows = 400;  // 4 rows (512 bytes) per block: 100 blocks per file
  std::vector<std::vector<float>> values;
  BlockCache cache(1 << 20, 512);
  std::vector<std::unique_ptr<VectorFile>> files;
  for (int f = 0; f < 3; ++f) {
    values.push_back(RandomMatrix(seed + f, rows, dim));
    auto bytes = VectorFile::Encode(MatrixView{values.back().data(), rows, dim}, nullptr, 512);
    ASSERT_TRUE(bytes.ok());
    if (f == 2) {  // block 5 (rows 20-23) of the third file is damaged
      (*bytes)[VectorFile::kHeaderBytes + 5 * (512 + VectorFile::kBlockChecksumBytes) + 9] ^= 0x40;
    }
    const std::string key = "v/" + std::to_string(f);
    ASSERT_TRUE(store->Put(key, *bytes, PutMode::kCreateOnly).ok());
    auto reader = ObjectRangeReader::Open(store, key);
    ASSERT_TRUE(reader.ok());
    auto file = VectorFile::Open(std::move(*reader), &cache);
    ASSERT_TRUE(file.ok()) << file.status().ToString();
    files.push_back(std::move(*file));
  }
  Rng rng(seed);
  std::vector<VectorFile::RowRef> wanted;
  for (int i = 0; i < 60; ++i) {
    wanted.push_back({files[i % 3].get(), static_cast<uint32_t>(rng.Below(rows))});
  }
  wanted.push_back({files[2].get(), 21});        // the damaged block
  wanted.push_back({files[0].get(), 100000});    // no such row: ignored
  wanted.push_back(wanted.front());              // repeated
  store->gets = store->batches = 0;
  const size_t cached = VectorFile::PrefetchRows(wanted.data(), wanted.size());
  EXPECT_EQ(store->batches, 1);
  EXPECT_EQ(store->gets, 0);
  EXPECT_GT(cached, 40u);
  std::vector<float> row(dim);
  for (const VectorFile::RowRef& r : wanted) {
    if (r.row >= rows || (r.file == files[2].get() && r.row / 4 == 5)) continue;
    ASSERT_TRUE(r.file->FetchRow(r.row, row.data()).ok());
    const float* want = values[r.file == files[0].get() ? 0 : r.file == files[1].get() ? 1 : 2].data() +
                        size_t{r.row} * dim;
    EXPECT_EQ(std::memcmp(row.data(), want, dim * sizeof(float)), 0);
  }
  EXPECT_EQ(store->batches, 1);
  EXPECT_EQ(store->gets, 0);  // every row above came from the cache
  EXPECT_TRUE(files[2]->FetchRow(21, row.data()).IsCorruption());
  // Everything cached: nothing to read, no batch.
  std::vector<VectorFile::RowRef> again(wanted.begin(), wanted.begin() + 10);
  EXPECT_EQ(VectorFile::PrefetchRows(again.data(), again.size()), 0u);
  EXPECT_EQ(store->batches, 1);
}

// ReadOpenings reads every file's header and row tags in one batch; Open and
// ReadRowTags then make no request for them. A wrong row count (a damaged manifest) is
// ignored for the tags (read from the file), and a damaged tags section read ahead is
// Corruption as if read by ReadRowTags.
TEST(VectorFileTest, OpeningsOfSeveralFilesAreOneBatch) {
  const uint64_t seed = testing::SeedForTest("VectorFileTest.OpeningsOfSeveralFilesAreOneBatch");
  auto store = std::make_shared<CountingObjects>();
  const uint32_t dim = 8;
  BlockCache cache(1 << 20, 512);
  std::vector<VectorFile::ObjectToOpen> objects;
  std::vector<std::vector<uint64_t>> tags;
  for (int f = 0; f < 3; ++f) {
    const size_t rows = 50 + 10 * f;
    std::vector<float> values = RandomMatrix(seed + f, rows, dim);
    tags.emplace_back();
    for (size_t r = 0; r < rows; ++r) tags.back().push_back(1000 * f + r);
    auto bytes = VectorFile::Encode(MatrixView{values.data(), rows, dim}, tags.back().data(), 512);
    ASSERT_TRUE(bytes.ok());
    const std::string key = "v/" + std::to_string(f);
    ASSERT_TRUE(store->Put(key, *bytes, PutMode::kCreateOnly).ok());
    objects.push_back({key, bytes->size(), rows});
  }
  auto open_all = [&](std::vector<VectorFileOpening> openings, std::vector<Status>* tag_status) {
    tag_status->clear();
    for (size_t f = 0; f < objects.size(); ++f) {
      auto reader = ObjectRangeReader::Open(store, objects[f].key, objects[f].size_bytes);
      ASSERT_TRUE(reader.ok());
      auto file = VectorFile::Open(std::move(*reader), &cache, std::move(openings[f]));
      ASSERT_TRUE(file.ok()) << file.status().ToString();
      std::vector<uint64_t> got, hashes;
      tag_status->push_back((*file)->ReadRowTags(&got, &hashes));
      if (tag_status->back().ok()) {
        EXPECT_EQ(got, tags[f]);
      }
    }
  };
  store->gets = store->batches = 0;
  std::vector<Status> tag_status;
  open_all(VectorFile::ReadOpenings(*store, objects), &tag_status);
  EXPECT_EQ(store->batches, 1);
  EXPECT_EQ(store->reads_, 6);
  EXPECT_EQ(store->gets, 0);
  for (const Status& st : tag_status) EXPECT_TRUE(st.ok()) << st.ToString();

  // A row count that disagrees with the file: its tags read ahead are the wrong bytes
  // and are not used.
  objects[1].rows -= 1;
  store->gets = store->batches = 0;
  open_all(VectorFile::ReadOpenings(*store, objects), &tag_status);
  EXPECT_EQ(store->batches, 1);
  EXPECT_EQ(store->gets, 1);  // file 1's tags, read by ReadRowTags
  for (const Status& st : tag_status) EXPECT_TRUE(st.ok()) << st.ToString();
  objects[1].rows += 1;

  // A size that cannot hold the rows: nothing read ahead, each file reads its own.
  std::vector<VectorFile::ObjectToOpen> impossible = objects;
  impossible[2].rows = impossible[2].size_bytes;
  const std::vector<VectorFileOpening> none = VectorFile::ReadOpenings(*store, impossible);
  for (const VectorFileOpening& o : none) EXPECT_TRUE(o.header.empty() && o.row_tags.empty());

  // A damaged tags section read ahead is Corruption, as read by the file.
  std::vector<VectorFileOpening> damaged = VectorFile::ReadOpenings(*store, objects);
  damaged[0].row_tags[3] ^= 0x01;
  open_all(std::move(damaged), &tag_status);
  EXPECT_TRUE(tag_status[0].IsCorruption()) << tag_status[0].ToString();
  // A damaged header read ahead is Corruption at Open.
  std::vector<VectorFileOpening> bad_header = VectorFile::ReadOpenings(*store, objects);
  bad_header[0].header[10] ^= 0x01;
  auto reader = ObjectRangeReader::Open(store, objects[0].key, objects[0].size_bytes);
  ASSERT_TRUE(reader.ok());
  EXPECT_TRUE(VectorFile::Open(std::move(*reader), &cache, std::move(bad_header[0])).status().IsCorruption());
}

TEST(VectorFileTest, CorruptHeaderIsCorruption) {
  uint64_t seed = testing::SeedForTest("VectorFileTest.CorruptHeaderIsCorruption");
  Written w;
  WriteMatrix(&w, seed, 100, 32, 4096);
  FlipByte(w.path, 13);  // inside dim
  BlockCache cache(1 << 20, 4096);
  auto file = VectorFile::Open(w.path, &cache);
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), StatusCode::kCorruption);
}

TEST(VectorFileTest, TruncatedFile) {
  uint64_t seed = testing::SeedForTest("VectorFileTest.TruncatedFile");
  Written w;
  WriteMatrix(&w, seed, 100, 32, 4096);  // blocks of 32, 32, 32, 4 rows
  BlockCache cache(1 << 20, 4096);
  auto file = VectorFile::Open(w.path, &cache);
  ASSERT_TRUE(file.ok());
  // Truncated after Open (the size check has passed): reads past the end are short.
  const uint64_t block_bytes = 32 * 128 + VectorFile::kBlockChecksumBytes;
  ASSERT_EQ(::truncate(w.path.c_str(), static_cast<off_t>(VectorFile::kHeaderBytes + 2 * block_bytes + 100)), 0);
  std::vector<float> scratch(32);
  EXPECT_NE((*file)->Fetch(10, scratch.data()), nullptr);
  EXPECT_EQ((*file)->Fetch(70, scratch.data()), nullptr);
  EXPECT_EQ((*file)->Fetch(99, scratch.data()), nullptr);
  EXPECT_EQ((*file)->stats().read_errors, 2u);
  // Opened truncated: Corruption.
  auto reopened = VectorFile::Open(w.path, &cache);
  ASSERT_FALSE(reopened.ok());
  EXPECT_EQ(reopened.status().code(), StatusCode::kCorruption);
  ASSERT_EQ(::truncate(w.path.c_str(), 20), 0);
  reopened = VectorFile::Open(w.path, &cache);
  ASSERT_FALSE(reopened.ok());
  EXPECT_EQ(reopened.status().code(), StatusCode::kCorruption);
}

TEST(VectorFileTest, ConcurrentFetchesAreCorrect) {
  uint64_t seed = testing::SeedForTest("VectorFileTest.ConcurrentFetchesAreCorrect");
  Written w;
  WriteMatrix(&w, seed, 5000, 48, 4096);
  // Small enough that threads keep evicting each other's blocks.
  BlockCache cache(64 * 1024, 4096, 4);
  auto file = VectorFile::Open(w.path, &cache);
  ASSERT_TRUE(file.ok());
  constexpr int kThreads = 4;
  constexpr int kFetchesPerThread = 20000;
  std::vector<int> failures(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Rng rng(MixSeed(seed, static_cast<uint64_t>(t)));
      std::vector<float> scratch(48);
      for (int i = 0; i < kFetchesPerThread; ++i) {
        uint32_t slot = static_cast<uint32_t>(rng.Below(5000));
        const float* row = (*file)->Fetch(slot, scratch.data());
        if (row == nullptr || std::memcmp(row, w.values.data() + size_t{slot} * 48, 48 * sizeof(float)) != 0) {
          ++failures[t];
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
  VectorFile::Stats stats = (*file)->stats();
  EXPECT_EQ(stats.hits + stats.misses, uint64_t{kThreads} * kFetchesPerThread);
  EXPECT_LE(cache.charged_bytes(), cache.capacity_bytes());
}

}  // namespace
}  // namespace fathom
