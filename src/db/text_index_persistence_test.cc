// The persisted text index between two RecordTables: the snapshot of a table written by
// random operations (dead slots, updates, rows without documents) loads into a table
// loaded the way recovery loads segments (with dead slots elsewhere) and answers exactly
// like that table's rebuilt index; a table whose rows or analyzer differ refuses it and
// keeps its rebuilt index. Prints its seed (FATHOM_SEED replays).
#include "db/text_index_persistence.h"

#include <gtest/gtest.h>

#include <random>

#include "test_util.h"

namespace fathom {
namespace {

constexpr const char* kWords[] = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta",
                                  "iota", "kappa", "lambda", "mu", "nu", "xi", "omicron", "pi"};

std::string Text(std::mt19937_64& rng) {
  std::string out;
  for (size_t n = rng() % 9; n > 0; --n) {
    out += kWords[std::min(rng() % std::size(kWords), rng() % std::size(kWords))];
    out += ' ';
  }
  return out;
}

// A table written by random adds, upserts, updates and deletes (no reclaiming: dead slots
// stay).
void RandomTable(std::mt19937_64& rng, RecordTable* table) {
  for (int i = 0; i < 3000; ++i) {
    Operation op;
    const int kind = static_cast<int>(rng() % 10);
    op.type = kind < 5 ? OpType::kAdd : kind < 7 ? OpType::kUpsert : kind < 9 ? OpType::kUpdate : OpType::kDelete;
    op.record.id = "id" + std::to_string(rng() % 800);
    if (op.type == OpType::kAdd || op.type == OpType::kUpsert) op.record.embedding = std::vector<float>{1.0f};
    if (op.type != OpType::kDelete && rng() % 10 != 0) op.record.document = Text(rng);
    table->Apply(std::move(op));
  }
}

// What recovery builds from segments holding `from`'s live rows: the same rows in the same
// order, with dead slots (rows loaded then deleted) in other places.
void LoadLikeRecovery(std::mt19937_64& rng, const RecordTable& from, RecordTable* to) {
  to->BeginBulkLoad();
  uint64_t dead = 0;
  for (size_t slot = 0; slot < from.slot_count(); ++slot) {
    if (!from.row(slot).live) continue;
    if (rng() % 4 == 0) {
      Row gone;
      gone.id = "gone" + std::to_string(dead++);
      gone.offset = 1000000 + dead;
      gone.document = "alpha beta";
      to->LoadRow(gone, {1.0f});
      to->LoadTombstone(gone.id);
    }
    to->LoadRow(from.row(slot), {1.0f});
  }
}

void ExpectSameSearches(const RecordTable& expected, const RecordTable& actual) {
  for (const char* query : {"alpha", "beta gamma", "pi omicron xi", "alpha beta gamma delta epsilon", "nothing"}) {
    for (uint32_t k : {1u, 5u, 1000u}) {
      auto a = expected.text_index()->Search(query, k, nullptr, Bm25Params{});
      auto b = actual.text_index()->Search(query, k, nullptr, Bm25Params{});
      ASSERT_EQ(a.size(), b.size()) << query;
      for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(a[i].slot, b[i].slot) << query << " rank " << i;
        EXPECT_EQ(a[i].score, b[i].score) << query << " rank " << i;
      }
    }
  }
}

RecordTable::TextIndexLoader Loader(const std::string& bytes) {
  return [&bytes](const RecordTable& table, TextIndex* index) { return LoadTextIndex(bytes, table, index); };
}

