#include "wal/wal_format.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
#include <sys/resource.h>

#include "common/checksum.h"
#include "common/coding.h"
#include "common/limits.h"

namespace fathom {
namespace {

OperationBatch SampleOps() {
  OperationBatch ops;
  Operation add;
  add.type = OpType::kAdd;
  add.record.id = "a";
  add.record.embedding = std::vector<float>{1.5f, -2.0f, 0.0f};
  add.record.document = "hello";
  add.record.uri = "s3://x";
  add.record.metadata = MetadataPatch{{"i", MetadataValue(int64_t{-7})},
                                      {"f", MetadataValue(2.5)},
                                      {"s", MetadataValue(std::string("str"))},
                                      {"b", MetadataValue(true)},
                                      {"ai", MetadataValue(std::vector<int64_t>{1, 2})},
                                      {"as", MetadataValue(std::vector<std::string>{"x", ""})},
                                      {"ab", MetadataValue(std::vector<bool>{true, false})},
                                      {"af", MetadataValue(std::vector<double>{0.25})},
                                      {"gone", std::nullopt}};
  ops.push_back(add);
  Operation update;
  update.type = OpType::kUpdate;
  update.record.id = "b";
  update.record.document = "";
  ops.push_back(update);
  Operation del;
  del.type = OpType::kDelete;
  del.record.id = "c";
  ops.push_back(del);
  return ops;
}

bool SameOps(const OperationBatch& a, const OperationBatch& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const WriteRecord &x = a[i].record, &y = b[i].record;
    if (a[i].type != b[i].type || x.id != y.id || x.embedding != y.embedding || x.document != y.document ||
        x.uri != y.uri || x.metadata != y.metadata) {
      return false;
    }
  }
  return true;
}

TEST(WalFormatTest, RoundTrip) {
  OperationBatch ops = SampleOps();
  std::string bytes = EncodeWalObject(42, ops, 0x5eed).value();
  auto decoded = DecodeWalObject(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->sequence, 42u);
  EXPECT_EQ(decoded->writer_nonce, 0x5eedu);
  EXPECT_TRUE(SameOps(decoded->ops, ops));
}

// Two nodes logging the same group at the same sequence number write different bytes:
// a writer retrying a put of unknown outcome can tell its own object from the other's.
TEST(WalFormatTest, TheWriterNonceTellsEqualGroupsApart) {
  const std::string a = EncodeWalObject(3, SampleOps(), 1).value();
  const std::string b = EncodeWalObject(3, SampleOps(), 2).value();
  EXPECT_NE(a, b);
  EXPECT_EQ(DecodeWalObject(a)->writer_nonce, 1u);
  EXPECT_EQ(DecodeWalObject(b)->writer_nonce, 2u);
}

// Objects written before the nonce (format version 1: no nonce after the op count) are
// still read, with nonce 0.
TEST(WalFormatTest, VersionOneObjectsWithoutANonceStillDecode) {
  const std::string v2 = EncodeWalObject(5, SampleOps(), 0x5eed).value();
  constexpr size_t kNonceAt = 4 + 2 + 2 + 8 + 4;
  std::string v1 = v2.substr(0, kNonceAt) + v2.substr(kNonceAt + 8, v2.size() - kNonceAt - 8 - 8);
  v1[4] = 1;  // version 1 (u16 LE)
  v1[5] = 0;
  PutFixed64(&v1, Checksum64(v1));
  auto decoded = DecodeWalObject(v1);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->sequence, 5u);
  EXPECT_EQ(decoded->writer_nonce, 0u);
  EXPECT_TRUE(SameOps(decoded->ops, SampleOps()));
  std::string v3 = v1.substr(0, v1.size() - 8);
  v3[4] = 3;  // an unknown version is refused, even with a good checksum
  PutFixed64(&v3, Checksum64(v3));
  auto refused = DecodeWalObject(v3);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("unsupported format version 3"), std::string::npos)
      << refused.status().ToString();
}

TEST(WalFormatTest, EveryFlippedByteIsCorruption) {
  std::string bytes = EncodeWalObject(7, SampleOps(), 0x5eed).value();
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (int bit : {0, 7}) {
      std::string bad = bytes;
      bad[i] ^= static_cast<char>(1 << bit);
      auto decoded = DecodeWalObject(bad);
      ASSERT_FALSE(decoded.ok()) << "byte " << i;
      EXPECT_TRUE(decoded.status().IsCorruption()) << decoded.status().ToString();
    }
  }
}

