// InvertedIndex: edge cases, and a property test of Search against a straightforward
// BM25 (term -> documents, the formula in double) through random inserts, erases,
// renumberings, seals, bulk loads and filters. Prints its seed (FATHOM_SEED replays).
#include "index/text/inverted_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <optional>
#include <random>
#include <set>

#include "test_util.h"

namespace fathom {
namespace {

using Tokens = std::vector<std::string>;

// The reference: live documents by slot, BM25 by the formula.
class ReferenceBm25 {
 public:
  void Insert(uint32_t slot, const Tokens& tokens) { docs_[slot] = tokens; }
  void Erase(uint32_t slot) { docs_.erase(slot); }
  void Renumber(const std::vector<uint32_t>& old_to_new) {
    std::map<uint32_t, Tokens> moved;
    for (auto& [slot, tokens] : docs_) {
      if (slot < old_to_new.size() && old_to_new[slot] != UINT32_MAX) moved[old_to_new[slot]] = std::move(tokens);
    }
    docs_ = std::move(moved);
  }
  const std::map<uint32_t, Tokens>& docs() const { return docs_; }

  uint64_t DocFreq(const std::string& term) const {
    uint64_t n = 0;
    for (const auto& [slot, tokens] : docs_) n += std::count(tokens.begin(), tokens.end(), term) > 0;
    return n;
  }

  // Every matching document, best first (score descending, slot ascending).
  std::vector<std::pair<uint32_t, double>> Rank(const Tokens& query, const Roaring* filter, const Bm25Params& p) const {
    std::set<std::string> terms(query.begin(), query.end());
    const double n_docs = static_cast<double>(docs_.size());
    double total = 0;
    for (const auto& [slot, tokens] : docs_) total += static_cast<double>(tokens.size());
    const double avgdl = total / n_docs;
    std::map<std::string, double> idf;
    for (const std::string& t : terms) {
      const double n = static_cast<double>(DocFreq(t));
      idf[t] = std::log(1.0 + (n_docs - n + 0.5) / (n + 0.5));
    }
    std::vector<std::pair<uint32_t, double>> out;
    for (const auto& [slot, tokens] : docs_) {
      if (filter != nullptr && !filter->contains(slot)) continue;
      double score = 0;
      bool matched = false;
      for (const std::string& t : terms) {
        const double tf = static_cast<double>(std::count(tokens.begin(), tokens.end(), t));
        if (tf == 0) continue;
        matched = true;
        const double dl = static_cast<double>(tokens.size());
        score += idf[t] * tf * (p.k1 + 1.0) / (tf + p.k1 * (1.0 - p.b + p.b * dl / avgdl));
      }
      if (matched) out.push_back({slot, score});
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
      return a.second > b.second || (a.second == b.second && a.first < b.first);
    });
    return out;
  }

 private:
  std::map<uint32_t, Tokens> docs_;
};

bool Close(double a, double b) { return std::abs(a - b) <= 1e-5 * std::max(1.0, std::abs(b)); }

// Top-k equal to the reference's up to ties: same length, scores equal position by
// position, every returned slot's score is its reference score, order by score then slot.
void ExpectSameTopK(const std::vector<ScoredSlot>& got, const std::vector<std::pair<uint32_t, double>>& ranked,
                    uint32_t k, const std::string& context) {
  const size_t expected_size = std::min<size_t>(k, ranked.size());
  ASSERT_EQ(got.size(), expected_size) << context;
  std::map<uint32_t, double> reference(ranked.begin(), ranked.end());
  std::set<uint32_t> seen;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE(Close(got[i].score, ranked[i].second))
        << context << " rank " << i << ": " << got[i].score << " vs " << ranked[i].second;
    auto it = reference.find(got[i].slot);
    ASSERT_TRUE(it != reference.end()) << context << " slot " << got[i].slot << " matches nothing";
    ASSERT_TRUE(Close(got[i].score, it->second)) << context << " slot " << got[i].slot;
    ASSERT_TRUE(seen.insert(got[i].slot).second) << context << " duplicate slot";
    if (i > 0) {
      ASSERT_TRUE(got[i - 1].score > got[i].score ||
                  (got[i - 1].score == got[i].score && got[i - 1].slot < got[i].slot))
          << context << " order at " << i;
    }
  }
}

