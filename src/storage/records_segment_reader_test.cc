#include "storage/records_segment_reader.h"

#include <gtest/gtest.h>

#include <random>

#include "common/coding.h"
#include "common/limits.h"
#include "io/fault_store.h"
#include "io/mem_store.h"

namespace fathom {
namespace {

// A segment of `rows` rows with documents of `document_bytes` (row i's document starts
// with its id), and one tombstone.
std::string MakeSegment(int rows, uint32_t dim, size_t document_bytes) {
  RecordsSegmentWriter writer(dim);
  std::vector<float> v(dim);
  for (int i = 0; i < rows; ++i) {
    Row row;
    row.id = "id" + std::to_string(i);
    row.offset = static_cast<uint64_t>(i);
    if (i % 5 != 0) {
      std::string doc = row.id + ":";
      doc.resize(std::max(doc.size(), document_bytes), static_cast<char>('a' + i % 26));
      row.document = std::move(doc);
    }
    if (i % 3 == 0) row.uri = "uri" + std::to_string(i);
    if (i % 4 == 0) row.metadata = Metadata{{"k", int64_t{i}}};
    for (uint32_t d = 0; d < dim; ++d) v[d] = static_cast<float>(i + d);
    writer.AddRow(row, v.data());
  }
  writer.AddTombstone("gone");
  return writer.Finish().value();
}

// Reads a string the test owns (and may change between reads).
class BorrowedReader final : public RandomReader {
 public:
  explicit BorrowedReader(const std::string* bytes) : bytes_(bytes) {}
  uint64_t size() const override { return bytes_->size(); }
  Status ReadAt(uint64_t offset, size_t length, char* dst) const override {
    if (offset > bytes_->size() || length > bytes_->size() - offset) return Status::Corruption("short");
    std::copy_n(bytes_->data() + offset, length, dst);
    return Status::Ok();
  }
  const std::string& name() const override { return name_; }

