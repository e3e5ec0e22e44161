// Property tests: filters evaluated through the metadata index's bitmaps (and the
// selection plans built on them) equal the row-by-row evaluator, on random tables that
// go through adds, upserts, updates, deletes and slot renumbering. Prints its seed.
#include "query/filter_eval.h"

#include <gtest/gtest.h>

#include "db/record_table.h"
#include "query/select.h"
#include "random_where.h"
#include "test_util.h"

namespace fathom {
namespace {

using testing::RandomWhere;

class FilterEvalPropertyTest : public ::testing::Test {
 protected:
  void SetUp() override { seed_ = testing::SeedForTest("FilterEvalPropertyTest"); }

  std::string RandomId(RandomWhere& r) { return "id" + std::to_string(r.Below(id_space_)); }

  void RandomOp(RandomWhere& r) {
    Operation op;
    op.record.id = RandomId(r);
    switch (r.Below(5)) {
      case 0:
      case 1:
        op.type = r.Chance(0.5) ? OpType::kAdd : OpType::kUpsert;
        op.record.embedding = std::vector<float>{0.0f, 1.0f};
        op.record.document = r.Document();
        op.record.metadata = r.MaybeMetadataPatch();
        break;
      case 2:
      case 3:
        op.type = OpType::kUpdate;
        op.record.metadata = r.Patch();
        if (r.Chance(0.3)) op.record.document = r.Document();
        break;
      default:
        op.type = OpType::kDelete;
    }
    table_.Apply(std::move(op));
  }

  std::vector<std::string> LiveIds() const {
    std::vector<std::string> ids;
    for (size_t s = 0; s < table_.slot_count(); ++s) {
      if (table_.row(s).live) ids.push_back(table_.row(s).id);
    }
    return ids;
  }

  // Every live slot the filter matches, row by row: the reference.
  std::vector<uint32_t> Reference(const CompiledFilter& f, const std::vector<std::string>* ids = nullptr) const {
    std::vector<uint32_t> out;
    for (size_t s = 0; s < table_.slot_count(); ++s) {
      const Row& row = table_.row(s);
      if (!row.live) continue;
      if (ids && std::find(ids->begin(), ids->end(), row.id) == ids->end()) continue;
      if (f.Matches(RecordView{row.id, row.document, row.metadata})) out.push_back(static_cast<uint32_t>(s));
    }
    return out;
  }

  // Checks `rounds` random filters against the table as it is now.
  void CheckFilters(RandomWhere& r, int rounds) {
    const std::vector<std::string> ids = LiveIds();
    for (int i = 0; i < rounds; ++i) {
      std::optional<Where> where;
      std::optional<WhereDocument> where_document;
      if (r.Chance(0.9)) where = r.Clause(3, ids);
      if (r.Chance(0.2)) where_document = r.DocumentClause(1);
      auto compiled = CompiledFilter::Compile(where, where_document);
      ASSERT_TRUE(compiled.ok()) << compiled.status().ToString();
      const std::vector<uint32_t> expected = Reference(*compiled);

      if (!compiled->empty()) {
        const Roaring got = EvaluateFilter(*compiled->root(), table_, table_.live_slots());
        std::vector<uint32_t> got_slots(got.cardinality());
        got.toUint32Array(got_slots.data());
        ASSERT_EQ(got_slots, expected) << "seed " << seed_ << " round " << i;
      }

      // Paged selections: both plans, with and without an id restriction.
      Selection selection;
      selection.filter = &*compiled;
      std::vector<std::string> some_ids;
      if (r.Chance(0.3) && !ids.empty()) {
        for (int k = 0; k < 5; ++k) some_ids.push_back(ids[r.Below(ids.size())]);
        some_ids.push_back("missing");
        selection.ids = &some_ids;
      }
      const std::vector<uint32_t> all = selection.ids ? Reference(*compiled, &some_ids) : expected;
      selection.offset = r.Chance(0.5) ? 0 : r.Below(20);
      selection.limit = r.Chance(0.3) ? UINT64_MAX : r.Below(30);
      SelectPlan plan;
      const std::vector<uint32_t> page = SelectSlots(table_, selection, &plan);
      std::vector<uint32_t> want;
      for (size_t k = selection.offset; k < all.size() && want.size() < selection.limit; ++k) want.push_back(all[k]);
      ASSERT_EQ(page, want) << "seed " << seed_ << " round " << i << " plan " << static_cast<int>(plan);
      ++plans_[static_cast<int>(plan)];
      ASSERT_EQ(CountSlots(table_, selection), all.size()) << "seed " << seed_ << " round " << i;

      auto candidates = QueryCandidates(table_, std::nullopt, *compiled);
      ASSERT_TRUE(candidates.ok());
      if (compiled->empty()) {
        ASSERT_FALSE(candidates->has_value());
      } else {
        ASSERT_EQ(**candidates, expected) << "seed " << seed_ << " round " << i;
      }
    }
  }

