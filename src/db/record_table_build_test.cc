// RecordTable's index builds at open when rows keep only locators of their documents:
// the streaming build (BuildDocumentIndexes, batches of slots read back from the
// segments) must give the same trigram and BM25 indexes as a build from documents held in
// RAM. Randomized (prints its seed): rows over several segments, replaced in place or
// re-added at the end by later segments, deleted, with and without documents, across
// several build batches.
#include <gtest/gtest.h>

#include <random>

#include "db/text_index_persistence.h"
#include "db/record_table.h"
#include "io/mem_store.h"
#include "test_util.h"

namespace fathom {
namespace {

using testing::SeedForTest;

constexpr const char* kWords[] = {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"};

struct SegmentEntries {
  std::vector<Row> rows;  // in ascending offset order
  std::vector<std::string> tombstones;
};

TEST(RecordTableBuildTest, StreamingBuildEqualsTheBuildFromDocumentsInRam) {
  const uint64_t seed = SeedForTest("RecordTableBuildTest.StreamingBuildEqualsTheBuildFromDocumentsInRam");
  std::mt19937_64 rng(seed);
  auto text = [&] {
    std::string out;
    const size_t words = rng() % 12;  // empty documents too
    for (size_t i = 0; i < words; ++i) out += std::string(i ? " " : "") + kWords[rng() % std::size(kWords)];
    return out;
  };
  // Three segments: the first adds rows, the later ones replace some in place (same
  // offset), re-add some (a new offset), delete some and add new ones.
  const size_t first_rows = RecordTable::kBuildBatchDocumentsMax * 2 + rng() % 500;
  std::vector<SegmentEntries> segments(3);
  std::vector<uint64_t> offset_of(first_rows + 600);
  uint64_t next_offset = 0;
  for (size_t i = 0; i < first_rows; ++i) {
    Row row;
    row.id = "id" + std::to_string(i);
    row.offset = offset_of[i] = next_offset++;
    if (rng() % 8 != 0) row.document = text();
    if (rng() % 3 == 0) row.metadata = Metadata{{"n", static_cast<int64_t>(i)}};
    segments[0].rows.push_back(std::move(row));
  }
  for (size_t s = 1; s < segments.size(); ++s) {
    std::vector<std::pair<uint64_t, Row>> rows;
    for (size_t n = 0; n < 300; ++n) {
      const size_t i = rng() % first_rows;
      Row row;
      row.id = "id" + std::to_string(i);
      const int kind = static_cast<int>(rng() % 4);
      if (kind == 3) {
        segments[s].tombstones.push_back(row.id);
        continue;
      }
      row.offset = kind == 0 ? offset_of[i] : (offset_of[i] = next_offset++);
      if (rng() % 6 != 0) row.document = text();
      rows.emplace_back(row.offset, std::move(row));
    }
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& [offset, row] : rows) {
      if (segments[s].rows.empty() || segments[s].rows.back().offset != offset) segments[s].rows.push_back(std::move(row));
    }
  }
  auto store = std::make_shared<MemStore>();
  BlockCache cache(8 << 20, RecordsSegmentReader::kCacheBlockBytes);
  std::vector<std::shared_ptr<RecordsSegmentReader>> readers;
  for (size_t s = 0; s < segments.size(); ++s) {
    RecordsSegmentWriter writer(2);
    const float v[2] = {1, 0};
    for (const Row& row : segments[s].rows) writer.AddRow(row, v);
    for (const std::string& id : segments[s].tombstones) writer.AddTombstone(id);
    const std::string key = "seg" + std::to_string(s);
    ASSERT_TRUE(store->Put(key, writer.Finish().value(), PutMode::kOverwrite).ok());
    readers.push_back(RecordsSegmentReader::Open(ObjectRangeReader::Open(store, key).value(), &cache).value());
  }
  // The same segments loaded twice: documents in RAM, and locators only.
  RecordTable in_ram, stored;
  for (RecordTable* table : {&in_ram, &stored}) {
    table->BeginBulkLoad();
    for (const auto& reader : readers) {
      const uint32_t number = table->AddSegment(reader);
      auto scanned = reader->Scan([&](SegmentEntry& e, SegmentEntryLocator at) {
        if (e.tombstone) {
          table->LoadTombstone(e.row.id);
        } else if (table == &in_ram || !e.row.document) {
          table->LoadRow(std::move(e.row), e.embedding);
        } else {
          const SegmentDocumentLocator document_at = DocumentLocatorOf(at, e);
          table->LoadRow(std::move(e.row), e.embedding, std::make_pair(number, document_at));
        }
      });
      ASSERT_TRUE(scanned.ok()) << scanned.status().ToString();
    }
    ASSERT_TRUE(table->SealIndexes().ok());
  }
  ASSERT_EQ(in_ram.slot_count(), stored.slot_count());
  size_t stored_documents = 0;
  for (size_t slot = 0; slot < stored.slot_count(); ++slot) {
    stored_documents += stored.row(slot).live && stored.row(slot).document_stored();
    EXPECT_FALSE(stored.row(slot).document.has_value()) << "slot " << slot << " holds its document";
  }
  EXPECT_GT(stored_documents, RecordTable::kBuildBatchDocumentsMax) << "the build crosses batches";
  // The BM25 index: its persisted form is byte for byte the same.
  auto snapshot_in_ram = TakeTextIndexSnapshot(in_ram);
  auto snapshot_stored = TakeTextIndexSnapshot(stored);
  ASSERT_TRUE(snapshot_in_ram.has_value() && snapshot_stored.has_value());
  EXPECT_EQ(EncodeTextIndexSnapshot(std::move(*snapshot_in_ram)).value(),
            EncodeTextIndexSnapshot(std::move(*snapshot_stored)).value());
  // The trigram index: the same trigrams, and the same candidates for any pattern.
  EXPECT_EQ(in_ram.trigram_index()->trigram_count(), stored.trigram_index()->trigram_count());
  EXPECT_EQ(in_ram.trigram_index()->MemoryBytes(), stored.trigram_index()->MemoryBytes());
  for (int n = 0; n < 200; ++n) {
    const std::string word = kWords[rng() % std::size(kWords)];
    const std::string pattern = word.substr(rng() % 2, 3 + rng() % 3) + (rng() % 2 ? " " : "");
    auto a = in_ram.trigram_index()->ContainsCandidates(pattern);
    auto b = stored.trigram_index()->ContainsCandidates(pattern);
    ASSERT_EQ(a.has_value(), b.has_value()) << pattern;
    if (a) {
      EXPECT_TRUE(*a == *b) << pattern;
    }
  }
  // No build read went through the cache.
  EXPECT_EQ(cache.stats().inserts, 0u);
}

}  // namespace
}  // namespace fathom
