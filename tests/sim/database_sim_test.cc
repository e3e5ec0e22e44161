// Database-level simulation: several collections, catalog operations (create, delete,
// re-create), writes, compactions and reopens, against a model, on a FaultStore. Unlike
// model_test.cc, a failed operation is NOT followed by a reopen: the same handles go on,
// so the in-process paths are what is checked (a WAL object whose put failed but landed
// is applied by the next write's catch-up; a manifest of unknown outcome is resolved by
// the next compaction; a failed catalog commit reloads the stored catalog). After every
// failure the database must be in the state before or after the failed operation, and
// nothing else. Compactions with faults off must succeed (their results are checked),
// and closing with writes in flight must keep every acknowledged write.
// The same simulation runs over S3Store on the RGW test server (fewer steps: each is a few
// network round trips), skipped without it (tests/s3_test_env.h).
// A seed reproduces a run: FATHOM_SEED=<seed>.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "fathom/db.h"
#include "io/fault_store.h"
#include "io/mem_store.h"
#include "s3_test_env.h"
#include "sim/collection_model.h"
#include "test_util.h"

namespace fathom::testing {
namespace {

constexpr const char* kT = Database::kDefaultTenant;
constexpr const char* kD = Database::kDefaultDatabase;
const std::vector<std::string> kNames = {"alpha", "beta", "gamma"};

class DatabaseSimulation {
 public:
  // `base` is the store under the faults: a fresh MemStore if null.
  explicit DatabaseSimulation(uint64_t seed, std::shared_ptr<ObjectStore> base = nullptr) : gen_(seed) {
    base_ = base != nullptr ? std::move(base) : std::make_shared<MemStore>();
    fault_ = std::make_shared<FaultStore>(base_, FaultOptions{.seed = seed});
    Reopen();
  }

  void Run(int steps) {
    for (int step = 0; step < steps; ++step) {
      SCOPED_TRACE("step " + std::to_string(step));
      Step();
      if (::testing::Test::HasFatalFailure()) return;
    }
    Faults(false);
    CompactAllMustSucceed();
    if (::testing::Test::HasFatalFailure()) return;
    Reopen();
    CheckAll();
  }

  uint64_t acknowledged() const { return acknowledged_; }
  uint64_t failures() const { return failures_; }

 private:
  void Faults(bool on) {
    fault_->SetOptions(FaultOptions{.seed = gen_.rng()(),
                                    .fail_before_probability = on ? 0.15 : 0.0,
                                    .fail_after_probability = on ? 0.15 : 0.0});
  }

  void Reopen() {
    handles_.clear();
    db_.reset();
    Faults(false);
    auto db = Database::Open({.store = fault_, .compaction_trigger_ops = 30, .background_compaction = false});
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
  }

  std::shared_ptr<Collection> Handle(const std::string& name) {
    auto it = handles_.find(name);
    if (it != handles_.end()) return it->second;
    auto col = db_->GetCollection(kT, kD, name);
    if (!col.ok()) return nullptr;
    handles_[name] = *col;
    return *col;
  }

  // The names the catalog holds, read with faults off.
  std::set<std::string> StoredNames() {
    auto list = db_->ListCollections(kT, kD, std::nullopt, 0);
    EXPECT_TRUE(list.ok()) << list.status().ToString();
    std::set<std::string> names;
    if (list.ok()) {
      for (const CollectionInfo& c : *list) names.insert(c.name);
    }
    return names;
  }

  void CheckCollection(const std::string& name, const CollectionModel& model) {
    auto col = Handle(name);
    ASSERT_TRUE(col) << name;
    auto got = col->Get(FullGet());
    ASSERT_TRUE(got.ok()) << name << ": " << got.status().ToString();
    ASSERT_EQ(model.Diff(*got), "") << name;
  }