  uint64_t seed_ = 0;
  size_t id_space_ = 400;
  RecordTable table_;
  int plans_[5] = {0, 0, 0, 0, 0};
};

TEST_F(FilterEvalPropertyTest, BitmapsEqualRowByRowThroughWritesAndRenumbering) {
  RandomWhere r(seed_);
  for (int step = 0; step < 12; ++step) {
    for (int i = 0; i < 300; ++i) RandomOp(r);
    CheckFilters(r, 150);
    if (HasFatalFailure()) return;
  }
  // Grow, then delete most rows so the table renumbers its slots (and rebuilds the index).
  id_space_ = 4000;
  for (int i = 0; i < 4000; ++i) {
    Operation op;
    op.type = OpType::kUpsert;
    op.record.id = "id" + std::to_string(i);
    op.record.embedding = std::vector<float>{1.0f, 0.0f};
    op.record.document = r.Document();
    op.record.metadata = r.MaybeMetadataPatch();
    table_.Apply(std::move(op));
  }
  for (int i = 0; i < 3500; ++i) {
    Operation op;
    op.type = OpType::kDelete;
    op.record.id = "id" + std::to_string(i);
    table_.Apply(std::move(op));
  }
  ASSERT_FALSE(table_.MaybeShrink().empty()) << "the table was expected to renumber";
  CheckFilters(r, 300);
  if (HasFatalFailure()) return;
  for (int i = 0; i < 600; ++i) RandomOp(r);
  CheckFilters(r, 300);
  EXPECT_GT(plans_[static_cast<int>(SelectPlan::kRowScan)], 0) << "seed " << seed_;
  EXPECT_GT(plans_[static_cast<int>(SelectPlan::kBitmap)], 0) << "seed " << seed_;
  EXPECT_GT(plans_[static_cast<int>(SelectPlan::kDriver)], 0) << "seed " << seed_;
  EXPECT_GT(plans_[static_cast<int>(SelectPlan::kRangeDriver)], 0) << "seed " << seed_;
}

// The number column keeps exactness at the edges of double precision: 2^53 + 1 (an int)
// is greater than 2^53 (a float), and -0.0 equals 0.
TEST(MetadataIndexTest, NumbersCompareExactlyOnOneLine) {
  MetadataIndex index;
  index.Insert(0, Metadata{{"n", int64_t{9007199254740993}}});
  index.Insert(1, Metadata{{"n", 9007199254740992.0}});
  index.Insert(2, Metadata{{"n", -0.0}});
  index.Insert(3, Metadata{{"n", std::vector<int64_t>{0, 0, 5}}});
  NumberRange above;
  above.lo = NumberBound{9007199254740992.0L, false};
  EXPECT_EQ(index.InRange("n", above), Roaring::bitmapOf(1, 0));
  EXPECT_EQ(index.Equal("n", Scalar(int64_t{0})), Roaring::bitmapOf(2, 2, 3));
  EXPECT_EQ(index.Equal("n", Scalar(0.0)), Roaring::bitmapOf(2, 2, 3));
  ASSERT_NE(index.StoredArrays("n"), nullptr);
  EXPECT_EQ(*index.StoredArrays("n"), Roaring::bitmapOf(1, 3));
  index.Erase(3, Metadata{{"n", std::vector<int64_t>{0, 0, 5}}});
  EXPECT_EQ(index.Equal("n", Scalar(int64_t{0})), Roaring::bitmapOf(1, 2));
  EXPECT_TRUE(index.Equal("n", Scalar(int64_t{5})).isEmpty());
  index.Erase(0, Metadata{{"n", int64_t{9007199254740993}}});
  index.Erase(1, Metadata{{"n", 9007199254740992.0}});
  index.Erase(2, Metadata{{"n", -0.0}});
  EXPECT_EQ(index.key_count(), 0u);
}

// Many changes to one key rebuild the sorted run; lookups stay right across rebuilds.
TEST(MetadataIndexTest, SortedRunSurvivesRebuilds) {
  MetadataIndex index;
  for (uint32_t s = 0; s < 5000; ++s) index.Insert(s, Metadata{{"v", int64_t{s % 100}}});
  for (uint32_t s = 0; s < 5000; s += 2) {
    index.Erase(s, Metadata{{"v", int64_t{s % 100}}});
    index.Insert(s, Metadata{{"v", static_cast<double>(s % 100) + 0.5}});
  }
  NumberRange r;
  r.lo = NumberBound{10, true};
  r.hi = NumberBound{11, true};
  // Odd slots with s % 100 in {11}, even slots with s % 100 == 10 (now 10.5).
  const Roaring got = index.InRange("v", r);
  uint64_t expected = 0;
  for (uint32_t s = 0; s < 5000; ++s) {
    const bool in = (s % 2 == 1) ? (s % 100 == 11) : (s % 100 == 10);
    if (in) {
      ++expected;
      EXPECT_TRUE(got.contains(s)) << s;
    }
  }
  EXPECT_EQ(got.cardinality(), expected);
}

}  // namespace
}  // namespace fathom

