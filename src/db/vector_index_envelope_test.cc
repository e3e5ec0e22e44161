// The collection envelope of a persisted vector index (docs/format/vector_index.md): it
// round-trips and loads into the table it was written for (rows with dead slots between
// them, so ranks are not slots); every flipped byte and every truncation is refused by
// the decoder and by CollectionVectorIndex::Load, which then holds no index; header
// fields changed behind a valid checksum are refused or load into an index that answers
// within the table's live rows; the encoder refuses what the decoder refuses; versions 1
// and 2 still decode. Prints its seed (FATHOM_SEED replays).
#include "db/vector_index_envelope.h"

#include <gtest/gtest.h>

#include <memory>
#include <random>

#include "common/coding.h"
#include "db/collection_vector_index.h"
#include "db/record_table.h"
#include "fuzz/fuzz_targets.h"
#include "test_util.h"

namespace fathom {
namespace {

constexpr uint32_t kDim = 8;

// 300 rows added, every 7th deleted: 257 live rows with dead slots among them.
std::unique_ptr<RecordTable> MakeTable(std::mt19937_64& rng) {
  auto table = std::make_unique<RecordTable>();
  table->set_dimension(kDim);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (int i = 0; i < 300; ++i) {
    Operation op;
    op.type = OpType::kAdd;
    op.record.id = "r" + std::to_string(i);
    std::vector<float> v(kDim);
    for (float& x : v) x = uniform(rng);
    op.record.embedding = std::move(v);
    table->Apply(std::move(op));
  }
  for (int i = 0; i < 300; i += 7) {
    Operation op;
    op.type = OpType::kDelete;
    op.record.id = "r" + std::to_string(i);
    table->Apply(std::move(op));
  }
  return table;
}

// An envelope of the table's live rows (fuzz_targets.h builds it: 6 clusters, 2 probes,
// re-rank x10), written as if 5 more rows had been deleted since the last full build.
struct Written {
  VectorIndexEnvelopeHeader header;
  std::string bytes;
};
Written WriteEnvelope(const RecordTable& table) {
  Written out;
  out.bytes = fuzz::VectorIndexEnvelopeOf(table, 6, table.live_count() + 5);
  auto decoded = DecodeVectorIndexEnvelope(out.bytes);
  EXPECT_TRUE(decoded.ok()) << decoded.status().ToString();
  if (decoded.ok()) out.header = decoded->header;
  return out;
}

// Loads `bytes` into a fresh CollectionVectorIndex over `table`; when it takes them, a
// query must answer with live rows only.
Status LoadAndQuery(RecordTable& table, std::string_view bytes) {
  CollectionVectorIndex index(/*min_rows=*/16);
  Status status = index.Load(table, std::string(bytes));
  if (!status.ok()) {
    EXPECT_FALSE(index.has_index());
    return status;
  }
  EXPECT_TRUE(index.has_index());
  const std::vector<float> query(kDim, 0.25f);
  auto hits = index.Search(table, DistanceSpace::kL2, query.data(), 10, nullptr, VectorSearchKnobs{});
  EXPECT_TRUE(hits.ok());
  if (hits.ok()) {
    EXPECT_EQ(hits->size(), 10u);
    for (const Hit& h : *hits) EXPECT_TRUE(h.slot < table.slot_count() && table.live()[h.slot]) << h.slot;
  }
  return status;
}

TEST(VectorIndexEnvelopeTest, RoundTripsAndLoadsIntoItsTable) {
  std::mt19937_64 rng(testing::SeedForTest("VectorIndexEnvelopeTest.RoundTripsAndLoadsIntoItsTable"));
  auto table = MakeTable(rng);
  const Written written = WriteEnvelope(*table);
  auto decoded = DecodeVectorIndexEnvelope(written.bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->version, kVectorIndexEnvelopeVersion);
  EXPECT_EQ(decoded->header.live_rows, table->live_count());
  EXPECT_EQ(decoded->header.offsets_hash, LiveOffsetsHash(*table));
  EXPECT_EQ(decoded->header.covered_rows, table->live_count());
  EXPECT_EQ(decoded->header.built_rows, table->live_count() + 5);
  EXPECT_EQ(decoded->header.budget.probes, 2u);
  EXPECT_EQ(decoded->header.budget.rerank_factor, 10u);
  EXPECT_EQ(decoded->header.budget.measured_recall, 0.97f);
  EXPECT_EQ(decoded->index.rows(), table->live_count());
  EXPECT_EQ(decoded->index.clusters(), 6u);

  CollectionVectorIndex index(/*min_rows=*/16);
  ASSERT_TRUE(index.Load(*table, written.bytes).ok());
  EXPECT_EQ(index.covered_rows(), table->live_count());
  EXPECT_EQ(index.pending_rows(), 0u);
  EXPECT_EQ(index.budget().probes, 2u);
  EXPECT_TRUE(LoadAndQuery(*table, written.bytes).ok());

  // Another table's rows (one more delete): refused by Load, though the bytes decode.
  Operation op;
  op.type = OpType::kDelete;
  op.record.id = "r1";
  table->Apply(std::move(op));
  EXPECT_TRUE(LoadAndQuery(*table, written.bytes).IsCorruption());
}

TEST(VectorIndexEnvelopeTest, EveryFlippedByteAndTruncationIsRefused) {
  std::mt19937_64 rng(testing::SeedForTest("VectorIndexEnvelopeTest.EveryFlippedByteAndTruncationIsRefused"));
  auto table = MakeTable(rng);
  const std::string bytes = WriteEnvelope(*table).bytes;
  ASSERT_TRUE(LoadAndQuery(*table, bytes).ok());
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] ^= static_cast<char>(1u << (rng() % 8));
    EXPECT_TRUE(DecodeVectorIndexEnvelope(bad).status().IsCorruption()) << "byte " << i;
    EXPECT_TRUE(LoadAndQuery(*table, bad).IsCorruption()) << "byte " << i;
    // Load decodes first: its refusal of a truncation is the decoder's.
    EXPECT_TRUE(LoadAndQuery(*table, std::string_view(bytes).substr(0, i)).IsCorruption()) << "length " << i;
  }
  EXPECT_TRUE(LoadAndQuery(*table, bytes + "x").IsCorruption());
}

