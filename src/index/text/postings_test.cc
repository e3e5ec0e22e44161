// Postings block codec: bit packing at every width and count, block round trips, and the
// checked decoder's refusals.
#include "index/text/postings.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "test_util.h"

namespace fathom {
namespace {

TEST(TextPostingsTest, PackRoundTripEveryWidthAndCount) {
  std::mt19937_64 rng(testing::SeedForTest("TextPostingsTest.PackRoundTripEveryWidthAndCount"));
  for (unsigned bits = 0; bits <= kPostingsBitWidthMax; ++bits) {
    const uint64_t limit = bits == 32 ? (uint64_t{1} << 32) : (uint64_t{1} << bits);
    for (size_t count = 0; count <= kPostingsBlockSize; ++count) {
      std::vector<uint32_t> values(count);
      for (size_t i = 0; i < count; ++i) {
        // The largest value first, so the width is really needed.
        values[i] = i == 0 ? static_cast<uint32_t>(limit - 1) : static_cast<uint32_t>(rng() % limit);
      }
      std::vector<uint8_t> packed(PackedBytes(count, bits) + kUnpackPaddingBytes, 0xAB);
      PackBits(values.data(), count, bits, packed.data());
      std::vector<uint32_t> back(count + 1, 7);
      UnpackBits(packed.data(), count, bits, back.data());
      back.resize(count);
      ASSERT_EQ(back, values) << "bits " << bits << " count " << count;
    }
  }
}

TEST(TextPostingsTest, BitWidth) {
  EXPECT_EQ(BitWidth(0), 0u);
  EXPECT_EQ(BitWidth(1), 1u);
  EXPECT_EQ(BitWidth(255), 8u);
  EXPECT_EQ(BitWidth(256), 9u);
  EXPECT_EQ(BitWidth(UINT32_MAX), 32u);
}

void ExpectBlockRoundTrip(const std::vector<uint32_t>& slots, const std::vector<uint32_t>& tfs) {
  std::string bytes;
  const size_t size = EncodeBlock(slots.data(), tfs.data(), slots.size(), &bytes);
  ASSERT_EQ(size, bytes.size());
  ASSERT_LE(size, kPostingsBlockBytesMax);

  PostingsBlock checked;
  size_t consumed = 0;
  ASSERT_TRUE(DecodeBlock(bytes, &checked, &consumed).ok());
  EXPECT_EQ(consumed, size);
  ASSERT_EQ(checked.count, slots.size());
  EXPECT_EQ(std::vector<uint32_t>(checked.slots, checked.slots + checked.count), slots);
  EXPECT_EQ(std::vector<uint32_t>(checked.tfs, checked.tfs + checked.count), tfs);

  std::string padded = bytes + std::string(kUnpackPaddingBytes, '\0');
  PostingsBlock trusted;
  EXPECT_EQ(DecodeBlockTrusted(reinterpret_cast<const uint8_t*>(padded.data()), &trusted), size);
  EXPECT_EQ(std::vector<uint32_t>(trusted.slots, trusted.slots + trusted.count), slots);
  EXPECT_EQ(std::vector<uint32_t>(trusted.tfs, trusted.tfs + trusted.count), tfs);

  PostingsBlock halves;  // the split decoders agree with the whole-block one
  DecodeSlotsTrusted(reinterpret_cast<const uint8_t*>(padded.data()), &halves);
  ASSERT_EQ(halves.count, slots.size());
  EXPECT_EQ(std::vector<uint32_t>(halves.slots, halves.slots + halves.count), slots);
  DecodeTfsTrusted(reinterpret_cast<const uint8_t*>(padded.data()), &halves);
  EXPECT_EQ(std::vector<uint32_t>(halves.tfs, halves.tfs + halves.count), tfs);
}

TEST(TextPostingsTest, BlockRoundTrip) {
  std::mt19937_64 rng(testing::SeedForTest("TextPostingsTest.BlockRoundTrip"));
  for (size_t count = 1; count <= kPostingsBlockSize; ++count) {
    for (unsigned gap_bits : {0u, 1u, 7u, 13u, 24u}) {
      std::vector<uint32_t> slots(count);
      std::vector<uint32_t> tfs(count);
      uint64_t slot = rng() % 1000;
      for (size_t i = 0; i < count; ++i) {
        slots[i] = static_cast<uint32_t>(slot);
        slot += 1 + (gap_bits == 0 ? 0 : rng() % (uint64_t{1} << gap_bits));
        tfs[i] = 1 + static_cast<uint32_t>(rng() % (i % 3 == 0 ? 1 : 70000));
      }
      ExpectBlockRoundTrip(slots, tfs);
    }
  }
}

TEST(TextPostingsTest, BlockExtremes) {
  ExpectBlockRoundTrip({UINT32_MAX - 1}, {UINT32_MAX - 1});
  ExpectBlockRoundTrip({0, UINT32_MAX - 1}, {1, UINT32_MAX - 1});
  std::vector<uint32_t> slots(kPostingsBlockSize), tfs(kPostingsBlockSize, 1);
  for (size_t i = 0; i < slots.size(); ++i) slots[i] = static_cast<uint32_t>(i);
  ExpectBlockRoundTrip(slots, tfs);  // gaps and frequencies at width 0
}

TEST(TextPostingsTest, CheckedDecoderRefusesBadBytes) {
  std::vector<uint32_t> slots = {3, 9, 40}, tfs = {1, 5, 2};
  std::string good;
  EncodeBlock(slots.data(), tfs.data(), slots.size(), &good);
  PostingsBlock block;
  size_t consumed = 0;
  EXPECT_TRUE(DecodeBlock("", &block, &consumed).IsCorruption());
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_TRUE(DecodeBlock(std::string_view(good.data(), n), &block, &consumed).IsCorruption()) << n;
  }
  std::string bad = good;
  bad[0] = 0;  // count 0
  EXPECT_TRUE(DecodeBlock(bad, &block, &consumed).IsCorruption());
  bad = good;
  bad[0] = static_cast<char>(129);
  EXPECT_TRUE(DecodeBlock(bad, &block, &consumed).IsCorruption());
  bad = good;
  bad[1] = 33;  // slot width
  EXPECT_TRUE(DecodeBlock(bad, &block, &consumed).IsCorruption());
  bad = good;
  bad[3] = 1;  // reserved
  EXPECT_TRUE(DecodeBlock(bad, &block, &consumed).IsCorruption());

