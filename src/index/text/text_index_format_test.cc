// The persisted text index object: round trips through InvertedIndex's sealed image
// (searches identical to the index it came from, with and without moved slots) and of the
// trigram postings, and the strict decoder (every flipped byte and truncation, damage
// behind recomputed checksums, in the BM25 sections and in the trigram section, analyzer
// versions, version 1 objects, encoder limits). Randomized tests print their seed
// (FATHOM_SEED).
#include "index/text/text_index_format.h"

#include <gtest/gtest.h>

#include <random>

#include "common/checksum.h"
#include "common/coding.h"
#include "index/text/postings.h"
#include "index/text/trigram_section.h"
#include "test_util.h"

namespace fathom {
namespace {

using Tokens = std::vector<std::string>;

// A random document over a Zipf-ish vocabulary, so that some terms span many blocks.
Tokens RandomDocument(std::mt19937_64& rng, size_t vocabulary) {
  Tokens tokens(rng() % 12);
  for (std::string& t : tokens) {
    const double u = std::uniform_real_distribution<double>(0, 1)(rng);
    t = "t" + std::to_string(static_cast<size_t>(std::pow(static_cast<double>(vocabulary), u)) - 1);
  }
  return tokens;
}

// An index of `slots` slots, most holding a document, built through inserts, erases and a
// renumbering onto [0, live) as compaction's snapshot does; returns the live count.
uint32_t BuildDense(std::mt19937_64& rng, uint32_t slots, InvertedIndex* index) {
  for (uint32_t s = 0; s < slots; ++s) {
    if (rng() % 10 != 0) index->Insert(s, RandomDocument(rng, 400));
  }
  for (uint32_t s = 0; s < slots; ++s) {
    if (rng() % 7 == 0) index->Erase(s);
  }
  // Slots with a document keep their order; the others get none (as rows without one).
  std::vector<uint32_t> rank(slots, UINT32_MAX);
  uint32_t live = 0;
  for (uint32_t s = 0; s < slots; ++s) {
    if (rng() % 9 != 0) rank[s] = live++;  // rows without a document stay ranks too
  }
  index->Renumber(rank);
  return live;
}

std::vector<Tokens> Queries(std::mt19937_64& rng) {
  std::vector<Tokens> out;
  for (int i = 0; i < 40; ++i) out.push_back(RandomDocument(rng, 400));
  out.push_back({"t0", "t1", "t2", "t3"});
  return out;
}

void ExpectSameResults(const InvertedIndex& expected, const InvertedIndex& actual, const std::vector<Tokens>& queries,
                       const std::vector<uint32_t>* slot_of) {
  ASSERT_EQ(expected.doc_count(), actual.doc_count());
  ASSERT_DOUBLE_EQ(expected.average_length(), actual.average_length());
  for (const Tokens& q : queries) {
    for (uint32_t k : {1u, 10u, 1000u}) {
      auto a = expected.Search(q, k, nullptr, Bm25Params{});
      auto b = actual.Search(q, k, nullptr, Bm25Params{});
      ASSERT_EQ(a.size(), b.size());
      for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(slot_of ? (*slot_of)[a[i].slot] : a[i].slot, b[i].slot);
        EXPECT_EQ(a[i].score, b[i].score);  // the same postings and lengths: bit-identical
      }
    }
  }
}

// Trigram postings over the ranks that have a document: some short lists, some long ones
// (bitmap and run containers), keys sorted and unique.
TrigramIndex::SortedPostings RandomTrigrams(std::mt19937_64& rng, const std::vector<uint8_t>& has_document) {
  std::vector<uint32_t> documents;
  for (uint32_t r = 0; r < has_document.size(); ++r) {
    if (has_document[r]) documents.push_back(r);
  }
  TrigramIndex::SortedPostings out;
  if (documents.empty()) return out;
  uint32_t key = static_cast<uint32_t>(rng() % 1000);
  for (int i = 0; i < 40; ++i) {
    key += 1 + static_cast<uint32_t>(rng() % 50000);
    Roaring slots;
    const int kind = static_cast<int>(rng() % 3);
    for (uint32_t d : documents) {
      if (kind == 0 ? rng() % 20 == 0 : kind == 1 ? rng() % 2 == 0 : true) slots.add(d);
    }
    if (slots.isEmpty()) slots.add(documents[rng() % documents.size()]);
    slots.runOptimize();
    out.emplace_back(key, std::move(slots));
  }
  return out;
}

void ExpectSameTrigrams(const TrigramIndex::SortedPostings& expected, const TrigramIndex::SortedPostings& actual) {
  ASSERT_EQ(expected.size(), actual.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(expected[i].first, actual[i].first);
    EXPECT_TRUE(expected[i].second == actual[i].second) << "trigram " << expected[i].first;
  }
}

// The trigram section (the last) starts where the section table's eighth entry says.
size_t TrigramSectionAt(const std::string& bytes) { return DecodeFixed64(bytes.data() + 72 + 7 * 24); }

TextIndexObject MakeObject(std::mt19937_64& rng, uint32_t slots, InvertedIndex* kept) {
  InvertedIndex index;
  const uint32_t live = BuildDense(rng, slots, &index);
  *kept = index;
  TextIndexObject object;
  object.analyzer.stemmer = "english";
  object.analyzer.stop_words = {"the", "a"};
  object.offsets_hash = 7;
  object.documents_hash = 9;
  object.image = index.TakeSealed(live);
  object.trigrams = RandomTrigrams(rng, object.image.has_document);
  return object;
}

TEST(TextIndexFormatTest, RoundTripSearchesLikeTheIndexItCameFrom) {
  const uint64_t seed = testing::SeedForTest("TextIndexFormatTest.RoundTripSearchesLikeTheIndexItCameFrom");
  std::mt19937_64 rng(seed);
  for (uint32_t slots : {0u, 1u, 50u, 3000u}) {
    SCOPED_TRACE("slots " + std::to_string(slots));
    InvertedIndex original;
    TextIndexObject object = MakeObject(rng, slots, &original);
    auto bytes = EncodeTextIndexObject(object);
    ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
    auto decoded = DecodeTextIndexObject(*bytes);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_EQ(decoded->analyzer.stemmer, "english");
    EXPECT_EQ(decoded->analyzer.stop_words, object.analyzer.stop_words);
    EXPECT_EQ(decoded->offsets_hash, 7u);
    EXPECT_EQ(decoded->documents_hash, 9u);
    ASSERT_TRUE(decoded->trigrams.has_value()) << decoded->trigram_status.ToString();
    ExpectSameTrigrams(*object.trigrams, *decoded->trigrams);
    // The same image bytes again: the encoding is canonical.
    auto again = EncodeTextIndexObject(*decoded);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, *bytes);

    const std::vector<Tokens> queries = Queries(rng);
    InvertedIndex loaded;
    loaded.LoadSealed(decoded->image, nullptr);
    ExpectSameResults(original, loaded, queries, nullptr);

    // Moved slots (recovery's rows with dead slots between them): the same ranking.
    std::vector<uint32_t> slot_of(decoded->image.slot_count);
    uint32_t next = 0;
    for (uint32_t& s : slot_of) s = (next += 1 + rng() % 3);
    InvertedIndex moved;
    moved.LoadSealed(decoded->image, &slot_of);
    ExpectSameResults(original, moved, queries, &slot_of);
    // And it keeps working as an index: erase, insert, doc_freq, a rebuild. (A random
    // index of one slot may have no live row: then there is nothing to erase.)
    if (!slot_of.empty()) {
      moved.Erase(slot_of[0]);
      loaded.Erase(0);
      moved.Insert(next + 5, {"t0", "t1"});
      loaded.Insert(next + 5, {"t0", "t1"});
      EXPECT_EQ(moved.doc_freq("t0"), loaded.doc_freq("t0"));
      moved.Seal();
      EXPECT_EQ(moved.doc_count(), loaded.doc_count());
    }
  }
}

