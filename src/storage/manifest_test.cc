#include "storage/manifest.h"

#include <gtest/gtest.h>

#include "common/checksum.h"
#include "common/coding.h"
#include "common/limits.h"
#include "common/random.h"

namespace fathom {
namespace {

Manifest Sample() {
  Manifest m;
  m.version = 3;
  m.wal_sequence_covered = 99;
  m.next_offset = 1234;
  m.dimension = 128;
  m.segments.push_back({NewUuidV4(), 10, 2, 4096});
  m.segments.push_back({NewUuidV4(), 0, 5, 100});
  m.vector_index = VectorIndexRef{NewUuidV4(), 8, 5000};
  m.cold_parts.push_back({NewUuidV4(), 7, 3000});
  m.cold_parts.push_back({NewUuidV4(), 1, 200});
  m.text_index = TextIndexRef{NewUuidV4(), 9, 7000};
  m.sparse_index = SparseIndexRef{NewUuidV4(), 11, 9000};
  return m;
}

TEST(ManifestTest, RoundTrip) {
  Manifest m = Sample();
  auto d = DecodeManifest(EncodeManifest(m).value());
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->version, 3u);
  EXPECT_EQ(d->wal_sequence_covered, 99u);
  EXPECT_EQ(d->next_offset, 1234u);
  EXPECT_EQ(d->dimension, 128u);
  ASSERT_EQ(d->segments.size(), 2u);
  EXPECT_EQ(d->segments[1].id, m.segments[1].id);
  EXPECT_EQ(d->segments[0].rows, 10u);
  ASSERT_TRUE(d->vector_index.has_value());
  EXPECT_EQ(d->vector_index->id, m.vector_index->id);
  EXPECT_EQ(d->vector_index->rows, 8u);
  EXPECT_EQ(d->vector_index->size_bytes, 5000u);
  ASSERT_EQ(d->cold_parts.size(), 2u);
  EXPECT_EQ(d->cold_parts[1].id, m.cold_parts[1].id);
  EXPECT_EQ(d->cold_parts[0].rows, 7u);
  EXPECT_EQ(d->cold_parts[0].size_bytes, 3000u);
  ASSERT_TRUE(d->text_index.has_value());
  EXPECT_EQ(d->text_index->id, m.text_index->id);
  EXPECT_EQ(d->text_index->rows, 9u);
  EXPECT_EQ(d->text_index->size_bytes, 7000u);
  ASSERT_TRUE(d->sparse_index.has_value());
  EXPECT_EQ(d->sparse_index->id, m.sparse_index->id);
  EXPECT_EQ(d->sparse_index->rows, 11u);
  EXPECT_EQ(d->sparse_index->size_bytes, 9000u);
  m.vector_index.reset();
  m.text_index.reset();
  m.sparse_index.reset();
  d = DecodeManifest(EncodeManifest(m).value());
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->vector_index.has_value());
  EXPECT_FALSE(d->text_index.has_value());
  EXPECT_FALSE(d->sparse_index.has_value());
}

// Version 4 (no sparse index entry) is still read.
TEST(ManifestTest, ReadsVersionFour) {
  Manifest m = Sample();
  m.sparse_index.reset();
  std::string bytes = EncodeManifest(m).value();
  // Version 5 without a sparse index ends in a zero sparse index count: drop it.
  std::string v4 = bytes.substr(0, bytes.size() - 8 - 1);
  v4[4] = 4;
  v4[5] = 0;
  PutFixed64(&v4, Checksum64(v4));
  auto d = DecodeManifest(v4);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_TRUE(d->text_index.has_value());
  EXPECT_EQ(d->text_index->id, m.text_index->id);
  EXPECT_FALSE(d->sparse_index.has_value());
}

