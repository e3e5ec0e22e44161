// The persisted document indexes between two RecordTables: the snapshot of a table written
// by random operations (dead slots, updates, rows without documents) loads into a table
// loaded the way recovery loads segments (with dead slots elsewhere) and answers exactly
// like that table's rebuilt indexes (BM25 results, trigram postings and candidates); a
// table whose rows differ refuses both, one whose analyzer differs the BM25 part only; a
// table whose documents left RAM (updates then cannot remove the old trigrams) persists
// no stale trigram entry. Prints its seed (FATHOM_SEED replays).
#include "db/text_index_persistence.h"

#include <gtest/gtest.h>

#include <random>

#include "index/text/text_index_format.h"
#include "io/mem_store.h"
#include "storage/records_segment.h"

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

// The trigram postings and the $contains candidates of random patterns are the same.
void ExpectSameTrigrams(const RecordTable& expected, const RecordTable& actual, std::mt19937_64& rng) {
  EXPECT_TRUE(expected.trigram_index()->SamePostings(*actual.trigram_index()));
  for (int i = 0; i < 50; ++i) {
    std::string pattern = Text(rng);
    pattern = pattern.substr(rng() % (pattern.size() + 1));
    pattern.resize(std::min<size_t>(pattern.size(), 3 + rng() % 8));
    auto a = expected.trigram_index()->ContainsCandidates(pattern);
    auto b = actual.trigram_index()->ContainsCandidates(pattern);
    ASSERT_EQ(a.has_value(), b.has_value()) << pattern;
    if (a) {
      EXPECT_TRUE(*a == *b) << "'" << pattern << "'";
    }
  }
}

RecordTable::TextIndexLoader Loader(const std::string& bytes) {
  return [&bytes](const RecordTable& table, TextIndex* text, TrigramIndex* trigram) {
    return LoadTextIndex(bytes, table, text, trigram);
  };
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
    RecordTable::DocumentIndexLoad load;
    ASSERT_TRUE(loaded.SealIndexes(Loader(*bytes), &load).ok());
    ASSERT_TRUE(load.all_loaded()) << load.text.ToString() << " / " << load.trigram.ToString() << " seed " << seed;
    ExpectSameSearches(rebuilt, loaded);
    ExpectSameTrigrams(rebuilt, loaded, rng);
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
    ExpectSameTrigrams(rebuilt, loaded, rng);
  }
}

TEST(TextIndexPersistenceTest, OtherRowsOrAnalyzerAreRefusedAndRebuilt) {
  std::mt19937_64 rng(7);
  RecordTable written;
  RandomTable(rng, &written);
  const std::string bytes = EncodeTextIndexSnapshot(*TakeTextIndexSnapshot(written)).value();

  // Refused: the BM25 part (and the trigram part unless only the analyzer differs).
  auto expect_refused = [&](RecordTable& table, const std::string& why, bool trigram_too = true) {
    RecordTable::DocumentIndexLoad load;
    ASSERT_TRUE(table.SealIndexes(Loader(bytes), &load).ok());
    const Status& s = load.text;
    EXPECT_TRUE(s.IsCorruption()) << s.ToString();
    EXPECT_NE(s.message().find(why), std::string::npos) << s.ToString();
    EXPECT_EQ(load.trigram.IsCorruption(), trigram_too) << load.trigram.ToString();
    EXPECT_EQ(load.trigram.ok(), !trigram_too) << load.trigram.ToString();
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
    expect_refused(table, "analyzer", /*trigram_too=*/false);
    EXPECT_GT(table.text_index()->inverted_index().doc_count(), 0u);  // rebuilt
  }
}

// Documents stored in a segment and out of RAM: an update or a delete cannot tell the
// trigram index what to remove (the old document would have to be read inside the write),
// so the table's index keeps stale entries; the persisted copy holds exactly the current
// documents' trigrams.
TEST(TextIndexPersistenceTest, StaleTrigramEntriesAreNotPersisted) {
  const uint64_t seed = testing::SeedForTest("TextIndexPersistenceTest.StaleTrigramEntriesAreNotPersisted");
  std::mt19937_64 rng(seed);
  RecordsSegmentWriter writer(1);
  const float v[1] = {1};
  std::vector<Row> rows;
  std::vector<SegmentDocumentLocator> locators;
  for (int i = 0; i < 300; ++i) {
    Row row;
    row.id = "id" + std::to_string(i);
    row.offset = static_cast<uint64_t>(i);
    if (i % 7 != 0) row.document = Text(rng) + " doc" + std::to_string(i);
    locators.push_back(writer.AddRow(row, v));
    rows.push_back(row);
  }
  auto mem = std::make_shared<MemStore>();
  ASSERT_TRUE(mem->Put("seg", writer.Finish().value(), PutMode::kOverwrite).ok());
  BlockCache cache(1 << 20, RecordsSegmentReader::kCacheBlockBytes);
  auto segment = RecordsSegmentReader::Open(ObjectRangeReader::Open(mem, "seg").value(), &cache).value();
  RecordTable table;
  table.BeginBulkLoad();
  const uint32_t number = table.AddSegment(segment);
  for (size_t i = 0; i < rows.size(); ++i) table.LoadRow(rows[i], {1.0f}, std::make_pair(number, locators[i]));
  ASSERT_TRUE(table.SealIndexes().ok());
  for (int i = 0; i < 200; ++i) {
    Operation op;
    op.type = i % 4 == 0 ? OpType::kDelete : i % 4 == 1 ? OpType::kUpsert : OpType::kUpdate;
    op.record.id = "id" + std::to_string(rng() % 320);
    if (op.type == OpType::kUpsert) op.record.embedding = std::vector<float>{1.0f};
    if (op.type != OpType::kDelete) op.record.document = Text(rng) + " new" + std::to_string(i);
    table.Apply(std::move(op));
  }
  ASSERT_FALSE(table.trigram_index()->stale_slots().isEmpty());  // the case under test
  auto bytes = EncodeTextIndexSnapshot(TakeTextIndexSnapshot(table).value());
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();

  // The same live rows with their documents in RAM, indexes built from them.
  RecordTable fresh, loaded;
  for (RecordTable* t : {&fresh, &loaded}) {
    t->BeginBulkLoad();
    for (uint32_t slot = 0; slot < table.slot_count(); ++slot) {
      if (!table.row(slot).live) continue;
      std::vector<std::optional<std::string>> documents;
      ASSERT_TRUE(table.FetchDocuments(&slot, 1, &documents).ok());
      Row row = table.row(slot);
      row.document = documents[0];
      row.document_segment = Row::kNotStored;
      t->LoadRow(row, {1.0f});
    }
  }
  ASSERT_TRUE(fresh.SealIndexes().ok());
  auto object = DecodeTextIndexObject(*bytes);
  ASSERT_TRUE(object.ok() && object->trigrams.has_value()) << object.status().ToString();
  const TrigramIndex::SortedPostings expected = fresh.trigram_index()->CopySortedPostings();
  ASSERT_EQ(object->trigrams->size(), expected.size()) << "seed " << seed;
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ((*object->trigrams)[i].first, expected[i].first);
    EXPECT_TRUE((*object->trigrams)[i].second == expected[i].second) << "trigram " << expected[i].first << " seed " << seed;
  }
  RecordTable::DocumentIndexLoad load;
  ASSERT_TRUE(loaded.SealIndexes(Loader(*bytes), &load).ok());
  ASSERT_TRUE(load.all_loaded()) << load.text.ToString() << " / " << load.trigram.ToString();
  ExpectSameTrigrams(fresh, loaded, rng);
  ExpectSameSearches(fresh, loaded);
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