 private:
  const std::string* bytes_;
  std::string name_ = "borrowed";
};

Result<std::shared_ptr<RecordsSegmentReader>> OpenOn(std::shared_ptr<ObjectStore> store, BlockCache* cache) {
  FATHOM_ASSIGN_OR_RETURN(std::unique_ptr<RandomReader> random, ObjectRangeReader::Open(store, "seg"));
  return RecordsSegmentReader::Open(std::move(random), cache);
}

// Every entry with its locator, by a scan.
struct Scanned {
  std::vector<SegmentEntry> entries;
  std::vector<SegmentEntryLocator> locators;
};
Scanned ScanAll(const RecordsSegmentReader& reader) {
  Scanned out;
  auto summary = reader.Scan([&](SegmentEntry& e, SegmentEntryLocator at) {
    out.entries.push_back(e);
    out.locators.push_back(at);
  });
  EXPECT_TRUE(summary.ok()) << summary.status().ToString();
  return out;
}

TEST(RecordsSegmentReaderTest, ScanEqualsWholeObjectDecode) {
  const std::string bytes = MakeSegment(300, 8, 1000);
  BlockCache cache(1 << 20, RecordsSegmentReader::kCacheBlockBytes);
  auto mem = std::make_shared<MemStore>();
  ASSERT_TRUE(mem->Put("seg", bytes, PutMode::kOverwrite).ok());
  auto reader = OpenOn(mem, &cache);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_GT((*reader)->block_count(), 3u);  // 64 KiB blocks: ~300 KB cut into several
  EXPECT_EQ((*reader)->rows(), 300u);
  EXPECT_EQ((*reader)->tombstones(), 1u);
  std::vector<SegmentEntry> whole;
  ASSERT_TRUE(ReadRecordsSegment(bytes, [&](SegmentEntry& e) { whole.push_back(e); }).ok());
  Scanned scanned = ScanAll(**reader);
  ASSERT_EQ(scanned.entries.size(), whole.size());
  for (size_t i = 0; i < whole.size(); ++i) {
    EXPECT_EQ(scanned.entries[i].row.id, whole[i].row.id);
    EXPECT_EQ(scanned.entries[i].row.document, whole[i].row.document);
    EXPECT_EQ(scanned.entries[i].embedding, whole[i].embedding);
  }
  // Scans bypass the cache.
  EXPECT_EQ(cache.stats().inserts, 0u);
}

TEST(RecordsSegmentReaderTest, ReadEntriesByLocatorInOneBatchThenFromCache) {
  const std::string bytes = MakeSegment(300, 4, 1000);
  BlockCache cache(4 << 20, RecordsSegmentReader::kCacheBlockBytes);
  auto mem = std::make_shared<MemStore>();
  ASSERT_TRUE(mem->Put("seg", bytes, PutMode::kOverwrite).ok());
  auto reader = OpenOn(mem, &cache).value();
  Scanned scanned = ScanAll(*reader);
  // Random locators (repeats included), read together.
  const uint64_t seed = std::random_device()();
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  std::vector<size_t> picks;
  std::vector<SegmentEntryLocator> locators;
  for (int i = 0; i < 100; ++i) {
    picks.push_back(rng() % scanned.entries.size());
    locators.push_back(scanned.locators[picks.back()]);
  }
  std::vector<std::string> ids(locators.size());
  std::vector<std::optional<std::string>> docs(locators.size());
  ASSERT_TRUE(reader
                  ->ReadEntries(locators.data(), locators.size(),
                                [&](size_t i, SegmentEntry& e) {
                                  ids[i] = e.row.id;
                                  docs[i] = e.row.document;
                                })
                  .ok());
  for (size_t i = 0; i < picks.size(); ++i) {
    EXPECT_EQ(ids[i], scanned.entries[picks[i]].row.id) << "seed " << seed;
    EXPECT_EQ(docs[i], scanned.entries[picks[i]].row.document) << "seed " << seed;
  }
  const uint64_t read_first = reader->stats().blocks_read;
  EXPECT_LE(read_first, reader->block_count());
  // The same entries again: every block from the cache.
  ASSERT_TRUE(reader->ReadEntries(locators.data(), locators.size(), [](size_t, SegmentEntry&) {}).ok());
  EXPECT_EQ(reader->stats().blocks_read, read_first);
  EXPECT_GT(reader->stats().cache_hits, 0u);
}

TEST(RecordsSegmentReaderTest, OpenReadsTheTailOnlyAndLongFootersInASecondRead) {
  // Rows of large embeddings make many blocks: a footer longer than the tail read.
  const std::string bytes = MakeSegment(3000, 16384, 0);
  auto mem = std::make_shared<MemStore>();
  ASSERT_TRUE(mem->Put("seg", bytes, PutMode::kOverwrite).ok());
  auto reader = OpenOn(mem, nullptr);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ((*reader)->rows(), 3000u);
  SegmentEntryLocator last{static_cast<uint32_t>((*reader)->block_count() - 1), 0};
  std::string id;
  ASSERT_TRUE((*reader)->ReadEntries(&last, 1, [&](size_t, SegmentEntry& e) { id = e.row.id; }).ok());
  EXPECT_FALSE(id.empty());
}

TEST(RecordsSegmentReaderTest, EveryFlippedByteOfAFetchedBlockIsCorruption) {
  const std::string bytes = MakeSegment(40, 2, 2500);
  auto mem = std::make_shared<MemStore>();
  ASSERT_TRUE(mem->Put("seg", bytes, PutMode::kOverwrite).ok());
  auto good = OpenOn(mem, nullptr).value();
  Scanned scanned = ScanAll(*good);
  ASSERT_GT(good->block_count(), 1u);
  // The last row (the tombstone is after it), in the last, shorter block.
  const SegmentEntryLocator target = scanned.locators[scanned.locators.size() - 2];
  scanned.entries.pop_back();
  // The fetched block's bytes (payload and checksum), found from the footer through a
  // whole-object decode of the trailer.
  const SegmentLayout layout = DecodeSegmentLayout(bytes).value();
  const SegmentBlock& block = layout.blocks[target.block];
  // The object is read from `bad` in place (a byte flipped, then restored), so each
  // case costs a tail read, not a copy of the object.
  std::string bad = bytes;
  BlockCache cache(1 << 20, RecordsSegmentReader::kCacheBlockBytes);
  auto reader = RecordsSegmentReader::Open(std::make_unique<BorrowedReader>(&bad), &cache).value();
  uint64_t cases = 0;
  for (uint64_t i = block.offset; i < block.offset + block.length + 8; ++i, ++cases) {
    bad[i] ^= 0x01;
    bool visited = false;
    Status s = reader->ReadEntries(&target, 1, [&](size_t, SegmentEntry&) { visited = true; });
    ASSERT_TRUE(s.IsCorruption()) << "byte " << i << ": " << s.ToString();
    EXPECT_FALSE(visited);
    bad[i] ^= 0x01;
  }
  EXPECT_EQ(reader->stats().corruptions, cases);
  EXPECT_EQ(cache.stats().inserts, 0u) << "a bad block is never cached";
  // Intact again: served (and now cached).
  std::optional<std::string> doc;
  ASSERT_TRUE(reader->ReadEntries(&target, 1, [&](size_t, SegmentEntry& e) { doc = e.row.document; }).ok());
  EXPECT_EQ(doc, scanned.entries.back().row.document);
}

TEST(RecordsSegmentReaderTest, EveryFlippedTailByteAndTruncationIsCorruptionAtOpen) {
  const std::string bytes = MakeSegment(6, 2, 10);
  auto mem = std::make_shared<MemStore>();
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] ^= 0x20;
    ASSERT_TRUE(mem->Put("seg", bad, PutMode::kOverwrite).ok());
    auto reader = OpenOn(mem, nullptr);
    Status s = reader.ok() ? (*reader)->Scan([](SegmentEntry&, SegmentEntryLocator) {}).status() : reader.status();
    ASSERT_TRUE(s.IsCorruption()) << "byte " << i << ": " << s.ToString();
  }
  for (size_t n = 0; n < bytes.size(); ++n) {
    ASSERT_TRUE(mem->Put("seg", bytes.substr(0, n), PutMode::kOverwrite).ok());
    auto reader = OpenOn(mem, nullptr);
    Status s = reader.ok() ? (*reader)->Scan([](SegmentEntry&, SegmentEntryLocator) {}).status() : reader.status();
    ASSERT_TRUE(s.IsCorruption()) << "length " << n << ": " << s.ToString();
  }
}