TEST(TextIndexPersistenceTest, LoadsIntoARecoveredTableAndAnswersLikeARebuild) {
  const uint64_t seed = testing::SeedForTest("TextIndexPersistenceTest.LoadsIntoARecoveredTableAndAnswersLikeARebuild");
  for (int round = 0; round < 4; ++round) {
    std::mt19937_64 rng(seed + round);
    RecordTable written;
    RandomTable(rng, &written);
    auto snapshot = TakeTextIndexSnapshot(written);
    ASSERT_TRUE(snapshot.has_value());
    EXPECT_FALSE(snapshot->dense);  // deletes left dead slots: the renumbering path
    auto bytes = EncodeTextIndexSnapshot(std::move(*snapshot));
    ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();

    std::mt19937_64 layout(seed * 31 + round);
    RecordTable rebuilt, loaded;
    LoadLikeRecovery(layout, written, &rebuilt);
    layout.seed(seed * 31 + round);
    LoadLikeRecovery(layout, written, &loaded);
    ASSERT_TRUE(rebuilt.SealIndexes().ok());
    Status s;
    ASSERT_TRUE(loaded.SealIndexes(Loader(*bytes), &s).ok());
    ASSERT_TRUE(s.ok()) << s.ToString() << " seed " << seed;
    ExpectSameSearches(rebuilt, loaded);
    // The tables go on: the loaded index takes changes like the rebuilt one.
    for (RecordTable* table : {&rebuilt, &loaded}) {
      std::mt19937_64 more(seed + 99);
      for (int i = 0; i < 300; ++i) {
        Operation op;
        op.type = i % 3 == 0 ? OpType::kDelete : OpType::kUpsert;
        op.record.id = "id" + std::to_string(more() % 800);
        op.record.embedding = std::vector<float>{1.0f};
        op.record.document = Text(more);
        table->Apply(std::move(op));
      }
      (void)table->MaybeShrink();
    }
    ExpectSameSearches(rebuilt, loaded);
  }
}

TEST(TextIndexPersistenceTest, OtherRowsOrAnalyzerAreRefusedAndRebuilt) {
  std::mt19937_64 rng(7);
  RecordTable written;
  RandomTable(rng, &written);
  const std::string bytes = EncodeTextIndexSnapshot(*TakeTextIndexSnapshot(written)).value();

  auto expect_refused = [&](RecordTable& table, const std::string& why) {
    Status s;
    ASSERT_TRUE(table.SealIndexes(Loader(bytes), &s).ok());
    EXPECT_TRUE(s.IsCorruption()) << s.ToString();
    EXPECT_NE(s.message().find(why), std::string::npos) << s.ToString();
  };
  {
    // One document differs.
    RecordTable table;
    table.BeginBulkLoad();
    bool changed = false;
    for (size_t slot = 0; slot < written.slot_count(); ++slot) {
      if (!written.row(slot).live) continue;
      Row row = written.row(slot);
      if (!changed && row.document) {
        *row.document += " extra";
        changed = true;
      }
      table.LoadRow(row, {1.0f});
    }
    expect_refused(table, "other documents");
  }
  {
    // One row more.
    RecordTable table;
    table.BeginBulkLoad();
    for (size_t slot = 0; slot < written.slot_count(); ++slot) {
      if (written.row(slot).live) table.LoadRow(written.row(slot), {1.0f});
    }
    Row extra;
    extra.id = "extra";
    extra.offset = 1u << 30;
    table.LoadRow(extra, {1.0f});
    expect_refused(table, "rows");
  }
  {
    // Another analyzer.
    RecordTable table;
    AnalyzerOptions options;
    options.stemmer = "english";
    table.set_text_analyzer(Analyzer::Make(options).value());
    table.BeginBulkLoad();
    for (size_t slot = 0; slot < written.slot_count(); ++slot) {
      if (written.row(slot).live) table.LoadRow(written.row(slot), {1.0f});
    }
    expect_refused(table, "analyzer");
    EXPECT_GT(table.text_index()->inverted_index().doc_count(), 0u);  // rebuilt
  }
}

TEST(TextIndexPersistenceTest, NoDocumentsNoSnapshot) {
  RecordTable table;
  Operation op;
  op.type = OpType::kAdd;
  op.record.id = "a";
  op.record.embedding = std::vector<float>{1.0f};
  table.Apply(std::move(op));
  EXPECT_FALSE(TakeTextIndexSnapshot(table).has_value());
}

}  // namespace
}  // namespace fathom
