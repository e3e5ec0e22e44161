// Concurrent writers, readers and background compaction on one collection. Checks that
// group commit batches writers into shared WAL objects, that every acknowledged write is
// visible and survives reopen. Also the workload for the TSan build (`make tsan`).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "fathom/db.h"
#include "io/fault_store.h"
#include "io/mem_store.h"
#include "test_util.h"

namespace fathom::testing {
namespace {

TEST(ConcurrencyTest, WritersShareWalObjectsAndNothingIsLost) {
  auto base = std::make_shared<MemStore>();
  // Slow puts make writers pile up behind the leader, as on a real disk or S3.
  auto store = std::make_shared<FaultStore>(base, FaultOptions{.latency = std::chrono::microseconds(2000)});
  constexpr int kWriters = 8, kWritesEach = 25, kBatch = 4;
  std::string id;
  {
    auto db = Database::Open({.store = store, .compaction_trigger_ops = 150});
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    auto col = (*db)->CreateCollection("default_tenant", "default_database", {.name = "conc"});
    ASSERT_TRUE(col.ok());
    std::atomic<bool> done{false};
    std::atomic<int> failures{0};
    std::thread reader([&] {
      QueryRequest q;
      q.query_embeddings = {{1, 0}};
      q.n_results = 5;
      while (!done.load()) {
        if (!(*col)->Query(q).ok() || !(*col)->Count().ok()) ++failures;
      }
    });
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back([&, w] {
        for (int i = 0; i < kWritesEach; ++i) {
          std::vector<WriteRecord> batch;
          for (int j = 0; j < kBatch; ++j) {
            batch.push_back(MakeRecord(std::to_string(w) + "-" + std::to_string(i) + "-" + std::to_string(j),
                                       {static_cast<float>(w), static_cast<float>(i)}));
          }
          if (!(*col)->Add(batch).ok()) ++failures;
        }
      });
    }
    for (auto& t : writers) t.join();
    done = true;
    reader.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(*(*col)->Count(), static_cast<uint64_t>(kWriters * kWritesEach * kBatch));
    (*db)->WaitIdle();
    id = (*col)->id();
  }
  // WAL sequence numbers count group commits. Compaction deleted the old WAL objects, so
  // write once more after reopen: its key carries the next sequence number. Fewer commits
  // than writes means writers shared puts.
  uint64_t commits = 0;
  auto db = Database::Open({.store = base});
  ASSERT_TRUE(db.ok());
  auto col = (*db)->GetCollection("default_tenant", "default_database", "conc");
  ASSERT_TRUE(col.ok());
  EXPECT_EQ(*(*col)->Count(), static_cast<uint64_t>(kWriters * kWritesEach * kBatch));
  // The WAL sequence continues after reopen: one more write tells us how many there were.
  ASSERT_TRUE((*col)->Add({MakeRecord("probe", {0, 0})}).ok());
  for (const auto& [key, bytes] : base->Snapshot()) {
    size_t at = key.find("/wal/");
    if (at != std::string::npos) commits = std::stoull(key.substr(at + 5));
  }
  std::printf("writes: %d, group commits: %llu\n", kWriters * kWritesEach + 1, static_cast<unsigned long long>(commits));
  EXPECT_LT(commits, static_cast<uint64_t>(kWriters * kWritesEach));
}

TEST(ConcurrencyTest, ConcurrentCatalogChanges) {
  auto store = std::make_shared<MemStore>();
  auto db = Database::Open({.store = store});
  ASSERT_TRUE(db.ok());
  std::vector<std::thread> threads;
  std::atomic<int> created{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        std::string name = "c" + std::to_string(t) + "x" + std::to_string(i);
        auto c = (*db)->CreateCollection("default_tenant", "default_database", {.name = name});
        if (c.ok()) {
          ++created;
          EXPECT_TRUE((*c)->Add({MakeRecord("a", {1})}).ok());
        }
        if (i % 3 == 0) {
          EXPECT_TRUE((*db)->DeleteCollection("default_tenant", "default_database", name).ok());
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(created.load(), 40);
  EXPECT_EQ(*(*db)->CountCollections("default_tenant", "default_database"), 40u - 16u);
}

}  // namespace
}  // namespace fathom::testing