// A tail document erased without a rebuild leaves its terms in the dictionary with no
// postings: such an index is still "sealed only" and its object must read back.
TEST(TextIndexFormatTest, TermsWithoutPostingsRoundTrip) {
  InvertedIndex index;
  index.Insert(0, {"b", "c"});
  index.Seal();
  index.Insert(1, {"a", "zzz"});
  index.Erase(1);
  ASSERT_TRUE(index.sealed_only());
  InvertedIndex expected = index;
  TextIndexObject object;
  object.image = index.TakeSealed(2);
  auto bytes = EncodeTextIndexObject(object);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  auto decoded = DecodeTextIndexObject(*bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  InvertedIndex loaded;
  loaded.LoadSealed(std::move(decoded->image), nullptr);
  ExpectSameResults(expected, loaded, {{"a"}, {"b"}, {"c", "zzz"}}, nullptr);
  EXPECT_EQ(loaded.doc_freq("zzz"), 0u);
}

// A flipped byte outside the trigram section refuses the object; inside it, only the
// trigram index (the BM25 part still decodes). Any truncation refuses the object.
TEST(TextIndexFormatTest, EveryFlippedByteAndTruncationIsCorruption) {
  const uint64_t seed = testing::SeedForTest("TextIndexFormatTest.EveryFlippedByteAndTruncationIsCorruption");
  std::mt19937_64 rng(seed);
  InvertedIndex original;
  const std::string bytes = EncodeTextIndexObject(MakeObject(rng, 60, &original)).value();
  ASSERT_TRUE(DecodeTextIndexObject(bytes).ok());
  const size_t trigrams_at = TrigramSectionAt(bytes);
  ASSERT_LT(trigrams_at, bytes.size());
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] ^= static_cast<char>(1u << (rng() % 8));
    auto decoded = DecodeTextIndexObject(bad);
    if (i < trigrams_at) {
      EXPECT_TRUE(decoded.status().IsCorruption()) << "byte " << i;
    } else {
      ASSERT_TRUE(decoded.ok()) << "byte " << i << ": " << decoded.status().ToString();
      EXPECT_FALSE(decoded->trigrams.has_value()) << "byte " << i;
      EXPECT_TRUE(decoded->trigram_status.IsCorruption()) << "byte " << i;
    }
    EXPECT_TRUE(DecodeTextIndexObject(std::string_view(bytes).substr(0, i)).status().IsCorruption()) << "length " << i;
  }
}