TEST(RecordsSegmentReaderTest, ALocatorOutsideTheSegmentIsCorruption) {
  auto mem = std::make_shared<MemStore>();
  ASSERT_TRUE(mem->Put("seg", MakeSegment(10, 2, 10), PutMode::kOverwrite).ok());
  auto reader = OpenOn(mem, nullptr).value();
  SegmentEntryLocator bad_block{99, 0}, bad_offset{0, 1u << 30};
  EXPECT_TRUE(reader->ReadEntries(&bad_block, 1, [](size_t, SegmentEntry&) {}).IsCorruption());
  EXPECT_TRUE(reader->ReadEntries(&bad_offset, 1, [](size_t, SegmentEntry&) {}).IsCorruption());
}

TEST(RecordsSegmentReaderTest, AFailedFetchIsAnErrorAndTheNextReadSucceeds) {
  auto mem = std::make_shared<MemStore>();
  ASSERT_TRUE(mem->Put("seg", MakeSegment(200, 2, 2000), PutMode::kOverwrite).ok());
  auto fault = std::make_shared<FaultStore>(mem, FaultOptions{});
  BlockCache cache(1 << 20, RecordsSegmentReader::kCacheBlockBytes);
  auto reader = OpenOn(fault, &cache).value();
  Scanned scanned = ScanAll(*reader);
  const SegmentEntryLocator at = scanned.locators[150];
  FaultOptions failing;
  failing.fail_before_probability = 1.0;
  fault->SetOptions(failing);
  Status s = reader->ReadEntries(&at, 1, [](size_t, SegmentEntry&) {});
  EXPECT_TRUE(s.code() == StatusCode::kIOError) << s.ToString();
  EXPECT_TRUE(reader->Scan([](SegmentEntry&, SegmentEntryLocator) {}).status().code() == StatusCode::kIOError);
  // The same for a document by its locator; a torn read of its block is Corruption.
  // (Entry 150 has no document: every fifth row has none.)
  const SegmentDocumentLocator document_at = DocumentLocatorOf(scanned.locators[151], scanned.entries[151]);
  std::string document;
  s = reader->ReadDocuments(&document_at, 1, &document);
  EXPECT_TRUE(s.code() == StatusCode::kIOError) << s.ToString();
  FaultOptions torn;
  torn.torn_read_probability = 1.0;
  fault->SetOptions(torn);
  EXPECT_TRUE(reader->ReadDocuments(&document_at, 1, &document).IsCorruption());
  EXPECT_EQ(cache.stats().inserts, 0u);
  fault->SetOptions(FaultOptions{});
  std::optional<std::string> doc;
  ASSERT_TRUE(reader->ReadEntries(&at, 1, [&](size_t, SegmentEntry& e) { doc = e.row.document; }).ok());
  EXPECT_EQ(doc, scanned.entries[150].row.document);
  ASSERT_TRUE(reader->ReadDocuments(&document_at, 1, &document).ok());
  EXPECT_EQ(document, scanned.entries[151].row.document);
}

