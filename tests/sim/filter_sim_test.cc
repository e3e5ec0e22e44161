// Property test through the public API: random where / where_document filters on a
// random collection answer get, query and delete exactly as the row-by-row evaluator says,
// while the collection is written, compacted into segments and reopened (so the metadata
// index is maintained by writes, rebuilt from segments and the WAL tail). Prints its seed.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "fathom/db.h"
#include "index/meta/filter.h"
#include "random_where.h"
#include "sim/sim_collection.h"

namespace fathom {
namespace {

using testing::RandomWhere;

class FilterSimulationTest : public testing::SimCollectionTest {
 protected:
  FilterSimulationTest() : SimCollectionTest("FilterSimulationTest", "filters") {}

  WriteRecord RandomRecord(RandomWhere& r, bool full) {
    WriteRecord w;
    w.id = "id" + std::to_string(r.Below(300));
    if (full) {
      w.embedding = std::vector<float>{static_cast<float>(r.Below(7)), static_cast<float>(r.Below(5)), 1.0f};
      w.document = r.Document();
      w.metadata = r.MaybeMetadataPatch();
    } else {
      w.metadata = r.Patch();
      if (r.Chance(0.3)) w.document = r.Document();
    }
    return w;
  }

  void RandomWrites(RandomWhere& r, int batches) {
    for (int b = 0; b < batches; ++b) {
      std::vector<WriteRecord> batch;
      std::set<std::string> seen;
      const int kind = static_cast<int>(r.Below(4));
      for (int i = 0; i < 20; ++i) {
        WriteRecord w = RandomRecord(r, kind < 2);
        if (!seen.insert(w.id).second) continue;  // one write per id per batch
        batch.push_back(std::move(w));
      }
      Status s;
      if (kind == 0) {
        s = col_->Add(std::move(batch));
      } else if (kind == 1) {
        s = col_->Upsert(std::move(batch));
      } else if (kind == 2) {
        s = col_->Update(std::move(batch));
      } else {
        DeleteRequest d;
        d.ids = std::vector<std::string>{};
        for (const WriteRecord& w : batch) d.ids->push_back(w.id);
        s = col_->Delete(d).status();
      }
      ASSERT_TRUE(s.ok()) << s.ToString() << " seed " << seed_;
    }
  }

  // The ids a filter selects, row by row over a full read of the collection.
  std::vector<std::string> Reference(const CompiledFilter& f) {
    GetRequest all;
    all.include.documents = true;
    all.include.metadatas = true;
    auto g = col_->Get(all);
    EXPECT_TRUE(g.ok());
    std::vector<std::string> out;
    for (size_t i = 0; i < g->ids.size(); ++i) {
      std::optional<Metadata> m = g->metadatas[i];
      if (m && m->empty()) m.reset();
      if (f.Matches(RecordView{g->ids[i], g->documents[i], m})) out.push_back(g->ids[i]);
    }
    return out;
  }

  void CheckFilters(RandomWhere& r, int rounds, const char* phase) {
    GetRequest all;
    all.include.documents = false;
    all.include.metadatas = false;
    const std::vector<std::string> ids = col_->Get(all)->ids;
    for (int i = 0; i < rounds; ++i) {
      GetRequest get;
      get.include.documents = false;
      get.include.metadatas = false;
      if (r.Chance(0.9)) get.where = r.Clause(3, ids);
      if (r.Chance(0.2)) get.where_document = r.DocumentClause(1);
      auto compiled = CompiledFilter::Compile(get.where, get.where_document);
      ASSERT_TRUE(compiled.ok());
      const std::vector<std::string> expected = Reference(*compiled);

      if (r.Chance(0.5)) {
        get.offset = static_cast<uint32_t>(r.Below(10));
        get.limit = static_cast<uint32_t>(r.Below(25));
      }
      auto got = col_->Get(get);
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      std::vector<std::string> want;
      for (size_t k = get.offset; k < expected.size() && want.size() < get.limit.value_or(UINT32_MAX); ++k) {
        want.push_back(expected[k]);
      }
      ASSERT_EQ(got->ids, want) << phase << " seed " << seed_ << " round " << i;
      auto counted = col_->Count(CountRequest{.where = get.where, .where_document = get.where_document});
      ASSERT_TRUE(counted.ok()) << counted.status().ToString();
      ASSERT_EQ(*counted, expected.size()) << phase << " seed " << seed_ << " round " << i;

      if (expected.empty()) continue;
      QueryRequest q;
      q.query_embeddings = {{1.0f, 2.0f, 1.0f}};
      q.n_results = static_cast<uint32_t>(ids.size());
      q.where = get.where;
      q.where_document = get.where_document;
      q.include.documents = false;
      q.include.metadatas = false;
      auto found = col_->Query(q);
      ASSERT_TRUE(found.ok()) << found.status().ToString();
      std::vector<std::string> found_ids = found->rows[0].ids;
      std::sort(found_ids.begin(), found_ids.end());
      std::vector<std::string> sorted_expected = expected;
      std::sort(sorted_expected.begin(), sorted_expected.end());
      ASSERT_EQ(found_ids, sorted_expected) << phase << " seed " << seed_ << " round " << i;
    }
  }

  void DeleteByRandomFilter(RandomWhere& r) {
    GetRequest all;
    all.include.documents = false;
    all.include.metadatas = false;
    const std::vector<std::string> ids = col_->Get(all)->ids;
    DeleteRequest d;
    d.where = r.Clause(2, ids);
    if (r.Chance(0.5)) d.limit = static_cast<uint32_t>(1 + r.Below(10));
    auto compiled = CompiledFilter::Compile(d.where, std::nullopt);
    ASSERT_TRUE(compiled.ok());
    std::vector<std::string> expected = Reference(*compiled);
    if (d.limit && expected.size() > *d.limit) expected.resize(*d.limit);
    auto deleted = col_->Delete(d);
    ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
    ASSERT_EQ(*deleted, expected.size()) << "seed " << seed_;
    GetRequest check;
    check.ids = expected;
    ASSERT_TRUE(col_->Get(check)->ids.empty()) << "seed " << seed_;
  }

};

TEST_F(FilterSimulationTest, FiltersMatchTheRowByRowEvaluatorAcrossCompactionAndReopen) {
  RandomWhere r(seed_);
  for (int cycle = 0; cycle < 4; ++cycle) {
    RandomWrites(r, 30);
    if (HasFatalFailure()) return;
    CheckFilters(r, 60, "after writes");
    if (HasFatalFailure()) return;
    ASSERT_TRUE(col_->Compact().ok());
    RandomWrites(r, 10);  // a WAL tail over the new segment
    if (HasFatalFailure()) return;
    CheckFilters(r, 60, "after compaction");
    if (HasFatalFailure()) return;
    Reopen();
    if (HasFatalFailure()) return;
    CheckFilters(r, 60, "after reopen");
    if (HasFatalFailure()) return;
    DeleteByRandomFilter(r);
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace fathom
