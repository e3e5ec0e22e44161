#include "index/text/trigram_index.h"

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <map>
#include <random>
#include <string>

#include "test_util.h"

namespace fathom {
namespace {

RecordView View(const std::string& id, const std::optional<std::string>& document,
                const std::optional<Metadata>& metadata) {
  return RecordView{id, document, metadata};
}

// The index and a brute-force model of the same documents.
class Docs {
 public:
  void Set(uint32_t slot, std::string text) {
    Erase(slot);
    docs_[slot] = std::move(text);
    index_.Add(slot, View(id_, docs_[slot], none_));
  }
  void Erase(uint32_t slot) {
    auto it = docs_.find(slot);
    if (it == docs_.end()) return;
    const std::optional<std::string> doc = it->second;
    index_.Remove(slot, View(id_, doc, none_));
    docs_.erase(it);
  }
  void Renumber() {
    std::vector<uint32_t> old_to_new(max_slot_ + 1, UINT32_MAX);
    std::map<uint32_t, std::string> moved;
    uint32_t next = 0;
    for (uint32_t slot = 0; slot <= max_slot_; ++slot) {
      if (docs_.contains(slot)) {
        old_to_new[slot] = next;
        moved[next++] = docs_[slot];
      }
    }
    ASSERT_TRUE(index_.Renumber(old_to_new));
    docs_.clear();
    for (auto& [slot, text] : moved) docs_[slot] = text;
  }
  void set_max_slot(uint32_t m) { max_slot_ = m; }

  const TrigramIndex& index() const { return index_; }
  const std::map<uint32_t, std::string>& docs() const { return docs_; }

 private:
  TrigramIndex index_;
  std::map<uint32_t, std::string> docs_;
  std::string id_ = "x";
  std::optional<Metadata> none_;
  uint32_t max_slot_ = 0;
};

TEST(TrigramIndexTest, TrigramsAreAsciiLowerCasedAndFoldKelvinAndLongS) {
  EXPECT_EQ(TrigramIndex::DocumentTrigrams("ABCD"), TrigramIndex::DocumentTrigrams("abcd"));
  EXPECT_EQ(TrigramIndex::DocumentTrigrams("ab").size(), 0u);
  // "\u212Aey" also yields the trigrams of "key".
  const auto kelvin = TrigramIndex::DocumentTrigrams("\xE2\x84\xAA" "ey");
  const auto key = TrigramIndex::DocumentTrigrams("key");
  for (uint32_t t : key) EXPECT_NE(std::find(kelvin.begin(), kelvin.end(), t), kelvin.end());
}

TEST(TrigramIndexTest, ContainsNarrowsAndShortPatternsDoNot) {
  Docs d;
  d.Set(0, "the quick brown fox");
  d.Set(1, "jumps over the lazy dog");
  d.Set(2, "THE END");
  EXPECT_FALSE(d.index().ContainsCandidates("th").has_value());
  auto fox = d.index().ContainsCandidates("fox");
  ASSERT_TRUE(fox.has_value());
  EXPECT_EQ(fox->cardinality(), 1u);
  EXPECT_TRUE(fox->contains(0));
  auto the = d.index().ContainsCandidates("the");  // case-folded: a superset of "the"
  ASSERT_TRUE(the.has_value());
  EXPECT_EQ(the->cardinality(), 3u);
  auto none = d.index().ContainsCandidates("zebra");
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->isEmpty());
  d.Erase(0);
  EXPECT_TRUE(d.index().ContainsCandidates("fox")->isEmpty());
  EXPECT_EQ(d.index().EstimateContains("quick"), 0u);
}

TEST(TrigramIndexTest, RegexUsesThePrefilterFormula) {
  Docs d;
  d.Set(0, "error: disk full");
  d.Set(1, "warning: disk slow");
  d.Set(2, "all good");
  RE2 alternation("(error|warning): disk");
  auto c = d.index().RegexCandidates(alternation);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->cardinality(), 2u);
  RE2 anything(".*");
  EXPECT_FALSE(d.index().RegexCandidates(anything).has_value());
  RE2 insensitive("(?i)GOOD");
  c = d.index().RegexCandidates(insensitive);
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(c->contains(2));
}