TEST(RecordsSegmentReaderTest, ATornReadIsCorruptionNeverServed) {
  auto mem = std::make_shared<MemStore>();
  ASSERT_TRUE(mem->Put("seg", MakeSegment(200, 2, 2000), PutMode::kOverwrite).ok());
  auto fault = std::make_shared<FaultStore>(mem, FaultOptions{});
  BlockCache cache(1 << 20, RecordsSegmentReader::kCacheBlockBytes);
  auto reader = OpenOn(fault, &cache).value();
  Scanned scanned = ScanAll(*reader);
  FaultOptions torn;
  torn.torn_read_probability = 1.0;
  fault->SetOptions(torn);
  for (size_t i = 0; i < scanned.locators.size(); i += 17) {
    Status s = reader->ReadEntries(&scanned.locators[i], 1, [](size_t, SegmentEntry&) {});
    EXPECT_FALSE(s.ok());
    EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  }
  EXPECT_EQ(cache.stats().inserts, 0u);
}

TEST(RecordsSegmentReaderTest, ScanReadsInBatchesNotTheWholeObject) {
  // 8 MiB of documents: more than one scan batch.
  const std::string bytes = MakeSegment(3000, 4, 4096);
  ASSERT_GT(bytes.size(), 2 * RecordsSegmentReader::kScanBatchBytes);
  auto mem = std::make_shared<MemStore>();
  ASSERT_TRUE(mem->Put("seg", bytes, PutMode::kOverwrite).ok());
  auto reader = OpenOn(mem, nullptr).value();
  uint64_t n = 0;
  auto summary = reader->Scan([&](SegmentEntry&, SegmentEntryLocator) { ++n; });
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ(n, 3001u);
}

TEST(RecordsSegmentReaderTest, EmptySegment) {
  RecordsSegmentWriter writer(0);
  auto mem = std::make_shared<MemStore>();
  ASSERT_TRUE(mem->Put("seg", writer.Finish().value(), PutMode::kOverwrite).ok());
  auto reader = OpenOn(mem, nullptr).value();
  EXPECT_EQ(reader->block_count(), 0u);
  EXPECT_TRUE(reader->Scan([](SegmentEntry&, SegmentEntryLocator) { FAIL(); }).ok());
  EXPECT_TRUE(reader->ReadEntries(nullptr, 0, [](size_t, SegmentEntry&) { FAIL(); }).ok());
}