TEST(TextInvertedIndexTest, EdgeCases) {
  InvertedIndex index;
  const Bm25Params p;
  EXPECT_TRUE(index.Search({"a"}, 10, nullptr, p).empty());  // empty index
  index.Insert(0, {"a", "b", "a"});
  EXPECT_EQ(index.doc_count(), 1u);
  EXPECT_EQ(index.doc_freq("a"), 1u);
  EXPECT_EQ(index.doc_freq("zzz"), 0u);
  EXPECT_DOUBLE_EQ(index.average_length(), 3.0);
  EXPECT_TRUE(index.Search({"a"}, 0, nullptr, p).empty());  // k = 0
  EXPECT_TRUE(index.Search({}, 10, nullptr, p).empty());    // empty query
  EXPECT_TRUE(index.Search({"zzz"}, 10, nullptr, p).empty());  // absent term
  auto one = index.Search({"a", "a"}, 10, nullptr, p);          // N = 1, duplicates once
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].slot, 0u);
  const double idf = std::log(1.0 + 0.5 / 1.5);
  EXPECT_NEAR(one[0].score, idf * 2 * 2.2 / (2 + 1.2), 1e-6);
  Roaring none;
  EXPECT_TRUE(index.Search({"a"}, 10, &none, p).empty());  // filter excludes everything

  index.Insert(5, {});  // an empty document counts in N and avgdl
  EXPECT_EQ(index.doc_count(), 2u);
  EXPECT_DOUBLE_EQ(index.average_length(), 1.5);
  index.Seal();
  EXPECT_EQ(index.doc_count(), 2u);
  EXPECT_EQ(index.Search({"a"}, 10, nullptr, p).size(), 1u);
  index.Erase(0);
  index.Erase(0);   // no-op
  index.Erase(77);  // no-op, never seen
  EXPECT_EQ(index.doc_freq("a"), 0u);
  EXPECT_TRUE(index.Search({"a", "b"}, 10, nullptr, p).empty());  // only deleted documents match
  index.Erase(5);
  EXPECT_EQ(index.doc_count(), 0u);
  EXPECT_TRUE(index.Search({"a"}, 10, nullptr, p).empty());  // all deleted
  index.Insert(3, {"c"});
  index.Renumber({UINT32_MAX, UINT32_MAX, UINT32_MAX, 0});
  auto moved = index.Search({"c"}, 3, nullptr, p);
  ASSERT_EQ(moved.size(), 1u);
  EXPECT_EQ(moved[0].slot, 0u);
  index.Clear();
  EXPECT_EQ(index.doc_count(), 0u);
  EXPECT_EQ(index.doc_freq("c"), 0u);
}

class TextInvertedIndexPropertyTest : public ::testing::Test {
 protected:
  void SetUp() override { seed_ = testing::SeedForTest("TextInvertedIndexPropertyTest"); }

  // Zipf-like tokens over a small vocabulary, so terms repeat, ties happen and common
  // terms span several blocks.
  std::string Token(std::mt19937_64& rng, uint32_t vocabulary) {
    std::uniform_real_distribution<double> u(0.0, 1.0);
    const uint32_t rank = static_cast<uint32_t>(std::pow(static_cast<double>(vocabulary), u(rng)));
    return "t" + std::to_string(rank);
  }
  Tokens Document(std::mt19937_64& rng, uint32_t vocabulary) {
    Tokens doc(rng() % 12);
    for (auto& t : doc) t = Token(rng, vocabulary);
    return doc;
  }