// Damage inside the trigram section behind its checksum (DecodeTrigramSection, which the
// object's decoder calls once the checksum holds): refused, or decoded into postings that
// still satisfy every invariant.
TEST(TextIndexFormatTest, TrigramDamageBehindTheChecksumIsCheckedOrHarmless) {
  const uint64_t seed = testing::SeedForTest("TextIndexFormatTest.TrigramDamageBehindTheChecksumIsCheckedOrHarmless");
  std::mt19937_64 rng(seed);
  InvertedIndex original;
  const std::string bytes = EncodeTextIndexObject(MakeObject(rng, 3000, &original)).value();
  const std::string section = bytes.substr(TrigramSectionAt(bytes));
  const std::vector<uint8_t> has_document = DecodeTextIndexObject(bytes).value().image.has_document;
  size_t refused = 0;
  for (int round = 0; round < 600; ++round) {
    std::string bad = section;
    bad[rng() % bad.size()] ^= static_cast<char>(1u << (rng() % 8));
    TrigramIndex::SortedPostings trigrams;
    Status s = DecodeTrigramSection(bad, has_document, &trigrams);
    if (!s.ok()) {
      EXPECT_TRUE(s.IsCorruption()) << s.ToString();
      ++refused;
      continue;
    }
    for (size_t i = 0; i < trigrams.size(); ++i) {
      const auto& [key, slots] = trigrams[i];
      EXPECT_TRUE(i == 0 || key > trigrams[i - 1].first);
      ASSERT_FALSE(slots.isEmpty());
      EXPECT_LT(slots.maximum(), has_document.size());
      for (uint32_t slot : slots) ASSERT_TRUE(has_document[slot]);
    }
    TrigramIndex index;
    index.LoadSealed(std::move(trigrams));
    (void)index.ContainsCandidates("abcdef");
  }
  std::printf("refused %zu of 600 damaged trigram sections\n", refused);
  EXPECT_GT(refused, 300u);
}