// Version 3 (no text index entry) is still read.
TEST(ManifestTest, ReadsVersionThree) {
  Manifest m = Sample();
  m.text_index.reset();
  m.sparse_index.reset();
  std::string bytes = EncodeManifest(m).value();
  // Version 5 without a text or sparse index ends in two zero counts: drop them.
  std::string v3 = bytes.substr(0, bytes.size() - 8 - 2);
  v3[4] = 3;
  v3[5] = 0;
  PutFixed64(&v3, Checksum64(v3));
  auto d = DecodeManifest(v3);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_TRUE(d->vector_index.has_value());
  EXPECT_EQ(d->cold_parts.size(), 2u);
  EXPECT_FALSE(d->text_index.has_value());
}

// Version 1 (before the vector index entry) is still read.
TEST(ManifestTest, ReadsVersionOne) {
  Manifest m = Sample();
  m.vector_index.reset();
  m.cold_parts.clear();
  m.text_index.reset();
  m.sparse_index.reset();
  std::string bytes = EncodeManifest(m).value();
  // Version 5 without indexes or cold parts differs from version 1 by the version field
  // and the trailing index, part, text and sparse index counts (four zero bytes); rewrite
  // both and the checksum.
  std::string v1 = bytes.substr(0, bytes.size() - 8 - 4);
  v1[4] = 1;
  v1[5] = 0;
  PutFixed64(&v1, Checksum64(v1));
  auto d = DecodeManifest(v1);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->segments.size(), 2u);
  EXPECT_FALSE(d->vector_index.has_value());
}

// Version 2 (an index entry, no cold parts) is still read.
TEST(ManifestTest, ReadsVersionTwo) {
  Manifest m = Sample();
  m.cold_parts.clear();
  m.text_index.reset();
  m.sparse_index.reset();
  std::string bytes = EncodeManifest(m).value();
  std::string v2 = bytes.substr(0, bytes.size() - 8 - 3);
  v2[4] = 2;
  v2[5] = 0;
  PutFixed64(&v2, Checksum64(v2));
  auto d = DecodeManifest(v2);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_TRUE(d->vector_index.has_value());
  EXPECT_EQ(d->vector_index->id, m.vector_index->id);
  EXPECT_TRUE(d->cold_parts.empty());
}

TEST(ManifestTest, EveryFlippedByteAndTruncationIsCorruption) {
  std::string bytes = EncodeManifest(Sample()).value();
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] ^= 0x01;
    EXPECT_TRUE(DecodeManifest(bad).status().IsCorruption()) << "byte " << i;
    EXPECT_TRUE(DecodeManifest(std::string_view(bytes).substr(0, i)).status().IsCorruption()) << "length " << i;
  }
}

// Issue 12, finding 1: a manifest the decoder would refuse must never be committed.
void ExpectRefused(const Manifest& m, const std::string& limit_name) {
  auto encoded = EncodeManifest(m);
  ASSERT_FALSE(encoded.ok()) << "encoded; decodes: " << DecodeManifest(*encoded).status().ToString();
  EXPECT_EQ(encoded.status().code(), StatusCode::kInvalidArgument) << encoded.status().ToString();
  EXPECT_NE(encoded.status().message().find(limit_name), std::string::npos) << encoded.status().ToString();
}

TEST(ManifestTest, EncoderRefusesMoreSegmentsThanTheDecoderReads) {
  Manifest m = Sample();
  m.segments.clear();
  for (size_t i = 0; i < limits::kManifestSegmentsMax; ++i) m.segments.push_back({NewUuidV4(), 1, 0, 10});
  auto at_limit = EncodeManifest(m);
  ASSERT_TRUE(at_limit.ok()) << at_limit.status().ToString();
  EXPECT_TRUE(DecodeManifest(*at_limit).ok());
  m.segments.push_back({NewUuidV4(), 1, 0, 10});
  ExpectRefused(m, "limits::kManifestSegmentsMax");
}

TEST(ManifestTest, EncoderRefusesMoreColdPartsThanTheDecoderReads) {
  Manifest m = Sample();
  m.cold_parts.clear();
  for (size_t i = 0; i < limits::kColdPartsMax; ++i) m.cold_parts.push_back({NewUuidV4(), 1, 10});
  auto at_limit = EncodeManifest(m);
  ASSERT_TRUE(at_limit.ok()) << at_limit.status().ToString();
  EXPECT_TRUE(DecodeManifest(*at_limit).ok());
  m.cold_parts.push_back({NewUuidV4(), 1, 10});
  ExpectRefused(m, "limits::kColdPartsMax");
}

