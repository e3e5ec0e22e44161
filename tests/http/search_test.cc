// HTTP tests against the real `fathom run` for the Search API (docs/design/search-api.md):
// BM25 ranking through `$bm25`, hybrid search fused with Chroma's RRF expansion (the
// response must be what the fusion formula says, computed here from the two rankings
// searched alone), a filtered hybrid search keeping its filter in both inputs, selected
// columns, and refusals.
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "http/http_test_support.h"

namespace fathom::http_test {
namespace {

// Six records: 2-d embeddings, short documents, a category.
const std::string kRecords =
    R"({"ids":["a","b","c","d","e","f"],)"
    R"("embeddings":[[1,0],[0.9,0.1],[0.5,0.5],[0.1,0.9],[0,1],[0.7,0.3]],)"
    R"("documents":["the quick brown fox","a lazy brown dog","quick quick fox jumps",)"
    R"("dogs and foxes","nothing to see here","the fox and the dog"],)"
    R"("metadatas":[{"cat":"x"},{"cat":"y"},{"cat":"x"},{"cat":"y"},{"cat":"x"},{"cat":"y"}]})";

class SearchRouteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.Start());
    const std::string id = CreateCollection(server_, "search");
    ASSERT_FALSE(id.empty());
    base_ = kCollections + "/" + id;
    Response r = server_.Post(base_ + "/add", kRecords);
    ASSERT_EQ(r.status, 201) << r.body;
  }
  void TearDown() override { EXPECT_EQ(server_.Stop(), 0) << server_.log(); }

  // One search (`payload` is a SearchPayload's JSON); its ids and scores.
  Ranked Search(const std::string& payload) { return SearchRanked(server_, base_, payload); }

  ServerProcess server_;
  std::string base_;
};

std::string Knn(const std::string& extra) {
  return R"({"$knn":{"query":[1,0],"limit":6)" + extra + "}}";
}
std::string Bm25(const std::string& extra) {
  return R"({"$bm25":{"query":"quick fox","limit":6)" + extra + "}}";
}

