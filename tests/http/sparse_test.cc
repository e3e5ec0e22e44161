// HTTP tests against the real `fathom run` for sparse vectors
// (docs/design/sparse-vectors.md): sparse metadata stored and returned in Chroma Cloud's
// `#type` form, a collection whose schema enables `sparse_vector_index` on a key, sparse
// `$knn` scored 1 - inner product, fused with dense `$knn` and `$bm25` by Chroma's RRF
// expansion (the response must be what the formula says), filters, updates, deletes and a
// restart, and the refusals with Chroma's messages.
#include <map>
#include <string>
#include <vector>

#include "http/http_test_support.h"

namespace fathom::http_test {
namespace {

const std::string kSparseSchema =
    R"({"defaults":{},"keys":{"sp":{"sparse_vector":{"sparse_vector_index":{"enabled":true,"config":{}}}}}})";

// Five records with sparse vectors (both JSON forms, one with tokens) and one without.
const std::string kRecords =
    R"({"ids":["a","b","c","d","e","f"],)"
    R"("embeddings":[[1,0],[0.9,0.1],[0.5,0.5],[0.1,0.9],[0,1],[0.7,0.3]],)"
    R"("documents":["the quick brown fox","a lazy brown dog","quick quick fox jumps",)"
    R"("dogs and foxes","nothing to see here","the fox and the dog"],)"
    R"("metadatas":[)"
    R"({"cat":"x","sp":{"#type":"sparse_vector","indices":[1,3],"values":[1.0,2.0],"tokens":["quick","fox"]}},)"
    R"({"cat":"y","sp":{"indices":[2,3],"values":[0.5,0.25]}},)"
    R"({"cat":"x","sp":{"#type":"sparse_vector","indices":[1],"values":[3.0]}},)"
    R"({"cat":"y","sp":{"#type":"sparse_vector","indices":[3,7],"values":[1.0,9.0]}},)"
    R"({"cat":"x","sp":{"#type":"sparse_vector","indices":[7],"values":[1.0]}},)"
    R"({"cat":"y"}]})";

// The query: dimension 1 weight 1, dimension 3 weight 0.5. Inner products: a 2, b 0.125,
// c 3, d 0.5; e and f share no dimension.
const std::string kQuery = R"({"indices":[1,3],"values":[1,0.5]})";

class SparseHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.Start());
    base_ = CollectionWithRecords(server_, "sparse", kSparseSchema, kRecords);
    ASSERT_FALSE(base_.empty());
  }
  void TearDown() override { EXPECT_EQ(server_.Stop(), 0) << server_.log(); }

  Ranked Search(const std::string& payload) { return SearchRanked(server_, base_, payload); }

  ServerProcess server_;
  std::string base_;
};

std::string Sparse(const std::string& extra) {
  return R"({"$knn":{"query":)" + kQuery + R"(,"key":"sp","limit":10)" + extra + "}}";
}
std::string Dense(const std::string& extra) { return R"({"$knn":{"query":[1,0],"limit":6)" + extra + "}}"; }
std::string Bm25(const std::string& extra) { return R"({"$bm25":{"query":"quick fox","limit":6)" + extra + "}}"; }

using Ids = std::vector<std::string>;