TEST(WalFormatTest, EveryTruncationIsCorruption) {
  std::string bytes = EncodeWalObject(7, SampleOps(), 0x5eed).value();
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto decoded = DecodeWalObject(std::string_view(bytes).substr(0, n));
    ASSERT_FALSE(decoded.ok());
    EXPECT_TRUE(decoded.status().IsCorruption());
  }
}

TEST(WalFormatTest, KeysSortNumerically) {
  EXPECT_LT(WalKey("c1", 9), WalKey("c1", 10));
  uint64_t seq = 0;
  ASSERT_TRUE(ParseWalKey(WalKey("c1", 123456789), &seq));
  EXPECT_EQ(seq, 123456789u);
  EXPECT_FALSE(ParseWalKey("c/x/wal/12", &seq));
  EXPECT_FALSE(ParseWalKey("c/x/wal/0000000000000000000a", &seq));
}

// ---- limits: the encoder refuses what the decoder refuses (issue 12, finding 1) ----

Operation AddOp(std::string id) {
  Operation op;
  op.type = OpType::kAdd;
  op.record.id = std::move(id);
  op.record.embedding = std::vector<float>{1.0f};
  return op;
}

// Encodes `op` alone: must be refused with InvalidArgument naming `limit_name`.
void ExpectRefused(const Operation& op, const std::string& limit_name) {
  auto encoded = EncodeWalObject(1, {op}, 1);
  ASSERT_FALSE(encoded.ok()) << "encoded " << encoded->size() << " bytes; decodes: "
                             << DecodeWalObject(*encoded).status().ToString();
  EXPECT_EQ(encoded.status().code(), StatusCode::kInvalidArgument) << encoded.status().ToString();
  EXPECT_NE(encoded.status().message().find(limit_name), std::string::npos) << encoded.status().ToString();
}

TEST(WalFormatTest, EncoderRefusesOverLimitMetadataString) {
  Operation op = AddOp("a");
  op.record.metadata = MetadataPatch{{"big", MetadataValue(std::string(limits::kMetadataStringBytesMax + 1, 'x'))}};
  ExpectRefused(op, "limits::kMetadataStringBytesMax");
  op.record.metadata = MetadataPatch{
      {"big", MetadataValue(std::vector<std::string>{"a", std::string(limits::kMetadataStringBytesMax + 1, 'x')})}};
  ExpectRefused(op, "limits::kMetadataStringBytesMax");
  // At the limit it is written and read back.
  op.record.metadata = MetadataPatch{{"big", MetadataValue(std::string(limits::kMetadataStringBytesMax, 'x'))}};
  auto encoded = EncodeWalObject(1, {op}, 1);
  ASSERT_TRUE(encoded.ok()) << encoded.status().ToString();
  EXPECT_TRUE(DecodeWalObject(*encoded).ok());
}

TEST(WalFormatTest, EncoderRefusesEveryOtherOverLimitField) {
  ExpectRefused(AddOp(std::string(limits::kIdLengthMax + 1, 'i')), "limits::kIdLengthMax");
  Operation op = AddOp("a");
  op.record.document = std::string(limits::kDocumentBytesMax + 1, 'd');
  ExpectRefused(op, "limits::kDocumentBytesMax");
  op = AddOp("a");
  op.record.uri = std::string(limits::kUriBytesMax + 1, 'u');
  ExpectRefused(op, "limits::kUriBytesMax");
  op = AddOp("a");
  op.record.embedding = std::vector<float>(limits::kDimensionMax + 1, 0.5f);
  ExpectRefused(op, "limits::kDimensionMax");
  op = AddOp("a");
  op.record.metadata = MetadataPatch{{"n", MetadataValue(std::vector<int64_t>(limits::kMetadataArrayLengthMax + 1))}};
  ExpectRefused(op, "limits::kMetadataArrayLengthMax");
  op = AddOp("a");
  op.record.metadata = MetadataPatch{{std::string(limits::kMetadataKeyBytesMax + 1, 'k'), MetadataValue(true)}};
  ExpectRefused(op, "limits::kMetadataKeyBytesMax");
  op = AddOp("a");
  op.record.metadata.emplace();
  for (size_t i = 0; i <= limits::kMetadataKeysMax; ++i) (*op.record.metadata)["k" + std::to_string(i)] = std::nullopt;
  ExpectRefused(op, "limits::kMetadataKeysMax");
  ExpectRefused(AddOp(""), "empty id");
  op = AddOp("a");
  op.record.embedding.reset();
  ExpectRefused(op, "need an embedding");
}