  void CheckAll() {
    std::set<std::string> want;
    for (const auto& [name, model] : models_) want.insert(name);
    ASSERT_EQ(StoredNames(), want);
    for (const auto& [name, model] : models_) {
      CheckCollection(name, model);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }

  void CompactAllMustSucceed() {
    for (const auto& [name, model] : models_) {
      auto col = Handle(name);
      ASSERT_TRUE(col);
      Status s = col->Compact();
      ASSERT_TRUE(s.ok()) << name << ": compaction without faults failed: " << s.ToString();
    }
  }

  // A write on `name` returned `status`. On failure the outcome is unknown: with faults
  // off, one more write (a probe record) makes the collection catch up with whatever
  // landed, and the state must then be the model with or without the failed write.
  template <typename Apply>
  void Write(const std::string& name, Status status, Apply apply) {
    CollectionModel& model = models_.at(name);
    if (status.ok()) {
      ++acknowledged_;
      apply(model);
      return;
    }
    ++failures_;
    Faults(false);
    auto col = Handle(name);
    std::vector<WriteRecord> probe = {MakeRecord("probe" + std::to_string(probes_++), gen_.Embedding())};
    ASSERT_TRUE(col->Upsert(probe).ok());
    CollectionModel without = model;
    without.Upsert(probe);
    CollectionModel with = model;
    apply(with);
    with.Upsert(probe);
    auto got = col->Get(FullGet());
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    if (with.Diff(*got).empty()) {
      model = with;
    } else {
      ASSERT_EQ(without.Diff(*got), "") << "neither before nor after the failed write: " << status.ToString();
      model = without;
    }
    Faults(true);
  }

  void CatalogStep() {
    const std::string& name = kNames[gen_.Uniform(0, int(kNames.size()) - 1)];
    const bool exists = models_.count(name) != 0;
    Status s;
    bool create = !exists || gen_.Chance(0.3);
    if (create) {
      s = db_->CreateCollection(kT, kD, {.name = name, .get_or_create = true}).status();
    } else {
      handles_.erase(name);
      s = db_->DeleteCollection(kT, kD, name);
    }
    if (s.ok()) {
      ++acknowledged_;
      if (create) {
        models_.try_emplace(name);
      } else {
        models_.erase(name);
      }
      return;
    }
    ++failures_;
    // The catalog is what the store says it is; the data of a collection that survived
    // is untouched.
    Faults(false);
    std::set<std::string> stored = StoredNames();
    if (create && !exists) {
      if (stored.count(name)) models_.try_emplace(name);
    } else if (!create) {
      handles_.erase(name);
      if (!stored.count(name)) models_.erase(name);
    }
    Faults(true);
  }

  // Closes the database while a writer is mid-stream: every write it was acknowledged
  // must be there after the reopen; every other one got Unavailable and is not.
  void CloseWithWritesInFlight() {
    if (models_.empty()) return;
    Faults(false);
    const std::string name = models_.begin()->first;
    auto col = Handle(name);
    ASSERT_TRUE(col);
    std::vector<std::vector<WriteRecord>> batches;
    for (int i = 0; i < 40; ++i) batches.push_back(gen_.Batch(true));
    std::vector<Status> results(batches.size());
    std::atomic<size_t> started{0};
    std::thread writer([&] {
      for (size_t i = 0; i < batches.size(); ++i) {
        started = i + 1;
        results[i] = col->Upsert(batches[i]);
      }
    });
    while (started.load() < 3) std::this_thread::yield();
    handles_.clear();
    db_.reset();
    writer.join();
    for (size_t i = 0; i < batches.size(); ++i) {
      if (results[i].ok()) {
        ++acknowledged_;
        models_.at(name).Upsert(batches[i]);
      } else {
        ASSERT_EQ(results[i].code(), StatusCode::kUnavailable) << results[i].ToString();
      }
    }
    col.reset();
    Reopen();
    CheckAll();
  }

  void Step() {
    Faults(false);
    const int op = gen_.Uniform(0, 99);
    if (models_.empty() || op < 8) {
      Faults(true);
      CatalogStep();
      return;
    }
    auto it = models_.begin();
    std::advance(it, gen_.Uniform(0, int(models_.size()) - 1));
    const std::string name = it->first;
    auto col = Handle(name);
    ASSERT_TRUE(col) << name;
    Faults(true);
    if (op < 35) {
      auto batch = gen_.Batch(true);
      Write(name, col->Upsert(batch), [&](CollectionModel& m) { m.Upsert(batch); });
    } else if (op < 50) {
      auto batch = gen_.Batch(true);
      Write(name, col->Add(batch), [&](CollectionModel& m) { m.Add(batch); });
    } else if (op < 60) {
      auto batch = gen_.Batch(false);
      Write(name, col->Update(batch), [&](CollectionModel& m) { m.Update(batch); });
    } else if (op < 68) {
      DeleteRequest d;
      d.ids = std::vector<std::string>{gen_.Id(), gen_.Id()};
      auto ids = *d.ids;
      Write(name, col->Delete(d).status(), [&](CollectionModel& m) { m.Delete(ids); });
    } else if (op < 72) {
      int64_t bound = gen_.Uniform(0, 6);
      uint32_t limit = static_cast<uint32_t>(gen_.Uniform(1, 4));
      DeleteRequest d;
      d.where = NBelow(bound);
      d.limit = limit;
      Write(name, col->Delete(d).status(), [&](CollectionModel& m) { (void)m.DeleteWhereNBelow(bound, limit); });
    } else if (op < 82) {
      (void)col->Compact();  // under faults: may fail, must not change the state
    } else if (op < 88) {
      Faults(false);
      CompactAllMustSucceed();
    } else if (op < 96) {
      Faults(false);
      CheckAll();
    } else if (op < 98) {
      CloseWithWritesInFlight();
    } else {
      Reopen();
      CheckAll();
    }
  }

  OperationGenerator gen_;
  std::shared_ptr<ObjectStore> base_;
  std::shared_ptr<FaultStore> fault_;
  std::unique_ptr<Database> db_;
  std::map<std::string, std::shared_ptr<Collection>> handles_;
  std::map<std::string, CollectionModel> models_;
  uint64_t probes_ = 0;
  uint64_t acknowledged_ = 0;
  uint64_t failures_ = 0;
};

TEST(DatabaseSimulationTest, CollectionsCatalogAndFaultsWithoutReopen) {
  const uint64_t seed = SeedForTest("DatabaseSimulationTest.CollectionsCatalogAndFaultsWithoutReopen");
  uint64_t acknowledged = 0, failures = 0;
  for (int run = 0; run < 4; ++run) {
    SCOPED_TRACE("run " + std::to_string(run) + " seed " + std::to_string(seed + run));
    DatabaseSimulation sim(seed + run);
    sim.Run(500);
    if (HasFatalFailure()) return;
    acknowledged += sim.acknowledged();
    failures += sim.failures();
  }
  std::printf("acknowledged operations checked: %llu, failed operations resolved: %llu\n",
              static_cast<unsigned long long>(acknowledged), static_cast<unsigned long long>(failures));
  EXPECT_GT(failures, 0u) << "the faults never fired: the test checks nothing about them";
}

// One short run over S3Store: the engine's fault handling on top of a real S3 server's
// answers (FaultStore injects the failures; the store adds its own retries beneath).
TEST(DatabaseSimulationTest, OverS3Store) {
  std::shared_ptr<S3Store> store;
  FATHOM_S3_STORE_OR_SKIP(store, "sim");
  const uint64_t seed = SeedForTest("DatabaseSimulationTest.OverS3Store");
  SCOPED_TRACE("seed " + std::to_string(seed));
  DatabaseSimulation sim(seed, store);
  sim.Run(150);
  if (HasFatalFailure()) return;
  std::printf("acknowledged operations checked: %llu, failed operations resolved: %llu, S3 requests: %llu\n",
              static_cast<unsigned long long>(sim.acknowledged()), static_cast<unsigned long long>(sim.failures()),
              static_cast<unsigned long long>(store->stats().requests));
}

}  // namespace
}  // namespace fathom::testing
