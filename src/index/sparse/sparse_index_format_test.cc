// The sparse index object: a round trip answers every query like the index it was made
// from (with removed and updated vectors, tail and sealed postings, renumbered slots);
// the encoding of a fixed small index is pinned; every flipped byte and truncation is
// Corruption, and so is each inconsistency behind valid checksums; the encoder refuses
// what the decoder would. Prints its seed (FATHOM_SEED replays).
#include "index/sparse/sparse_index_format.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "common/checksum.h"
#include "common/coding.h"
#include "test_util.h"

namespace fathom {
namespace {

constexpr const char* kKey = "sparse";

RecordView View(const std::optional<Metadata>& metadata) {
  static const std::string id = "x";
  static const std::optional<std::string> no_document;
  return RecordView{id, no_document, metadata};
}

std::optional<Metadata> Holding(SparseVector v) { return Metadata{{kKey, MetadataValue(std::move(v))}}; }

SparseVector RandomVector(std::mt19937_64& rng) {
  SparseVector v;
  for (uint32_t d = static_cast<uint32_t>(rng() % 5); d < 300; d += 1 + static_cast<uint32_t>(rng() % 40)) {
    v.indices.push_back(d);
    v.values.push_back(static_cast<float>(static_cast<int>(rng() % 2001) - 1000) / 256.0f);
  }
  return v;
}

void ExpectSameAnswers(const SparseIndex& expected, const SparseIndex& actual, std::mt19937_64& rng,
                       const std::vector<uint32_t>* slot_of_expected = nullptr) {
  for (int q = 0; q < 40; ++q) {
    const SparseVector query = RandomVector(rng);
    for (uint32_t k : {1u, 10u, 5000u}) {
      auto a = expected.Search(query, k, nullptr);
      auto b = actual.Search(query, k, nullptr);
      ASSERT_EQ(a.size(), b.size()) << "query " << q;
      for (size_t i = 0; i < a.size(); ++i) {
        const uint32_t slot = slot_of_expected != nullptr ? (*slot_of_expected)[a[i].slot] : a[i].slot;
        EXPECT_EQ(slot, b[i].slot) << "query " << q << " rank " << i;
        EXPECT_EQ(a[i].score, b[i].score) << "query " << q << " rank " << i;
      }
    }
  }
}

SparseIndexObject ObjectOf(const SparseIndex& index, const std::vector<uint32_t>* rank_of_slot, uint64_t rows,
                           uint64_t vector_rows) {
  SparseIndexObject object;
  object.key = kKey;
  object.vector_rows = vector_rows;
  object.offsets_hash = 0x1122334455667788ull;
  object.vectors_hash = 0x99aabbccddeeff00ull;
  object.image = index.MakeImage(rank_of_slot, rows);
  return object;
}

// The index keeps each vector's checksum (the object's row identity reads them there): a
// slot's is its row's vector's, none for a slot without one.
void ExpectChecksumsOfRows(const SparseIndex& index, const std::vector<std::optional<Metadata>>& rows,
                           uint64_t seed) {
  for (uint32_t slot = 0; slot < rows.size(); ++slot) {
    const std::optional<uint64_t> expected =
        rows[slot] ? std::optional<uint64_t>(SparseVectorChecksum(std::get<SparseVector>(rows[slot]->at(kKey))))
                   : std::nullopt;
    ASSERT_EQ(index.VectorChecksum(slot), expected) << "slot " << slot << " seed " << seed;
  }
}

TEST(SparseIndexFormatTest, RoundTripAnswersLikeTheIndex) {
  const uint64_t seed = testing::SeedForTest("SparseIndexFormatTest.RoundTripAnswersLikeTheIndex");
  std::mt19937_64 rng(seed);
  SparseIndex index(kKey);
  std::vector<std::optional<Metadata>> rows(3000);
  for (uint32_t slot = 0; slot < 2000; ++slot) {
    if (rng() % 7 == 0) continue;  // a row without a vector
    rows[slot] = Holding(RandomVector(rng));
    index.BulkAdd(slot, View(rows[slot]));
  }
  index.Seal();
  // Removes, updates and new rows: sealed postings hidden, tail postings, a rebuild.
  for (int i = 0; i < 1500; ++i) {
    const uint32_t slot = static_cast<uint32_t>(rng() % 3000);
    if (rows[slot]) index.Remove(slot, View(rows[slot]));
    rows[slot].reset();
    if (rng() % 3 != 0) {
      rows[slot] = Holding(RandomVector(rng));
      index.Add(slot, View(rows[slot]));
    }
  }
  // Ranks: the rows of the slots not in `dead` (slots with and without a vector).
  std::vector<uint32_t> rank_of_slot(3000, UINT32_MAX), slot_of_rank;
  uint64_t vector_rows = 0;
  for (uint32_t slot = 0; slot < 3000; ++slot) {
    if (!rows[slot] && slot % 5 == 0) continue;  // a dead slot
    rank_of_slot[slot] = static_cast<uint32_t>(slot_of_rank.size());
    slot_of_rank.push_back(slot);
    vector_rows += rows[slot].has_value();
  }
  auto bytes = EncodeSparseIndexObject(ObjectOf(index, &rank_of_slot, slot_of_rank.size(), vector_rows));
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  auto decoded = DecodeSparseIndexObject(*bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString() << " seed " << seed;
  EXPECT_EQ(decoded->key, kKey);
  EXPECT_EQ(decoded->vector_rows, vector_rows);
  EXPECT_EQ(decoded->offsets_hash, 0x1122334455667788ull);
  EXPECT_EQ(decoded->vectors_hash, 0x99aabbccddeeff00ull);
  EXPECT_EQ(decoded->image.slot_count, slot_of_rank.size());

  // Loaded at the same slots, and (the recovery case) at other slots.
  std::vector<uint32_t> vector_slots;
  std::vector<uint64_t> vector_checksums;
  for (uint32_t slot = 0; slot < 3000; ++slot) {
    if (!rows[slot]) continue;
    vector_slots.push_back(slot);
    vector_checksums.push_back(SparseVectorChecksum(std::get<SparseVector>(rows[slot]->at(kKey))));
  }
  SparseIndex same(kKey);
  same.LoadImage(decoded->image, &slot_of_rank, vector_slots, vector_checksums, 3000);
  EXPECT_EQ(same.vector_count(), index.vector_count());
  ExpectSameAnswers(index, same, rng);
  std::vector<uint32_t> moved(3000);  // slot s of `index` is slot 2s + 1 of the other
  std::vector<uint32_t> moved_slot_of_rank, moved_vector_slots;
  for (uint32_t slot = 0; slot < 3000; ++slot) moved[slot] = 2 * slot + 1;
  for (uint32_t slot : slot_of_rank) moved_slot_of_rank.push_back(moved[slot]);
  for (uint32_t slot : vector_slots) moved_vector_slots.push_back(moved[slot]);
  SparseIndex other(kKey);
  other.LoadImage(std::move(decoded->image), &moved_slot_of_rank, moved_vector_slots, vector_checksums, 6001);
  ExpectSameAnswers(index, other, rng, &moved);
  ExpectChecksumsOfRows(index, rows, seed);
  ExpectChecksumsOfRows(same, rows, seed);
  for (uint32_t slot = 0; slot < 6001; ++slot) {
    const std::optional<uint64_t> expected = slot % 2 == 1 ? index.VectorChecksum(slot / 2) : std::nullopt;
    ASSERT_EQ(other.VectorChecksum(slot), expected) << "slot " << slot << " seed " << seed;
  }

  // The loaded index takes changes like the original.
  for (int i = 0; i < 600; ++i) {
    const uint32_t slot = static_cast<uint32_t>(rng() % 3000);
    if (rows[slot]) {
      index.Remove(slot, View(rows[slot]));
      same.Remove(slot, View(rows[slot]));
    }
    rows[slot] = Holding(RandomVector(rng));
    index.Add(slot, View(rows[slot]));
    same.Add(slot, View(rows[slot]));
  }
  ExpectSameAnswers(index, same, rng);
  ExpectChecksumsOfRows(same, rows, seed);
}

// A fixed small index: 3 rows, dimensions 7 and 2, one removed vector, one tail vector.
std::string SmallObject() {
  SparseIndex index(kKey);
  auto a = Holding(SparseVector{{2, 7}, {0.5f, -1.0f}, {}});
  auto b = Holding(SparseVector{{7}, {2.0f}, {}});
  auto c = Holding(SparseVector{{2}, {-0.25f}, {}});
  index.BulkAdd(0, View(a));
  index.BulkAdd(1, View(b));
  index.Seal();
  index.Remove(1, View(b));
  index.Add(3, View(c));
  std::vector<uint32_t> rank_of_slot{0, UINT32_MAX, 1, 2};
  return EncodeSparseIndexObject(ObjectOf(index, &rank_of_slot, 3, 2)).value();
}

std::string Hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

TEST(SparseIndexFormatTest, PinnedEncodingOfASmallIndex) {
  const std::string bytes = SmallObject();
  // Header: magic, version 1, flags, R = 3, V = 2, the two hashes, N = 2, B = 2, P = 3,
  // key bytes 6, reserved, body and header XXH3.
  EXPECT_EQ(Hex(bytes.substr(0, 80)),
            "4654484d53495831" "01000000" "00000000" "0300000000000000" "0200000000000000"
            "8877665544332211" "00ffeeddccbbaa99" "0200000000000000" "0200000000000000" "0300000000000000"
            "06000000" "00000000");
  // Body: key; lists (dimension 2: 2 postings, dimension 7: 1); block bounds (max, min);
  // slots (ranks); weights.
  EXPECT_EQ(Hex(bytes.substr(96)),
            "737061727365"
            "0200000002000000" "0700000001000000"
            "0000003f000080be" "000080bf000080bf"
            "00000000" "02000000" "00000000"
            "0000003f" "000080be" "000080bf");
  EXPECT_EQ(DecodeFixed64(bytes.data() + 80), Checksum64(std::string_view(bytes).substr(96)));
  EXPECT_EQ(DecodeFixed64(bytes.data() + 88), Checksum64(std::string_view(bytes).substr(0, 88)));
  EXPECT_EQ(bytes.size(), 96u + 6 + 16 + 16 + 24);
}

TEST(SparseIndexFormatTest, EveryFlippedByteAndTruncationIsCorruption) {
  const std::string bytes = SmallObject();
  ASSERT_TRUE(DecodeSparseIndexObject(bytes).ok());
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] ^= 0x10;
    EXPECT_TRUE(DecodeSparseIndexObject(bad).status().IsCorruption()) << "byte " << i;
    EXPECT_TRUE(DecodeSparseIndexObject(std::string_view(bytes).substr(0, i)).status().IsCorruption()) << "length " << i;
  }
  std::string longer = bytes + "x";
  EXPECT_TRUE(DecodeSparseIndexObject(longer).status().IsCorruption());
}

// Damage behind valid checksums: each inconsistency the decoder checks.
TEST(SparseIndexFormatTest, InconsistenciesBehindValidChecksumsAreCorruption) {
  const std::string bytes = SmallObject();
  const size_t lists = 96 + 6, bounds = lists + 16, slots = bounds + 16, weights = slots + 12;
  auto expect = [&](const char* what, auto change) {
    std::string bad = bytes;
    change(bad.data());
    RecomputeSparseIndexChecksumsForTesting(&bad);
    auto decoded = DecodeSparseIndexObject(bad);
    EXPECT_TRUE(decoded.status().IsCorruption()) << what << ": " << decoded.status().ToString();
  };
  auto u32 = [](char* at, uint32_t v) { EncodeFixed32(at, v); };
  auto f32 = [](char* at, float v) { EncodeFixed32(at, std::bit_cast<uint32_t>(v)); };
  expect("version", [&](char* p) { u32(p + 8, 2); });
  expect("flags", [&](char* p) { u32(p + 12, 1); });
  expect("reserved", [&](char* p) { u32(p + 76, 1); });
  expect("vector rows above rows", [&](char* p) { EncodeFixed64(p + 24, 4); });
  expect("rows below a slot", [&](char* p) { EncodeFixed64(p + 16, 2); });
  expect("key length", [&](char* p) { u32(p + 72, 0); });
  expect("dimensions not increasing", [&](char* p) { u32(p + lists + 8, 2); });
  expect("postings count zero", [&](char* p) {
    u32(p + lists + 4, 0);
    u32(p + lists + 12, 3);
  });
  expect("postings counts not covering", [&](char* p) { u32(p + lists + 12, 2); });
  expect("slots not increasing", [&](char* p) { u32(p + slots + 4, 0); });
  expect("slot out of range", [&](char* p) { u32(p + slots + 4, 3); });
  expect("weight not finite", [&](char* p) { f32(p + weights, std::numeric_limits<float>::quiet_NaN()); });
  expect("weight infinite", [&](char* p) { f32(p + weights + 8, std::numeric_limits<float>::infinity()); });
  expect("block max", [&](char* p) { f32(p + bounds, 0.75f); });
  expect("block min", [&](char* p) { f32(p + bounds + 12, -2.0f); });
  expect("signed zero bound", [&](char* p) {
    f32(p + weights + 8, 0.0f);
    f32(p + bounds + 8, -0.0f);
    f32(p + bounds + 12, -0.0f);
  });
  expect("huge counts", [&](char* p) { EncodeFixed64(p + 64, UINT64_MAX / 4); });
}

TEST(SparseIndexFormatTest, EncoderRefusesWhatTheDecoderRefuses) {
  SparseIndex index(kKey);
  auto a = Holding(SparseVector{{1}, {1.0f}, {}});
  index.Add(0, View(a));
  SparseIndexObject object = ObjectOf(index, nullptr, 1, 1);
  object.key = "";
  EXPECT_EQ(EncodeSparseIndexObject(object).status().code(), StatusCode::kInvalidArgument);
  object.key = std::string(kSparseIndexKeyBytesMax + 1, 'k');
  EXPECT_EQ(EncodeSparseIndexObject(object).status().code(), StatusCode::kInvalidArgument);
  object.key = std::string(kSparseIndexKeyBytesMax, 'k');
  EXPECT_TRUE(DecodeSparseIndexObject(EncodeSparseIndexObject(object).value()).ok());
  object.vector_rows = 2;
  EXPECT_EQ(EncodeSparseIndexObject(object).status().code(), StatusCode::kInvalidArgument);
  object.vector_rows = 1;
  object.image.slot_count = kSparseIndexRowsMax + 1;
  EXPECT_EQ(EncodeSparseIndexObject(object).status().code(), StatusCode::kInvalidArgument);
}

TEST(SparseIndexFormatTest, AnEmptyIndexRoundTrips) {
  SparseIndex index(kKey);
  auto bytes = EncodeSparseIndexObject(ObjectOf(index, nullptr, 5, 0));
  ASSERT_TRUE(bytes.ok());
  auto decoded = DecodeSparseIndexObject(*bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_TRUE(decoded->image.dimensions.empty());
  EXPECT_EQ(decoded->image.slot_count, 5u);
}

}  // namespace
}  // namespace fathom
