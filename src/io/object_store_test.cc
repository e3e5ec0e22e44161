// The ObjectStore contract, run against every implementation. The S3 instance runs against
// the RGW test server (tests/s3_test_env.h) and skips without one.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "io/cache_store.h"
#include "io/fault_store.h"
#include "io/forwarding_store.h"
#include "io/local_store.h"
#include "io/mem_store.h"
#include "common/random.h"
#include "s3_test_env.h"
#include "test_util.h"

namespace fathom {
namespace {

// kCachedMem, kCachedS3: a CacheStore (io/cache_store.h) in front, with small pages so
// that objects span several.
enum class Kind { kLocal, kMem, kS3, kCachedMem, kCachedS3 };

class ObjectStoreTest : public ::testing::TestWithParam<Kind> {
 protected:
  void SetUp() override {
    if (GetParam() == Kind::kLocal) {
      auto s = LocalStore::Open(dir_.path() + "/store");
      ASSERT_TRUE(s.ok()) << s.status().ToString();
      store_ = std::move(*s);
    } else if (GetParam() == Kind::kMem) {
      store_ = std::make_shared<MemStore>();
    } else if (GetParam() == Kind::kCachedMem) {
      store_ = Cached(std::make_shared<MemStore>());
    } else {
      std::shared_ptr<S3Store> s3;
      FATHOM_S3_STORE_OR_SKIP(s3, "contract");
      store_ = GetParam() == Kind::kCachedS3 ? Cached(s3) : s3;
    }
  }
  std::shared_ptr<ObjectStore> Cached(std::shared_ptr<ObjectStore> inner) {
    auto cache = CacheStore::Open(std::move(inner), CacheStoreOptions{.dir = dir_.path() + "/cache", .page_bytes = 4});
    EXPECT_TRUE(cache.ok()) << cache.status().ToString();
    return cache.ok() ? *cache : nullptr;
  }
  void TearDown() override {
    // Remote objects outlive the test: remove what it left under its prefix.
    if ((GetParam() != Kind::kS3 && GetParam() != Kind::kCachedS3) || store_ == nullptr) return;
    auto left = store_->List("", "", 0);
    if (left.ok()) {
      for (const ObjectInfo& object : *left) (void)store_->Delete(object.key);
    }
  }
  testing::TempDir dir_;
  std::shared_ptr<ObjectStore> store_;
};

TEST_P(ObjectStoreTest, PutGetHeadDelete) {
  ASSERT_TRUE(store_->Put("a/b/c", "hello world", PutMode::kCreateOnly).ok());
  EXPECT_EQ(*store_->Get("a/b/c"), "hello world");
  EXPECT_EQ(*store_->Get("a/b/c", ByteRange{6, 5}), "world");
  EXPECT_EQ(*store_->Get("a/b/c", ByteRange{6, 100}), "world");
  EXPECT_EQ(*store_->Get("a/b/c", ByteRange{100, 5}), "");
  EXPECT_EQ(store_->Head("a/b/c")->size_bytes, 11u);
  EXPECT_TRUE(store_->Get("a/b/missing").status().IsNotFound());
  EXPECT_TRUE(store_->Head("nope").status().IsNotFound());
  ASSERT_TRUE(store_->Delete("a/b/c").ok());
  EXPECT_TRUE(store_->Get("a/b/c").status().IsNotFound());
  EXPECT_TRUE(store_->Delete("a/b/c").ok());  // deleting a missing key is fine
}

TEST_P(ObjectStoreTest, DeleteManyDeletesEachKeyAndReportsEach) {
  std::vector<std::string> keys;
  for (int i = 0; i < 40; ++i) {
    keys.push_back("many/" + std::to_string(i));
    ASSERT_TRUE(store_->Put(keys.back(), "x" + std::to_string(i), PutMode::kCreateOnly).ok());
  }
  ASSERT_TRUE(store_->Put("many-kept", "y", PutMode::kCreateOnly).ok());
  keys.push_back("many/missing");  // deleting a missing key is fine
  keys.push_back("bad//key");      // refused alone
  std::vector<Status> statuses = store_->DeleteMany(keys);
  ASSERT_EQ(statuses.size(), keys.size());
  for (size_t i = 0; i + 1 < keys.size(); ++i) EXPECT_TRUE(statuses[i].ok()) << keys[i] << ": " << statuses[i].ToString();
  EXPECT_EQ(statuses.back().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->List("many/", "", 0)->size(), 0u);
  EXPECT_EQ(*store_->Get("many-kept"), "y");
  EXPECT_TRUE(store_->DeleteMany({}).empty());
}

TEST_P(ObjectStoreTest, CreateOnlyRefusesSecondWrite) {
  ASSERT_TRUE(store_->Put("k", "one", PutMode::kCreateOnly).ok());
  EXPECT_TRUE(store_->Put("k", "two", PutMode::kCreateOnly).IsAlreadyExists());
  EXPECT_EQ(*store_->Get("k"), "one");
  ASSERT_TRUE(store_->Put("k", "three", PutMode::kOverwrite).ok());
  EXPECT_EQ(*store_->Get("k"), "three");
  EXPECT_TRUE(ProbeCreateOnly(*store_).ok());
}

TEST_P(ObjectStoreTest, ConcurrentCreateOnlyHasOneWinner) {
  for (int round = 0; round < 20; ++round) {
    std::atomic<int> winners{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        if (store_->Put("race/" + std::to_string(round), std::to_string(t), PutMode::kCreateOnly).ok()) ++winners;
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(winners.load(), 1);
  }
}

TEST_P(ObjectStoreTest, ListIsSortedFilteredAndPaged) {
  for (const char* k : {"p/2", "p/10", "p/1", "q/1", "p/sub/x", "pp"}) {
    ASSERT_TRUE(store_->Put(k, k, PutMode::kCreateOnly).ok());
  }
  auto all = store_->List("p/", "", 0);
  ASSERT_TRUE(all.ok());
  std::vector<std::string> keys;
  for (auto& o : *all) keys.push_back(o.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"p/1", "p/10", "p/2", "p/sub/x"}));
  auto after = store_->List("p/", "p/10", 2);
  ASSERT_EQ(after->size(), 2u);
  EXPECT_EQ((*after)[0].key, "p/2");
  EXPECT_EQ(store_->List("zzz/", "", 0)->size(), 0u);
  EXPECT_EQ(store_->List("p", "", 0)->size(), 5u);
}

TEST_P(ObjectStoreTest, RejectsBadKeys) {
  for (const char* k : {"", "/abs", "a//b", "../x", "a/./b", "a/.tmp-x", ".lock", "sp ace", "a/"}) {
    EXPECT_EQ(store_->Put(k, "x", PutMode::kCreateOnly).code(), StatusCode::kInvalidArgument) << k;
  }
}

// GetRanges answers each read as Get does, in the order asked: whole objects, ranges in
// and past the end, empty ranges, one key several times, cold and (for the cache) warm.
TEST_P(ObjectStoreTest, GetRangesAnswersEachReadAsGet) {
  ASSERT_TRUE(store_->Put("g/a", "hello world", PutMode::kCreateOnly).ok());
  ASSERT_TRUE(store_->Put("g/b", "0123456789abcdefghij", PutMode::kCreateOnly).ok());
  ASSERT_TRUE(store_->Put("g/empty", "", PutMode::kCreateOnly).ok());
  const std::vector<RangedRead> reads = {
      {"g/a", std::nullopt},           {"g/b", ByteRange{3, 4}},  {"g/a", ByteRange{6, 100}},
      {"g/b", ByteRange{100, 5}},      {"g/b", ByteRange{2, 0}},  {"g/empty", std::nullopt},
      {"g/b", ByteRange{0, 20}},       {"g/b", ByteRange{19, 1}}, {"g/a", ByteRange{0, 1}},
  };
  for (int pass = 0; pass < 2; ++pass) {
    auto got = store_->GetRanges(reads);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    ASSERT_EQ(got->size(), reads.size());
    for (size_t i = 0; i < reads.size(); ++i) {
      EXPECT_EQ((*got)[i], *store_->Get(reads[i].key, reads[i].range)) << "read " << i << " pass " << pass;
    }
  }
  auto none = store_->GetRanges({});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

// Property: a batch of random reads of random objects equals Get read by read.
TEST_P(ObjectStoreTest, GetRangesOfRandomReadsEqualsGets) {
  const uint64_t seed = TestSeed();
  std::printf("seed %llu (replay with FATHOM_SEED)\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  std::vector<std::string> keys;
  for (size_t size : {1u, 5u, 64u, 300u}) {
    std::string bytes(size, '\0');
    for (char& c : bytes) c = static_cast<char>('a' + rng() % 26);
    keys.push_back("r/" + std::to_string(size));
    ASSERT_TRUE(store_->Put(keys.back(), bytes, PutMode::kCreateOnly).ok());
  }
  for (int round = 0; round < 3; ++round) {
    std::vector<RangedRead> reads;
    for (int i = 0; i < 40; ++i) {
      RangedRead read{keys[rng() % keys.size()], std::nullopt};
      if (rng() % 6 != 0) read.range = ByteRange{rng() % 320, 1 + rng() % 80};
      reads.push_back(read);
    }
    auto got = store_->GetRanges(reads);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    for (size_t i = 0; i < reads.size(); ++i) {
      ASSERT_EQ((*got)[i], *store_->Get(reads[i].key, reads[i].range)) << "round " << round << " read " << i;
    }
  }
}

// One read that fails fails the batch with its error; a batch past the limit is refused.
TEST_P(ObjectStoreTest, GetRangesFailsWithTheFirstError) {
  ASSERT_TRUE(store_->Put("e/a", "bytes", PutMode::kCreateOnly).ok());
  auto missing = store_->GetRanges({{"e/a", ByteRange{0, 2}}, {"e/missing", ByteRange{0, 2}}, {"e/a", std::nullopt}});
  EXPECT_TRUE(missing.status().IsNotFound()) << missing.status().ToString();
  auto bad_key = store_->GetRanges({{"e/a", std::nullopt}, {"e//bad", std::nullopt}});
  EXPECT_FALSE(bad_key.ok());
  EXPECT_EQ(bad_key.status().code(), store_->Get("e//bad").status().code()) << bad_key.status().ToString();
  std::vector<RangedRead> too_many(kGetRangesReadsMax + 1, RangedRead{"e/a", ByteRange{0, 1}});
  EXPECT_EQ(store_->GetRanges(too_many).status().code(), StatusCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(AllStores, ObjectStoreTest, ::testing::Values(Kind::kLocal, Kind::kMem, Kind::kS3, Kind::kCachedMem, Kind::kCachedS3),
                         [](const auto& info) {
                           switch (info.param) {
                             case Kind::kLocal: return "Local";
                             case Kind::kMem: return "Mem";
                             case Kind::kS3: return "S3";
                             case Kind::kCachedMem: return "CachedMem";
                             case Kind::kCachedS3: return "CachedS3";
                           }
                           return "?";
                         });

// Counts the calls that reach a MemStore: Gets and GetRanges batches apart.
class CallCountingStore final : public ForwardingStore {
 public:
  CallCountingStore() : ForwardingStore(std::make_shared<MemStore>()) {}
  Result<std::string> Get(const std::string& key, std::optional<ByteRange> range) override {
    ++gets;
    return ForwardingStore::Get(key, range);
  }
  Result<std::vector<std::string>> GetRanges(const std::vector<RangedRead>& reads) override {
    ++batches;
    return ForwardingStore::GetRanges(reads);
  }
  std::atomic<int> gets{0}, batches{0};
};

// FaultStore and ForwardingStore pass a batch on as a batch; FaultStore's latency is paid
// once per batch (its reads model parallel requests) and its faults are drawn per read.
TEST(FaultStoreTest, GetRangesIsOneBatchWithOneLatencyAndFaultsPerRead) {
  auto counting = std::make_shared<CallCountingStore>();
  ASSERT_TRUE(counting->Put("k", "0123456789", PutMode::kCreateOnly).ok());
  FaultOptions options;
  options.latency = std::chrono::milliseconds(40);
  auto fault = std::make_shared<FaultStore>(counting, options);
  ForwardingStore forwarding(fault);
  std::vector<RangedRead> reads;
  for (uint64_t i = 0; i < 10; ++i) reads.push_back({"k", ByteRange{i, 1}});
  const auto start = std::chrono::steady_clock::now();
  auto got = forwarding.GetRanges(reads);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  for (size_t i = 0; i < reads.size(); ++i) EXPECT_EQ((*got)[i], std::string(1, static_cast<char>('0' + i)));
  EXPECT_EQ(counting->batches.load(), 1);
  // One latency, not ten (400 ms); generous for a loaded machine.
  EXPECT_GE(elapsed, std::chrono::milliseconds(40));
  EXPECT_LT(elapsed, std::chrono::milliseconds(200));

  // Every read draws its fault: at 10% per read, a batch of 10 fails about 65% of the
  // time, so 200 batches fail more than 60 times and fewer than 190 (a batch-wide draw
  // would fail about 20).
  options.latency = std::chrono::microseconds(0);
  options.fail_before_probability = 0.1;
  options.seed = 7;
  fault->SetOptions(options);
  int failed = 0;
  for (int i = 0; i < 200; ++i) failed += fault->GetRanges(reads).ok() ? 0 : 1;
  EXPECT_GT(failed, 60);
  EXPECT_LT(failed, 190);

  // Torn reads tear single results.
  options.fail_before_probability = 0.0;
  options.torn_read_probability = 1.0;
  fault->SetOptions(options);
  auto torn = fault->GetRanges({{"k", std::nullopt}, {"k", ByteRange{2, 5}}});
  ASSERT_TRUE(torn.ok());
  EXPECT_NE((*torn)[0], "0123456789");
  EXPECT_NE((*torn)[1], "23456");

  // A crashed store fails batches too.
  options.torn_read_probability = 0.0;
  fault->SetOptions(options);
  fault->CrashAfterOps(0, false);
  EXPECT_EQ(fault->Put("x", "y", PutMode::kOverwrite).code(), StatusCode::kIOError);
  EXPECT_FALSE(fault->GetRanges(reads).ok());
}

TEST(LocalStoreTest, LeftoverTempFilesAreIgnoredAndRemoved) {
  testing::TempDir dir;
  {
    auto s = LocalStore::Open(dir.path());
    ASSERT_TRUE((*s)->Put("x/y", "data", PutMode::kCreateOnly).ok());
  }
  std::filesystem::create_directories(dir.path() + "/x");
  { std::ofstream(dir.path() + "/x/.tmp-crashed") << "partial"; }
  auto s = LocalStore::Open(dir.path());
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/x/.tmp-crashed"));
  EXPECT_EQ((*s)->List("x/", "", 0)->size(), 1u);
}

TEST(LocalStoreTest, DeleteRemovesEmptyDirectories) {
  testing::TempDir dir;
  auto s = LocalStore::Open(dir.path());
  ASSERT_TRUE((*s)->Put("c/abc/wal/1", "x", PutMode::kCreateOnly).ok());
  ASSERT_TRUE((*s)->Delete("c/abc/wal/1").ok());
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/c"));
}

TEST(DirectoryLockTest, OneHolderPerDirectory) {
  testing::TempDir dir;
  auto first = DirectoryLock::Acquire(dir.path());
  ASSERT_TRUE(first.ok());
  auto second = DirectoryLock::Acquire(dir.path());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  first->reset();
  EXPECT_TRUE(DirectoryLock::Acquire(dir.path()).ok());
  auto store = LocalStore::Open(dir.path());
  EXPECT_TRUE((*store)->List("", "", 0)->empty());  // the lock file is not an object
}

TEST(LocalStoreTest, RefusesAFileAsRoot) {
  testing::TempDir dir;
  { std::ofstream(dir.path() + "/file") << "x"; }
  EXPECT_FALSE(LocalStore::Open(dir.path() + "/file").ok());
}

// A store that ignores the create-only condition must be refused at start-up.
class OverwritingStore : public MemStore {
 public:
  Status Put(const std::string& key, std::string_view bytes, PutMode) override {
    return MemStore::Put(key, bytes, PutMode::kOverwrite);
  }
};

// A real directory mode 0500: what `fathom run --path` meets when its user may not write
// there. Root (or CAP_DAC_OVERRIDE) writes through any mode, so there it cannot be tested
// and is skipped (LocalStoreFaultTest injects the same errors regardless of the user).
TEST(LocalStoreTest, UnwritableDirectoryIsPermissionDenied) {
  testing::TempDir dir;
  const std::string root = std::filesystem::canonical(dir.path()).string() + "/data";
  ASSERT_TRUE(LocalStore::Open(root).ok());
  std::filesystem::permissions(root, std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
  const bool can_write_anyway = ::access(root.c_str(), W_OK) == 0;
  if (can_write_anyway) {
    std::filesystem::permissions(root, std::filesystem::perms::owner_all);
    GTEST_SKIP() << "running as a user who may write a mode-0500 directory (root?): chmod does not deny";
  }
  Status s = LocalStore::Open(root).status();
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied) << s.ToString();
  EXPECT_NE(s.message().find(root), std::string::npos) << s.ToString();
  std::filesystem::permissions(root, std::filesystem::perms::owner_all);
}

TEST(ProbeTest, RefusesStoreWithoutCreateOnly) {
  OverwritingStore store;
  Status s = ProbeCreateOnly(store);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
}

TEST(FaultStoreTest, CrashAfterOpsFailsEverythingAfter) {
  auto base = std::make_shared<MemStore>();
  FaultStore store(base, {});
  store.CrashAfterOps(2, /*crash_takes_effect=*/true);
  EXPECT_TRUE(store.Put("a", "1", PutMode::kCreateOnly).ok());
  EXPECT_TRUE(store.Put("b", "1", PutMode::kCreateOnly).ok());
  EXPECT_FALSE(store.Put("c", "1", PutMode::kCreateOnly).ok());  // applied, not acknowledged
  EXPECT_TRUE(store.crashed());
  EXPECT_FALSE(store.Get("a", std::nullopt).ok());
  EXPECT_TRUE(base->Get("c", std::nullopt).ok());
}

TEST(FaultStoreTest, TornReadsAreDetectableAndSeeded) {
  auto base = std::make_shared<MemStore>();
  ASSERT_TRUE(base->Put("k", std::string(100, 'x'), PutMode::kCreateOnly).ok());
  FaultStore a(base, {.seed = 5, .torn_read_probability = 1.0});
  FaultStore b(base, {.seed = 5, .torn_read_probability = 1.0});
  std::string ra = *a.Get("k", std::nullopt), rb = *b.Get("k", std::nullopt);
  EXPECT_NE(ra, std::string(100, 'x'));
  EXPECT_EQ(ra, rb);
}

}  // namespace
}  // namespace fathom
