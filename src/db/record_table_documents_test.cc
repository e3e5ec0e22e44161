// RecordTable with documents stored in a records segment (read on demand): what view,
// FetchDocuments and the row indexes see, which operations read, and how a failed read
// reaches the DocumentReadScope.
#include <gtest/gtest.h>

#include "common/checksum.h"
#include "db/document_reads.h"
#include "db/record_table.h"
#include "io/fault_store.h"
#include "io/mem_store.h"

namespace fathom {
namespace {

class RecordTableDocumentsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RecordsSegmentWriter writer(2);
    const float v[2] = {1, 2};
    for (int i = 0; i < 50; ++i) {
      Row row;
      row.id = "id" + std::to_string(i);
      row.offset = static_cast<uint64_t>(i);
      if (i % 10 != 9) row.document = "document " + std::to_string(i) + " " + std::string(2000, 'a' + i % 26);
      row.metadata = Metadata{{"n", int64_t{i}}};
      locators_.push_back(writer.AddRow(row, v));
      rows_.push_back(row);
    }
    mem_ = std::make_shared<MemStore>();
    segment_bytes_ = writer.Finish().value();
    ASSERT_TRUE(mem_->Put("seg", segment_bytes_, PutMode::kOverwrite).ok());
    fault_ = std::make_shared<FaultStore>(mem_, FaultOptions{});
    auto random = ObjectRangeReader::Open(fault_, "seg").value();
    segment_ = RecordsSegmentReader::Open(std::move(random), &cache_).value();
    table_.BeginBulkLoad();
    const uint32_t number = table_.AddSegment(segment_);
    for (size_t i = 0; i < rows_.size(); ++i) table_.LoadRow(rows_[i], {1, 2}, std::make_pair(number, locators_[i]));
    ASSERT_TRUE(table_.SealIndexes().ok());
  }

  std::optional<std::string> ViewDocument(const std::string& id) {
    return table_.view(static_cast<uint32_t>(*table_.Find(id))).document;
  }

  std::shared_ptr<MemStore> mem_;
  std::string segment_bytes_;
  std::shared_ptr<FaultStore> fault_;
  BlockCache cache_{1 << 20, RecordsSegmentReader::kCacheBlockBytes};
  std::shared_ptr<RecordsSegmentReader> segment_;
  std::vector<Row> rows_;
  std::vector<SegmentDocumentLocator> locators_;
  RecordTable table_;
};

TEST_F(RecordTableDocumentsTest, StoredDocumentsLeaveRamAndReadBackOnDemand) {
  for (size_t i = 0; i < rows_.size(); ++i) {
    const Row& r = table_.row(*table_.Find(rows_[i].id));
    EXPECT_FALSE(r.document.has_value());
    EXPECT_EQ(r.has_document(), rows_[i].document.has_value());
    EXPECT_EQ(ViewDocument(rows_[i].id), rows_[i].document);
  }
  std::vector<uint32_t> slots;
  for (size_t i = 0; i < rows_.size(); i += 3) slots.push_back(static_cast<uint32_t>(*table_.Find(rows_[i].id)));
  std::vector<std::optional<std::string>> docs;
  ASSERT_TRUE(table_.FetchDocuments(slots.data(), slots.size(), &docs).ok());
  for (size_t j = 0; j < slots.size(); ++j) EXPECT_EQ(docs[j], rows_[j * 3].document);
  // The metadata view reads nothing.
  const uint64_t reads = segment_->stats().blocks_read + segment_->stats().cache_hits;
  EXPECT_EQ(std::get<int64_t>(table_.metadata_view(slots[1]).metadata->at("n")), 3);
  EXPECT_EQ(segment_->stats().blocks_read + segment_->stats().cache_hits, reads);
}

TEST_F(RecordTableDocumentsTest, WritesNeverReadStoredDocuments) {
  const auto before = segment_->stats();
  Operation meta;
  meta.type = OpType::kUpdate;
  meta.record.id = "id4";
  meta.record.metadata = MetadataPatch{{"n", MetadataValue(int64_t{400})}};
  table_.Apply(std::move(meta));
  Operation doc;
  doc.type = OpType::kUpdate;
  doc.record.id = "id5";
  doc.record.document = "a new document";
  table_.Apply(std::move(doc));
  Operation del;
  del.type = OpType::kDelete;
  del.record.id = "id6";
  table_.Apply(std::move(del));
  const auto after = segment_->stats();
  EXPECT_EQ(after.blocks_read + after.cache_hits, before.blocks_read + before.cache_hits);
  EXPECT_TRUE(table_.row(*table_.Find("id4")).document_stored());
  EXPECT_EQ(ViewDocument("id4"), rows_[4].document);
  EXPECT_EQ(ViewDocument("id5"), "a new document");
  EXPECT_FALSE(table_.Find("id6").has_value());
  // The trigram index still finds the old document's slot as a candidate (verified
  // away by the query layer); the new one's trigrams find id5.
  EXPECT_TRUE(table_.trigram_index()->ContainsCandidates("new document")->contains(static_cast<uint32_t>(*table_.Find("id5"))));
}