// ---- documents by their locators (ReadDocuments) ----

// Every row's document locator, by a scan, with the document.
struct ScannedDocuments {
  std::vector<SegmentDocumentLocator> locators;
  std::vector<std::string> documents;
};
ScannedDocuments ScanDocuments(const RecordsSegmentReader& reader) {
  ScannedDocuments out;
  auto summary = reader.Scan([&](SegmentEntry& e, SegmentEntryLocator at) {
    if (e.tombstone || !e.row.document) return;
    out.locators.push_back(DocumentLocatorOf(at, e));
    out.documents.push_back(*e.row.document);
  });
  EXPECT_TRUE(summary.ok()) << summary.status().ToString();
  return out;
}

TEST(RecordsSegmentReaderTest, TheWriterAndTheScanGiveTheSameDocumentLocators) {
  RecordsSegmentWriter writer(3);
  const float v[3] = {1, 2, 3};
  std::vector<SegmentDocumentLocator> written;
  for (int i = 0; i < 400; ++i) {
    Row row;
    row.id = "id" + std::to_string(i);
    row.offset = static_cast<uint64_t>(i);
    if (i % 7 != 0) row.document = std::string(static_cast<size_t>(i * 13 % 700), 'a' + i % 26);
    if (i % 2 == 0) row.metadata = Metadata{{"k", int64_t{i}}};
    const SegmentDocumentLocator at = writer.AddRow(row, v);
    if (row.document) written.push_back(at);
  }
  auto mem = std::make_shared<MemStore>();
  ASSERT_TRUE(mem->Put("seg", writer.Finish().value(), PutMode::kOverwrite).ok());
  auto reader = OpenOn(mem, nullptr).value();
  ASSERT_GT(reader->block_count(), 1u);
  EXPECT_EQ(ScanDocuments(*reader).locators, written);
}

TEST(RecordsSegmentReaderTest, ReadDocumentsCopiesTheirRangesInOneBatchThenFromTheCache) {
  const std::string bytes = MakeSegment(300, 4, 1000);
  BlockCache cache(4 << 20, RecordsSegmentReader::kCacheBlockBytes);
  auto mem = std::make_shared<MemStore>();
  ASSERT_TRUE(mem->Put("seg", bytes, PutMode::kOverwrite).ok());
  auto reader = OpenOn(mem, &cache).value();
  ScannedDocuments scanned = ScanDocuments(*reader);
  std::vector<std::string> read(scanned.locators.size());
  ASSERT_TRUE(reader->ReadDocuments(scanned.locators.data(), scanned.locators.size(), read.data()).ok());
  EXPECT_EQ(read, scanned.documents);
  EXPECT_EQ(reader->stats().blocks_read, reader->block_count());  // each block once
  EXPECT_EQ(cache.stats().inserts, reader->block_count());
  // Again: every document's range from the cache, no block read.
  std::vector<std::string> again(scanned.locators.size());
  ASSERT_TRUE(reader->ReadDocuments(scanned.locators.data(), scanned.locators.size(), again.data()).ok());
  EXPECT_EQ(again, scanned.documents);
  EXPECT_EQ(reader->stats().blocks_read, reader->block_count());
  EXPECT_EQ(reader->stats().cache_hits, scanned.locators.size());
  // Bypassing the cache, a reader of its own reads the blocks and caches nothing.
  BlockCache other(4 << 20, RecordsSegmentReader::kCacheBlockBytes);
  auto bypassing = OpenOn(mem, &other).value();
  ASSERT_TRUE(bypassing
                  ->ReadDocuments(scanned.locators.data(), scanned.locators.size(), again.data(),
                                  RecordsSegmentReader::CacheFill::kBypass)
                  .ok());
  EXPECT_EQ(again, scanned.documents);
  EXPECT_EQ(other.stats().inserts, 0u);
}

