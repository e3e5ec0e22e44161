#include "storage/records_segment.h"

#include <gtest/gtest.h>

#include "common/limits.h"

namespace fathom {
namespace {

std::string SampleSegment(int rows, uint32_t dim) {
  RecordsSegmentWriter writer(dim);
  std::vector<float> v(dim);
  for (int i = 0; i < rows; ++i) {
    Row row;
    row.id = "id" + std::to_string(i);
    row.offset = static_cast<uint64_t>(i) * 3;
    if (i % 2) row.document = "document " + std::to_string(i);
    if (i % 3) row.uri = "uri";
    if (i % 4) row.metadata = Metadata{{"k", int64_t{i}}, {"tags", std::vector<std::string>{"a", "b"}}};
    for (uint32_t d = 0; d < dim; ++d) v[d] = static_cast<float>(i * 10 + d);
    writer.AddRow(row, v.data());
  }
  writer.AddTombstone("dead");
  return writer.Finish().value();
}

TEST(RecordsSegmentTest, RoundTrip) {
  std::string bytes = SampleSegment(50, 3);
  std::vector<SegmentEntry> entries;
  auto summary = ReadRecordsSegment(bytes, [&](SegmentEntry& e) { entries.push_back(std::move(e)); });
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ(summary->rows, 50u);
  EXPECT_EQ(summary->tombstones, 1u);
  EXPECT_EQ(summary->dimension, 3u);
  ASSERT_EQ(entries.size(), 51u);
  EXPECT_EQ(entries[7].row.id, "id7");
  EXPECT_EQ(entries[7].row.offset, 21u);
  EXPECT_EQ(entries[7].row.document, "document 7");
  EXPECT_EQ(entries[7].embedding, (std::vector<float>{70, 71, 72}));
  EXPECT_EQ(std::get<int64_t>(entries[7].row.metadata->at("k")), 7);
  EXPECT_FALSE(entries[8].row.metadata.has_value());
  EXPECT_TRUE(entries[50].tombstone);
  EXPECT_EQ(entries[50].row.id, "dead");
}

TEST(RecordsSegmentTest, ManyBlocks) {
  // Rows of 64 KiB of floats: about 16 per block.
  std::string bytes = SampleSegment(100, 16384);
  EXPECT_GT(bytes.size(), 5 * limits::kSegmentBlockBytesTarget);
  uint64_t n = 0;
  auto summary = ReadRecordsSegment(bytes, [&](SegmentEntry&) { ++n; });
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ(n, 101u);
}

TEST(RecordsSegmentTest, EveryFlippedByteIsCorruption) {
  std::string bytes = SampleSegment(6, 2);
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] ^= 0x20;
    auto summary = ReadRecordsSegment(bad, [](SegmentEntry&) {});
    ASSERT_FALSE(summary.ok()) << "byte " << i;
    EXPECT_TRUE(summary.status().IsCorruption());
  }
}

TEST(RecordsSegmentTest, EveryTruncationIsCorruption) {
  std::string bytes = SampleSegment(6, 2);
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto summary = ReadRecordsSegment(std::string_view(bytes).substr(0, n), [](SegmentEntry&) {});
    ASSERT_FALSE(summary.ok());
    EXPECT_TRUE(summary.status().IsCorruption());
  }
}

TEST(RecordsSegmentTest, EmptySegment) {
  RecordsSegmentWriter writer(0);
  std::string bytes = writer.Finish().value();
  auto summary = ReadRecordsSegment(bytes, [](SegmentEntry&) { FAIL(); });
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->rows, 0u);
}

// Issue 12, finding 1: updates merge metadata key by key, so a record's metadata can
// outgrow limits::kMetadataKeysMax although every logged patch is within it. The writer
// refuses such a row instead of writing a segment that no longer opens.
TEST(RecordsSegmentTest, WriterRefusesRowsTheReaderRefuses) {
  std::vector<float> v(2, 1.0f);
  Row row;
  row.id = "r";
  row.metadata.emplace();
  for (size_t i = 0; i <= limits::kMetadataKeysMax; ++i) (*row.metadata)["k" + std::to_string(i)] = int64_t{1};
  RecordsSegmentWriter writer(2);
  writer.AddRow(row, v.data());
  auto bytes = writer.Finish();
  ASSERT_FALSE(bytes.ok()) << "written; reads: " << ReadRecordsSegment(*bytes, [](SegmentEntry&) {}).status().ToString();
  EXPECT_EQ(bytes.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bytes.status().message().find("limits::kMetadataKeysMax"), std::string::npos) << bytes.status().ToString();

  RecordsSegmentWriter empty_metadata(2);
  row.metadata = Metadata{};
  empty_metadata.AddRow(row, v.data());
  EXPECT_EQ(empty_metadata.Finish().status().code(), StatusCode::kInvalidArgument);
  RecordsSegmentWriter long_id(2);
  long_id.AddTombstone(std::string(limits::kIdLengthMax + 1, 'i'));
  EXPECT_EQ(long_id.Finish().status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fathom