namespace fathom {
namespace {

Where FieldLeaf(const std::string& key, CompareOp op, Scalar operand) {
  Where w;
  w.kind = Where::Kind::kField;
  w.key = key;
  w.op = op;
  w.operands = {std::move(operand)};
  return w;
}

// Range leaves on one key under $and are walked as one range; an array can satisfy them
// with different elements ([1, 10] is >= 5 and < 3), which the one range cannot see.
TEST(FilterEvalTest, RangesOnOneKeyMergeButArraysMatchElementByElement) {
  RecordTable table;
  auto add = [&](const std::string& id, MetadataValue v) {
    Operation op;
    op.type = OpType::kAdd;
    op.record.id = id;
    op.record.embedding = std::vector<float>{1.0f};
    op.record.metadata = MetadataPatch{{"a", std::move(v)}};
    table.Apply(std::move(op));
  };
  add("scalar-in", int64_t{4});
  add("array-split", std::vector<int64_t>{1, 10});
  add("array-out", std::vector<int64_t>{20, 30});
  add("scalar-out", 7.5);
  Where both;
  both.kind = Where::Kind::kAnd;
  both.children = {FieldLeaf("a", CompareOp::kGte, int64_t{2}), FieldLeaf("a", CompareOp::kLt, 5.0)};
  auto f = CompiledFilter::Compile(both, std::nullopt);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(EvaluateFilter(*f->root(), table, table.live_slots()), Roaring::bitmapOf(2, 0, 1));
  both.children = {FieldLeaf("a", CompareOp::kGte, int64_t{5}), FieldLeaf("a", CompareOp::kLt, int64_t{3})};
  f = CompiledFilter::Compile(both, std::nullopt);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(EvaluateFilter(*f->root(), table, table.live_slots()), Roaring::bitmapOf(1, 1));
}

// Paged selections on a table shaped like filter_bench's: each takes the plan it was
// made for and returns the first matching slots in slot order.
class SelectPlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (uint32_t i = 0; i < kRows; ++i) {
      Operation op;
      op.type = OpType::kAdd;
      op.record.id = "r" + std::to_string(i);
      op.record.embedding = std::vector<float>{1.0f};
      op.record.metadata = MetadataPatch{{"views", int64_t{(i * 7919) % kRows}},
                                         {"category", std::string("c") + std::to_string(i % 20)},
                                         {"user", std::string("u") + std::to_string(i / 2)}};
      table_.Apply(std::move(op));
    }
  }