TEST_F(SparseHttpTest, SparseKnnScoresOneMinusInnerProduct) {
  auto check = [&](const char* phase) {
    const Ranked r = Search(R"({"rank":)" + Sparse("") + R"(,"select":{"keys":["#score"]}})");
    EXPECT_EQ(r.ids, (Ids{"c", "a", "d", "b"})) << phase;
    const std::vector<double> want{1 - 3.0, 1 - 2.0, 1 - 0.5, 1 - 0.125};
    ASSERT_EQ(r.scores.size(), want.size()) << phase;
    for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(r.scores[i], want[i], 1e-6) << phase << " " << i;
    // return_rank: positions; limit: the best ones.
    EXPECT_EQ(Search(R"({"rank":)" + Sparse(R"(,"return_rank":true)") + R"(,"select":{"keys":["#score"]}})").scores,
              (std::vector<double>{0, 1, 2, 3}))
        << phase;
    EXPECT_EQ(Search(R"({"rank":{"$knn":{"query":)" + kQuery + R"(,"key":"sp","limit":2}}})").ids, (Ids{"c", "a"}))
        << phase;
  };
  check("created");
  ASSERT_EQ(server_.Stop(), 0) << server_.log();
  ASSERT_TRUE(server_.Start());
  check("after restart");
}

TEST_F(SparseHttpTest, SparseVectorsComeBackInTheTaggedForm) {
  Response r = server_.Post(base_ + "/get", R"({"ids":["a","b"],"include":["metadatas"]})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto d = r.Json();
  ASSERT_FALSE(d.HasParseError()) << r.body;
  EXPECT_EQ(ToJson(d["metadatas"]),
            R"([{"cat":"x","sp":{"#type":"sparse_vector","indices":[1,3],"values":[1.0,2.0],"tokens":["quick","fox"]}},)"
            R"({"cat":"y","sp":{"#type":"sparse_vector","indices":[2,3],"values":[0.5,0.25]}}])");
  // The Search API's selected metadata too.
  r = server_.Post(base_ + "/search", R"({"searches":[{"filter":{"#id":"c"},"select":{"keys":["sp"]}}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  d = r.Json();
  EXPECT_EQ(ToJson(d["metadatas"]), R"([[{"sp":{"#type":"sparse_vector","indices":[1],"values":[3.0]}}]])");
}

TEST_F(SparseHttpTest, RrfOfSparseDenseAndBm25IsTheFusionFormula) {
  auto ranks = [&](const std::string& leaf) {
    const Ranked r = Search(R"({"rank":)" + leaf + R"(,"select":{"keys":["#score"]}})");
    std::map<std::string, double> out;
    for (size_t i = 0; i < r.ids.size(); ++i) out[r.ids[i]] = r.scores[i];
    return out;
  };
  const auto sparse = ranks(Sparse(R"(,"return_rank":true)"));
  const auto dense = ranks(Dense(R"(,"return_rank":true)"));
  const auto text = ranks(Bm25(R"(,"return_rank":true)"));
  ASSERT_EQ(sparse.size(), 4u);
  ASSERT_EQ(dense.size(), 6u);
  ASSERT_EQ(text.size(), 3u);
  const double k = 60, kDefault = 1000;
  std::map<std::string, double> fused;
  for (const auto* list : {&sparse, &dense, &text}) {
    for (const auto& [id, rank] : *list) fused[id] = 0;
  }
  for (auto& [id, score] : fused) {
    for (const auto* list : {&sparse, &dense, &text}) {
      auto it = list->find(id);
      score -= 1.0 / (k + (it == list->end() ? kDefault : it->second));
    }
  }
  auto term = [](const std::string& leaf) {
    return R"({"$div":{"left":{"$val":1},"right":{"$sum":[)" + leaf + R"(,{"$val":60}]}}})";
  };
  const std::string rrf = R"({"$mul":[{"$val":-1},{"$sum":[)" + term(Sparse(R"(,"return_rank":true,"default":1000)")) +
                          "," + term(Dense(R"(,"return_rank":true,"default":1000)")) + "," +
                          term(Bm25(R"(,"return_rank":true,"default":1000)")) + "]}]}";
  const Ranked hybrid = Search(R"({"rank":)" + rrf + R"(,"select":{"keys":["#score"]}})");
  ASSERT_EQ(hybrid.ids.size(), fused.size());
  for (size_t i = 0; i < hybrid.ids.size(); ++i) {
    EXPECT_NEAR(hybrid.scores[i], fused[hybrid.ids[i]], 1e-6) << hybrid.ids[i];
    if (i > 0) {
      EXPECT_LE(hybrid.scores[i - 1], hybrid.scores[i]);
    }
  }
}

TEST_F(SparseHttpTest, FiltersUpdatesAndDeletesAreHonoured) {
  EXPECT_EQ(Search(R"({"filter":{"cat":"y"},"rank":)" + Sparse("") + "}").ids, (Ids{"d", "b"}));
  // An update replaces a's vector (now 0.5 * 10 = 5: first), an upsert gives f one, a
  // delete removes c, an update of other metadata keeps the vector.
  ASSERT_EQ(server_.Post(base_ + "/update", R"({"ids":["a"],"metadatas":[{"sp":{"indices":[3],"values":[10]}}]})")
                .status,
            200);
  ASSERT_EQ(server_.Post(base_ + "/upsert", R"({"ids":["f"],"embeddings":[[0.7,0.3]],)"
                                            R"("metadatas":[{"sp":{"indices":[1],"values":[0.25]}}]})")
                .status,
            200);
  ASSERT_EQ(server_.Post(base_ + "/delete", R"({"ids":["c"]})").status, 200);
  ASSERT_EQ(server_.Post(base_ + "/update", R"({"ids":["d"],"metadatas":[{"cat":"x"}]})").status, 200);
  const Ranked r = Search(R"({"rank":)" + Sparse("") + R"(,"select":{"keys":["#score"]}})");
  EXPECT_EQ(r.ids, (Ids{"a", "d", "f", "b"}));
  ASSERT_EQ(r.scores.size(), 4u);
  EXPECT_NEAR(r.scores[0], 1 - 5.0, 1e-6);
  // Removing the key (null in an update) takes the record out of the index.
  ASSERT_EQ(server_.Post(base_ + "/update", R"({"ids":["a"],"metadatas":[{"sp":null}]})").status, 200);
  EXPECT_EQ(Search(R"({"rank":)" + Sparse("") + "}").ids, (Ids{"d", "f", "b"}));
}

TEST_F(SparseHttpTest, RefusalsUseChromaMessagesAndChangeNothing) {
  const std::string count_before = server_.Get(base_ + "/count").body;
  // Malformed sparse vectors in a write.
  ExpectError(server_.Post(base_ + "/add", R"({"ids":["z"],"embeddings":[[1,0]],)"
                                           R"("metadatas":[{"sp":{"indices":[1,2],"values":[1]}}]})"),
              400, "InvalidArgumentError",
              "Validation error: metadatas: Invalid sparse vector at metadatas[0].sp: Sparse vector indices, values, "
              "and tokens (when present) must have the same length");
  ExpectError(server_.Post(base_ + "/add", R"({"ids":["z"],"embeddings":[[1,0]],)"
                                           R"("metadatas":[{"sp":{"indices":[-1],"values":[1]}}]})"),
              422, "ChromaError", "Failed to deserialize the JSON body into the target type: metadatas[0].sp");
  ExpectError(server_.Post(base_ + "/add", R"({"ids":["z"],"embeddings":[[1,0]],)"
                                           R"("metadatas":[{"sp":{"indices":[1],"values":[1e300]}}]})"),
              400, "InvalidArgumentError", "Validation error: metadatas: Invalid sparse vector at metadatas[0].sp: "
                                           "Sparse vector values must be finite numbers");
  EXPECT_EQ(server_.Get(base_ + "/count").body, count_before);
  // A malformed query vector.
  ExpectError(server_.Post(base_ + "/search",
                           R"({"searches":[{"rank":{"$knn":{"query":{"indices":[3,1],"values":[1,1]},"key":"sp"}}}]})"),
              400, "InvalidArgumentError", "");
  // A filter on the sparse key.
  ExpectError(server_.Post(base_ + "/search", R"({"searches":[{"filter":{"sp":1},"rank":)" + Sparse("") + "}]}"),
              400, "InvalidArgumentError",
              "Cannot filter using metadata key 'sp' with type 'Int' because indexing is disabled");
  // A sparse $knn on a key without the index, and on a collection without any.
  ExpectError(server_.Post(base_ + "/search",
                           R"({"searches":[{"rank":{"$knn":{"query":)" + kQuery + R"(,"key":"cat"}}}]})"),
              400, "InvalidArgumentError",
              "Cannot filter using metadata key 'cat' with type 'SparseVector' because indexing is disabled");
  const std::string plain = kCollections + "/" + CreateCollection(server_, "plain");
  ASSERT_EQ(server_.Post(plain + "/add", kRecords).status, 201);  // stored, not indexed
  ExpectError(server_.Post(plain + "/search", R"({"searches":[{"rank":)" + Sparse("") + "}]}"), 400,
              "InvalidArgumentError",
              "Cannot filter using metadata key 'sp' with type 'SparseVector' because indexing is disabled");
  // Two sparse indexes in one schema.
  ExpectError(server_.Post(kCollections, R"({"name":"two","schema":{"defaults":{},"keys":{)"
                                         R"("p":{"sparse_vector":{"sparse_vector_index":{"enabled":true,"config":{}}}},)"
                                         R"("q":{"sparse_vector":{"sparse_vector_index":{"enabled":true,"config":{}}}}}}})"),
              400, "InvalidArgumentError",
              "Validation error: schema: At most one sparse vector index is allowed for the collection.");
}

}  // namespace
}  // namespace fathom::http_test
