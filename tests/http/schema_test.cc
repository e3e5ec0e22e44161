// HTTP tests against the real `fathom run` for the collection schema (chroma.md §3.4):
// the schema gate (a filter on a key whose inverted index the schema disables is refused
// with local Chroma's 400) and the schema shown with a collection (Chroma's defaults
// filled in). Expected answers were observed on a real Chroma 1.4.4 server
// (docs/design/http-api.md, "Schema").
#include <initializer_list>
#include <string>
#include <thread>
#include <vector>

#include "http/http_test_support.h"

namespace fathom::http_test {
namespace {

// What the Chroma JS client 3.5.0 sends for `new Schema()` with
// deleteIndex(new StringInvertedIndexConfig(), "author") and the Int, Float and Bool
// inverted indexes deleted for "year", "score" and "flag".
const std::string kKeysSchema =
    R"({"defaults":{"string":{"fts_index":{"enabled":false,"config":{}},"string_inverted_index":{"enabled":true,)"
    R"("config":{}}},"float_list":{"vector_index":{"enabled":false,"config":{"embedding_function":)"
    R"({"type":"legacy"}}}},)"
    R"("sparse_vector":{"sparse_vector_index":{"enabled":false,"config":{"embedding_function":{"type":"legacy"}}}},)"
    R"("int":{"int_inverted_index":{"enabled":true,"config":{}}},"float":{"float_inverted_index":{"enabled":true,)"
    R"("config":{}}},"bool":{"bool_inverted_index":{"enabled":true,"config":{}}}},"keys":{"#document":{"string":)"
    R"({"fts_index":{"enabled":true,"config":{}},"string_inverted_index":{"enabled":false,"config":{}}}},)"
    R"("#embedding":{"float_list":{"vector_index":{"enabled":true,"config":{"embedding_function":{"type":"legacy"},)"
    R"("source_key":"#document"}}}},"author":{"string":{"string_inverted_index":{"enabled":false,"config":{}}}},)"
    R"("year":{"int":{"int_inverted_index":{"enabled":false,"config":{}}}},"score":{"float":{"float_inverted_index":)"
    R"({"enabled":false,"config":{}}}},"flag":{"bool":{"bool_inverted_index":{"enabled":false,"config":{}}}}}})";

// String and int inverted indexes off by default, the string index back on for "title".
const std::string kDefaultsSchema =
    R"({"defaults":{"string":{"string_inverted_index":{"enabled":false,"config":{}}},)"
    R"("int":{"int_inverted_index":{"enabled":false,"config":{}}}},)"
    R"("keys":{"title":{"string":{"string_inverted_index":{"enabled":true,"config":{}}}}}})";

const std::string kRecords =
    R"({"ids":["a","b","c"],"embeddings":[[1,0],[0,1],[1,1]],"documents":["d1","d2","d3"],"metadatas":[)"
    R"({"author":"ann","year":2001,"score":0.5,"flag":true,"title":"t1","n":1,"f":1.5},)"
    R"({"author":"bob","year":2002,"score":1.5,"flag":false,"title":"t2","n":2,"f":2.5},)"
    R"({"author":"cy","year":2003,"score":2.5,"flag":true,"title":"t3","n":3,"f":3.5}]})";

std::string Disabled(const std::string& key, const std::string& type) {
  return "Cannot filter using metadata key '" + key + "' with type '" + type + "' because indexing is disabled";
}

const std::string kFtsDisabled = "Cannot filter using full-text search because FTS indexing is disabled";

class SchemaGateTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.Start()); }
  void TearDown() override { EXPECT_EQ(server_.Stop(), 0) << server_.log(); }

  // Creates a collection with `schema` (JSON) holding kRecords; returns its base path.
  std::string Collection(const std::string& name, const std::string& schema) {
    return CollectionWithRecords(server_, name, schema, kRecords);
  }

  // The ids a get with `where` returns (the request must succeed).
  std::string GetIds(const std::string& base, const std::string& where) {
    Response r = server_.Post(base + "/get", R"({"include":[],"where":)" + where + "}");
    EXPECT_EQ(r.status, 200) << where << " " << r.body;
    auto d = r.Json();
    return d.HasParseError() ? r.body : At(d, {"ids"});
  }

  // get, query and delete with `where` are all refused with `message`; nothing is deleted.
  void ExpectRefused(const std::string& base, const std::string& where, const std::string& message) {
    SCOPED_TRACE(where);
    ExpectError(server_.Post(base + "/get", R"({"where":)" + where + "}"), 400, "InvalidArgumentError", message);
    ExpectError(server_.Post(base + "/query", R"({"query_embeddings":[[1,0]],"n_results":2,"where":)" + where + "}"),
                400, "InvalidArgumentError", message);
    ExpectError(server_.Post(base + "/delete", R"({"where":)" + where + "}"), 400, "InvalidArgumentError", message);
    EXPECT_EQ(server_.Get(base + "/count").body, "3");
  }

  ServerProcess server_;
};

