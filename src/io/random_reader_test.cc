#include "io/random_reader.h"

#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "io/forwarding_store.h"
#include "io/mem_store.h"
#include "test_util.h"

namespace fathom {
namespace {

// ReadMany on a local file (io_uring batches, more requests than one ring holds) returns
// the same bytes as ReadAt, and a range past the end is Corruption for that request only.
TEST(RandomReaderTest, LocalReadManyMatchesReadAt) {
  const uint64_t seed = testing::SeedForTest("RandomReaderTest.LocalReadManyMatchesReadAt");
  std::mt19937_64 rng(seed);
  testing::TempDir dir;
  const std::string path = dir.path() + "/bytes";
  std::string content(1 << 20, '\0');
  for (char& c : content) c = static_cast<char>(rng());
  {
    std::ofstream out(path, std::ios::binary);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
  }
  auto reader = LocalFileReader::Open(path);
  ASSERT_TRUE(reader.ok());
  for (size_t count : {1u, 2u, 7u, 64u, 65u, 200u}) {
    std::vector<ReadRequest> requests(count);
    std::vector<std::string> buffers(count);
    for (size_t i = 0; i < count; ++i) {
      const size_t length = rng() % 9000;
      buffers[i].assign(length, '\0');
      requests[i].offset = rng() % (content.size() - length + 1);
      requests[i].length = length;
      requests[i].dst = buffers[i].data();
    }
    // One request runs past the end of the file.
    const size_t past = count / 2;
    buffers[past].assign(100, '\0');
    requests[past].offset = content.size() - 40;
    requests[past].length = 100;
    requests[past].dst = buffers[past].data();
    (*reader)->ReadMany(requests.data(), count);
    for (size_t i = 0; i < count; ++i) {
      if (i == past) {
        EXPECT_TRUE(requests[i].status.IsCorruption()) << requests[i].status.ToString();
        continue;
      }
      ASSERT_TRUE(requests[i].status.ok()) << requests[i].status.ToString();
      EXPECT_EQ(buffers[i], content.substr(requests[i].offset, requests[i].length)) << "request " << i;
    }
  }
}

// Counts the calls that reach a MemStore.
class BatchCountingStore final : public ForwardingStore {
 public:
  BatchCountingStore() : ForwardingStore(std::make_shared<MemStore>()) {}
  Result<std::string> Get(const std::string& key, std::optional<ByteRange> range) override {
    ++gets;
    return ForwardingStore::Get(key, range);
  }
  Result<std::vector<std::string>> GetRanges(const std::vector<RangedRead>& reads) override {
    ++batches;
    return ForwardingStore::GetRanges(reads);
  }
  Result<ObjectInfo> Head(const std::string& key) override {
    ++heads;
    return ForwardingStore::Head(key);
  }
  int gets = 0, batches = 0, heads = 0;
};

// A reader opened with the object's size (a manifest knows it) asks no HEAD; a wrong size
// makes reads past the real end fail, never return other bytes.
TEST(RandomReaderTest, AKnownSizeSavesTheHead) {
  auto store = std::make_shared<BatchCountingStore>();
  ASSERT_TRUE(store->Put("o/x", "0123456789", PutMode::kCreateOnly).ok());
  auto asked = OpenObjectReader(store, "o/x");
  ASSERT_TRUE(asked.ok());
  EXPECT_EQ(store->heads, 1);
  EXPECT_EQ((*asked)->size(), 10u);
  auto known = OpenObjectReader(store, "o/x", 10);
  ASSERT_TRUE(known.ok());
  EXPECT_EQ(store->heads, 1);
  char buffer[4];
  ASSERT_TRUE((*known)->ReadAt(6, 4, buffer).ok());
  EXPECT_EQ(std::string(buffer, 4), "6789");
  auto wrong = OpenObjectReader(store, "o/x", 20);
  ASSERT_TRUE(wrong.ok());
  EXPECT_TRUE((*wrong)->ReadAt(8, 4, buffer).IsCorruption());
  auto missing = OpenObjectReader(store, "o/missing", 10);
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE((*missing)->ReadAt(0, 4, buffer).IsNotFound());
}

// An object reader's ReadMany is one GetRanges batch; ReadAcross sends the ranges of all
// readers on one store as one batch and a local file's through its own ReadMany; a range
// past an object's end is Corruption for that request only, a failed batch fails each of
// its requests.
TEST(RandomReaderTest, ObjectReadsGoOutAsOneBatchPerStore) {
  const uint64_t seed = testing::SeedForTest("RandomReaderTest.ObjectReadsGoOutAsOneBatchPerStore");
  std::mt19937_64 rng(seed);
  auto store = std::make_shared<BatchCountingStore>();
  std::string a(5000, '\0'), b(3000, '\0');
  for (char& c : a) c = static_cast<char>(rng());
  for (char& c : b) c = static_cast<char>(rng());
  ASSERT_TRUE(store->Put("o/a", a, PutMode::kCreateOnly).ok());
  ASSERT_TRUE(store->Put("o/b", b, PutMode::kCreateOnly).ok());
  auto ra = ObjectRangeReader::Open(store, "o/a");
  auto rb = ObjectRangeReader::Open(store, "o/b");
  ASSERT_TRUE(ra.ok() && rb.ok());
  testing::TempDir dir;
  const std::string path = dir.path() + "/local";
  const std::string local(4000, 'x');
  { std::ofstream(path, std::ios::binary) << local; }
  auto rl = LocalFileReader::Open(path);
  ASSERT_TRUE(rl.ok());

  std::vector<ReadRequest> requests(4);
  std::vector<std::string> buffers(4, std::string(100, '\0'));
  for (size_t i = 0; i < 4; ++i) {
    requests[i].offset = 1000 * i;
    requests[i].length = 100;
    requests[i].dst = buffers[i].data();
  }
  (*ra)->ReadMany(requests.data(), 4);
  EXPECT_EQ(store->batches, 1);
  for (size_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(requests[i].status.ok()) << requests[i].status.ToString();
    EXPECT_EQ(buffers[i], a.substr(1000 * i, 100));
  }

  const RandomReader* readers[] = {ra->get(), rb->get(), rl->get(), rb->get(), ra->get(), rl->get()};
  const uint64_t offsets[] = {10, 20, 30, 2950, 4990, 3900};  // b and a past their ends: short
  std::vector<ReadRequest> across_requests(6);
  std::vector<std::string> across_buffers(6, std::string(50, '\0'));
  std::vector<ReaderRequest> across(6);
  for (size_t i = 0; i < 6; ++i) {
    across_requests[i].offset = offsets[i];
    across_requests[i].length = i >= 3 && i < 5 ? 60 : 50;
    across_buffers[i].assign(across_requests[i].length, '\0');
    across_requests[i].dst = across_buffers[i].data();
    across[i] = ReaderRequest{readers[i], &across_requests[i]};
  }
  store->batches = store->gets = 0;
  ReadAcross(across.data(), across.size());
  EXPECT_EQ(store->batches, 1);
  const std::string* contents[] = {&a, &b, &local, &b, &a, &local};
  for (size_t i = 0; i < 6; ++i) {
    if (i == 3 || i == 4) {
      EXPECT_TRUE(across_requests[i].status.IsCorruption()) << i << ": " << across_requests[i].status.ToString();
      continue;
    }
    ASSERT_TRUE(across_requests[i].status.ok()) << i << ": " << across_requests[i].status.ToString();
    EXPECT_EQ(across_buffers[i], contents[i]->substr(offsets[i], across_requests[i].length)) << i;
  }

  // The object went away: its batch fails, each request with the error; the local file's
  // requests are unaffected.
  ASSERT_TRUE(store->Delete("o/b").ok());
  for (ReadRequest& r : across_requests) r.status = Status::Ok();
  ReadAcross(across.data(), across.size());
  for (size_t i = 0; i < 6; ++i) {
    if (readers[i] == rl->get()) {
      EXPECT_TRUE(across_requests[i].status.ok()) << i;
    } else {
      EXPECT_TRUE(across_requests[i].status.IsNotFound()) << i << ": " << across_requests[i].status.ToString();
    }
  }
}

}  // namespace
}  // namespace fathom
