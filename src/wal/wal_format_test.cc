#include "wal/wal_format.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

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
  std::string bytes = EncodeWalObject(42, ops).value();
  auto decoded = DecodeWalObject(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->sequence, 42u);
  EXPECT_TRUE(SameOps(decoded->ops, ops));
}

TEST(WalFormatTest, EveryFlippedByteIsCorruption) {
  std::string bytes = EncodeWalObject(7, SampleOps()).value();
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
  std::string bytes = EncodeWalObject(7, SampleOps()).value();
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
  auto decoded = DecodeWalObject(EncodeWalObject(static_cast<uint64_t>(n), ops).value());
  RC_ASSERT(decoded.ok());
  RC_ASSERT(decoded->sequence == static_cast<uint64_t>(n));
  // NaN != NaN, so compare embeddings bitwise through re-encoding.
  RC_ASSERT(EncodeWalObject(1, decoded->ops).value() == EncodeWalObject(1, ops).value());
}

}  // namespace
}  // namespace fathom
