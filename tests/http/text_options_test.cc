// HTTP tests against the real `fathom run` for fathom's full-text analyzer options in a
// collection's schema (docs/design/text-options.md): `stemmer`, `stop_words` and
// `remove_diacritics` in `#document`'s (or the defaults') `fts_index.config`, used by
// `$bm25`, shown filled in with the collection, kept across a restart, refused when bad
// (400 for what the analyzer refuses, 422 for a wrong shape) and not changeable later.
#include <algorithm>
#include <initializer_list>
#include <string>
#include <vector>

#include "http/http_test_support.h"

namespace fathom::http_test {
namespace {

const std::string kDeserialize = "Failed to deserialize the JSON body into the target type: ";

// A client schema naming only `#document`'s full-text index with `config`.
std::string DocumentFts(const std::string& config) {
  return R"({"defaults":{},"keys":{"#document":{"string":{"fts_index":{"enabled":true,"config":)" + config +
         "}}}}}";
}

const std::string kRecords =
    R"({"ids":["running","ran","runner","stop","cafe"],)"
    R"("embeddings":[[1,0],[0.9,0.1],[0.5,0.5],[0.1,0.9],[0,1]],)"
    R"("documents":["She keeps running every morning","They ran the race yesterday",)"
    R"("The runner runs fast","the the the","Le café du coin"]})";

class TextOptionsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.Start()); }
  void TearDown() override { EXPECT_EQ(server_.Stop(), 0) << server_.log(); }

  // Creates `name` with `schema` and the records; its base path.
  std::string Collection(const std::string& name, const std::string& schema) {
    return CollectionWithRecords(server_, name, schema, kRecords);
  }

  // The ids `$bm25` ranks for `query`, sorted (the order of equal scores is not the point).
  std::vector<std::string> Bm25(const std::string& base, const std::string& query) {
    Response r = server_.Post(base + "/search", R"({"searches":[{"rank":{"$bm25":{"query":")" + query +
                                                    R"(","limit":10}},"select":{"keys":["#score"]}}]})");
    EXPECT_EQ(r.status, 200) << query << " -> " << r.body;
    std::vector<std::string> ids;
    auto d = r.Json();
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("ids")) {
      ADD_FAILURE() << r.body;
      return ids;
    }
    for (const auto& id : d["ids"][0].GetArray()) ids.push_back(id.GetString());
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  // `#document`'s full-text index as GET shows it.
  std::string ShownFts(const std::string& name) {
    return At(server_.Get(kCollections + "/" + name).Json(), {"schema", "keys", "#document", "string", "fts_index"});
  }

  ServerProcess server_;
};

using Ids = std::vector<std::string>;

TEST_F(TextOptionsTest, StemmerAndStopWordsRankThroughBm25AndSurviveARestart) {
  const std::string base =
      Collection("stemmed", DocumentFts(R"({"stemmer":"english","stop_words":["the"]})"));
  auto check = [&](const char* phase) {
    EXPECT_EQ(Bm25(base, "runs"), (Ids{"runner", "running"})) << phase;
    EXPECT_EQ(Bm25(base, "the"), Ids{}) << phase;
    EXPECT_EQ(Bm25(base, "The running"), (Ids{"runner", "running"})) << phase;
    EXPECT_EQ(Bm25(base, "cafe"), Ids{"cafe"}) << phase;  // remove_diacritics defaults to true
  };
  check("created");
  const std::string shown =
      R"({"enabled":true,"config":{"stemmer":"english","stop_words":["the"],"remove_diacritics":true}})";
  EXPECT_EQ(ShownFts("stemmed"), shown);
  ASSERT_EQ(server_.Stop(), 0) << server_.log();
  ASSERT_TRUE(server_.Start());
  check("after restart");
  EXPECT_EQ(ShownFts("stemmed"), shown);
}