TEST_F(SearchRouteTest, Bm25RanksByNegatedScore) {
  const Ranked r = Search(R"({"rank":)" + Bm25("") + R"(,"select":{"keys":["#score","#document"]}})");
  // Documents without "quick" or "fox" never match; "quick quick fox jumps" is best.
  ASSERT_EQ(r.ids.size(), 3u);  // a, c, f ("foxes" is not "fox")
  EXPECT_EQ(r.ids[0], "c");
  for (size_t i = 0; i < r.scores.size(); ++i) {
    EXPECT_LT(r.scores[i], 0.0);
    if (i > 0) {
      EXPECT_LE(r.scores[i - 1], r.scores[i]);
    }
  }
}

// Chroma's JS Rrf({ranks:[knn, bm25], k: 60}) with defaults on both inputs:
// -Σ w / (k + rank), a record outside one list getting that list's default rank.
TEST_F(SearchRouteTest, HybridRrfIsTheFusionFormula) {
  const Ranked knn = Search(R"({"rank":)" + Knn(R"(,"return_rank":true)") + R"(,"select":{"keys":["#score"]}})");
  const Ranked text = Search(R"({"rank":)" + Bm25(R"(,"return_rank":true)") + R"(,"select":{"keys":["#score"]}})");
  ASSERT_EQ(knn.ids.size(), 6u);
  ASSERT_EQ(text.ids.size(), 3u);
  const double k = 60, kDefault = 1000;
  std::map<std::string, double> fused;
  for (const std::string& id : knn.ids) fused[id] = 0;
  for (const std::string& id : text.ids) fused[id] = 0;
  for (auto& [id, score] : fused) {
    double knn_rank = kDefault, text_rank = kDefault;
    for (size_t i = 0; i < knn.ids.size(); ++i) {
      if (knn.ids[i] == id) knn_rank = knn.scores[i];
    }
    for (size_t i = 0; i < text.ids.size(); ++i) {
      if (text.ids[i] == id) text_rank = text.scores[i];
    }
    score = -(1.0 / (k + knn_rank) + 1.0 / (k + text_rank));
  }
  const std::string rrf =
      R"({"$mul":[{"$val":-1},{"$sum":[)"
      R"({"$div":{"left":{"$val":1},"right":{"$sum":[)" + Knn(R"(,"return_rank":true,"default":1000)") +
      R"(,{"$val":60}]}}},)"
      R"({"$div":{"left":{"$val":1},"right":{"$sum":[)" + Bm25(R"(,"return_rank":true,"default":1000)") +
      R"(,{"$val":60}]}}}]}]})";
  const Ranked hybrid = Search(R"({"rank":)" + rrf + R"(,"select":{"keys":["#score"]}})");
  ASSERT_EQ(hybrid.ids.size(), fused.size());
  for (size_t i = 0; i < hybrid.ids.size(); ++i) {
    EXPECT_NEAR(hybrid.scores[i], fused[hybrid.ids[i]], 1e-6) << hybrid.ids[i];
    if (i > 0) {
      EXPECT_LE(hybrid.scores[i - 1], hybrid.scores[i]);
    }
  }
  // Without defaults a record must be in both lists (Chroma's candidate rule).
  const std::string both =
      R"({"$sum":[)" + Knn(R"(,"return_rank":true)") + "," + Bm25(R"(,"return_rank":true)") + "]}";
  EXPECT_EQ(Search(R"({"rank":)" + both + "}").ids.size(), 3u);
}

TEST_F(SearchRouteTest, FilteredHybridKeepsTheFilterInBothInputs) {
  const std::string filter = R"("filter":{"cat":"x"},)";
  const Ranked knn = Search("{" + filter + R"("rank":)" + Knn("") + "}");
  const Ranked text = Search("{" + filter + R"("rank":)" + Bm25("") + "}");
  EXPECT_EQ(knn.ids, (std::vector<std::string>{"a", "c", "e"}));
  EXPECT_EQ(text.ids, (std::vector<std::string>{"c", "a"}));
  const std::string sum = R"({"$sum":[)" + Knn(R"(,"default":10)") + "," + Bm25(R"(,"default":10)") + "]}";
  const Ranked hybrid = Search("{" + filter + R"("rank":)" + sum + "}");
  for (const std::string& id : hybrid.ids) EXPECT_TRUE(id == "a" || id == "c" || id == "e") << id;
  EXPECT_EQ(hybrid.ids.size(), 3u);
}

TEST_F(SearchRouteTest, SelectsColumnsAndPages) {
  Response r = server_.Post(base_ + "/search",
                            R"({"searches":[{"rank":)" + Knn("") +
                                R"(,"limit":{"offset":1,"limit":2},"select":{"keys":["#document","cat"]}},)"
                                R"({"filter":{"cat":"y"},"limit":{"limit":2}}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto d = r.Json();
  ASSERT_FALSE(d.HasParseError());
  EXPECT_EQ(ToJson(d["ids"]), R"([["b","f"],["b","d"]])");
  EXPECT_EQ(ToJson(d["documents"]), R"([["a lazy brown dog","the fox and the dog"],null])");
  EXPECT_EQ(ToJson(d["metadatas"]), R"([[{"cat":"y"},{"cat":"y"}],null])");
  EXPECT_EQ(ToJson(d["scores"]), R"([null,null])");
}

TEST_F(SearchRouteTest, RefusesWhatItCannotAnswer) {
  Response r = server_.Post(base_ + "/search", R"({"searches":[{"rank":{"$bm25":{"query":"x","key":"#embedding"}}}]})");
  EXPECT_EQ(r.status, 400) << r.body;
  r = server_.Post(base_ + "/search", R"({"searches":[{"rank":{"$knn":{"query":[1,0,0]}}}]})");
  EXPECT_EQ(r.status, 400) << r.body;
  r = server_.Post(base_ + "/search", R"({"searches":[{"rank":{"$nope":1}}]})");
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(server_.Get(base_ + "/count").body, "6");
}

}  // namespace
}  // namespace fathom::http_test
