// The Search API parser against the answers a real Chroma 1.4.4 server gave for the same
// bodies (docs/design/search-api.md, "Observed Chroma answers"; Chroma appends
// " at line L column C", which fathom omits), plus fathom's own bounds and $bm25.
#include "server/search_parser.h"

#include <gtest/gtest.h>

#include "server/search_writer.h"

namespace fathom::server {
namespace {

ApiResult<SearchRequest> Parse(const std::string& text) {
  auto body = JsonBody::ParseOwned(text);
  EXPECT_TRUE(body.ok()) << text;
  return ParseSearchRequest(body->root());
}

struct Case {
  const char* body;
  unsigned status;
  const char* message;  // exact
};

constexpr const char* kDe = "Failed to deserialize the JSON body into the target type: ";

TEST(SearchParserTest, MalformedBodiesAnswerAsChromaDoes) {
  const std::string de = kDe;
  const std::vector<std::pair<std::string, std::pair<unsigned, std::string>>> cases = {
      {R"({})", {422, de + "missing field `searches`"}},
      {R"({"searches":{}})", {422, de + "searches: invalid type: map, expected a sequence"}},
      {R"({"searches":null})", {422, de + "searches: invalid type: null, expected a sequence"}},
      {R"({"searches":[1]})", {422, de + "searches[0]: invalid type: integer `1`, expected struct SearchPayload"}},
      {R"({"searches":[{}],"read_level":"bogus"})",
       {422, de + "read_level: unknown variant `bogus`, expected one of `index_and_wal`, `index_only`, "
                  "`index_and_bounded_wal`"}},
      {R"({"searches":[{"rank":{"$bogus":1}}]})",
       {422, de + "searches[0].rank: unknown variant `$bogus`, expected one of `$abs`, `$bm25`, `$div`, `$exp`, "
                  "`$knn`, `$log`, `$max`, `$min`, `$mul`, `$sub`, `$sum`, `$val`"}},
      {R"({"searches":[{"rank":{}}]})", {400, "Failed to parse the request body as JSON: searches[0].rank: expected value"}},
      {R"({"searches":[{"rank":1}]})", {400, "Failed to parse the request body as JSON: searches[0].rank: expected value"}},
      {R"({"searches":[{"rank":{"$val":1,"$abs":{"$val":2}}}]})",
       {400, "Failed to parse the request body as JSON: searches[0].rank: expected value"}},
      {R"({"searches":[{"rank":{"$val":"x"}}]})",
       {422, de + "searches[0].rank.$val: invalid type: string \"x\", expected f32"}},
      {R"({"searches":[{"rank":{"$knn":{}}}]})", {422, de + "searches[0].rank.$knn: missing field `query`"}},
      {R"({"searches":[{"rank":{"$knn":{"query":"abc"}}}]})",
       {422, de + "searches[0].rank.$knn.query: data did not match any variant of untagged enum QueryVector"}},
      {R"({"searches":[{"rank":{"$knn":{"query":[1,"a"]}}}]})",
       {422, de + "searches[0].rank.$knn.query: data did not match any variant of untagged enum QueryVector"}},
      {R"({"searches":[{"rank":{"$knn":{"query":{"indices":[-1],"values":[1]}}}}]})",
       {422, de + "searches[0].rank.$knn.query: data did not match any variant of untagged enum QueryVector"}},
      {R"({"searches":[{"rank":{"$knn":{"query":{"indices":[3,1],"values":[1,2]}}}}]})",
       {400, "Validation error: searches[0].rank: Invalid sparse vector in KNN query: Sparse vector indices must be "
             "sorted in strictly ascending order (no duplicates)"}},
      {R"({"searches":[{"rank":{"$knn":{"query":{"indices":[1,3],"values":[1]}}}}]})",
       {400, "Validation error: searches[0].rank: Invalid sparse vector in KNN query: Sparse vector indices, values, "
             "and tokens (when present) must have the same length"}},
      {R"({"searches":[{"rank":{"$knn":{"query":[1,2],"limit":-1}}}]})",
       {422, de + "searches[0].rank.$knn.limit: invalid value: integer `-1`, expected u32"}},
      {R"({"searches":[{"rank":{"$knn":{"query":[1,2],"limit":1.5}}}]})",
       {422, de + "searches[0].rank.$knn.limit: invalid type: floating point `1.5`, expected u32"}},
      {R"({"searches":[{"rank":{"$knn":{"query":[1,2],"default":"x"}}}]})",
       {422, de + "searches[0].rank.$knn.default: invalid type: string \"x\", expected f32"}},
      {R"({"searches":[{"rank":{"$knn":{"query":[1,2],"default":null,"return_rank":1}}}]})",
       {422, de + "searches[0].rank.$knn.return_rank: invalid type: integer `1`, expected a boolean"}},
      {R"({"searches":[{"rank":{"$knn":{"query":[1,2],"key":null}}}]})",
       {422, de + "searches[0].rank.$knn.key: invalid type: null, expected a string"}},
      {R"({"searches":[{"rank":{"$knn":null}}]})",
       {422, de + "searches[0].rank.$knn: invalid type: null, expected struct variant RankExpr::Knn"}},
      {R"({"searches":[{"rank":{"$sum":{"$val":1}}}]})",
       {422, de + "searches[0].rank.$sum: invalid type: map, expected a sequence"}},
      {R"({"searches":[{"rank":{"$mul":[{"$val":1},{"$bogus":1}]}}]})",
       {422, de + "searches[0].rank.$mul[1]: unknown variant `$bogus`, expected one of `$abs`, `$bm25`, `$div`, "
                  "`$exp`, `$knn`, `$log`, `$max`, `$min`, `$mul`, `$sub`, `$sum`, `$val`"}},
      {R"({"searches":[{"rank":{"$sub":{"left":{"$val":1}}}}]})", {422, de + "searches[0].rank.$sub: missing field `right`"}},
      {R"({"searches":[{"rank":{"$div":[{"$val":1}]}}]})",
       {422, de + "searches[0].rank.$div: invalid length 1, expected struct variant RankExpr::Division with 2 elements"}},
      {R"({"searches":[{"rank":{"$div":[{"$val":1},{"$val":1},{"$val":1}]}}]})",
       {400, "Failed to parse the request body as JSON: searches[0].rank.$div: trailing characters"}},
      {R"({"searches":[{"rank":{"$abs":[{"$val":1}]}}]})",
       {400, "Failed to parse the request body as JSON: searches[0].rank.$abs: expected value"}},
      {R"({"searches":[{"rank":{"$sum":[null]}}]})",
       {400, "Failed to parse the request body as JSON: searches[0].rank.$sum[0]: expected value"}},
      {R"({"searches":[{"limit":5}]})", {422, de + "searches[0].limit: invalid type: integer `5`, expected struct Limit"}},
      {R"({"searches":[{"limit":null}]})", {422, de + "searches[0].limit: invalid type: null, expected struct Limit"}},
      {R"({"searches":[{"limit":{"limit":-1}}]})",
       {422, de + "searches[0].limit.limit: invalid value: integer `-1`, expected u32"}},
      {R"({"searches":[{"limit":{"limit":4294967296}}]})",
       {422, de + "searches[0].limit.limit: invalid value: integer `4294967296`, expected u32"}},
      {R"({"searches":[{"limit":{"limit":null,"offset":null}}]})",
       {422, de + "searches[0].limit.offset: invalid type: null, expected u32"}},
      {R"({"searches":[{"select":{"keys":[1]}}]})",
       {422, de + "searches[0].select.keys[0]: invalid type: integer `1`, expected a string"}},
      {R"({"searches":[{"select":null}]})", {422, de + "searches[0].select: invalid type: null, expected struct Select"}},
      {R"({"searches":[{"group_by":null}]})", {422, de + "searches[0].group_by: invalid type: null, expected struct GroupBy"}},
      {R"({"searches":[{"group_by":{"keys":["a"]}}]})",
       {400, "Validation error: searches[0].group_by: group_by keys and aggregate must both be specified or both be "
             "omitted"}},
      {R"({"searches":[{"group_by":{"keys":["a"],"aggregate":{"$min_k":{"keys":["#score"],"k":1}}}}]})",
       {400, "Validation error: searches[0].__all__: group_by requires rank expression to be specified"}},
      {R"({"searches":[{"rank":{"$val":1},"group_by":{"keys":["a"],"aggregate":{"$min_k":{"keys":["#score"],"k":0}}}}]})",
       {400, "Validation error: searches[0].group_by: aggregate k must be greater than 0"}},
      {R"({"searches":[{"rank":{"$val":1},"group_by":{"keys":["a"],"aggregate":{"$min_k":{"keys":[],"k":1}}}}]})",
       {400, "Validation error: searches[0].group_by: aggregate keys must not be empty"}},
      {R"({"searches":[{"rank":{"$val":1},"group_by":{"keys":["#document"],"aggregate":{"$min_k":{"keys":["#score"],"k":1}}}}]})",
       {400, "Validation error: searches[0].group_by: group_by keys must be metadata fields (cannot use #score, "
             "#document, #embedding, or #metadata)"}},
      {R"({"searches":[{"rank":{"$val":1},"group_by":{"keys":["a"],"aggregate":{"$min_k":{"keys":["#document"],"k":1}}}}]})",
       {400, "Validation error: searches[0].group_by: aggregate keys must be metadata fields or #score (cannot use "
             "#document, #embedding, or #metadata)"}},
      {R"({"searches":[{"rank":{"$val":1},"group_by":{"keys":["a"],"aggregate":{"$avg":{"keys":["#score"],"k":1}}}}]})",
       {422, de + "searches[0].group_by.aggregate: unknown variant `$avg`, expected `$min_k` or `$max_k`"}},
      {R"({"searches":[{"rank":{"$val":1},"group_by":{"keys":["a"],"aggregate":{"$min_k":{"keys":["#score"]}}}}]})",
       {422, de + "searches[0].group_by.aggregate.$min_k: missing field `k`"}},
      {R"({"searches":[{"rank":{"$val":1},"group_by":{"keys":["a"],"aggregate":{}}}]})",
       {400, "Failed to parse the request body as JSON: searches[0].group_by.aggregate: expected value"}},
      {R"({"searches":[{"filter":{"a":{"$bogus":1}}}]})", {422, de + "searches[0].filter: Invalid where clause: unknown operator $bogus for key 'a'"}},  // fathom adds the reason
      {R"({"searches":[{"filter":{"a":{"$eq":1}}},{"rank":{"$bogus":1}}]})",
       {422, de + "searches[1].rank: unknown variant `$bogus`, expected one of `$abs`, `$bm25`, `$div`, `$exp`, "
                  "`$knn`, `$log`, `$max`, `$min`, `$mul`, `$sub`, `$sum`, `$val`"}},
      {R"({"searches":[{"rank":{"$val":1},"group_by":{"keys":["a"],"aggregate":{"$min_k":{"keys":["#score"],"k":0}}}},{"rank":{"$knn":{"query":{"indices":[3,1],"values":[1,2]}}}}]})",
       {400, "Validation error: searches[0].group_by: aggregate k must be greater than 0searches[1].rank: Invalid "
             "sparse vector in KNN query: Sparse vector indices must be sorted in strictly ascending order (no "
             "duplicates)"}},
      // fathom's own answers.
      {R"({"searches":[{"rank":{"$bm25":{"query":"x","key":"title"}}}]})",
       {400, "searches[0].rank.$bm25.key: $bm25 ranks the document text only: key must be \"#document\", not \"title\""}},
      {R"({"searches":[{"rank":{"$bm25":{"query":1}}}]})",
       {422, de + "searches[0].rank.$bm25.query: invalid type: integer `1`, expected a string"}},
  };
  for (const auto& [body, expected] : cases) {
    auto result = Parse(body);
    ASSERT_FALSE(result.ok()) << body;
    EXPECT_EQ(result.error().http_status(), expected.first) << body;
    EXPECT_EQ(result.error().message(), expected.second) << body;
  }
}

TEST(SearchParserTest, BodiesChromaAcceptsAreAccepted) {
  const std::vector<std::string> ok = {
      R"({"searches":[]})",
      R"({"searches":[{}],"bogus":1,"read_level":"index_only"})",
      R"({"searches":[{"bogus":1,"rank":null,"filter":null}]})",
      R"({"searches":[{"rank":{"$knn":{"query":[]}}}]})",
      R"({"searches":[{"rank":{"$knn":{"query":[1,2],"key":"foo","limit":0,"bogus":1}}}]})",
      R"({"searches":[{"rank":{"$sum":[]}}]})",
      R"({"searches":[{"rank":{"$sub":[{"$val":1},{"$val":1}]}}]})",
      R"({"searches":[{"rank":{"$max":[]}}]})",
      R"({"searches":[{"limit":{}}]})",
      R"({"searches":[{"limit":{"offset":1,"limit":3,"x":1}}]})",
      R"({"searches":[{"select":{}}]})",
      R"({"searches":[{"select":{"keys":["#bogus","#id","$foo",""]}}]})",
      R"({"searches":[{"group_by":{}}]})",
      R"({"searches":[{"rank":{"$val":1},"group_by":{"keys":["$x"],"aggregate":{"$max_k":{"keys":["b","#score"],"k":2}}}}]})",
      R"({"searches":[{"filter":{}}]})",
      R"({"searches":[{"filter":{"#document":{"$contains":"x"}}}]})",
  };
  for (const auto& body : ok) {
    auto result = Parse(body);
    EXPECT_TRUE(result.ok()) << body << ": " << (result.ok() ? "" : result.error().message());
  }
}

TEST(SearchParserTest, ParsesEveryPart) {
  auto result = Parse(R"({"searches":[{"filter":{"color":"red"},
    "rank":{"$mul":[{"$sum":[{"$div":{"left":{"$val":0.5},"right":{"$sum":[{"$knn":{"query":[1,2],"limit":10,"default":10,"return_rank":true}},{"$val":60}]}}},
                             {"$div":{"left":{"$val":0.5},"right":{"$sum":[{"$bm25":{"query":"red apple","limit":10,"default":10,"return_rank":true}},{"$val":60}]}}}]},{"$val":-1}]},
    "group_by":{"keys":["color"],"aggregate":{"$max_k":{"keys":["#score"],"k":3}}},
    "limit":{"offset":2,"limit":5},
    "select":{"keys":["#document","#score","color","#document"]}}],"read_level":"index_and_bounded_wal"})");
  ASSERT_TRUE(result.ok()) << result.error().message();
  const SearchRequest& r = *result;
  EXPECT_EQ(r.read_level, ReadLevel::kIndexAndBoundedWal);
  ASSERT_EQ(r.searches.size(), 1u);
  const SearchPayload& p = r.searches[0];
  ASSERT_TRUE(p.filter.has_value());
  EXPECT_EQ(p.filter->key, "color");
  ASSERT_TRUE(p.rank.has_value());
  EXPECT_EQ(p.rank->kind, RankExpr::Kind::kMul);
  const RankExpr& knn = p.rank->children[0].children[0].children[1].children[0];
  EXPECT_EQ(knn.kind, RankExpr::Kind::kKnn);
  EXPECT_EQ(knn.search.key, "#embedding");
  EXPECT_EQ(knn.search.limit, 10u);
  EXPECT_EQ(knn.search.default_value, 10.0f);
  EXPECT_TRUE(knn.search.return_rank);
  EXPECT_EQ(std::get<std::vector<float>>(knn.search.query), (std::vector<float>{1, 2}));
  const RankExpr& bm25 = p.rank->children[0].children[1].children[1].children[0];
  EXPECT_EQ(bm25.kind, RankExpr::Kind::kBm25);
  EXPECT_EQ(bm25.search.key, "#document");
  EXPECT_EQ(std::get<std::string>(bm25.search.query), "red apple");
  ASSERT_TRUE(p.group_by.has_value());
  EXPECT_EQ(p.group_by->aggregate, GroupBy::Aggregate::kMaxK);
  EXPECT_EQ(p.group_by->k, 3u);
  EXPECT_EQ(p.offset, 2u);
  EXPECT_EQ(p.limit, 5u);
  EXPECT_TRUE(p.select.document);
  EXPECT_TRUE(p.select.score);
  EXPECT_FALSE(p.select.metadata);
  EXPECT_EQ(p.select.metadata_keys, (std::vector<std::string>{"color"}));
  EXPECT_EQ(p.select.keys, (std::vector<std::string>{"#document", "#score", "color"}));
}