// Every header byte set to values that break its field, with the checksum made valid
// again: refused, or (a field Load does not depend on, such as a recall within [0, 1])
// loaded into an index that answers within the live rows. Never a crash.
TEST(VectorIndexEnvelopeTest, HeaderFieldsBehindAValidChecksumAreCheckedOrHarmless) {
  std::mt19937_64 rng(
      testing::SeedForTest("VectorIndexEnvelopeTest.HeaderFieldsBehindAValidChecksumAreCheckedOrHarmless"));
  auto table = MakeTable(rng);
  const std::string bytes = WriteEnvelope(*table).bytes;
  size_t refused = 0, loaded = 0;
  for (size_t i = 0; i < 72; ++i) {
    for (uint8_t value : {uint8_t{0x00}, uint8_t{0x01}, uint8_t{0x7f}, uint8_t{0x80}, uint8_t{0xff}}) {
      std::string bad = bytes;
      if (static_cast<uint8_t>(bad[i]) == value) continue;
      bad[i] = static_cast<char>(value);
      RecomputeVectorIndexEnvelopeChecksumForTesting(&bad);
      const Status status = LoadAndQuery(*table, bad);
      EXPECT_TRUE(status.ok() || status.IsCorruption()) << "byte " << i << ": " << status.ToString();
      ++(status.ok() ? loaded : refused);
    }
  }
  // The row counts, the offsets' hash, the magic, the version and the plan are all
  // checked: most changes are refused.
  EXPECT_GT(refused, loaded);
}

TEST(VectorIndexEnvelopeTest, EncoderRefusesWhatTheDecoderRefuses) {
  std::mt19937_64 rng(testing::SeedForTest("VectorIndexEnvelopeTest.EncoderRefusesWhatTheDecoderRefuses"));
  auto table = MakeTable(rng);
  const Written written = WriteEnvelope(*table);
  auto decoded = DecodeVectorIndexEnvelope(written.bytes);
  ASSERT_TRUE(decoded.ok());
  auto refused = [&](VectorIndexEnvelopeHeader header) {
    return EncodeVectorIndexEnvelope(header, decoded->index).status().code() == StatusCode::kInvalidArgument;
  };
  VectorIndexEnvelopeHeader header = written.header;
  header.built_rows = 0;
  EXPECT_TRUE(refused(header));
  header = written.header;
  header.covered_rows += 1;
  EXPECT_TRUE(refused(header));
  header = written.header;
  header.live_rows = header.covered_rows - 1;
  EXPECT_TRUE(refused(header));
  header = written.header;
  header.budget.probes = decoded->index.clusters() + 1;
  EXPECT_TRUE(refused(header));
  header = written.header;
  header.budget.recall_target = 1.5f;
  EXPECT_TRUE(refused(header));
  header = written.header;
  header.budget.plan = static_cast<SearchBudget::Plan>(7);
  EXPECT_TRUE(refused(header));
}

// Versions 1 (32-byte header, no budget) and 2 (64 bytes, no built rows) still decode.
TEST(VectorIndexEnvelopeTest, OlderVersionsDecode) {
  std::mt19937_64 rng(testing::SeedForTest("VectorIndexEnvelopeTest.OlderVersionsDecode"));
  auto table = MakeTable(rng);
  const Written written = WriteEnvelope(*table);
  for (uint32_t version : {1u, 2u}) {
    const size_t header_bytes = version == 1 ? 32 : 64;
    std::string old = written.bytes.substr(0, header_bytes);
    EncodeFixed32(old.data() + 4, version);
    old.append(8, '\0');
    old += written.bytes.substr(80);
    RecomputeVectorIndexEnvelopeChecksumForTesting(&old);
    auto decoded = DecodeVectorIndexEnvelope(old);
    ASSERT_TRUE(decoded.ok()) << "version " << version << ": " << decoded.status().ToString();
    EXPECT_EQ(decoded->version, version);
    EXPECT_EQ(decoded->header.built_rows, 0u);
    EXPECT_EQ(decoded->header.budget.calibrated(), version == 2);
    EXPECT_TRUE(LoadAndQuery(*table, old).ok());
  }
}

}  // namespace
}  // namespace fathom