  // Slots that overflow 32 bits.
  std::vector<uint32_t> high = {UINT32_MAX - 10, UINT32_MAX - 1};
  std::vector<uint32_t> one = {1, 1};
  std::string overflow;
  EncodeBlock(high.data(), one.data(), 2, &overflow);
  overflow[4] = static_cast<char>(0xFF);  // first slot -> UINT32_MAX, then + gap
  overflow[5] = static_cast<char>(0xFF);
  EXPECT_TRUE(DecodeBlock(overflow, &block, &consumed).IsCorruption());

  // A frequency of 2^32 (stored as 2^32 - 1).
  std::string big;
  std::vector<uint32_t> s1 = {5}, f1 = {UINT32_MAX};
  EncodeBlock(s1.data(), f1.data(), 1, &big);
  for (size_t i = kPostingsBlockHeaderBytes; i < big.size(); ++i) big[i] = static_cast<char>(0xFF);
  EXPECT_TRUE(DecodeBlock(big, &block, &consumed).IsCorruption());
}

TEST(TextPostingsTest, CheckedDecoderSurvivesRandomBytes) {
  const uint64_t seed = testing::SeedForTest("TextPostingsTest.CheckedDecoderSurvivesRandomBytes");
  std::mt19937_64 rng(seed);
  PostingsBlock block;
  for (int round = 0; round < 20000; ++round) {
    std::string bytes(rng() % 700, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    if (!bytes.empty() && round % 2 == 0) bytes[0] = static_cast<char>(1 + rng() % 128);
    if (bytes.size() > 3 && round % 2 == 0) {
      bytes[1] = static_cast<char>(rng() % 33);
      bytes[2] = static_cast<char>(rng() % 33);
      bytes[3] = 0;
    }
    size_t consumed = 0;
    Status s = DecodeBlock(bytes, &block, &consumed);
    if (s.ok()) {
      ASSERT_LE(consumed, bytes.size());
      for (uint32_t i = 1; i < block.count; ++i) ASSERT_LT(block.slots[i - 1], block.slots[i]);
      // A block that decodes re-encodes to the same bytes (the encoding is canonical up to
      // the chosen widths, which may be wider than needed).
    }
  }
}

}  // namespace
}  // namespace fathom