std::string Nested(int depth) {
  std::string s = R"({"$val":1})";
  for (int i = 0; i < depth; ++i) s = R"({"$abs":)" + s + "}";
  return R"({"searches":[{"rank":)" + s + "}]}";
}

TEST(SearchParserTest, BoundsAreCheckedWithClearErrors) {
  EXPECT_TRUE(Parse(Nested(60)).ok());
  auto deep = Parse(Nested(200));
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.error().http_status(), 400u);
  EXPECT_NE(deep.error().message().find("nested deeper than 64 levels"), std::string::npos);

  std::string many = R"({"searches":[)";
  for (int i = 0; i < 1025; ++i) many += i ? ",{}" : "{}";
  auto too_many = Parse(many + "]}");
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.error().message(), "Too many searches in one request: 1025; at most 1024 are allowed");

  std::string wide = R"({"searches":[{"rank":{"$sum":[)";
  for (int i = 0; i < 5000; ++i) wide += i ? R"(,{"$val":1})" : R"({"$val":1})";
  auto too_wide = Parse(wide + "]}}]}");
  ASSERT_FALSE(too_wide.ok());
  EXPECT_NE(too_wide.error().message().find("more than 4096 nodes"), std::string::npos);
}

TEST(SearchWriterTest, WritesChromasShapeWithNullColumnsForUnselected) {
  SearchResult a;
  a.ids = {"x", "y"};
  a.select.document = true;
  a.select.score = true;
  a.select.keys = {"#document", "#score"};
  a.documents = {std::string("doc x"), std::nullopt};
  a.scores = {0.5f, std::nullopt};
  SearchResult b;
  b.ids = {"z"};
  b.select.metadata_keys = {"color"};
  b.select.embedding = true;
  b.select.keys = {"color", "#embedding"};
  b.metadatas = {Metadata{{"color", MetadataValue(std::string("red"))}}};
  b.embeddings = {std::vector<float>{0.25f, 1.0f}};
  JsonWriter w;
  WriteSearchResults(w, {a, b});
  EXPECT_EQ(w.Take(),
            R"({"ids":[["x","y"],["z"]],"documents":[["doc x",null],null],"embeddings":[null,[[0.25,1.0]]],)"
            R"("metadatas":[null,[{"color":"red"}]],"scores":[[0.5,null],null],)"
            R"("select":[["#document","#score"],["color","#embedding"]]})");
}

}  // namespace
}  // namespace fathom::server