TEST(RecordsSegmentReaderTest, EveryFlippedByteOfADocumentsRangeIsCorruption) {
  const std::string bytes = MakeSegment(40, 2, 2500);
  auto mem = std::make_shared<MemStore>();
  ASSERT_TRUE(mem->Put("seg", bytes, PutMode::kOverwrite).ok());
  ScannedDocuments scanned = ScanDocuments(*OpenOn(mem, nullptr).value());
  const SegmentDocumentLocator target = scanned.locators[scanned.locators.size() / 2];
  const SegmentBlock block = DecodeSegmentLayout(bytes).value().blocks[target.block];
  std::string bad = bytes;
  BlockCache cache(1 << 20, RecordsSegmentReader::kCacheBlockBytes);
  auto reader = RecordsSegmentReader::Open(std::make_unique<BorrowedReader>(&bad), &cache).value();
  std::string document;
  uint64_t cases = 0;
  for (uint64_t i = block.offset + target.offset; i < block.offset + target.offset + target.length; ++i, ++cases) {
    bad[i] ^= 0x01;
    Status s = reader->ReadDocuments(&target, 1, &document);
    ASSERT_TRUE(s.IsCorruption()) << "byte " << i << ": " << s.ToString();
    bad[i] ^= 0x01;
  }
  EXPECT_EQ(reader->stats().corruptions, cases);
  EXPECT_EQ(cache.stats().inserts, 0u) << "a bad block is never cached";
  ASSERT_TRUE(reader->ReadDocuments(&target, 1, &document).ok());
  EXPECT_EQ(document, scanned.documents[scanned.locators.size() / 2]);
}

TEST(RecordsSegmentReaderTest, ADocumentLocatorPastItsBlockIsCorruption) {
  const std::string bytes = MakeSegment(40, 2, 2500);
  auto mem = std::make_shared<MemStore>();
  ASSERT_TRUE(mem->Put("seg", bytes, PutMode::kOverwrite).ok());
  BlockCache cache(1 << 20, RecordsSegmentReader::kCacheBlockBytes);
  auto reader = OpenOn(mem, &cache).value();
  ScannedDocuments scanned = ScanDocuments(*reader);
  const SegmentLayout layout = DecodeSegmentLayout(bytes).value();
  const SegmentDocumentLocator last = scanned.locators.back();
  const uint32_t block_end = static_cast<uint32_t>(layout.blocks[last.block].length);
  std::string document;
  // Warm the block, so the cached copy is checked too.
  ASSERT_TRUE(reader->ReadDocuments(&last, 1, &document).ok());
  const SegmentDocumentLocator bad[] = {
      {static_cast<uint32_t>(layout.blocks.size()), 0, 1},  // no such block
      {last.block, block_end - 10, 11},                     // one byte past the block
      {last.block, block_end + 1, 0},                        // starts past it
      {last.block, UINT32_MAX, 2},                           // offset + length overflows 32 bits
      {last.block, 0, UINT32_MAX},
  };
  for (const SegmentDocumentLocator& at : bad) {
    Status s = reader->ReadDocuments(&at, 1, &document);
    EXPECT_TRUE(s.IsCorruption()) << at.block << " " << at.offset << " " << at.length << ": " << s.ToString();
  }
  // A batch with one bad locator fails as a whole.
  std::vector<SegmentDocumentLocator> batch = scanned.locators;
  batch.push_back(bad[1]);
  std::vector<std::string> read(batch.size());
  EXPECT_TRUE(reader->ReadDocuments(batch.data(), batch.size(), read.data()).IsCorruption());
  // Exactly up to the block's end is fine.
  const SegmentDocumentLocator to_end{last.block, block_end - 5, 5};
  EXPECT_TRUE(reader->ReadDocuments(&to_end, 1, &document).ok());
}

}  // namespace
}  // namespace fathom