// An object without a trigram index is written as version 1, the format before it, and
// still reads: the BM25 part in full, no trigram index (NotFound).
TEST(TextIndexFormatTest, VersionOneObjectsStillDecode) {
  std::mt19937_64 rng(3);
  InvertedIndex original;
  TextIndexObject object = MakeObject(rng, 200, &original);
  object.trigrams.reset();
  const std::string bytes = EncodeTextIndexObject(object).value();
  EXPECT_EQ(DecodeFixed32(bytes.data() + 8), 1u);
  EXPECT_EQ(DecodeFixed64(bytes.data() + 72), TextIndexHeaderBytes(1));  // 7 sections: the analyzer at 248
  auto decoded = DecodeTextIndexObject(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_FALSE(decoded->trigrams.has_value());
  EXPECT_TRUE(decoded->trigram_status.IsNotFound());
  InvertedIndex loaded;
  loaded.LoadSealed(std::move(decoded->image), nullptr);
  ExpectSameResults(original, loaded, Queries(rng), nullptr);
  // Every flipped byte of a version 1 object is still refused whole.
  for (size_t i = 0; i < bytes.size(); i += 7) {
    std::string bad = bytes;
    bad[i] ^= 0x20;
    EXPECT_TRUE(DecodeTextIndexObject(bad).status().IsCorruption()) << "byte " << i;
  }
}

// Damage behind valid checksums (a bug, or bytes crafted to pass them) is still refused:
// the structural checks alone must catch it or leave a decodable, consistent index.
TEST(TextIndexFormatTest, DamageBehindRecomputedChecksumsNeverCrashes) {
  const uint64_t seed = testing::SeedForTest("TextIndexFormatTest.DamageBehindRecomputedChecksumsNeverCrashes");
  std::mt19937_64 rng(seed);
  InvertedIndex original;
  const std::string bytes = EncodeTextIndexObject(MakeObject(rng, 300, &original)).value();
  size_t refused = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string bad = bytes;
    // The BM25 sections (the trigram section has its own test below).
    const size_t at = kTextIndexHeaderBytes + rng() % (TrigramSectionAt(bad) - kTextIndexHeaderBytes);
    bad[at] ^= static_cast<char>(1u << (rng() % 8));
    RecomputeTextIndexChecksumsForTesting(&bad);
    auto decoded = DecodeTextIndexObject(bad);
    if (!decoded.ok()) {
      EXPECT_TRUE(decoded.status().IsCorruption());
      ++refused;
      continue;
    }
    // Accepted: it must load and search without tripping anything.
    InvertedIndex loaded;
    loaded.LoadSealed(std::move(decoded->image), nullptr);
    (void)loaded.Search({"t0", "t1", "t5"}, 10, nullptr, Bm25Params{});
  }
  std::printf("refused %zu of 3000 damaged objects with valid checksums\n", refused);
  EXPECT_GT(refused, 2000u);
}

TEST(TextIndexFormatTest, AnotherAnalyzerVersionIsRefused) {
  std::mt19937_64 rng(1);
  InvertedIndex original;
  std::string bytes = EncodeTextIndexObject(MakeObject(rng, 10, &original)).value();
  const uint64_t analyzer_at = DecodeFixed64(bytes.data() + 72);
  EncodeFixed32(bytes.data() + analyzer_at, kTextAnalyzerVersion + 1);
  RecomputeTextIndexChecksumsForTesting(&bytes);
  auto decoded = DecodeTextIndexObject(bytes);
  ASSERT_TRUE(decoded.status().IsCorruption());
  EXPECT_NE(decoded.status().message().find("analyzer version"), std::string::npos) << decoded.status().ToString();
}

TEST(TextIndexFormatTest, EncoderRefusesWhatTheDecoderRefuses) {
  InvertedIndex index;
  index.Insert(0, {std::string(kTextIndexTermBytesMax + 1, 'x')});
  index.Seal();
  TextIndexObject object;
  object.image = index.TakeSealed(1);
  EXPECT_EQ(EncodeTextIndexObject(object).status().code(), StatusCode::kInvalidArgument);

  InvertedIndex small;
  small.Insert(0, {"a"});
  small.Seal();
  object = TextIndexObject();
  object.image = small.TakeSealed(1);
  object.analyzer.stemmer = std::string(kTextIndexStemmerBytesMax + 1, 's');
  EXPECT_EQ(EncodeTextIndexObject(object).status().code(), StatusCode::kInvalidArgument);
  object.analyzer.stemmer.clear();
  object.analyzer.stop_words.assign(1, std::string(kAnalyzerStopWordBytesMax + 1, 'w'));
  EXPECT_EQ(EncodeTextIndexObject(object).status().code(), StatusCode::kInvalidArgument);
  object.analyzer.stop_words.clear();
  EXPECT_TRUE(EncodeTextIndexObject(object).ok());
}

