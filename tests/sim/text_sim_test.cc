// Property test through the public API: $bm25 searches (fathom/search.h) answer exactly
// what a straightforward BM25 over the collection's live documents says (same analyzer),
// while the collection is written (add, upsert, update, delete), compacted into segments
// and reopened, with and without a metadata filter. Scores to 1e-5, top-k identical up to
// ties. Prints its seed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "fathom/db.h"
#include "fathom/search.h"
#include "index/text/analyzer.h"
#include "random_where.h"
#include "sim/sim_collection.h"

namespace fathom {
namespace {

using testing::RandomWhere;

// Words with case and diacritic variants that the default analyzer folds together.
constexpr const char* kWords[] = {"alpha", "Beta",  "gamma", "delta", "Émile", "emile", "EMILE", "zeta",
                                  "eta",   "theta", "iota",  "kappa", "lambda", "mu",   "nu",    "xi",
                                  "omicron", "pi",  "rho",   "sigma", "tau",   "upsilon", "phi", "chi",
                                  "psi",   "omega", "x86-64", "2026", "naïve", "NAIVE"};

class TextSimulationTest : public testing::SimCollectionTest {
 protected:
  TextSimulationTest() : SimCollectionTest("TextSimulationTest", "text") {}

  // Zipf-like: low word indexes are much more frequent.
  std::string Text(RandomWhere& r, size_t max_words) {
    const size_t n = r.Below(max_words + 1);
    std::string out;
    for (size_t i = 0; i < n; ++i) {
      const size_t rank = std::min(r.Below(std::size(kWords)), r.Below(std::size(kWords)));
      if (!out.empty()) out += r.Chance(0.2) ? ", " : " ";
      out += kWords[rank];
    }
    return out;
  }

  void RandomWrites(RandomWhere& r, int batches) {
    for (int b = 0; b < batches; ++b) {
      std::vector<WriteRecord> batch;
      std::set<std::string> seen;
      const int kind = static_cast<int>(r.Below(5));
      for (int i = 0; i < 20; ++i) {
        WriteRecord w;
        w.id = "id" + std::to_string(r.Below(200));
        if (!seen.insert(w.id).second) continue;
        if (kind < 2) w.embedding = std::vector<float>{static_cast<float>(r.Below(7)), 1.0f};
        if (kind < 2 || r.Chance(0.5)) {
          if (r.Chance(0.9)) w.document = Text(r, 12);
        }
        w.metadata = MetadataPatch{{"even", MetadataValue(static_cast<bool>(r.Below(2)))}};
        batch.push_back(std::move(w));
      }
      const Status s = ApplyBatch(kind, std::move(batch));
      ASSERT_TRUE(s.ok()) << s.ToString() << " seed " << seed_;
    }
  }

  // BM25 over every live record that has a document, by the formula, in double.
  std::vector<ExpectedHit> Reference(const std::string& query, const std::optional<bool> even) {
    GetRequest get;
    get.include.documents = true;
    get.include.metadatas = true;
    auto all = col_->Get(get);
    EXPECT_TRUE(all.ok());
    const auto analyzer = Analyzer::Default();
    std::vector<std::map<std::string, int>> tf;
    std::vector<size_t> length;
    std::vector<size_t> rows;
    for (size_t i = 0; i < all->ids.size(); ++i) {
      if (!all->documents[i]) continue;
      std::vector<std::string> tokens;
      analyzer->Tokenize(*all->documents[i], &tokens);
      std::map<std::string, int> counts;
      for (const std::string& t : tokens) ++counts[t];
      tf.push_back(std::move(counts));
      length.push_back(tokens.size());
      rows.push_back(i);
    }
    const double n = static_cast<double>(rows.size());
    double total = 0;
    for (size_t l : length) total += static_cast<double>(l);
    const double avgdl = n > 0 ? total / n : 0;
    std::vector<std::string> terms;
    analyzer->Tokenize(query, &terms);
    std::sort(terms.begin(), terms.end());
    terms.erase(std::unique(terms.begin(), terms.end()), terms.end());
    std::vector<ExpectedHit> out;
    for (size_t d = 0; d < rows.size(); ++d) {
      const size_t i = rows[d];
      if (even.has_value()) {
        const auto& m = all->metadatas[i];
        if (!m || !m->contains("even") || std::get<bool>(m->at("even")) != *even) continue;
      }
      double score = 0;
      bool matched = false;
      for (const std::string& t : terms) {
        auto it = tf[d].find(t);
        if (it == tf[d].end()) continue;
        matched = true;
        double df = 0;
        for (const auto& counts : tf) df += counts.contains(t) ? 1 : 0;
        const double idf = std::log(1 + (n - df + 0.5) / (df + 0.5));
        const double f = it->second;
        score += idf * f * (1.2 + 1) / (f + 1.2 * (1 - 0.75 + 0.75 * static_cast<double>(length[d]) / avgdl));
      }
      if (matched) out.push_back({all->ids[i], score});
    }
    std::sort(out.begin(), out.end(), [](const ExpectedHit& a, const ExpectedHit& b) { return a.score > b.score; });
    return out;
  }

  void Check(RandomWhere& r, const char* phase) {
    for (int q = 0; q < 15; ++q) {
      const std::string query = Text(r, 4);
      const uint32_t k = 1 + static_cast<uint32_t>(r.Below(12));
      std::optional<bool> even;
      if (r.Chance(0.4)) even = r.Chance(0.5);
      RankExpr bm25;
      bm25.kind = RankExpr::Kind::kBm25;
      bm25.search.query = query;
      bm25.search.key = std::string(kDocumentKey);
      bm25.search.limit = k;
      // $bm25 scores are negated.
      ExpectRankedLikeReference(bm25, even, Reference(query, even), [](float score) { return -double{score}; },
                                std::string(phase) + " query '" + query + "'");
      if (HasFatalFailure()) return;
    }
  }
};

TEST_F(TextSimulationTest, Bm25MatchesReferenceAcrossWritesCompactionAndReopen) {
  RandomWhere r(seed_);
  WriteCompactReopenRounds([&] { RandomWrites(r, 15); }, [&](const char* phase) { Check(r, phase); },
                           [&] { return r.Chance(0.5); });
}

}  // namespace
}  // namespace fathom
