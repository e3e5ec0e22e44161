// Crash simulation: a deterministic workload of writes and compactions runs on a
// FaultStore that "dies" after k mutating store operations, for every k until the
// workload finishes. Each crash is followed by a reopen on the surviving bytes, which
// must hold every acknowledged write, nothing twice, and the one in-flight write either
// whole or not at all. Both crash kinds are tried: the fatal operation lost, and the
// fatal operation applied but never acknowledged.
#include <gtest/gtest.h>

#include <set>

#include "fathom/db.h"
#include "io/fault_store.h"
#include "io/mem_store.h"
#include "sim/collection_model.h"
#include "test_util.h"

namespace fathom::testing {
namespace {

struct WorkloadStep {
  enum class Kind { kAdd, kUpsert, kUpdate, kDelete, kCompact } kind;
  std::vector<WriteRecord> records;
  std::vector<std::string> ids;
};

constexpr uint64_t kIndexMinRows = 8;

std::vector<WorkloadStep> MakeWorkload(uint64_t seed) {
  OperationGenerator gen(seed);
  std::vector<WorkloadStep> steps;
  for (int i = 0; i < 60; ++i) {
    int op = gen.Uniform(0, 9);
    WorkloadStep s;
    if (op < 3) {
      s.kind = WorkloadStep::Kind::kAdd;
      s.records = gen.Batch(true);
    } else if (op < 5) {
      s.kind = WorkloadStep::Kind::kUpsert;
      s.records = gen.Batch(true);
    } else if (op < 7) {
      s.kind = WorkloadStep::Kind::kUpdate;
      s.records = gen.Batch(false);
    } else if (op < 8) {
      s.kind = WorkloadStep::Kind::kDelete;
      s.ids = {gen.Id(), gen.Id()};
    } else {
      s.kind = WorkloadStep::Kind::kCompact;
    }
    steps.push_back(std::move(s));
  }
  return steps;
}

Status RunStep(Collection& col, const WorkloadStep& s) {
  switch (s.kind) {
    case WorkloadStep::Kind::kAdd: return col.Add(s.records);
    case WorkloadStep::Kind::kUpsert: return col.Upsert(s.records);
    case WorkloadStep::Kind::kUpdate: return col.Update(s.records);
    case WorkloadStep::Kind::kDelete: {
      DeleteRequest d;
      d.ids = s.ids;
      return col.Delete(d).status();
    }
    case WorkloadStep::Kind::kCompact: return col.Compact();
  }
  return Status::Ok();
}

void ApplyStep(CollectionModel* m, const WorkloadStep& s) {
  switch (s.kind) {
    case WorkloadStep::Kind::kAdd: m->Add(s.records); break;
    case WorkloadStep::Kind::kUpsert: m->Upsert(s.records); break;
    case WorkloadStep::Kind::kUpdate: m->Update(s.records); break;
    case WorkloadStep::Kind::kDelete: m->Delete(s.ids); break;
    case WorkloadStep::Kind::kCompact: break;
  }
}

// Runs the workload until the store dies; returns true if it finished without a crash.
bool RunOnce(uint64_t crash_after, bool takes_effect, const std::vector<WorkloadStep>& steps) {
  auto base = std::make_shared<MemStore>();
  auto fault = std::make_shared<FaultStore>(base, FaultOptions{});
  CollectionModel acked;
  std::optional<size_t> in_flight;
  {
    // A tiny index threshold: compactions build, update and persist the vector index, so
    // crashes land around its objects too.
    auto db = Database::Open({.store = fault,
                              .compaction_trigger_ops = 25,
                              .vector_index_min_rows = kIndexMinRows,
                              .cold_spill_min_rows = kIndexMinRows / 2,
                              .background_compaction = false});
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    if (!db.ok()) return true;
    auto col = (*db)->CreateCollection("default_tenant", "default_database", {.name = "crash"});
    EXPECT_TRUE(col.ok());
    if (!col.ok()) return true;
    fault->CrashAfterOps(crash_after, takes_effect);
    for (size_t i = 0; i < steps.size(); ++i) {
      Status s = RunStep(**col, steps[i]);
      if (!s.ok()) {
        EXPECT_TRUE(fault->crashed()) << "step " << i << ": " << s.ToString();
        in_flight = i;
        break;
      }
      ApplyStep(&acked, steps[i]);
    }
    if (!in_flight && !fault->crashed()) {
      // The workload ran whole: one more compaction (which may itself be cut by the
      // crash, then checked below like any other), and the index must be in use.
      if ((*col)->Compact().ok()) {
        auto stats = (*col)->IndexStats();
        EXPECT_TRUE(stats.ok() && stats->active) << "the workload should build a vector index";
        EXPECT_TRUE(stats.ok() && stats->cold_vectors > 0) << "the workload should spill vectors to cold parts";
      } else {
        EXPECT_TRUE(fault->crashed());
      }
    }
  }
  if (!in_flight && !fault->crashed()) return true;

  // "Restart": a fresh process sees only what reached the store.
  auto db = Database::Open({.store = base,
                            .vector_index_min_rows = kIndexMinRows,
                            .cold_spill_min_rows = kIndexMinRows / 2,
                            .background_compaction = false});
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  if (!db.ok()) return false;
  auto col = (*db)->GetCollection("default_tenant", "default_database", "crash");
  EXPECT_TRUE(col.ok()) << col.status().ToString();
  if (!col.ok()) return false;
  auto got = (*col)->Get(FullGet());
  EXPECT_TRUE(got.ok()) << got.status().ToString();
  if (!got.ok()) return false;
  // Queries (through whatever index was recovered, plus exact scan of the rest) see
  // exactly the rows Get sees.
  if (!got->ids.empty()) {
    QueryRequest all;
    all.query_embeddings = {std::vector<float>(got->embeddings[0].size(), 0.5f)};
    all.n_results = static_cast<uint32_t>(got->ids.size()) + 5;
    all.include = Include{.embeddings = false, .documents = false, .metadatas = false, .uris = false,
                          .distances = false};
    auto queried = (*col)->Query(all);
    EXPECT_TRUE(queried.ok()) << queried.status().ToString();
    if (!queried.ok()) return false;
    std::set<std::string> from_get(got->ids.begin(), got->ids.end());
    std::set<std::string> from_query(queried->rows[0].ids.begin(), queried->rows[0].ids.end());
    EXPECT_EQ(from_get, from_query) << "crash after " << crash_after;
  }
  std::string without = acked.Diff(*got);
  if (without.empty()) return false;
  CollectionModel with = acked;
  if (in_flight) ApplyStep(&with, steps[*in_flight]);
  EXPECT_EQ(with.Diff(*got), "") << "crash after " << crash_after << " ops (takes_effect=" << takes_effect
                                 << "): state is neither the acknowledged writes (" << without
                                 << ") nor them plus the in-flight write";
  return false;
}

TEST(CrashTest, EveryCrashPointRecoversAcknowledgedWrites) {
  uint64_t seed = SeedForTest("CrashTest.EveryCrashPointRecoversAcknowledgedWrites");
  auto steps = MakeWorkload(seed);
  for (bool takes_effect : {false, true}) {
    uint64_t k = 0;
    for (; k < 100000; ++k) {
      SCOPED_TRACE("crash after " + std::to_string(k) + " takes_effect " + std::to_string(takes_effect));
      if (RunOnce(k, takes_effect, steps)) break;
      if (HasFailure()) return;
    }
    EXPECT_GT(k, 20u) << "the workload should span many store operations";
  }
}

}  // namespace
}  // namespace fathom::testing