  void Check(std::mt19937_64& rng, const InvertedIndex& index, const ReferenceBm25& model, uint32_t vocabulary,
             uint32_t slot_space, int rounds) {
    ASSERT_EQ(index.doc_count(), model.docs().size());
    for (int r = 0; r < rounds; ++r) {
      Tokens query(1 + rng() % 6);
      for (auto& t : query) t = rng() % 10 == 0 ? "absent" : Token(rng, vocabulary);
      for (const auto& t : query) ASSERT_EQ(index.doc_freq(t), model.DocFreq(t)) << t;
      const uint32_t k = std::vector<uint32_t>{1, 3, 10, 100, 100000}[rng() % 5];
      Bm25Params p;
      if (rng() % 4 == 0) {
        p.k1 = static_cast<float>(rng() % 300) / 100.0f;
        p.b = static_cast<float>(rng() % 101) / 100.0f;
      }
      std::optional<Roaring> filter;
      if (rng() % 3 == 0) {
        filter.emplace();
        const double keep = std::vector<double>{0.01, 0.3, 0.9}[rng() % 3];
        std::bernoulli_distribution take(keep);
        for (uint32_t s = 0; s < slot_space; ++s) {
          if (take(rng)) filter->add(s);
        }
      }
      const Roaring* f = filter ? &*filter : nullptr;
      const auto got = index.Search(query, k, f, p);
      const auto ranked = model.Rank(query, f, p);
      std::string context = "seed " + std::to_string(seed_) + " k " + std::to_string(k);
      ExpectSameTopK(got, ranked, k, context);
      if (HasFatalFailure()) return;
    }
  }

  uint64_t seed_ = 0;
};

TEST_F(TextInvertedIndexPropertyTest, MatchesReferenceThroughChanges) {
  std::mt19937_64 rng(seed_);
  for (int scenario = 0; scenario < 6; ++scenario) {
    const uint32_t vocabulary = std::vector<uint32_t>{5, 40, 400}[scenario % 3];
    const uint32_t slot_space = 200 + static_cast<uint32_t>(rng() % 1500);
    InvertedIndex index;
    ReferenceBm25 model;
    // Bulk load half the slots.
    for (uint32_t s = 0; s < slot_space; ++s) {
      if (rng() % 2 == 0) continue;
      Tokens doc = Document(rng, vocabulary);
      index.BulkInsert(s, doc);
      model.Insert(s, doc);
    }
    index.Seal();
    Check(rng, index, model, vocabulary, slot_space, 20);
    if (HasFatalFailure()) return;
    for (int step = 0; step < 30; ++step) {
      const int ops = 1 + static_cast<int>(rng() % 200);
      for (int i = 0; i < ops; ++i) {
        const uint32_t slot = static_cast<uint32_t>(rng() % slot_space);
        if (rng() % 3 == 0) {
          index.Erase(slot);
          model.Erase(slot);
        } else {
          if (model.docs().count(slot)) {  // the owner erases before it re-inserts
            index.Erase(slot);
            model.Erase(slot);
          }
          Tokens doc = Document(rng, vocabulary);
          index.Insert(slot, doc);
          model.Insert(slot, doc);
        }
      }
      switch (rng() % 6) {
        case 0:
          index.Seal();
          break;
        case 1: {  // reclaim empty slots, as the record table does (order kept)
          std::vector<uint32_t> old_to_new(slot_space, UINT32_MAX);
          uint32_t next = 0;
          for (const auto& [slot, tokens] : model.docs()) old_to_new[slot] = next++;
          if (rng() % 2 == 0 && next > 1) {  // or any permutation
            std::vector<uint32_t> perm(next);
            for (uint32_t i = 0; i < next; ++i) perm[i] = i;
            std::shuffle(perm.begin(), perm.end(), rng);
            for (auto& v : old_to_new) {
              if (v != UINT32_MAX) v = perm[v];
            }
          }
          index.Renumber(old_to_new);
          model.Renumber(old_to_new);
          break;
        }
        case 2: {  // reopen: bulk load of the model's documents
          index.Clear();
          for (const auto& [slot, tokens] : model.docs()) index.BulkInsert(slot, tokens);
          index.Seal();
          break;
        }
        default:
          break;
      }
      Check(rng, index, model, vocabulary, slot_space, 8);
      if (HasFatalFailure()) return;
    }
  }
}

