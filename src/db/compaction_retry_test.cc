// The background compaction's retry delays, driven by a ManualClock: a compaction that
// failed for a reason that may pass is tried again after 1 s, then after delays doubling
// to 10 s (limits::kCompactionRetryDelay*), with no new write to prompt it; a success
// resets the delay. No real time passes: the test meets the compaction thread through the
// clock's waiters.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>

#include "common/limits.h"
#include "fathom/db.h"
#include "io/manual_clock.h"
#include "io/forwarding_store.h"
#include "io/mem_store.h"
#include "storage/manifest.h"
#include "test_util.h"

namespace fathom {
namespace {

using std::chrono::milliseconds;

constexpr const char* kT = Database::kDefaultTenant;
constexpr const char* kD = Database::kDefaultDatabase;
constexpr uint64_t kTriggerOps = 10;

// Refuses every Put of collection data other than the WAL (segments, manifests, index
// files: what compaction writes) while `failing`, as an I/O error would.
class CompactionFailingStore : public ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;

  void set_failing(bool failing) { failing_.store(failing); }
  uint64_t refused() const { return refused_.load(); }

  Status Put(const std::string& key, std::string_view bytes, PutMode mode) override {
    const bool compaction_output = key.rfind("c/", 0) == 0 && key.find("/wal/") == std::string::npos;
    if (failing_.load() && compaction_output) {
      refused_.fetch_add(1);
      return Status::IOError("injected: put " + key);
    }
    return ForwardingStore::Put(key, bytes, mode);
  }
  std::string Describe() const override { return "compaction-failing(" + ForwardingStore::Describe() + ")"; }

 private:
  std::atomic<bool> failing_{false};
  std::atomic<uint64_t> refused_{0};
};

class CompactionRetryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = Database::Open({.store = store_, .compaction_trigger_ops = kTriggerOps, .clock = clock_});
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    auto collection = db_->CreateCollection(kT, kD, {.name = "docs"});
    ASSERT_TRUE(collection.ok()) << collection.status().ToString();
    collection_ = *collection;
  }

  // One write of kTriggerOps records: enough to schedule a compaction.
  void WriteBatch() {
    std::vector<WriteRecord> batch;
    for (uint64_t i = 0; i < kTriggerOps; ++i) {
      batch.push_back(testing::MakeRecord(std::to_string(next_id_++), {1.0f, static_cast<float>(i)}));
    }
    ASSERT_TRUE(collection_->Add(std::move(batch)).ok());
  }

  // The newest manifest's key ("" before the first fold): a new one per successful fold.
  std::string LatestManifest() {
    auto listed = store_->List(ManifestPrefix(collection_->id()), "", 0);
    EXPECT_TRUE(listed.ok());
    return listed.ok() && !listed->empty() ? listed->back().key : "";
  }

  // Expects the compaction thread to wait for a retry at exactly `due`, and to try nothing
  // before; then lets the clock reach `due`.
  void ExpectRetryAt(Clock::TimePoint due) {
    ASSERT_EQ(clock_->AwaitWaiters(1), std::vector<Clock::TimePoint>{due})
        << "expected one wait, for a retry " << (due - clock_->Now()) / milliseconds(1) << " ms from now";
    const uint64_t refused = store_->refused();
    clock_->AdvanceTo(due - milliseconds(1));
    EXPECT_EQ(clock_->waiters(), 1u) << "the retry ended before its delay";
    EXPECT_EQ(store_->refused(), refused) << "compaction ran before its retry was due";
    clock_->AdvanceTo(due);
  }

  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>();
  std::shared_ptr<CompactionFailingStore> store_ =
      std::make_shared<CompactionFailingStore>(std::make_shared<MemStore>());
  std::unique_ptr<Database> db_;
  std::shared_ptr<Collection> collection_;
  uint64_t next_id_ = 0;
};

TEST_F(CompactionRetryTest, DelayDoublesFromTheMinimumToTheMaximum) {
  static_assert(limits::kCompactionRetryDelayMin == milliseconds(1000));
  static_assert(limits::kCompactionRetryDelayMax == milliseconds(10000));
  store_->set_failing(true);
  ASSERT_NO_FATAL_FAILURE(WriteBatch());
  for (int64_t delay_ms : {1000, 2000, 4000, 8000, 10000, 10000}) {
    const milliseconds delay(delay_ms);
    // Each failure happens at the moment the clock reached the previous retry.
    const uint64_t refused = store_->refused();
    ASSERT_NO_FATAL_FAILURE(ExpectRetryAt(clock_->Now() + delay));
    // The retry ran (and failed again): the next wait is that failure's.
    clock_->AwaitWaiters(1);
    EXPECT_GT(store_->refused(), refused) << "no compaction attempt at the retry " << delay.count() << " ms on";
  }
  EXPECT_EQ(LatestManifest(), "");

  // The store recovers: the next retry succeeds, and none follows.
  store_->set_failing(false);
  ASSERT_NO_FATAL_FAILURE(ExpectRetryAt(clock_->Now() + milliseconds(10000)));
  db_->WaitIdle();
  EXPECT_NE(LatestManifest(), "");
  EXPECT_EQ(clock_->waiters(), 0u);
  EXPECT_EQ(*collection_->Count(), kTriggerOps);
}

TEST_F(CompactionRetryTest, SuccessResetsTheDelay) {
  store_->set_failing(true);
  ASSERT_NO_FATAL_FAILURE(WriteBatch());
  ASSERT_NO_FATAL_FAILURE(ExpectRetryAt(clock_->Now() + milliseconds(1000)));
  clock_->AwaitWaiters(1);  // the second failure, now waiting 2 s
  store_->set_failing(false);
  ASSERT_NO_FATAL_FAILURE(ExpectRetryAt(clock_->Now() + milliseconds(2000)));
  db_->WaitIdle();
  const std::string first_fold = LatestManifest();
  ASSERT_NE(first_fold, "");

  // A later failure starts again from the minimum delay.
  store_->set_failing(true);
  ASSERT_NO_FATAL_FAILURE(WriteBatch());
  ASSERT_NO_FATAL_FAILURE(ExpectRetryAt(clock_->Now() + milliseconds(1000)));
  clock_->AwaitWaiters(1);
  store_->set_failing(false);
  ASSERT_NO_FATAL_FAILURE(ExpectRetryAt(clock_->Now() + milliseconds(2000)));
  db_->WaitIdle();
  EXPECT_GT(LatestManifest(), first_fold);
  EXPECT_EQ(*collection_->Count(), 2 * kTriggerOps);
}

// Closing the database ends a compaction thread that waits for a retry far ahead: the
// wait also ends on the close's notification, not only on the clock.
TEST_F(CompactionRetryTest, CloseEndsAPendingRetryWait) {
  store_->set_failing(true);
  ASSERT_NO_FATAL_FAILURE(WriteBatch());
  ASSERT_EQ(clock_->AwaitWaiters(1).size(), 1u);
  collection_.reset();
  db_.reset();
  EXPECT_EQ(clock_->waiters(), 0u);
}

}  // namespace
}  // namespace fathom