// Random documents over an alphabet rich in case pairs and folding traps; every
// candidate set must hold every true match, through changes and renumbering.
TEST(TrigramIndexPropertyTest, CandidatesAreSupersetsOfMatches) {
  const uint64_t seed = testing::SeedForTest("TrigramIndexPropertyTest");
  std::mt19937_64 rng(seed);
  const std::vector<std::string> alphabet = {"a", "b", "k", "K", "\xE2\x84\xAA", "s", "S", "\xC5\xBF", "e",
                                             "\xC3\xA9", "\xC3\x89", " ", "ab", "ke", "\xE6\x97\xA5"};
  auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  auto text = [&](size_t max_parts) {
    std::string s;
    const size_t n = pick(max_parts + 1);
    for (size_t i = 0; i < n; ++i) s += alphabet[pick(alphabet.size())];
    return s;
  };
  const std::vector<std::string> regex_parts = {"a",  "b",    "k",   "(?i)k", "(?i:s)", "ab",  "ke+",
                                                "[ab]", "s?",  ".",   "(ab|ke)", "\\s", "(?i)ab", "é"};
  Docs d;
  constexpr uint32_t kSlots = 60;
  d.set_max_slot(kSlots);
  for (int round = 0; round < 40; ++round) {
    for (int i = 0; i < 20; ++i) {
      const uint32_t slot = static_cast<uint32_t>(pick(kSlots));
      if (pick(4) == 0) {
        d.Erase(slot);
      } else {
        d.Set(slot, text(12));
      }
    }
    if (round % 10 == 9) d.Renumber();
    for (int q = 0; q < 20; ++q) {
      const std::string pattern = text(4);
      if (auto c = d.index().ContainsCandidates(pattern)) {
        for (const auto& [slot, doc] : d.docs()) {
          if (doc.find(pattern) != std::string::npos) {
            ASSERT_TRUE(c->contains(slot)) << "contains '" << pattern << "' misses '" << doc << "' seed " << seed;
          }
        }
      }
      std::string re;
      for (size_t i = 0, n = 1 + pick(4); i < n; ++i) re += regex_parts[pick(regex_parts.size())];
      RE2 regex(re);
      ASSERT_TRUE(regex.ok()) << re;
      if (auto c = d.index().RegexCandidates(regex)) {
        for (const auto& [slot, doc] : d.docs()) {
          if (RE2::PartialMatch(doc, regex)) {
            ASSERT_TRUE(c->contains(slot)) << "regex '" << re << "' misses '" << doc << "' seed " << seed;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace fathom

namespace fathom {
namespace {

// A bulk build large enough to take the direct-table path (and cross 65536-slot chunks)
// holds exactly what adding the same documents one by one holds.
TEST(TrigramIndexTest, BulkBuildEqualsIncrementalAdds) {
  const uint64_t seed = testing::SeedForTest("TrigramIndexTest.BulkBuildEqualsIncrementalAdds");
  std::mt19937_64 rng(seed);
  const std::vector<std::string> parts = {"ab", "cd", "Ke", "\xE2\x84\xAA", "\xC5\xBF", "x", " ", "yz", "é"};
  TrigramIndex bulk, incremental;
  std::string id = "x";
  std::optional<Metadata> none;
  std::vector<std::string> docs;
  for (uint32_t slot = 0; slot < 140000; slot += 1 + static_cast<uint32_t>(rng() % 3)) {
    std::string text;
    for (size_t i = 0, n = rng() % 8; i < n; ++i) text += parts[rng() % parts.size()];
    const std::optional<std::string> doc = text;
    bulk.BulkAdd(slot, RecordView{id, doc, none});
    incremental.Add(slot, RecordView{id, doc, none});
    docs.push_back(text);
  }
  bulk.Seal();
  incremental.Seal();
  ASSERT_EQ(bulk.trigram_count(), incremental.trigram_count()) << "seed " << seed;
  for (int q = 0; q < 300; ++q) {
    const std::string& d = docs[rng() % docs.size()];
    if (d.size() < 3) continue;
    const size_t at = rng() % (d.size() - 2);
    const std::string pattern = d.substr(at, 3 + rng() % (d.size() - at - 2));
    auto a = bulk.ContainsCandidates(pattern);
    auto b = incremental.ContainsCandidates(pattern);
    ASSERT_TRUE(a.has_value() && b.has_value());
    ASSERT_TRUE(*a == *b) << "pattern '" << pattern << "' seed " << seed;
  }
}

}  // namespace
}  // namespace fathom
