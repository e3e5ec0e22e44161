// Model-based simulation: random operation sequences (with reopen and compaction) against
// CollectionModel; every read is compared. A seed reproduces a run (FATHOM_SEED=...).
// The fault variant runs on a FaultStore that fails and loses acknowledgements at random;
// after any failed write the database is reopened without faults and its state must
// equal the model either without or with that write: nothing half-applied.
#include <gtest/gtest.h>

#include <cmath>

#include "fathom/db.h"
#include "index/vector/distance.h"
#include "io/fault_store.h"
#include "io/mem_store.h"
#include "sim/collection_model.h"
#include "test_util.h"

namespace fathom::testing {
namespace {

class Simulation {
 public:
  Simulation(uint64_t seed, bool faults) : gen_(seed), faults_(faults) {
    base_ = std::make_shared<MemStore>();
    fault_ = std::make_shared<FaultStore>(base_, FaultOptions{.seed = seed});
    Reopen(/*with_faults=*/false);
  }

  void Run(int steps) {
    for (int step = 0; step < steps; ++step) {
      SCOPED_TRACE("step " + std::to_string(step));
      Step();
      if (::testing::Test::HasFatalFailure()) return;
    }
    Reopen(false);
    CheckAll();
  }

 private:
  void SetFaults(bool on) {
    fault_->SetOptions(FaultOptions{.seed = gen_.rng()(),
                                    .fail_before_probability = on ? 0.05 : 0.0,
                                    .fail_after_probability = on ? 0.05 : 0.0});
  }

  void Reopen(bool with_faults) {
    col_.reset();
    db_.reset();
    SetFaults(with_faults);
    for (int attempt = 0; attempt < 20 && !db_; ++attempt) {
      auto db = Database::Open({.store = fault_, .compaction_trigger_ops = 40, .background_compaction = false});
      if (db.ok()) {
        auto col = (*db)->CreateCollection(Database::kDefaultTenant, Database::kDefaultDatabase,
                                           {.name = "sim", .get_or_create = true});
        if (col.ok()) {
          db_ = std::move(*db);
          col_ = *col;
          break;
        }
      }
      SetFaults(false);  // faults may keep a reopen from succeeding; the state must not care
    }
    ASSERT_TRUE(db_) << "could not reopen";
  }

  // `may_fail`: faults are on, and documents are read from the store on demand
  // (docs/design/documents-on-demand.md), so an injected read failure may fail the read.
  void CheckAll(bool may_fail = false) {
    auto got = col_->Get(FullGet());
    if (may_fail && !got.ok() && got.status().code() == StatusCode::kIOError) return;
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    std::string diff = model_.Diff(*got);
    ASSERT_EQ(diff, "");
    ASSERT_EQ(*col_->Count(), model_.records().size());
  }

  void CheckQuery() {
    QueryRequest q;
    q.query_embeddings = {gen_.Embedding()};
    q.n_results = static_cast<uint32_t>(gen_.Uniform(1, 8));
    auto got = col_->Query(q);
    if (!got.ok()) return;  // an injected read failure
    // Expected: distances of all model records, ascending; compare the distance lists
    // (ids may legitimately differ between equal distances).
    std::vector<float> want;
    for (const auto& [id, r] : model_.records()) {
      want.push_back(L2Squared(q.query_embeddings[0].data(), r.embedding.data(), r.embedding.size()));
    }
    std::sort(want.begin(), want.end());
    want.resize(std::min<size_t>(want.size(), q.n_results));
    ASSERT_EQ(got->distances[0], want);
  }

  // Runs one write; on failure, decides (after a fault-free reopen) which outcome happened.
  template <typename Apply>
  void Write(Status status, Apply apply_to_model) {
    if (status.ok()) {
      apply_to_model(model_);
      return;
    }
    ASSERT_TRUE(faults_) << status.ToString();
    CollectionModel with = model_;
    apply_to_model(with);
    Reopen(false);
    auto got = col_->Get(FullGet());
    ASSERT_TRUE(got.ok());
    if (with.Diff(*got).empty()) {
      model_ = with;
    } else {
      ASSERT_EQ(model_.Diff(*got), "") << "state is neither before nor after the failed write: " << status.ToString();
    }
    SetFaults(true);
  }

  void Step() {
    int op = gen_.Uniform(0, 99);
    if (op < 20) {
      auto batch = gen_.Batch(true);
      Write(col_->Add(batch), [&](CollectionModel& m) { m.Add(batch); });
    } else if (op < 35) {
      auto batch = gen_.Batch(true);
      Write(col_->Upsert(batch), [&](CollectionModel& m) { m.Upsert(batch); });
    } else if (op < 50) {
      auto batch = gen_.Batch(false);
      Write(col_->Update(batch), [&](CollectionModel& m) { m.Update(batch); });
    } else if (op < 58) {
      DeleteRequest d;
      d.ids = std::vector<std::string>{gen_.Id(), gen_.Id()};
      auto ids = *d.ids;
      Write(col_->Delete(d).status(), [&](CollectionModel& m) { m.Delete(ids); });
    } else if (op < 62) {
      int64_t bound = gen_.Uniform(0, 6);
      uint32_t limit = static_cast<uint32_t>(gen_.Uniform(1, 4));
      DeleteRequest d;
      d.where = NBelow(bound);
      d.limit = limit;
      auto result = col_->Delete(d);
      uint64_t want = 0;
      Write(result.status(), [&](CollectionModel& m) { want = m.DeleteWhereNBelow(bound, limit); });
      if (result.ok()) {
        ASSERT_EQ(*result, want);
      }
    } else if (op < 75) {
      CheckAll(/*may_fail=*/faults_);
    } else if (op < 85) {
      CheckQuery();
    } else if (op < 92) {
      (void)col_->Compact();  // may fail under faults; state must not change either way
    } else {
      Reopen(faults_);
      if (::testing::Test::HasFatalFailure()) return;
      SetFaults(false);
      CheckAll();
      SetFaults(faults_);
    }
  }

  OperationGenerator gen_;
  bool faults_;
  std::shared_ptr<MemStore> base_;
  std::shared_ptr<FaultStore> fault_;
  std::unique_ptr<Database> db_;
  std::shared_ptr<Collection> col_;
  CollectionModel model_;
};

TEST(SimulationTest, RandomOperationsMatchModel) {
  uint64_t seed = SeedForTest("SimulationTest.RandomOperationsMatchModel");
  for (int run = 0; run < 5; ++run) {
    SCOPED_TRACE("run " + std::to_string(run) + " seed " + std::to_string(seed + run));
    Simulation(seed + run, /*faults=*/false).Run(600);
    if (HasFatalFailure()) return;
  }
}

TEST(SimulationTest, RandomOperationsWithStoreFaults) {
  uint64_t seed = SeedForTest("SimulationTest.RandomOperationsWithStoreFaults");
  for (int run = 0; run < 5; ++run) {
    SCOPED_TRACE("run " + std::to_string(run) + " seed " + std::to_string(seed + run));
    Simulation(seed + run, /*faults=*/true).Run(600);
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace fathom::testing