TEST(WalFormatTest, EncoderRefusesAGroupOverWalObjectBytesMax) {
  // Nine documents of 30 MiB: each op is within its limits, the object is not.
  OperationBatch ops;
  const std::string document(30u << 20, 'd');
  for (int i = 0; i < 9; ++i) {
    ops.push_back(AddOp("r" + std::to_string(i)));
    ops.back().record.document = document;
  }
  auto encoded = EncodeWalObject(1, ops, 1);
  ASSERT_FALSE(encoded.ok()) << "encoded " << encoded->size() << " bytes; decodes: "
                             << DecodeWalObject(*encoded).status().ToString();
  EXPECT_EQ(encoded.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(encoded.status().message().find("limits::kWalObjectBytesMax"), std::string::npos)
      << encoded.status().ToString();
  ops.resize(8);  // 240 MiB: fits
  encoded = EncodeWalObject(1, ops, 1);
  ASSERT_TRUE(encoded.ok()) << encoded.status().ToString();
  EXPECT_TRUE(DecodeWalObject(*encoded).ok());
}

// ---- limits: counts are checked against the bytes left (issue 12, finding 7) ----

// A well-formed header and checksum around `payload`, claiming `count` operations.
std::string CraftedWalObject(uint32_t count, const std::string& payload) {
  std::string out(kWalMagic, 4);
  PutFixed16(&out, kWalFormatVersion);
  PutFixed16(&out, 0);
  PutFixed64(&out, 1);
  PutFixed32(&out, count);
  out += payload;
  PutFixed64(&out, Checksum64(out));
  return out;
}

TEST(WalFormatTest, TinyObjectClaimingHugeOpCountIsCorruption) {
  EXPECT_TRUE(DecodeWalObject(CraftedWalObject(UINT32_MAX, "")).status().IsCorruption());
  EXPECT_TRUE(DecodeWalObject(CraftedWalObject(UINT32_MAX, std::string(8, '\x04'))).status().IsCorruption());
  // An embedding whose dimension the bytes left cannot hold (an add with 1 float).
  std::string op = "\x01\x01" "a" "\x01";
  PutVarint64(&op, limits::kDimensionMax);
  op += std::string(4, '\0');
  EXPECT_TRUE(DecodeWalObject(CraftedWalObject(1, op)).status().IsCorruption());
}

long PeakRssKib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

// A 12 MiB object claiming 4M operations of which the first is malformed: the decoder
// used to allocate every Operation (~200 bytes each, 800 MB) before decoding the first.
// Peak RSS can only under-report an allocation (an earlier test may have peaked higher),
// so this fails only when the decoder allocates for the count again.
TEST(WalFormatTest, OpCountDoesNotAllocateAheadOfTheBytes) {
  const uint32_t count = 4u << 20;
  const std::string object = CraftedWalObject(count, std::string(size_t{count} * 3, '\0'));  // type 0: malformed
  const long before_kib = PeakRssKib();
  auto decoded = DecodeWalObject(object);
  const long grown_kib = PeakRssKib() - before_kib;
  EXPECT_TRUE(decoded.status().IsCorruption()) << decoded.status().ToString();
  EXPECT_LT(grown_kib, 64 * 1024) << "peak RSS grew by " << grown_kib << " KiB decoding a malformed object";
}

RC_GTEST_PROP(WalFormatProperty, RoundTripsArbitraryRecords,
              (const std::vector<std::string>& ids, const std::vector<float>& embedding, const std::string& doc,
               int64_t n)) {
  OperationBatch ops;
  for (const std::string& raw : ids) {
    Operation op;
    op.type = static_cast<OpType>(1 + (raw.size() % 4));
    // Add and upsert always carry an embedding; without one, log an update.
    if (embedding.empty() && (op.type == OpType::kAdd || op.type == OpType::kUpsert)) op.type = OpType::kUpdate;
    op.record.id = raw.empty() ? "x" : raw;
    if (op.type != OpType::kDelete) {
      if (!embedding.empty()) op.record.embedding = embedding;
      op.record.document = doc;
      op.record.metadata = MetadataPatch{{"n", MetadataValue(n)}, {"d", MetadataValue(static_cast<double>(n) / 3)}};
    }
    ops.push_back(std::move(op));
  }
  auto decoded = DecodeWalObject(EncodeWalObject(static_cast<uint64_t>(n), ops, 1).value());
  RC_ASSERT(decoded.ok());
  RC_ASSERT(decoded->sequence == static_cast<uint64_t>(n));
  // NaN != NaN, so compare embeddings bitwise through re-encoding.
  RC_ASSERT(EncodeWalObject(1, decoded->ops, 1).value() == EncodeWalObject(1, ops, 1).value());
}

}  // namespace
}  // namespace fathom
