// Two nodes (Databases with sharing = kShared) on one S3 prefix of the Ceph RGW test
// server: writers on both at once, every acknowledged write visible from both, in one
// order; then what a strong read's freshness check costs against RGW (printed: the
// per-read latency of Count() against Count(index_only), and the store requests the check
// could use). Skipped without the server (tests/s3_test_env.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <set>
#include <thread>
#include <vector>

#include "fathom/db.h"
#include "io/s3_store.h"
#include "s3_test_env.h"
#include "test_util.h"
#include "wal/wal_format.h"

namespace fathom::testing {
namespace {

constexpr const char* kT = Database::kDefaultTenant;
constexpr const char* kD = Database::kDefaultDatabase;

// p50 and p99 of `run` over `n` calls, in ms.
std::pair<double, double> Percentiles(int n, const std::function<void()>& run) {
  std::vector<double> ms;
  for (int i = 0; i < n; ++i) {
    const auto start = std::chrono::steady_clock::now();
    run();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms[std::min(ms.size() - 1, ms.size() * 99 / 100)]};
}

TEST(MultiNodeS3Test, TwoNodesWriteOneCollectionAndReadEachOthersWrites) {
  std::shared_ptr<S3Store> store;
  FATHOM_S3_STORE_OR_SKIP(store, "multi-node");
  std::unique_ptr<Database> dbs[2];
  std::shared_ptr<Collection> cols[2];
  for (int i = 0; i < 2; ++i) {
    // The store URL would resolve sharing to kShared by itself; a caller's store says so.
    auto db = Database::Open({.store = store, .sharing = DatabaseOptions::Sharing::kShared});
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    auto col = (*db)->CreateCollection(kT, kD, {.name = "shared", .get_or_create = true});
    ASSERT_TRUE(col.ok()) << col.status().ToString();
    dbs[i] = std::move(*db);
    cols[i] = *col;
  }
  constexpr int kWrites = 30;
  std::vector<std::string> acked[4];
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < kWrites; ++i) {
        const std::string id = "w" + std::to_string(w) + "-" + std::to_string(i);
        Status s = cols[w % 2]->Add({MakeRecord(id, {float(w), float(i)})});
        if (s.ok()) acked[w].push_back(id);
        else ADD_FAILURE() << s.ToString();
      }
    });
  }
  for (auto& t : threads) t.join();
  std::vector<std::string> order[2];
  for (int i = 0; i < 2; ++i) {
    auto got = cols[i]->Get(GetRequest{});
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    order[i] = got->ids;
    EXPECT_EQ(got->ids.size(), 4u * kWrites) << "node " << i;
    std::set<std::string> ids(got->ids.begin(), got->ids.end());
    for (const auto& list : acked) {
      for (const std::string& id : list) EXPECT_TRUE(ids.count(id)) << "node " << i << " lacks " << id;
    }
  }
  EXPECT_EQ(order[0], order[1]);

  // The cost of the check: node 1 reads while nothing new is committed.
  constexpr int kReads = 200;
  auto strong = Percentiles(kReads, [&] { ASSERT_TRUE(cols[1]->Count().ok()); });
  auto weak = Percentiles(kReads, [&] { ASSERT_TRUE(cols[1]->Count(ReadLevel::kIndexOnly).ok()); });
  const std::string id = cols[1]->id();
  ObjectStore& raw = *store;  // the interface's default arguments
  const std::string next = WalKey(id, 4 * kWrites + 1), last = WalKey(id, 4 * kWrites);
  auto get_missing = Percentiles(kReads, [&] { EXPECT_TRUE(raw.Get(next).status().IsNotFound()); });
  auto head_missing = Percentiles(kReads, [&] { EXPECT_TRUE(raw.Head(next).status().IsNotFound()); });
  auto list_after = Percentiles(kReads, [&] { EXPECT_TRUE(raw.List(WalPrefix(id), last, 1).ok()); });
  std::printf("[rgw] ms p50/p99 over %d: Count() %.2f/%.2f, Count(index_only) %.3f/%.3f; "
              "GET missing %.2f/%.2f, HEAD missing %.2f/%.2f, LIST start_after max 1 %.2f/%.2f\n",
              kReads, strong.first, strong.second, weak.first, weak.second, get_missing.first, get_missing.second,
              head_missing.first, head_missing.second, list_after.first, list_after.second);
}

}  // namespace
}  // namespace fathom::testing