TEST_F(TextOptionsTest, ChromaClientsWithAnEmptyConfigKeepTheDefaultAnalyzer) {
  const std::string base = Collection("plain", DocumentFts("{}"));
  EXPECT_EQ(Bm25(base, "runs"), Ids{"runner"});
  EXPECT_EQ(Bm25(base, "the"), (Ids{"ran", "runner", "stop"}));
  EXPECT_EQ(ShownFts("plain"), R"({"enabled":true,"config":{}})");
  const std::string no_schema = kCollections + "/" + CreateCollection(server_, "no_schema");
  ASSERT_EQ(server_.Post(no_schema + "/add", kRecords).status, 201);
  EXPECT_EQ(Bm25(no_schema, "runs"), Ids{"runner"});
  EXPECT_EQ(ShownFts("no_schema"), R"({"enabled":true,"config":{}})");
}

TEST_F(TextOptionsTest, DefaultsConfigAppliesAndDocumentFieldsWin) {
  // The defaults' full-text index stays disabled (Chroma's rule); its config still names
  // options, which `#document`'s fields override one by one.
  const std::string schema =
      R"({"defaults":{"string":{"fts_index":{"enabled":false,"config":{"stemmer":"english",)"
      R"("remove_diacritics":false}}}},"keys":{"#document":{"string":{"fts_index":{"enabled":true,)"
      R"("config":{"stemmer":null,"stop_words":["le"]}}}}}})";
  const std::string base = Collection("merged", schema);
  EXPECT_EQ(Bm25(base, "runs"), (Ids{"runner", "running"}));
  EXPECT_EQ(Bm25(base, "cafe"), Ids{});
  EXPECT_EQ(Bm25(base, "café le"), Ids{"cafe"});
  EXPECT_EQ(Bm25(base, "le"), Ids{});
  EXPECT_EQ(ShownFts("merged"),
            R"({"enabled":true,"config":{"stemmer":"english","stop_words":["le"],"remove_diacritics":false}})");
}

TEST_F(TextOptionsTest, BadOptionsAreRefused) {
  auto create = [&](const std::string& config) {
    return server_.Post(kCollections, R"({"name":"bad","schema":)" + DocumentFts(config) + "}");
  };
  Response unknown = create(R"({"stemmer":"klingon"})");
  ExpectError(unknown, 400, "InvalidArgumentError",
              "Validation error: schema: full-text index config: unknown stemmer language \"klingon\"; known "
              "languages: ");
  EXPECT_NE(unknown.body.find("english"), std::string::npos) << unknown.body;
  ExpectError(create(R"({"stop_words":["of the"]})"), 400, "InvalidArgumentError",
              "Validation error: schema: full-text index config: stop word \"of the\" is 2 tokens");
  const std::string path = "schema.keys.#document.string.fts_index.config";
  ExpectError(create(R"({"stemmer":7})"), 422, "ChromaError", kDeserialize + path + ".stemmer: ");
  ExpectError(create(R"({"stop_words":"the"})"), 422, "ChromaError", kDeserialize + path + ".stop_words: ");
  ExpectError(create(R"({"stop_words":["the",1]})"), 422, "ChromaError", kDeserialize + path + ".stop_words");
  ExpectError(create(R"({"remove_diacritics":"yes"})"), 422, "ChromaError",
              kDeserialize + path + ".remove_diacritics: ");
  ExpectError(create(R"({"language":"english"})"), 422, "ChromaError",
              kDeserialize + path + ".language: unknown field `language`, expected one of `stemmer`, `stop_words`, "
                                    "`remove_diacritics`");
  EXPECT_EQ(server_.Get(kCollections + "/bad").status, 404);
}

TEST_F(TextOptionsTest, OptionsCannotBeChangedLater) {
  const std::string base = Collection("fixed", DocumentFts(R"({"stemmer":"english"})"));
  ExpectError(server_.Put(base, R"({"new_configuration":{"schema":)" + DocumentFts(R"({"stemmer":"french"})") + "}}"),
              400, "InvalidArgumentError", "a collection's schema, including the full-text analyzer options");
  // A configuration change that names no schema still works and keeps the options.
  Response r = server_.Put(base, R"({"new_configuration":{"hnsw":{"ef_search":20}}})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Bm25(base, "runs"), (Ids{"runner", "running"}));
  EXPECT_EQ(ShownFts("fixed"),
            R"({"enabled":true,"config":{"stemmer":"english","stop_words":[],"remove_diacritics":true}})");
}

}  // namespace
}  // namespace fathom::http_test