TEST_F(SchemaGateTest, KeyWithDisabledIndexIsRefusedForEachValueType) {
  const std::string base = Collection("gate_keys", kKeysSchema);
  ExpectRefused(base, R"({"author":"ann"})", Disabled("author", "Str"));
  ExpectRefused(base, R"({"author":{"$ne":"ann"}})", Disabled("author", "Str"));
  ExpectRefused(base, R"({"author":{"$in":["ann","bob"]}})", Disabled("author", "Str"));
  ExpectRefused(base, R"({"author":{"$contains":"a"}})", Disabled("author", "Str"));
  ExpectRefused(base, R"({"year":2001})", Disabled("year", "Int"));
  ExpectRefused(base, R"({"year":{"$gt":2001}})", Disabled("year", "Int"));
  ExpectRefused(base, R"({"year":{"$nin":[2001]}})", Disabled("year", "Int"));
  ExpectRefused(base, R"({"score":{"$lte":1.0}})", Disabled("score", "Float"));
  ExpectRefused(base, R"({"score":{"$in":[1.5,2]}})", Disabled("score", "Float"));
  ExpectRefused(base, R"({"flag":true})", Disabled("flag", "Bool"));
  ExpectRefused(base, R"({"flag":{"$ne":true}})", Disabled("flag", "Bool"));
  // With ids or a document filter beside it, the where clause is still refused.
  ExpectError(server_.Post(base + "/get", R"({"ids":["a"],"where":{"author":"ann"},)"
                                          R"("where_document":{"$contains":"d"}})"),
              400, "InvalidArgumentError", Disabled("author", "Str"));
}

TEST_F(SchemaGateTest, NestedClausesAreCheckedInOrder) {
  const std::string base = Collection("gate_nested", kKeysSchema);
  ExpectRefused(base, R"({"$and":[{"n":1},{"author":"ann"}]})", Disabled("author", "Str"));
  ExpectRefused(base, R"({"$or":[{"n":1},{"$and":[{"title":"t1"},{"year":{"$lte":2005}}]}]})",
                Disabled("year", "Int"));
  // The first refused clause is named.
  ExpectRefused(base, R"({"$and":[{"year":1},{"author":"x"}]})", Disabled("year", "Int"));
  ExpectRefused(base, R"({"$or":[{"author":"x"},{"year":1}]})", Disabled("author", "Str"));
  ExpectRefused(base, R"({"$and":[{"n":1},{"$or":[{"f":1.5},{"$and":[{"title":"t1"},{"flag":false}]}]}]})",
                Disabled("flag", "Bool"));
}