  // Checks the page against the row-by-row reference and returns the plan taken.
  SelectPlan Check(const Where& where, uint64_t limit) {
    auto f = CompiledFilter::Compile(where, std::nullopt);
    EXPECT_TRUE(f.ok());
    Selection selection;
    selection.filter = &*f;
    selection.limit = limit;
    SelectPlan plan;
    const std::vector<uint32_t> got = SelectSlots(table_, selection, &plan);
    std::vector<uint32_t> want;
    for (uint32_t s = 0; s < kRows && want.size() < limit; ++s) {
      const Row& row = table_.row(s);
      if (f->Matches(RecordView{row.id, row.document, row.metadata})) want.push_back(s);
    }
    EXPECT_EQ(got, want) << "plan " << static_cast<int>(plan);
    return plan;
  }

  static constexpr uint32_t kRows = 20000;
  RecordTable table_;
};

Where And(std::vector<Where> children) {
  Where w;
  w.kind = Where::Kind::kAnd;
  w.children = std::move(children);
  return w;
}

TEST_F(SelectPlanTest, PagedRangesWalkTheirBlocksInSlotOrder) {
  // 1 %: a merged range, walked through its blocks instead of gathered whole.
  EXPECT_EQ(Check(And({FieldLeaf("views", CompareOp::kGte, int64_t{3000}), FieldLeaf("views", CompareOp::kLt, int64_t{3200})}), 100),
            SelectPlan::kRangeDriver);
  // 10 %: one range leaf.
  EXPECT_EQ(Check(FieldLeaf("views", CompareOp::kGte, int64_t{18000}), 100), SelectPlan::kRangeDriver);
  // A range and a category: the range walks, the category's bitmap is probed per slot.
  EXPECT_EQ(Check(And({FieldLeaf("category", CompareOp::kEq, std::string("c3")),
                       FieldLeaf("views", CompareOp::kLt, int64_t{400})}),
                  10),
            SelectPlan::kRangeDriver);
  // Half the rows match (the plan depends on the table's size: the merge grows with it).
  Check(FieldLeaf("views", CompareOp::kLt, int64_t{kRows / 2}), 100);
  // Without a limit the whole match set is built as bitmaps.
  EXPECT_EQ(Check(And({FieldLeaf("views", CompareOp::kGte, int64_t{3000}), FieldLeaf("views", CompareOp::kLt, int64_t{3200})}),
                  UINT64_MAX),
            SelectPlan::kBitmap);
}

TEST_F(SelectPlanTest, LongInListsDriveThroughOneUnion) {
  std::vector<Scalar> users;
  for (uint32_t u = 0; u < 500; ++u) users.push_back(std::string("u") + std::to_string((u * 37) % (kRows / 2)));
  Where in = FieldLeaf("user", CompareOp::kIn, users[0]);
  in.operands = users;
  EXPECT_EQ(Check(in, 100), SelectPlan::kDriver);
  EXPECT_EQ(Check(in, UINT64_MAX), SelectPlan::kBitmap);
}

}  // namespace
}  // namespace fathom