TEST_F(RecordTableDocumentsTest, AFailedReadIsRecordedInTheScopeAndTheNextReadSucceeds) {
  FaultOptions failing;
  failing.fail_before_probability = 1.0;
  fault_->SetOptions(failing);
  {
    DocumentReadScope scope;
    EXPECT_FALSE(ViewDocument("id7").has_value());
    EXPECT_TRUE(scope.status().code() == StatusCode::kIOError) << scope.status().ToString();
    std::vector<uint32_t> slots = {static_cast<uint32_t>(*table_.Find("id7"))};
    std::vector<std::optional<std::string>> docs;
    EXPECT_TRUE(table_.FetchDocuments(slots.data(), slots.size(), &docs).code() == StatusCode::kIOError);
  }
  fault_->SetOptions(FaultOptions{});
  DocumentReadScope scope;
  EXPECT_EQ(ViewDocument("id7"), rows_[7].document);
  EXPECT_TRUE(scope.status().ok());
}

TEST_F(RecordTableDocumentsTest, AdoptionPointsUnchangedRowsAtTheNewSegment) {
  Operation add;
  add.type = OpType::kAdd;
  add.record.id = "fresh";
  add.record.embedding = std::vector<float>{0, 1};
  add.record.document = "a fresh document";
  table_.Apply(std::move(add));
  Operation changed;
  changed.type = OpType::kUpdate;
  changed.record.id = "id1";
  changed.record.document = "changed after the fold";
  table_.Apply(std::move(changed));
  // A fold wrote "fresh" and an older state of "id1".
  RecordsSegmentWriter writer(2);
  const float v[2] = {0, 1};
  Row fresh = table_.row(*table_.Find("fresh"));
  Row old = rows_[1];
  old.offset = table_.row(*table_.Find("id1")).offset;
  std::vector<RecordTable::StoredEntry> stored;
  for (const Row* r : {&old, &fresh}) {
    const SegmentDocumentLocator at = writer.AddRow(*r, v);
    stored.push_back({r->id, r->offset, true, Checksum64(*r->document), at});
  }
  ASSERT_TRUE(mem_->Put("seg2", writer.Finish().value(), PutMode::kOverwrite).ok());
  auto second = RecordsSegmentReader::Open(ObjectRangeReader::Open(mem_, "seg2").value(), &cache_).value();
  table_.AdoptStoredDocuments(table_.AddSegment(second), stored);
  const Row& adopted = table_.row(*table_.Find("fresh"));
  EXPECT_TRUE(adopted.document_stored());
  EXPECT_FALSE(adopted.document.has_value());
  EXPECT_EQ(ViewDocument("fresh"), "a fresh document");
  const Row& kept = table_.row(*table_.Find("id1"));
  EXPECT_FALSE(kept.document_stored());
  EXPECT_EQ(kept.document, "changed after the fold");
  EXPECT_NE(table_.segment(0), nullptr);  // the first segment still holds other rows
}

// The checksum every read is checked against: a document that differs from the one the
// row was loaded with (here, bad bytes in the cache's copy of its block, where no block
// checksum is checked again) is Corruption, never served.
TEST_F(RecordTableDocumentsTest, EveryFlippedByteOfADocumentInTheCacheIsCorruption) {
  const uint32_t slot = static_cast<uint32_t>(*table_.Find("id3"));
  const SegmentDocumentLocator at = table_.row(slot).document_at;
  ASSERT_EQ(ViewDocument("id3"), rows_[3].document);  // its block is cached now
  // The reader opened in SetUp took the cache's first file id.
  const uint64_t file_id = cache_.NewFileId() - 1;
  const SegmentBlock block = DecodeSegmentLayout(segment_bytes_).value().blocks[at.block];
  const std::string payload = segment_bytes_.substr(block.offset, block.length);
  std::vector<std::optional<std::string>> docs;
  for (uint32_t i = at.offset; i < at.offset + at.length; ++i) {
    std::string bad = payload;
    bad[i] ^= 0x04;
    cache_.Insert(file_id, at.block, bad.data(), bad.size());
    {
      DocumentReadScope scope;
      EXPECT_FALSE(ViewDocument("id3").has_value());
      ASSERT_TRUE(scope.status().IsCorruption()) << "byte " << i << ": " << scope.status().ToString();
    }
    ASSERT_TRUE(table_.FetchDocuments(&slot, 1, &docs).IsCorruption()) << "byte " << i;
  }
  cache_.Insert(file_id, at.block, payload.data(), payload.size());
  ASSERT_TRUE(table_.FetchDocuments(&slot, 1, &docs).ok());
  EXPECT_EQ(docs[0], rows_[3].document);
}

}  // namespace
}  // namespace fathom