// A document from integer draws only (no floating-point distribution), so that the same
// seed gives the same tokens on every platform; term numbers skew low.
Tokens PinnedDocument(std::mt19937_64& rng) {
  Tokens tokens(rng() % 12);
  for (std::string& t : tokens) t = "w" + std::to_string((rng() % 300) * (rng() % 300) / 300);
  return tokens;
}

// An index whose last rebuild saw every kind of document at once (sealed, tail, bulk
// loaded in decreasing slot order, erased ones of each) and then a renumbering that moves
// and drops slots.
InvertedIndex PinnedIndex(uint32_t* live) {
  std::mt19937_64 rng(20261207);
  InvertedIndex index;
  for (uint32_t s = 0; s < 700; ++s) index.Insert(s, PinnedDocument(rng));
  index.Seal();
  for (uint32_t s = 700; s < 900; ++s) index.Insert(s, PinnedDocument(rng));
  for (uint32_t s = 1400; s-- > 900;) index.BulkInsert(s, PinnedDocument(rng));
  for (uint32_t s = 0; s < 1400; s += 11) index.Erase(s);
  index.Seal();
  std::vector<uint32_t> old_to_new(1400, UINT32_MAX);
  *live = 0;
  for (uint32_t s = 0; s < 1400; ++s) {
    if (s % 13 != 0) old_to_new[s] = (*live)++;
  }
  index.Renumber(old_to_new);
  return index;
}

// The encoding is a format: these bytes (a checksum of them) were written by the code
// before the encoder and the rebuild were split into steps, and any change to them is a
// format change (docs/format/text-index.md), not a refactor.
TEST(TextIndexFormatTest, EncodingOfAFixedIndexIsPinned) {
  uint32_t live = 0;
  InvertedIndex index = PinnedIndex(&live);
  TextIndexObject object;
  object.analyzer.stemmer = "english";
  object.analyzer.stop_words = {"a", "the"};
  object.offsets_hash = 0x0123456789abcdefull;
  object.documents_hash = 42;
  object.image = index.TakeSealed(live);
  const std::string version1 = EncodeTextIndexObject(object).value();
  object.trigrams.emplace();
  for (uint32_t key : {97u, 6382179u, 7628147u}) {
    Roaring slots;
    for (uint32_t r = key % 5; r < live; r += 1 + key % 7) {
      if (object.image.has_document[r]) slots.add(r);
    }
    slots.runOptimize();
    object.trigrams->emplace_back(key, std::move(slots));
  }
  const std::string version2 = EncodeTextIndexObject(object).value();
  std::printf("version 1: %zu bytes, checksum %016llx; version 2: %zu bytes, checksum %016llx\n", version1.size(),
              static_cast<unsigned long long>(Checksum64(version1)), version2.size(),
              static_cast<unsigned long long>(Checksum64(version2)));
  EXPECT_EQ(version1.size(), 43226u);
  EXPECT_EQ(Checksum64(version1), 0xbe60760503c8a588ull);
  EXPECT_EQ(version2.size(), 44804u);
  EXPECT_EQ(Checksum64(version2), 0xce82c03bee335c2bull);
  // And the decoder gives back what was encoded.
  auto decoded = DecodeTextIndexObject(version2);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(EncodeTextIndexObject(*decoded).value(), version2);
}

TEST(TextIndexFormatTest, RowsHasherSeesOffsetsAndDocuments) {
  const std::string doc = "hello";
  TextIndexRowsHasher a, b, c;
  a.AddRow(1, &doc);
  b.AddRow(1, nullptr);
  c.AddRow(2, &doc);
  EXPECT_EQ(a.offsets_hash(), b.offsets_hash());
  EXPECT_NE(a.documents_hash(), b.documents_hash());
  EXPECT_NE(a.offsets_hash(), c.offsets_hash());
  EXPECT_EQ(a.documents_hash(), c.documents_hash());
}

}  // namespace
}  // namespace fathom
