// The persisted sparse index between two RecordTables: the snapshot of a table written by
// random operations (dead slots, updates, rows without a vector) loads into a table
// loaded the way recovery loads segments (with dead slots elsewhere) and answers exactly
// like that table's rebuilt index, before and after further changes; a table whose rows,
// vectors or sparse key differ, or damaged bytes, are refused and the index is built from
// the rows. Prints its seed (FATHOM_SEED replays).
#include "db/sparse_index_persistence.h"

#include <gtest/gtest.h>

#include <random>

#include "index/sparse/sparse_index_format.h"
#include "test_util.h"

namespace fathom {
namespace {

constexpr const char* kKey = "sparse";

SparseVector RandomVector(std::mt19937_64& rng) {
  SparseVector v;
  for (uint32_t d = static_cast<uint32_t>(rng() % 5); d < 200; d += 1 + static_cast<uint32_t>(rng() % 30)) {
    v.indices.push_back(d);
    v.values.push_back(static_cast<float>(static_cast<int>(rng() % 2001) - 1000) / 128.0f);
  }
  return v;
}

// Metadata with a vector at kKey (most rows), or without one.
std::optional<Metadata> RandomMetadata(std::mt19937_64& rng) {
  Metadata m{{"n", MetadataValue(static_cast<int64_t>(rng() % 10))}};
  if (rng() % 8 != 0) m[kKey] = MetadataValue(RandomVector(rng));
  return m;
}

// As a write's patch (an update merges it into the row's metadata).
MetadataPatch Patch(const std::optional<Metadata>& metadata) {
  MetadataPatch patch;
  for (const auto& [key, value] : *metadata) patch[key] = value;
  return patch;
}

// A table written by random adds, upserts, updates and deletes (no reclaiming: dead slots
// stay).
void RandomTable(std::mt19937_64& rng, RecordTable* table) {
  table->set_sparse_key(kKey);
  for (int i = 0; i < 3000; ++i) {
    Operation op;
    const int kind = static_cast<int>(rng() % 10);
    op.type = kind < 5 ? OpType::kAdd : kind < 7 ? OpType::kUpsert : kind < 9 ? OpType::kUpdate : OpType::kDelete;
    op.record.id = "id" + std::to_string(rng() % 800);
    if (op.type == OpType::kAdd || op.type == OpType::kUpsert) op.record.embedding = std::vector<float>{1.0f};
    if (op.type != OpType::kDelete && rng() % 10 != 0) op.record.metadata = Patch(RandomMetadata(rng));
    table->Apply(std::move(op));
  }
}

// What recovery builds from segments holding `from`'s live rows: the same rows in the same
// order, with dead slots (rows loaded then deleted) in other places.
void LoadLikeRecovery(std::mt19937_64& rng, const RecordTable& from, RecordTable* to) {
  to->set_sparse_key(kKey);
  to->BeginBulkLoad();
  uint64_t dead = 0;
  for (size_t slot = 0; slot < from.slot_count(); ++slot) {
    if (!from.row(slot).live) continue;
    if (rng() % 4 == 0) {
      Row gone;
      gone.id = "gone" + std::to_string(dead++);
      gone.offset = 1000000 + dead;
      gone.metadata = RandomMetadata(rng);
      to->LoadRow(gone, {1.0f});
      to->LoadTombstone(gone.id);
    }
    to->LoadRow(from.row(slot), {1.0f});
  }
}

void ExpectSameSearches(const RecordTable& expected, const RecordTable& actual, std::mt19937_64& rng) {
  ASSERT_EQ(expected.sparse_index()->vector_count(), actual.sparse_index()->vector_count());
  for (int q = 0; q < 30; ++q) {
    const SparseVector query = RandomVector(rng);
    for (uint32_t k : {1u, 10u, 1000u}) {
      auto a = expected.sparse_index()->Search(query, k, nullptr);
      auto b = actual.sparse_index()->Search(query, k, nullptr);
      ASSERT_EQ(a.size(), b.size()) << "query " << q;
      for (size_t i = 0; i < a.size(); ++i) {
        // Slots differ between the tables: compare the rows' ids.
        EXPECT_EQ(expected.row(a[i].slot).id, actual.row(b[i].slot).id) << "query " << q << " rank " << i;
        EXPECT_EQ(a[i].score, b[i].score) << "query " << q << " rank " << i;
      }
    }
  }
}

// Seals `table` offering it `bytes`; returns what the loader said (NotFound: not called).
Status SealWith(RecordTable& table, const std::string& bytes) {
  Status said = Status::NotFound("loader not called");
  table.OfferSparseIndex([&](const RecordTable& t, SparseIndex* index) {
    said = LoadSparseIndex(bytes, t, index);
    return said;
  });
  EXPECT_TRUE(table.SealIndexes().ok());
  return said;
}

TEST(SparseIndexPersistenceTest, LoadsIntoARecoveredTableAndAnswersLikeARebuild) {
  const uint64_t seed = testing::SeedForTest("SparseIndexPersistenceTest.LoadsIntoARecoveredTableAndAnswersLikeARebuild");
  for (int round = 0; round < 4; ++round) {
    std::mt19937_64 rng(seed + round);
    RecordTable written;
    RandomTable(rng, &written);
    auto snapshot = TakeSparseIndexSnapshot(written);
    ASSERT_TRUE(snapshot.has_value());
    EXPECT_FALSE(snapshot->dense);  // deletes left dead slots: the renumbering path
    auto bytes = EncodeSparseIndexSnapshot(std::move(*snapshot));
    ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();

    std::mt19937_64 layout(seed * 31 + round);
    RecordTable rebuilt, loaded;
    LoadLikeRecovery(layout, written, &rebuilt);
    layout.seed(seed * 31 + round);
    LoadLikeRecovery(layout, written, &loaded);
    ASSERT_TRUE(rebuilt.SealIndexes().ok());
    const Status said = SealWith(loaded, *bytes);
    ASSERT_TRUE(said.ok()) << said.ToString() << " seed " << seed;
    ExpectSameSearches(written, loaded, rng);
    ExpectSameSearches(rebuilt, loaded, rng);
    // The tables go on (the WAL tail after an open): the loaded index takes changes like
    // the rebuilt one.
    for (RecordTable* table : {&rebuilt, &loaded}) {
      std::mt19937_64 more(seed + 99);
      for (int i = 0; i < 300; ++i) {
        Operation op;
        op.type = i % 3 == 0 ? OpType::kDelete : i % 3 == 1 ? OpType::kUpsert : OpType::kUpdate;
        op.record.id = "id" + std::to_string(more() % 900);
        if (op.type == OpType::kUpsert) op.record.embedding = std::vector<float>{1.0f};
        if (op.type != OpType::kDelete) op.record.metadata = Patch(RandomMetadata(more));
        table->Apply(std::move(op));
      }
      (void)table->MaybeShrink();
    }
    ExpectSameSearches(rebuilt, loaded, rng);
    // Their next objects are the same bytes (the loaded index's vector checksums, given
    // at load and kept through the changes, are the rows'), and load.
    auto next_rebuilt = EncodeSparseIndexSnapshot(std::move(*TakeSparseIndexSnapshot(rebuilt)));
    auto next_loaded = EncodeSparseIndexSnapshot(std::move(*TakeSparseIndexSnapshot(loaded)));
    ASSERT_TRUE(next_rebuilt.ok() && next_loaded.ok());
    EXPECT_EQ(*next_rebuilt, *next_loaded) << "seed " << seed;
    RecordTable again;
    LoadLikeRecovery(layout, loaded, &again);
    const Status said_again = SealWith(again, *next_loaded);
    EXPECT_TRUE(said_again.ok()) << said_again.ToString() << " seed " << seed;
  }
}

TEST(SparseIndexPersistenceTest, OtherRowsVectorsKeyOrBytesAreRefusedAndRebuilt) {
  const uint64_t seed = testing::SeedForTest("SparseIndexPersistenceTest.OtherRowsVectorsKeyOrBytesAreRefusedAndRebuilt");
  std::mt19937_64 rng(seed);
  RecordTable written;
  RandomTable(rng, &written);
  const std::string bytes = EncodeSparseIndexSnapshot(*TakeSparseIndexSnapshot(written)).value();

  // The live rows of `written`, `change` applied to each, in a fresh table with `key`.
  auto copy = [&](RecordTable& table, const std::string& key, auto change) {
    table.set_sparse_key(key);
    table.BeginBulkLoad();
    for (size_t slot = 0; slot < written.slot_count(); ++slot) {
      if (!written.row(slot).live) continue;
      Row row = written.row(slot);
      change(row);
      table.LoadRow(row, {1.0f});
    }
  };
  // Refused, and built from the rows: answers like `written` unless the rows differ.
  auto expect_refused = [&](RecordTable& table, const std::string& why, const std::string& with_bytes) {
    const Status said = SealWith(table, with_bytes);
    EXPECT_TRUE(said.IsCorruption()) << said.ToString();
    EXPECT_NE(said.message().find(why), std::string::npos) << said.ToString();
    // Built from the rows (none holds a vector at another key).
    EXPECT_EQ(table.sparse_index()->vector_count() > 0, table.sparse_index()->key() == kKey);
  };
  {
    // One vector differs (one weight).
    RecordTable table;
    bool changed = false;
    copy(table, kKey, [&](Row& row) {
      if (changed || !row.metadata || !row.metadata->count(kKey)) return;
      std::get<SparseVector>((*row.metadata)[kKey]).values[0] += 1.0f;
      changed = true;
    });
    expect_refused(table, "other sparse vectors", bytes);
  }
  {
    // One row loses its vector.
    RecordTable table;
    bool changed = false;
    copy(table, kKey, [&](Row& row) {
      if (changed || !row.metadata || !row.metadata->count(kKey)) return;
      row.metadata->erase(kKey);
      changed = true;
    });
    expect_refused(table, "other sparse vectors", bytes);
  }
  {
    // One row more.
    RecordTable table;
    copy(table, kKey, [](Row&) {});
    Row extra;
    extra.id = "extra";
    extra.offset = 1u << 30;
    table.LoadRow(extra, {1.0f});
    expect_refused(table, "rows", bytes);
  }
  {
    // Another sparse key.
    RecordTable table;
    copy(table, "other", [](Row&) {});
    expect_refused(table, "key", bytes);
  }
  {
    // Damaged bytes: refused, and the index built from the rows answers like `written`.
    RecordTable table;
    copy(table, kKey, [](Row&) {});
    std::string damaged = bytes;
    damaged[damaged.size() / 2] ^= 0x04;
    expect_refused(table, "checksum", damaged);
    ExpectSameSearches(written, table, rng);
  }
}

TEST(SparseIndexPersistenceTest, NoVectorsNoSnapshot) {
  RecordTable table;
  EXPECT_FALSE(TakeSparseIndexSnapshot(table).has_value());  // no sparse key
  table.set_sparse_key(kKey);
  Operation op;
  op.type = OpType::kAdd;
  op.record.id = "a";
  op.record.embedding = std::vector<float>{1.0f};
  op.record.metadata = MetadataPatch{{"n", MetadataValue(int64_t{1})}};
  table.Apply(std::move(op));
  EXPECT_FALSE(TakeSparseIndexSnapshot(table).has_value());
}

}  // namespace
}  // namespace fathom
