// Concurrent writers, readers and background compaction on one collection. Checks that
// group commit batches writers into shared WAL objects, that every acknowledged write is
// visible and survives reopen. Also the workload for the TSan build (`make tsan`).
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <unordered_set>
#include <thread>

#include "fathom/db.h"
#include "io/fault_store.h"
#include "index/vector/kmeans.h"
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

// Writers add, move and delete rows while readers query and background maintenance
// builds, updates and (after deletes renumber the table) remaps the vector index. A row
// whose delete was acknowledged before a query started never appears in its results.
TEST(ConcurrencyTest, VectorIndexMaintainedUnderConcurrentWrites) {
  const uint64_t seed = SeedForTest("ConcurrencyTest.VectorIndexMaintainedUnderConcurrentWrites");
  auto store = std::make_shared<MemStore>();
  auto db = Database::Open({.store = store, .compaction_trigger_ops = 2000, .vector_index_min_rows = 300, .cold_spill_min_rows = 100});
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto col = (*db)->CreateCollection("default_tenant", "default_database", {.name = "conc_index"});
  ASSERT_TRUE(col.ok());
  constexpr int kWriters = 3, kRounds = 40, kBatch = 50;
  std::mutex deleted_mu;
  std::unordered_set<std::string> deleted;
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  auto vector_for = [seed](int w, int i, int j) {
    Rng rng(MixSeed(seed, static_cast<uint64_t>(w * 100000 + i * 100 + j)));
    std::vector<float> v(8);
    for (float& x : v) x = static_cast<float>(rng.Gaussian());
    return v;
  };
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&, r] {
      Rng rng(MixSeed(seed, 1000 + r));
      while (!done.load()) {
        std::unordered_set<std::string> gone;
        {
          std::lock_guard<std::mutex> lock(deleted_mu);
          gone = deleted;
        }
        QueryRequest q;
        std::vector<float> v(8);
        for (float& x : v) x = static_cast<float>(rng.Gaussian());
        q.query_embeddings = {v};
        q.n_results = 20;
        auto res = (*col)->Query(q);
        if (!res.ok()) {
          ++failures;
          continue;
        }
        for (size_t i = 0; i < res->rows[0].ids.size(); ++i) {
          if (gone.count(res->rows[0].ids[i])) ++failures;
          if (i > 0 && res->distances[0][i - 1] > res->distances[0][i]) ++failures;
        }
      }
    });
  }
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kRounds; ++i) {
        std::vector<WriteRecord> batch;
        for (int j = 0; j < kBatch; ++j) {
          batch.push_back(MakeRecord(std::to_string(w) + "-" + std::to_string(i) + "-" + std::to_string(j),
                                     vector_for(w, i, j)));
        }
        if (!(*col)->Add(batch).ok()) ++failures;
        if (i % 4 == 3) {
          // Move one of this round's rows, delete most of an earlier round's.
          WriteRecord moved;
          moved.id = std::to_string(w) + "-" + std::to_string(i) + "-0";
          moved.embedding = vector_for(w, i + 1000, 0);
          if (!(*col)->Update({moved}).ok()) ++failures;
          DeleteRequest del;
          del.ids = std::vector<std::string>();
          for (int j = 1; j < kBatch; ++j) del.ids->push_back(std::to_string(w) + "-" + std::to_string(i - 2) + "-" + std::to_string(j));
          if (!(*col)->Delete(del).ok()) {
            ++failures;
          } else {
            std::lock_guard<std::mutex> lock(deleted_mu);
            deleted.insert(del.ids->begin(), del.ids->end());
          }
        }
      }
    });
  }
  for (auto& t : writers) t.join();
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(failures.load(), 0);
  (*db)->WaitIdle();
  ASSERT_TRUE((*col)->Compact().ok());
  auto stats = (*col)->IndexStats();
  ASSERT_TRUE(stats.ok());
  EXPECT_TRUE(stats->active);
  EXPECT_EQ(stats->indexed_rows, *(*col)->Count());
  EXPECT_EQ(stats->pending_rows, 0u);
}

}  // namespace
}  // namespace fathom::testing
