// A fixture base for the simulation tests: one collection in a MemStore-backed database
// that can be closed and reopened from the same store (recovery from segments and WAL),
// with a seed from testing::SeedForTest (printed; FATHOM_SEED replays a run).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fathom/db.h"
#include "fathom/search.h"
#include "io/mem_store.h"
#include "test_util.h"

namespace fathom::testing {

// A search over the records whose metadata "even" is `even` (the sim tests' filter), or
// over every record without one.
inline SearchPayload RankedPayload(const RankExpr& rank, std::optional<bool> even) {
  SearchPayload payload;
  payload.rank = rank;
  payload.select.score = true;
  if (even) {
    Where where;
    where.kind = Where::Kind::kField;
    where.key = "even";
    where.op = CompareOp::kEq;
    where.operands = {Scalar(*even)};
    payload.filter = where;
  }
  return payload;
}

class SimCollectionTest : public ::testing::Test {
 protected:
  SimCollectionTest(const char* test_name, std::string collection)
      : test_name_(test_name), collection_(std::move(collection)) {}

  void SetUp() override {
    seed_ = SeedForTest(test_name_);
    store_ = std::make_shared<MemStore>();
    Reopen();
  }

  // Closes the database (if open) and opens it again on the same store, with background
  // compaction off (tests compact explicitly).
  void Reopen() {
    col_.reset();
    db_.reset();
    auto db = Database::Open({.store = store_,
                              .compaction_trigger_ops = 1u << 30,
                              .memory_budget_bytes = memory_budget_bytes_,
                              .background_compaction = false});
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    auto col = db_->CreateCollection(Database::kDefaultTenant, Database::kDefaultDatabase,
                                     {.name = collection_, .get_or_create = true, .sparse_key = sparse_key_});
    ASSERT_TRUE(col.ok()) << col.status().ToString();
    col_ = *col;
  }

  // Applies one random batch: kind 0 add, 1 upsert, 2 update, else a delete of (up to
  // five of) the batch's ids.
  Status ApplyBatch(int kind, std::vector<WriteRecord> batch) {
    if (kind == 0) return col_->Add(std::move(batch));
    if (kind == 1) return col_->Upsert(std::move(batch));
    if (kind == 2) return col_->Update(std::move(batch));
    DeleteRequest d;
    d.ids = std::vector<std::string>{};
    for (size_t i = 0; i < batch.size() && i < 5; ++i) d.ids->push_back(batch[i].id);
    return col_->Delete(d).status();
  }

  // Four rounds of: writes(), check("after writes"), when chance() a compaction and
  // check("after compaction"), a reopen and check("after reopen").
  template <typename Writes, typename Check, typename Chance>
  void WriteCompactReopenRounds(Writes&& writes, Check&& check, Chance&& chance) {
    for (int round = 0; round < 4; ++round) {
      writes();
      if (HasFatalFailure()) return;
      check("after writes");
      if (chance()) {
        ASSERT_TRUE(col_->Compact().ok()) << " seed " << seed_;
        check("after compaction");
      }
      Reopen();
      check("after reopen");
      if (HasFatalFailure()) return;
    }
  }

  // One reference hit: an id and the score the reference gives it (higher is better).
  struct ExpectedHit {
    std::string id;
    double score;
  };

  // Runs one search ranked by the leaf `rank` (its limit is k), restricted to records whose
  // boolean "even" is `even` when set, and checks it against `want` (the reference, best
  // first): min(k, |want|) hits, each score (mapped back by `to_reference`) within 1e-5
  // relative of the reference at its rank, each id one whose reference score ties it.
  void ExpectRankedLikeReference(const RankExpr& rank, std::optional<bool> even, const std::vector<ExpectedHit>& want,
                                 double (*to_reference)(float), const std::string& context) {
    SearchRequest request;
    request.searches.push_back(RankedPayload(rank, even));
    auto got = col_->Search(request);
    ASSERT_TRUE(got.ok()) << got.status().ToString() << " seed " << seed_;
    ASSERT_EQ(got->size(), 1u);
    const SearchResult& result = (*got)[0];
    const size_t expect_n = std::min<size_t>(rank.search.limit, want.size());
    ASSERT_EQ(result.ids.size(), expect_n) << context << " seed " << seed_;
    for (size_t i = 0; i < expect_n; ++i) {
      const double tolerance = 1e-5 * std::max(1.0, std::abs(want[i].score));
      EXPECT_NEAR(to_reference(*result.scores[i]), want[i].score, tolerance)
          << context << " rank " << i << " seed " << seed_;
      bool tie = false;
      for (const ExpectedHit& e : want) {
        if (e.id == result.ids[i]) tie = std::abs(e.score - want[i].score) <= tolerance;
      }
      EXPECT_TRUE(tie) << context << " id " << result.ids[i] << " at rank " << i << " seed " << seed_;
    }
  }

  const char* test_name_;
  std::string collection_;
  std::optional<std::string> sparse_key_;  // the collection's sparse vector key, when set before SetUp
  uint64_t memory_budget_bytes_ = 0;       // DatabaseOptions::memory_budget_bytes, when set before SetUp
  uint64_t seed_ = 0;
  std::shared_ptr<MemStore> store_;
  std::unique_ptr<Database> db_;
  std::shared_ptr<Collection> col_;
};

}  // namespace fathom::testing