TEST(ManifestTest, EncoderRefusesIdsAndDimensionsTheDecoderRefuses) {
  Manifest m = Sample();
  m.segments[0].id = "not-a-uuid";
  ExpectRefused(m, "limits::kManifestObjectIdBytesMax");
  m = Sample();
  m.cold_parts[1].id = std::string(limits::kManifestObjectIdBytesMax + 1, 'a');
  ExpectRefused(m, "limits::kManifestObjectIdBytesMax");
  m = Sample();
  m.vector_index->id = "";
  ExpectRefused(m, "limits::kManifestObjectIdBytesMax");
  m = Sample();
  m.text_index->id = "not-a-uuid";
  ExpectRefused(m, "limits::kManifestObjectIdBytesMax");
  m = Sample();
  m.sparse_index->id = "not-a-uuid";
  ExpectRefused(m, "limits::kManifestObjectIdBytesMax");
  m = Sample();
  m.dimension = limits::kDimensionMax + 1;
  ExpectRefused(m, "limits::kDimensionMax");
}

TEST(ManifestTest, TinyManifestClaimingHugeCountsIsCorruption) {
  for (bool cold : {false, true}) {
    std::string out(kManifestMagic, 4);
    PutFixed16(&out, kManifestFormatVersion);
    PutFixed16(&out, 0);
    PutFixed64(&out, 1);
    PutFixed64(&out, 0);
    PutFixed64(&out, 0);
    PutFixed32(&out, 0);
    PutVarint64(&out, cold ? 0 : UINT64_MAX);  // segments
    PutVarint64(&out, 0);                      // no vector index
    PutVarint64(&out, cold ? UINT64_MAX : 0);  // cold parts
    PutVarint64(&out, 0);                      // no text index
    PutVarint64(&out, 0);                      // no sparse index
    PutFixed64(&out, Checksum64(out));
    EXPECT_TRUE(DecodeManifest(out).status().IsCorruption()) << (cold ? "cold parts" : "segments");
  }
}

TEST(ManifestTest, KeysSortNumerically) {
  EXPECT_LT(ManifestKey("x", 9), ManifestKey("x", 10));
  EXPECT_EQ(SegmentKey("x", "s"), "c/x/seg/s.records");
}

}  // namespace
}  // namespace fathom

namespace fathom {
namespace {

TEST(ManifestKeysTest, DataKeysAreSegmentsIndexesAndColdPartsOnly) {
  const std::string id = "0b6c5a52-3f7e-4f55-9a43-0d1c1fd7b7a1";
  const std::string object = "8c0f2a4e-2b1d-4e62-a1b0-5d9f8e7c6b5a";
  EXPECT_TRUE(IsCollectionDataKey(SegmentKey(id, object)));
  EXPECT_TRUE(IsCollectionDataKey(VectorIndexKey(id, object)));
  EXPECT_TRUE(IsCollectionDataKey(ColdPartKey(id, object)));
  EXPECT_TRUE(IsCollectionDataKey(TextIndexKey(id, object)));
  EXPECT_TRUE(IsCollectionDataKey(SparseIndexKey(id, object)));
  EXPECT_FALSE(IsCollectionDataKey(ManifestKey(id, 3)));
  EXPECT_FALSE(IsCollectionDataKey("c/" + id + "/wal/00000000000000000001"));
  EXPECT_FALSE(IsCollectionDataKey("catalog/00000000000000000001"));
  EXPECT_FALSE(IsCollectionDataKey("dropped/" + object));
  EXPECT_FALSE(IsCollectionDataKey(SegmentPrefix(id)));  // a prefix names no object
  EXPECT_FALSE(IsCollectionDataKey("c/short/seg/x"));
  EXPECT_FALSE(IsCollectionDataKey(""));
}

}  // namespace
}  // namespace fathom