TEST_F(SchemaGateTest, EnabledIndexesStillFilter) {
  const std::string base = Collection("gate_enabled", kKeysSchema);
  ExpectRefused(base, R"({"author":"ann"})", Disabled("author", "Str"));
  // Keys the schema leaves on, and other value types of the disabled keys: the operand's
  // type picks the index, as in Chroma (`year` has only its int index disabled).
  EXPECT_EQ(GetIds(base, R"({"title":"t1"})"), R"(["a"])");
  EXPECT_EQ(GetIds(base, R"({"n":{"$gte":2}})"), R"(["b","c"])");
  EXPECT_EQ(GetIds(base, R"({"$and":[{"f":{"$gt":2.0}},{"title":{"$ne":"t3"}}]})"), R"(["b"])");
  EXPECT_EQ(GetIds(base, R"({"year":2001.0})"), R"(["a"])");
  EXPECT_EQ(GetIds(base, R"({"author":1})"), "[]");
  EXPECT_EQ(GetIds(base, R"({"missing":"x"})"), "[]");
  EXPECT_EQ(GetIds(base, R"({"#document":{"$contains":"d2"}})"), R"(["b"])");
  Response r = server_.Post(base + "/query", R"({"query_embeddings":[[1,0]],"n_results":3,"include":[],)"
                                             R"("where":{"title":{"$in":["t2","t3"]}}})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(At(r.Json(), {"ids"}), R"([["c","b"]])");
  r = server_.Post(base + "/delete", R"({"where":{"title":"t3"}})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(server_.Get(base + "/count").body, "2");
}

TEST_F(SchemaGateTest, DisabledDefaultsRefuseKeysTheSchemaDoesNotName) {
  const std::string base = Collection("gate_defaults", kDefaultsSchema);
  ExpectRefused(base, R"({"author":"ann"})", Disabled("author", "Str"));
  ExpectRefused(base, R"({"missing":"x"})", Disabled("missing", "Str"));
  ExpectRefused(base, R"({"n":{"$gt":1}})", Disabled("n", "Int"));
  ExpectRefused(base, R"({"title":1})", Disabled("title", "Int"));
  // Chroma checks `#id` like a string key, so the disabled string default refuses it.
  ExpectRefused(base, R"({"#id":{"$in":["a"]}})", Disabled("#id", "Str"));
  EXPECT_EQ(GetIds(base, R"({"title":"t2"})"), R"(["b"])");
  EXPECT_EQ(GetIds(base, R"({"f":{"$gte":2.0}})"), R"(["b","c"])");
  EXPECT_EQ(GetIds(base, R"({"flag":true})"), R"(["a","c"])");
  EXPECT_EQ(GetIds(base, R"({"$and":[]})"), R"(["a","b","c"])");
}

TEST_F(SchemaGateTest, DisabledFullTextIndexRefusesDocumentFilters) {
  const std::string base = Collection(
      "gate_fts", R"({"defaults":{},"keys":{"author":{"string":{"string_inverted_index":{"enabled":false,)"
                  R"("config":{}}}},"#document":{"string":{"fts_index":{"enabled":false,"config":{}}}}}})");
  for (const char* document : {R"({"$contains":"d"})", R"({"$not_contains":"d"})", R"({"$regex":"d.*"})",
                               R"({"$or":[{"$and":[]},{"$contains":"x"}]})"}) {
    SCOPED_TRACE(document);
    ExpectError(server_.Post(base + "/get", std::string(R"({"where_document":)") + document + "}"), 400,
                "InvalidArgumentError", kFtsDisabled);
  }
  ExpectRefused(base, R"({"#document":{"$contains":"d"}})", kFtsDisabled);
  // In order: the where clause before the document clause, depth first inside where.
  ExpectError(server_.Post(base + "/get", R"({"where":{"author":"x"},"where_document":{"$contains":"d"}})"), 400,
              "InvalidArgumentError", Disabled("author", "Str"));
  ExpectRefused(base, R"({"$and":[{"#document":{"$contains":"h"}},{"author":"x"}]})", kFtsDisabled);
  ExpectRefused(base, R"({"$and":[{"author":"x"},{"#document":{"$contains":"h"}}]})", Disabled("author", "Str"));
  // An empty document clause asks nothing of the index.
  Response r = server_.Post(base + "/get", R"({"include":[],"where_document":{"$and":[]}})");
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(SchemaGateTest, SearchFiltersAreGated) {
  const std::string base = Collection("gate_search", kKeysSchema);
  ExpectError(server_.Post(base + "/search", R"({"searches":[{"filter":{"title":"t1"}},{"filter":{"year":1}}]})"),
              400, "InvalidArgumentError", Disabled("year", "Int"));
  // A search that passes the gate is answered (local Chroma answers 501 there: fathom
  // implements the Search API); a malformed filter fails the body's decoding.
  Response r = server_.Post(base + "/search", R"({"searches":[{"filter":{"title":"t1"}},{}]})");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(At(r.Json(), {"ids"}), R"([["a"],["a","b","c"]])");
  ExpectError(server_.Post(base + "/search", R"({"searches":[{"filter":{"title":{"$gte":"x"}}}]})"), 422,
              "ChromaError", "Failed to deserialize the JSON body into the target type: searches[0].filter: "
                             "Invalid where clause");
}

TEST_F(SchemaGateTest, GateHoldsAfterRestartAndConfigurationChange) {
  const std::string base = Collection("gate_restart", kKeysSchema);
  ExpectRefused(base, R"({"author":"ann"})", Disabled("author", "Str"));
  ASSERT_EQ(server_.Stop(), 0) << server_.log();
  ASSERT_TRUE(server_.Start());
  ExpectRefused(base, R"({"author":"ann"})", Disabled("author", "Str"));
  EXPECT_EQ(GetIds(base, R"({"title":"t2"})"), R"(["b"])");
  // A configuration change rewrites the stored configuration; the schema stays.
  Response r = server_.Put(base, R"({"new_configuration":{"hnsw":{"ef_search":20}}})");
  ASSERT_EQ(r.status, 200) << r.body;
  ExpectRefused(base, R"({"year":{"$gt":1}})", Disabled("year", "Int"));
}

// ---- the schema shown with a collection -------------------------------------------------

// Chroma's HNSW config inside a schema, as shown: num_threads is the number of CPUs.
std::string Hnsw(int ef_search) {
  const unsigned cpus = std::thread::hardware_concurrency();
  return R"({"ef_construction":100,"max_neighbors":16,"ef_search":)" + std::to_string(ef_search) +
         R"(,"num_threads":)" + std::to_string(cpus == 0 ? 1 : cpus) +
         R"(,"batch_size":100,"sync_threshold":1000,"resize_factor":1.2})";
}

// The schema local Chroma shows for a collection created with `space` and ef_search
// (observed with no configuration, `hnsw.space` cosine and ip).
std::string DefaultSchemaJson(const std::string& space, int ef_search) {
  return R"({"defaults":{"string":{"fts_index":{"enabled":false,"config":{}},"string_inverted_index":{"enabled":true,)"
         R"("config":{}}},"float_list":{"vector_index":{"enabled":false,"config":{"space":")" + space +
         R"(","hnsw":)" + Hnsw(ef_search) +
         R"(}}},"sparse_vector":{"sparse_vector_index":{"enabled":false,"config":{"embedding_function":)"
         R"({"type":"unknown"},"bm25":false}}},"int":{"int_inverted_index":{"enabled":true,"config":{}}},"float":)"
         R"({"float_inverted_index":{"enabled":true,"config":{}}},"bool":{"bool_inverted_index":{"enabled":true,)"
         R"("config":{}}}},"keys":{"#document":{"string":{"fts_index":{"enabled":true,"config":{}},)"
         R"("string_inverted_index":{"enabled":false,"config":{}}}},"#embedding":{"float_list":{"vector_index":)"
         R"({"enabled":true,"config":{"space":")" + space + R"(","source_key":"#document","hnsw":)" +
         Hnsw(ef_search) + "}}}}}}";
}

// `actual` (a parsed schema) equals the JSON text `expected`, members in any order.
void ExpectSameJson(const rapidjson::Value& actual, const std::string& expected) {
  rapidjson::Document want;
  want.Parse(expected.c_str());
  ASSERT_FALSE(want.HasParseError()) << expected;
  EXPECT_TRUE(actual == want) << "got:  " << ToJson(actual) << "\nwant: " << expected;
}

class SchemaShapeTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.Start()); }
  void TearDown() override { EXPECT_EQ(server_.Stop(), 0) << server_.log(); }

  // The schema shown by create, get by name, get by id and list, checked to be the same.
  std::string Schema(const std::string& name, const std::string& extra) {
    Response r = server_.Post(kCollections, R"({"name":")" + name + "\"" + extra + "}");
    EXPECT_EQ(r.status, 200) << r.body;
    auto created = r.Json();
    if (created.HasParseError() || !created.IsObject() || !created.HasMember("schema")) return r.body;
    const std::string shown = ToJson(created["schema"]);
    EXPECT_EQ(At(server_.Get(kCollections + "/" + name).Json(), {"schema"}), shown);
    EXPECT_EQ(At(server_.Get(kCollections + "/by-id/" + created["id"].GetString()).Json(), {"schema"}), shown);
    auto list = server_.Get(kCollections).Json();
    bool listed = false;
    for (const auto& c : list.GetArray()) {
      if (At(c, {"name"}) != "\"" + name + "\"") continue;
      EXPECT_EQ(At(c, {"schema"}), shown);
      listed = true;
    }
    EXPECT_TRUE(listed) << name;
    return shown;
  }

  rapidjson::Document Parsed(const std::string& json) {
    rapidjson::Document d;
    d.Parse(json.c_str());
    return d;
  }

  ServerProcess server_;
};

TEST_F(SchemaShapeTest, DefaultSchemaCarriesTheFilledInIndexConfigs) {
  ExpectSameJson(Parsed(Schema("shape_plain", "")), DefaultSchemaJson("l2", 100));
}

TEST_F(SchemaShapeTest, ConfigurationFillsBothVectorIndexes) {
  ExpectSameJson(Parsed(Schema("shape_cos", R"(,"configuration":{"hnsw":{"space":"cosine"}})")),
                 DefaultSchemaJson("cosine", 100));
  ExpectSameJson(Parsed(Schema("shape_ip", R"(,"configuration":{"hnsw":{"space":"ip","ef_search":50}})")),
                 DefaultSchemaJson("ip", 50));
  // An embedding function appears in both vector indexes' configs, after the space.
  auto d = Parsed(Schema("shape_ef", R"(,"configuration":{"embedding_function":{"type":"known","name":"openai",)"
                                     R"("config":{"model_name":"m"}}})"));
  const std::string ef = R"({"type":"known","name":"openai","config":{"model_name":"m"}})";
  EXPECT_EQ(At(d, {"defaults", "float_list", "vector_index", "config"}),
            R"({"space":"l2","embedding_function":)" + ef + R"(,"hnsw":)" + Hnsw(100) + "}");
  EXPECT_EQ(At(d, {"keys", "#embedding", "float_list", "vector_index", "config"}),
            R"({"space":"l2","embedding_function":)" + ef + R"(,"source_key":"#document","hnsw":)" + Hnsw(100) + "}");
}

TEST_F(SchemaShapeTest, ClientSchemaIsMergedOntoTheDefaults) {
  auto d = Parsed(Schema("shape_keys", R"(,"schema":)" + kKeysSchema));
  const std::string legacy = R"({"type":"legacy"})";
  const std::string vector = R"({"space":"l2","embedding_function":)" + legacy + R"(,"hnsw":)" + Hnsw(100) + "}";
  EXPECT_EQ(At(d, {"defaults", "float_list", "vector_index", "config"}), vector);
  EXPECT_EQ(At(d, {"defaults", "sparse_vector"}), R"({"sparse_vector_index":{"enabled":false,"config":)"
                                                    R"({"embedding_function":{"type":"legacy"},"bm25":false}}})");
  EXPECT_EQ(At(d, {"keys", "#embedding", "float_list", "vector_index", "config"}),
            R"({"space":"l2","embedding_function":)" + legacy + R"(,"source_key":"#document","hnsw":)" + Hnsw(100) +
                "}");
  // Keys the client names are kept as given.
  EXPECT_EQ(At(d, {"keys", "author"}), R"({"string":{"string_inverted_index":{"enabled":false,"config":{}}}})");
  EXPECT_EQ(At(d, {"keys", "flag"}), R"({"bool":{"bool_inverted_index":{"enabled":false,"config":{}}}})");

  // A partial schema: named indexes replace the defaults' flags, the rest is filled in.
  d = Parsed(Schema("shape_partial", R"(,"schema":)" + kDefaultsSchema));
  std::string want = DefaultSchemaJson("l2", 100);
  want.replace(want.find(R"("string_inverted_index":{"enabled":true)"),
               std::string(R"("string_inverted_index":{"enabled":true)").size(),
               R"("string_inverted_index":{"enabled":false)");
  want.replace(want.find(R"("int_inverted_index":{"enabled":true)"),
               std::string(R"("int_inverted_index":{"enabled":true)").size(),
               R"("int_inverted_index":{"enabled":false)");
  want.replace(want.size() - 2, 2, R"(,"title":{"string":{"string_inverted_index":{"enabled":true,"config":{}}}}}})");
  ExpectSameJson(d, want);

  // The #embedding vector settings become the configuration.
  Response r = server_.Post(kCollections, R"({"name":"shape_ip2","schema":{"defaults":{},"keys":{"#embedding":)"
                                          R"({"float_list":{"vector_index":{"enabled":true,"config":{"space":"ip",)"
                                          R"("hnsw":{"ef_search":30}}}}}}}})");
  ASSERT_EQ(r.status, 200) << r.body;
  d = r.Json();
  EXPECT_EQ(At(d, {"configuration_json", "hnsw"}),
            R"({"space":"ip","ef_construction":100,"ef_search":30,"max_neighbors":16,"resize_factor":1.2,)"
            R"("sync_threshold":1000})");
  EXPECT_EQ(At(d, {"schema", "keys", "#embedding", "float_list", "vector_index", "config"}),
            R"({"space":"ip","source_key":"#document","hnsw":)" + Hnsw(30) + "}");
  EXPECT_EQ(At(d, {"schema", "defaults", "float_list", "vector_index", "config"}),
            R"({"space":"l2","hnsw":)" + Hnsw(100) + "}");
}

TEST_F(SchemaShapeTest, ConfigurationUpdateChangesBothVectorIndexes) {
  Response r = server_.Post(kCollections, R"({"name":"shape_put","schema":)" + kKeysSchema + "}");
  ASSERT_EQ(r.status, 200) << r.body;
  auto created = r.Json();
  ASSERT_TRUE(created.IsObject() && created.HasMember("id")) << r.body;
  const std::string id = created["id"].GetString();
  r = server_.Put(kCollections + "/" + id, R"({"new_configuration":{"hnsw":{"ef_search":20},)"
                                           R"("embedding_function":{"type":"known","name":"x","config":{}}}})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto d = server_.Get(kCollections + "/shape_put").Json();
  const std::string ef = R"({"type":"known","name":"x","config":{}})";
  EXPECT_EQ(At(d, {"schema", "defaults", "float_list", "vector_index", "config"}),
            R"({"space":"l2","embedding_function":)" + ef + R"(,"hnsw":)" + Hnsw(20) + "}");
  EXPECT_EQ(At(d, {"schema", "keys", "#embedding", "float_list", "vector_index", "config"}),
            R"({"space":"l2","embedding_function":)" + ef + R"(,"source_key":"#document","hnsw":)" + Hnsw(20) + "}");
  EXPECT_EQ(At(d, {"configuration_json", "hnsw", "ef_search"}), "20");
}

TEST_F(SchemaShapeTest, SchemaShapeAndRulesAreChecked) {
  const std::string prefix = "Failed to deserialize the JSON body into the target type: ";
  auto create = [&](const std::string& schema) {
    return server_.Post(kCollections, R"({"name":"shape_bad","schema":)" + schema + "}");
  };
  ExpectError(create(R"({"keys":{}})"), 422, "ChromaError", prefix + "schema: missing field `defaults`");
  ExpectError(create(R"({"defaults":{},"keys":{"a":{"string":{"string_inverted_index":{"enabled":false}}}}})"),
              422, "ChromaError", prefix + "schema.keys.a.string.string_inverted_index: missing field `config`");
  ExpectError(create(R"({"defaults":{"int":{"int_inverted_index":{"enabled":false,"config":{"x":1}}}},"keys":{}})"),
              422, "ChromaError",
              prefix + "schema.defaults.int.int_inverted_index.config.x: unknown field `x`, there are no fields");
  ExpectError(create(R"({"defaults":{},"keys":{"#embedding":{"float_list":{"vector_index":{"enabled":true,)"
                     R"("config":{"hnsw":{"space":"ip"}}}}}}})"),
              422, "ChromaError",
              prefix + "schema.keys.#embedding.float_list.vector_index.config.hnsw.space: unknown field `space`");
  ExpectError(create(R"({"defaults":{},"keys":{"#document":{"string":{"string_inverted_index":{"enabled":true,)"
                     R"("config":{}}}}}})"),
              400, "InvalidArgumentError",
              "Validation error: schema: String inverted index can not be enabled on #document key: #document");
  ExpectError(create(R"({"defaults":{},"keys":{"#x":{}}})"), 400, "InvalidArgumentError",
              "Validation error: schema: key cannot begin with '#'. Keys starting with '#' are reserved for system "
              "use: #x");
  // One sparse vector index is served (as Chroma Cloud); two are refused with its rule.
  ExpectError(create(R"({"defaults":{},"keys":{"x":{"sparse_vector":{"sparse_vector_index":{"enabled":true,)"
                     R"("config":{}}}},"y":{"sparse_vector":{"sparse_vector_index":{"enabled":true,"config":{}}}}}})"),
              400, "InvalidArgumentError",
              "Validation error: schema: At most one sparse vector index is allowed for the collection.");
  EXPECT_EQ(server_.Get(kDb + "/collections_count").body, "0");
}

}  // namespace
}  // namespace fathom::http_test