// The bulk path: slots in any order, a slot loaded twice, erases and single inserts in
// the middle of a load, a renumbering before Seal, and terms short and long enough to
// take both paths of the dictionary (inline text, arena text).
TEST_F(TextInvertedIndexPropertyTest, BulkLoadInAnyOrder) {
  std::mt19937_64 rng(seed_);
  for (int scenario = 0; scenario < 4; ++scenario) {
    const uint32_t vocabulary = std::vector<uint32_t>{30, 3000}[scenario % 2];
    const uint32_t slot_space = 300 + static_cast<uint32_t>(rng() % 1500);
    InvertedIndex index;
    ReferenceBm25 model;
    auto document = [&]() {
      Tokens doc = Document(rng, vocabulary);
      for (auto& t : doc) {
        if (rng() % 4 == 0) t += "-long-suffix";  // > 8 bytes
        if (rng() % 8 == 0) t = t.substr(0, 1) + "2345678";  // exactly 8 bytes
      }
      return doc;
    };
    for (int i = 0; i < 1500; ++i) {
      const uint32_t slot = static_cast<uint32_t>(rng() % slot_space);
      const int op = static_cast<int>(rng() % 10);
      if (op == 0) {
        index.Erase(slot);
        model.Erase(slot);
      } else if (op == 1) {
        if (model.docs().count(slot)) {
          index.Erase(slot);
          model.Erase(slot);
        }
        Tokens doc = document();
        index.Insert(slot, doc);
        model.Insert(slot, doc);
      } else {
        Tokens doc = document();  // BulkInsert replaces a slot's document itself
        index.BulkInsert(slot, doc);
        model.Insert(slot, doc);
      }
    }
    if (scenario % 2 == 1) {
      std::vector<uint32_t> old_to_new(slot_space, UINT32_MAX);
      std::vector<uint32_t> perm(model.docs().size());
      for (size_t i = 0; i < perm.size(); ++i) perm[i] = static_cast<uint32_t>(i);
      std::shuffle(perm.begin(), perm.end(), rng);
      size_t next = 0;
      for (const auto& [slot, tokens] : model.docs()) old_to_new[slot] = perm[next++];
      index.Renumber(old_to_new);
      model.Renumber(old_to_new);
    }
    index.Seal();
    Check(rng, index, model, vocabulary, slot_space, 10);
    if (HasFatalFailure()) return;
    for (const auto& [slot, tokens] : model.docs()) {
      for (const auto& t : tokens) ASSERT_EQ(index.doc_freq(t), model.DocFreq(t)) << "seed " << seed_ << " " << t;
    }
  }
}

// Enough single inserts and erases to pass the automatic rebuild thresholds.
TEST_F(TextInvertedIndexPropertyTest, AutomaticRebuilds) {
  std::mt19937_64 rng(seed_);
  const uint32_t vocabulary = 300;
  const uint32_t slot_space = 12000;
  InvertedIndex index;
  ReferenceBm25 model;
  for (uint32_t s = 0; s < 9000; ++s) {
    Tokens doc = Document(rng, vocabulary);
    index.Insert(s, doc);
    model.Insert(s, doc);
  }
  EXPECT_LT(index.tail_doc_count(), 9000u);  // a rebuild happened
  Check(rng, index, model, vocabulary, slot_space, 10);
  if (HasFatalFailure()) return;
  for (int i = 0; i < 6000; ++i) {
    const uint32_t slot = static_cast<uint32_t>(rng() % slot_space);
    index.Erase(slot);
    model.Erase(slot);
    if (i % 3 == 0) {
      Tokens doc = Document(rng, vocabulary);
      index.Insert(slot, doc);
      model.Insert(slot, doc);
    }
    if (i % 1500 == 0) {
      Check(rng, index, model, vocabulary, slot_space, 5);
      if (HasFatalFailure()) return;
    }
  }
  Check(rng, index, model, vocabulary, slot_space, 10);
}

}  // namespace
}  // namespace fathom
