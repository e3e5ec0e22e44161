// HTTP tests against the real `fathom run`: every error row of chroma.md §1.2 (error
// model), §1.7 (write semantics) and §3.5 (validation summary) that a single node can
// produce. Each malformed write is also checked to change nothing.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "common/limits.h"
#include "http/http_test_support.h"
#include "server/base64.h"

namespace fathom::http_test {
namespace {

std::string B64(const std::vector<float>& v) { return server::Base64Encode(v.data(), v.size() * sizeof(float)); }

class HttpErrorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.Start());
    id_ = CreateCollection(server_, "errs");
    ASSERT_FALSE(id_.empty());
    base_ = kCollections + "/" + id_;
    Response r = server_.Post(base_ + "/add",
                              R"({"ids":["a","b","c"],"embeddings":[[1,0,0],[0,1,0],[0,0,1]],)"
                              R"("documents":["apple pie","banana split","cherry tart"],)"
                              R"("metadatas":[{"k":1,"s":"x"},{"k":2},null]})");
    ASSERT_EQ(r.status, 201) << r.body;
    snapshot_ = Snapshot();
  }
  void TearDown() override { EXPECT_EQ(server_.Stop(), 0) << server_.log(); }

  // Everything the collection holds, to check that a rejected request changed nothing.
  std::string Snapshot() {
    Response r = server_.Post(base_ + "/get", R"({"include":["documents","metadatas","embeddings","uris"]})");
    EXPECT_EQ(r.status, 200) << r.body;
    return r.body;
  }
  void ExpectUnchanged() { EXPECT_EQ(Snapshot(), snapshot_); }

  ServerProcess server_;
  std::string id_;
  std::string base_;
  std::string snapshot_;
};

// ---- §1.2: the error model --------------------------------------------------------------

TEST_F(HttpErrorsTest, NotJsonIs400ParseError) {
  ExpectError(server_.Post(base_ + "/add", "{ids: [1]}"), 400, "InvalidArgumentError",
              "Failed to parse the request body as JSON: ");
  ExpectUnchanged();
}

TEST_F(HttpErrorsTest, WrongShapeIs422) {
  ExpectError(server_.Post(base_ + "/add", R"({"ids":"a","embeddings":[[1,2,3]]})"), 422, "ChromaError",
              "Failed to deserialize the JSON body into the target type: ids: invalid type: string \"a\", "
              "expected a sequence");
  ExpectError(server_.Post(base_ + "/add", R"({"embeddings":[[1,2,3]]})"), 422, "ChromaError",
              "Failed to deserialize the JSON body into the target type: missing field `ids`");
  ExpectError(server_.Post(base_ + "/add", R"([1,2])"), 422, "ChromaError",
              "Failed to deserialize the JSON body into the target type: ");
  ExpectError(server_.Post(base_ + "/add", R"({"ids":["z"],"embeddings":[[1,2,3],"AACAPw=="]})"), 422,
              "ChromaError",
              "Failed to deserialize the JSON body into the target type: embeddings: data did not match any "
              "variant of untagged enum EmbeddingsPayload");
  ExpectUnchanged();
}

TEST_F(HttpErrorsTest, UnknownIncludeIs422WithSerdeMessage) {
  ExpectError(server_.Post(base_ + "/get", R"({"include":["bogus"]})"), 422, "ChromaError",
              "Failed to deserialize the JSON body into the target type: include[0]: unknown variant `bogus`, "
              "expected one of `distances`, `documents`, `embeddings`, `metadatas`, `uris`");
  ExpectError(server_.Post(base_ + "/query", R"({"query_embeddings":[[1,0,0]],"include":["embedding"]})"), 422,
              "ChromaError", "Failed to deserialize the JSON body into the target type: include[0]: ");
}

TEST_F(HttpErrorsTest, BadQueryStringIs400) {
  ExpectError(server_.Get(kCollections + "?limit=10&offset=abc"), 400, "InvalidArgumentError",
              "Failed to deserialize query string: offset: invalid digit found in string");
  ExpectError(server_.Get(kDb.substr(0, kDb.find("/databases")) + "/databases?limit=-1"), 400,
              "InvalidArgumentError", "Failed to deserialize query string: limit: invalid digit found in string");
  ExpectError(server_.Get(base_ + "/count?read_level=sometimes"), 400, "InvalidArgumentError",
              "Failed to deserialize query string: read_level: unknown variant `sometimes`");
}

TEST_F(HttpErrorsTest, NotFoundIs404NotFoundError) {
  ExpectError(server_.Get(kCollections + "/missing"), 404, "NotFoundError", "");
  ExpectError(server_.Get(kCollections + "/by-id/00000000-0000-0000-0000-000000000000"), 404, "NotFoundError", "");
  ExpectError(server_.Get("/api/v2/tenants/nobody"), 404, "NotFoundError", "");
  ExpectError(server_.Get("/api/v2/tenants/default_tenant/databases/nodb"), 404, "NotFoundError", "");
  ExpectError(server_.Delete(kCollections + "/missing"), 404, "NotFoundError", "");
}

TEST_F(HttpErrorsTest, AlreadyExistsIs409ChromaError) {
  ExpectError(server_.Post(kCollections, R"({"name":"errs"})"), 409, "ChromaError", "");
  ExpectError(server_.Post("/api/v2/tenants", R"({"name":"default_tenant"})"), 409, "ChromaError", "");
  ExpectError(server_.Post("/api/v2/tenants/default_tenant/databases", R"({"name":"default_database"})"), 409,
              "ChromaError", "");
  // get_or_create returns the existing collection unchanged.
  Response r = server_.Post(kCollections, R"({"name":"errs","get_or_create":true,"metadata":{"new":1}})");
  EXPECT_EQ(r.status, 200);
  auto d = r.Json();
  EXPECT_EQ(std::string(d["id"].GetString()), id_);
  EXPECT_TRUE(d["metadata"].IsNull());
}

TEST_F(HttpErrorsTest, UnsupportedLocalRoutesAnswerLikeLocalChroma) {
  // (Search is answered: local Chroma's 501 there is not copied; tests/http/search_test.cc.)
  ExpectError(server_.Post(base_ + "/fork", R"({"new_name":"f1x"})"), 501, "ChromaError",
              "Collection forking is unsupported for local chroma");
  ExpectError(server_.Get(base_ + "/fork_count"), 501, "ChromaError", "");
  ExpectError(server_.Get(base_ + "/indexing_status"), 500, "InternalError", "Method scout_logs is not implemented");
  ExpectError(server_.Get("/api/v2/collections/tenant:db:coll"), 501, "ChromaError", "");
}

TEST_F(HttpErrorsTest, QueryWithMissingCandidateIdFails) {
  // Local Chroma answers 500 "Error finding id"; clients (the JS suite) test for a failure.
  ExpectError(server_.Post(base_ + "/query", R"({"query_embeddings":[[1,0,0]],"ids":["a","gone"]})"), 500,
              "InternalError", "Error executing plan: Internal error: Error finding id");
  Response ok = server_.Post(base_ + "/query", R"({"query_embeddings":[[1,0,0]],"ids":["a","b"],"n_results":5})");
  EXPECT_EQ(ok.status, 200) << ok.body;
}

TEST_F(HttpErrorsTest, ErrorResponsesCarryTraceId) {
  Response r = server_.Get(kCollections + "/missing");
  EXPECT_EQ(r.Header("chroma-trace-id"), "00000000000000000000000000000000");
  EXPECT_EQ(r.content_type, "application/json");
}

// ---- §1.7: write semantics and their errors ---------------------------------------------

TEST_F(HttpErrorsTest, DimensionMismatchIs400ForAddUpsertUpdateQuery) {
  const std::string expected = "Collection expecting embedding with dimension of 3, got 2";
  ExpectError(server_.Post(base_ + "/add", R"({"ids":["z"],"embeddings":[[1,2]]})"), 400, "InvalidArgumentError",
              expected);
  ExpectError(server_.Post(base_ + "/upsert", R"({"ids":["a"],"embeddings":[[1,2]]})"), 400,
              "InvalidArgumentError", expected);
  ExpectError(server_.Post(base_ + "/update", R"({"ids":["a"],"embeddings":[[1,2]]})"), 400,
              "InvalidArgumentError", expected);
  ExpectError(server_.Post(base_ + "/query", R"({"query_embeddings":[[1,2]]})"), 400, "InvalidArgumentError",
              expected);
  ExpectUnchanged();
}

TEST_F(HttpErrorsTest, InconsistentDimensionsInOneRequestIs400) {
  ExpectError(server_.Post(base_ + "/add", R"({"ids":["y","z"],"embeddings":[[1,2,3],[1,2]]})"), 400,
              "InvalidArgumentError", "Inconsistent dimensions in provided embeddings");
  ExpectUnchanged();
}

TEST_F(HttpErrorsTest, EmptyEmbeddingIs400) {
  ExpectError(server_.Post(base_ + "/add", R"({"ids":["z"],"embeddings":[[]]})"), 400, "InvalidArgumentError",
              "Validation error: embeddings: Each embedding must have at least 1 dimension");
  ExpectUnchanged();
}

TEST_F(HttpErrorsTest, NonFiniteBase64Is400) {
  const float inf = INFINITY;
  ExpectError(server_.Post(base_ + "/add", R"({"ids":["z"],"embeddings":[")" + B64({1, inf, 0}) + R"("]})"), 400,
              "InvalidArgumentError", "Non-finite float value at embedding index 0: inf");
  ExpectError(server_.Post(base_ + "/add", R"({"ids":["z"],"embeddings":[")" + B64({NAN, 0, 0}) + R"("]})"), 400,
              "InvalidArgumentError", "Non-finite float value at embedding index 0: NaN");
  // A JSON number beyond float range would become infinity.
  ExpectError(server_.Post(base_ + "/add", R"({"ids":["z"],"embeddings":[[1e300,0,0]]})"), 400,
              "InvalidArgumentError", "Non-finite float value at embedding index 0");
  ExpectUnchanged();
}

TEST_F(HttpErrorsTest, BadBase64Is400) {
  ExpectError(server_.Post(base_ + "/add", R"({"ids":["z"],"embeddings":["AACAPwAAAAAAAAA"]})"), 400,
              "InvalidArgumentError", "Invalid base64 string: Invalid padding");
  ExpectError(server_.Post(base_ + "/add", R"({"ids":["z"],"embeddings":["AA!APwAAAAAAAAAA"]})"), 400,
              "InvalidArgumentError", "Invalid base64 string: Invalid symbol 33, offset 2.");
  ExpectError(server_.Post(base_ + "/add", R"({"ids":["z"],"embeddings":["AAAAAAA="]})"), 400,
              "InvalidArgumentError", "Invalid byte length");
  ExpectUnchanged();
}

TEST_F(HttpErrorsTest, UnknownCollectionIs404WithPeriod) {
  const std::string missing = "11111111-2222-4333-8444-555555555555";
  ExpectError(server_.Post(kCollections + "/" + missing + "/add", R"({"ids":["z"],"embeddings":[[1,2,3]]})"), 404,
              "NotFoundError", "Collection [" + missing + "] does not exist.");
  for (const char* op : {"/get", "/query", "/delete", "/upsert", "/update"}) {
    Response r = server_.Post(kCollections + "/" + missing + op,
                              std::string(op) == "/query" ? R"({"query_embeddings":[[1,2,3]]})"
                              : std::string(op) == "/get" || std::string(op) == "/delete" ? R"({"ids":["a"]})"
                                                                                          : R"({"ids":["a"],"embeddings":[[1,2,3]]})");
    EXPECT_EQ(r.status, 404) << op << " " << r.body;
  }
  EXPECT_EQ(server_.Get(kCollections + "/" + missing + "/count").status, 404);
}

// Sparse vector metadata is stored (tests/http/sparse_test.cc); a malformed one is refused
// and changes nothing.
TEST_F(HttpErrorsTest, BadSparseVectorMetadataIs400) {
  ExpectError(server_.Post(base_ + "/add", R"({"ids":["z"],"embeddings":[[1,2,3]],)"
                                           R"("metadatas":[{"sv":{"#type":"sparse_vector","indices":[2,1],"values":[0.5,1]}}]})"),
              400, "InvalidArgumentError",
              "Validation error: metadatas: Invalid sparse vector at metadatas[0].sv: Sparse vector indices must be "
              "sorted in strictly ascending order (no duplicates)");
  ExpectUnchanged();
}

TEST_F(HttpErrorsTest, AddSemanticsFromTheReference) {
  // Existing id: 201 and no change.
  EXPECT_EQ(server_.Post(base_ + "/add", R"({"ids":["a"],"embeddings":[[9,9,9]],"documents":["new"]})").status, 201);
  ExpectUnchanged();
  // Duplicate ids in one add: the first occurrence is kept. `{}` metadata is stored as
  // null, `[]` values drop the key, integers beyond i64 become floats.
  Response r = server_.Post(base_ + "/add",
                            R"({"ids":["d","d","e","f"],"embeddings":[[1,1,1],[2,2,2],[3,3,3],[4,4,4]],)"
                            R"("metadatas":[{"first":true},{"first":false},{},{"gone":[],"big":9223372036854775808}]})");
  EXPECT_EQ(r.status, 201) << r.body;
  Response got = server_.Post(base_ + "/get", R"({"ids":["d","e","f"],"include":["metadatas","embeddings"]})");
  auto d = got.Json();
  ASSERT_EQ(d["ids"].Size(), 3u) << got.body;
  EXPECT_EQ(ToJson(d["metadatas"][0]), R"({"first":true})");
  EXPECT_EQ(ToJson(d["embeddings"][0]), "[1.0,1.0,1.0]");
  EXPECT_TRUE(d["metadatas"][1].IsNull());
  EXPECT_TRUE(d["metadatas"][2]["big"].IsDouble());
  EXPECT_NE(got.body.find(R"({"big":9.223372036854776e18})"), std::string::npos) << got.body;
  // A 6,000-character id is accepted.
  const std::string long_id(6000, 'x');
  EXPECT_EQ(server_.Post(base_ + "/add", R"({"ids":[")" + long_id + R"("],"embeddings":[[1,2,3]]})").status, 201);
}

TEST_F(HttpErrorsTest, UpdateAndUpsertSemanticsFromTheReference) {
  // Update of a missing id: 200, nothing happens.
  EXPECT_EQ(server_.Post(base_ + "/update", R"({"ids":["nope"],"documents":["x"]})").status, 200);
  ExpectUnchanged();
  // Upsert of an existing id merges metadata, keeps the document, replaces the embedding.
  EXPECT_EQ(server_.Post(base_ + "/upsert", R"({"ids":["a"],"embeddings":[[0,0,2]],"metadatas":[{"k":5,"t":true}]})")
                .status,
            200);
  Response got = server_.Post(base_ + "/get", R"({"ids":["a"],"include":["documents","metadatas","embeddings"]})");
  auto d = got.Json();
  EXPECT_EQ(ToJson(d["metadatas"][0]), R"({"k":5,"s":"x","t":true})");
  EXPECT_EQ(std::string(d["documents"][0].GetString()), "apple pie");
  EXPECT_EQ(ToJson(d["embeddings"][0]), "[0.0,0.0,2.0]");
  // A null value in an update deletes that key.
  EXPECT_EQ(server_.Post(base_ + "/update", R"({"ids":["a"],"metadatas":[{"s":null}]})").status, 200);
  d = server_.Post(base_ + "/get", R"({"ids":["a"]})").Json();
  EXPECT_EQ(ToJson(d["metadatas"][0]), R"({"k":5,"t":true})");
  // Upsert of a new id inserts.
  EXPECT_EQ(server_.Post(base_ + "/upsert", R"({"ids":["new"],"embeddings":[[1,2,3]]})").status, 200);
  EXPECT_EQ(server_.Get(base_ + "/count").body, "4");
}

// ---- §3.5: validation summary -----------------------------------------------------------

TEST_F(HttpErrorsTest, NameRulesAre400) {
  ExpectError(server_.Post(kCollections, R"({"name":"c1"})"), 400, "InvalidArgumentError",
              "Expected a name containing 3-512 characters from [a-zA-Z0-9._-], starting and ending with a "
              "character in [a-zA-Z0-9]. Got: c1");
  ExpectError(server_.Post(kCollections, R"({"name":"-abc"})"), 400, "InvalidArgumentError", "Expected a name");
  ExpectError(server_.Post(kCollections, R"({"name":"a..b"})"), 400, "InvalidArgumentError",
              "Expected a name that does not contains two consecutive periods (..)");
  ExpectError(server_.Post(kCollections, R"({"name":"127.0.0.1"})"), 400, "InvalidArgumentError",
              "Expected a name that is not a valid ip address");
  ExpectError(server_.Post(kCollections, R"({"name":")" + std::string(513, 'a') + R"("})"), 400,
              "InvalidArgumentError", "Expected a name");
  ExpectError(server_.Post("/api/v2/tenants/default_tenant/databases", R"({"name":"d b"})"), 400,
              "InvalidArgumentError", "Expected a name");
  ExpectError(server_.Post("/api/v2/tenants", R"({"name":"ab"})"), 400, "InvalidArgumentError",
              "Validation error: name: ");
  // Rename follows the same rule.
  ExpectError(server_.Put(base_, R"({"new_name":"x"})"), 400, "InvalidArgumentError", "Expected a name");
}

TEST_F(HttpErrorsTest, CollectionMetadataRules) {
  ExpectError(server_.Post(kCollections, R"({"name":"meta1","metadata":{}})"), 400, "InvalidArgumentError",
              "Validation error: metadata: Metadata cannot be empty");
  ExpectError(server_.Post(kCollections, R"({"name":"meta1","metadata":{"$bad":1}})"), 400,
              "InvalidArgumentError", "Validation error: metadata: ");
  ExpectError(server_.Post(kCollections, R"({"name":"meta1","metadata":{"a":{"b":1}}})"), 422, "ChromaError",
              "Failed to deserialize the JSON body into the target type: metadata.a: data did not match any "
              "variant of untagged enum MetadataValue");
  ExpectError(server_.Put(base_, R"({"new_metadata":{}})"), 400, "InvalidArgumentError",
              "Validation error: metadata: Metadata cannot be empty");
  EXPECT_EQ(server_.Get(kDb + "/collections_count").body, "1");
}

TEST_F(HttpErrorsTest, RecordMetadataRules) {
  for (const char* key : {"", "#doc", "$op"}) {
    const std::string body = std::string(R"({"ids":["y","z"],"embeddings":[[1,2,3],[1,2,3]],"metadatas":[{"ok":1},{")") +
                             key + R"(":1}]})";
    ExpectError(server_.Post(base_ + "/add", body), 400, "InvalidArgumentError",
                "Validation error: metadatas: Invalid metadata at index 1");
    ExpectError(server_.Post(base_ + "/upsert", body), 400, "InvalidArgumentError",
                "Validation error: metadatas: Invalid metadata at index 1");
  }
  ExpectError(server_.Post(base_ + "/update", R"({"ids":["a"],"metadatas":[{"#x":1}]})"), 400,
              "InvalidArgumentError", "Validation error: metadatas: Invalid metadata at index 0");
  // Value types are a decode error (422): nested objects, null on add, mixed arrays.
  ExpectError(server_.Post(base_ + "/add", R"({"ids":["z"],"embeddings":[[1,2,3]],"metadatas":[{"o":{"p":1}}]})"),
              422, "ChromaError", "Failed to deserialize the JSON body into the target type: metadatas[0].o: ");
  ExpectError(server_.Post(base_ + "/add", R"({"ids":["z"],"embeddings":[[1,2,3]],"metadatas":[{"n":null}]})"),
              422, "ChromaError", "Failed to deserialize the JSON body into the target type: metadatas[0].n: ");
  ExpectError(server_.Post(base_ + "/add", R"({"ids":["z"],"embeddings":[[1,2,3]],"metadatas":[{"m":[1,"a"]}]})"),
              422, "ChromaError", "");
  ExpectUnchanged();
}

TEST_F(HttpErrorsTest, ParallelArrayLengthsAndEmptyIds) {
  ExpectError(server_.Post(base_ + "/add", R"({"ids":["y","z"],"embeddings":[[1,2,3]]})"), 400,
              "InvalidArgumentError", "Inconsistent number of IDs, embeddings, documents, URIs and metadatas");
  ExpectError(server_.Post(base_ + "/add", R"({"ids":["y"],"embeddings":[[1,2,3]],"documents":["a","b"]})"), 400,
              "InvalidArgumentError", "Inconsistent number of IDs, embeddings, documents, URIs and metadatas");
  ExpectError(server_.Post(base_ + "/update", R"({"ids":["a"],"uris":["u1","u2"]})"), 400, "InvalidArgumentError",
              "Inconsistent number of IDs, embeddings, documents, URIs and metadatas");
  ExpectError(server_.Post(base_ + "/add", R"({"ids":[""],"embeddings":[[1,2,3]]})"), 400, "InvalidArgumentError",
              "Empty ID, ID must have at least one character");
  ExpectUnchanged();
  // `ids: []` is a no-op.
  EXPECT_EQ(server_.Post(base_ + "/add", R"({"ids":[],"embeddings":[]})").status, 201);
}

TEST_F(HttpErrorsTest, EmbeddingsRequiredOnAddAndUpsert) {
  ExpectError(server_.Post(base_ + "/add", R"({"ids":["z"],"documents":["d"]})"), 422, "ChromaError",
              "Failed to deserialize the JSON body into the target type: missing field `embeddings`");
  ExpectError(server_.Post(base_ + "/upsert", R"({"ids":["z"],"embeddings":null})"), 422, "ChromaError", "");
  ExpectError(server_.Post(base_ + "/query", R"({"query_embeddings":["AACAPwAAAAAAAAAA"]})"), 422, "ChromaError",
              "Failed to deserialize the JSON body into the target type: query_embeddings[0]: ");
  ExpectUnchanged();
}

TEST_F(HttpErrorsTest, DuplicateIdsAndBatchSizeAreNotChecked) {
  std::string ids, embeddings;
  for (int i = 0; i < 5462; ++i) {
    ids += (i ? "," : "") + std::string("\"r") + std::to_string(i) + "\"";
    embeddings += (i ? "," : "") + std::string("[1,2,3]");
  }
  EXPECT_EQ(server_.Post(base_ + "/add", R"({"ids":[)" + ids + R"(],"embeddings":[)" + embeddings + "]}").status, 201);
  EXPECT_EQ(server_.Get(base_ + "/count").body, "5465");
}

TEST_F(HttpErrorsTest, CollectionIdMustBeAUuidOnRecordRoutesAndPut) {
  for (const char* op : {"/add", "/get", "/query", "/delete", "/upsert", "/update"}) {
    ExpectError(server_.Post(kCollections + "/errs" + op, R"({"ids":["a"],"embeddings":[[1,2,3]],"query_embeddings":[[1,2,3]]})"),
                400, "InvalidArgumentError", "Collection ID is not a valid UUIDv4");
  }
  ExpectError(server_.Get(kCollections + "/errs/count"), 400, "InvalidArgumentError",
              "Collection ID is not a valid UUIDv4");
  ExpectError(server_.Put(kCollections + "/errs", R"({"new_name":"errs2"})"), 400, "InvalidArgumentError",
              "Collection ID is not a valid UUIDv4");
  ExpectError(server_.Get(kCollections + "/by-id/errs"), 400, "InvalidArgumentError",
              "Validation error: collection_id: Invalid collection ID format, expected UUID");
  // A UUID in the name slot is a name: not found.
  ExpectError(server_.Get(kCollections + "/" + id_), 404, "NotFoundError", "");
}

TEST_F(HttpErrorsTest, WhereSyntaxIs400OnGetQueryDeleteSearch) {
  const std::vector<std::string> bad_where = {
      R"({"a":1,"b":2})", R"({})", R"({"n":{"$eq":1,"$ne":2}})", R"({"$and":{"a":1}})", R"({"$not":{"a":1}})",
      R"({"n":{"$gt":"x"}})", R"({"n":{"$gte":true}})", R"({"n":{"$in":[]}})", R"({"n":{"$in":[1,2.5]}})",
      R"({"n":{"$in":["a",1]}})", R"({"n":{"$contains":[1]}})", R"({"n":{"$regex":"a"}})", R"({"n":null})",
      R"({"n":[1,2]})", R"({"n":{"$bogus":1}})", R"({"n":9223372036854775808})", R"([1])", R"("x")"};
  for (const auto& where : bad_where) {
    ExpectError(server_.Post(base_ + "/get", R"({"where":)" + where + "}"), 400, "InvalidArgumentError",
                "Invalid where clause");
    ExpectError(server_.Post(base_ + "/query", R"({"query_embeddings":[[1,0,0]],"where":)" + where + "}"), 400,
                "InvalidArgumentError", "Invalid where clause");
    ExpectError(server_.Post(base_ + "/delete", R"({"where":)" + where + "}"), 400, "InvalidArgumentError",
                "Invalid where clause");
  }
  const std::vector<std::string> bad_document = {R"({"$contains":123})", R"({})", R"({"$bogus":"x"})",
                                                 R"({"$and":"x"})", R"({"$contains":"a","$regex":"b"})"};
  for (const auto& doc : bad_document) {
    ExpectError(server_.Post(base_ + "/get", R"({"where_document":)" + doc + "}"), 400, "InvalidArgumentError",
                "Invalid where document clause");
  }
  ExpectError(server_.Post(base_ + "/get", R"({"where_document":{"$regex":"(unclosed"}})"), 400,
              "InvalidArgumentError", "Regex syntax errror: regex parse error: ");
  ExpectError(server_.Post(base_ + "/get", R"({"where":{"#document":{"$eq":"apple pie"}}})"), 400,
              "InvalidArgumentError",
              "Cannot filter using metadata key '#document' with type 'Str' because indexing is disabled");
  ExpectUnchanged();
}

TEST_F(HttpErrorsTest, ValidWhereQuirksAreAccepted) {
  // A float first in $in accepts later integers; empty $and/$or are fine.
  for (const char* where : {R"({"k":{"$in":[1.5,2]}})", R"({"$and":[]})", R"({"$or":[]})",
                            R"({"#document":{"$contains":"pie"}})", R"({"#id":{"$in":["a"]}})"}) {
    Response r = server_.Post(base_ + "/get", std::string(R"({"where":)") + where + "}");
    EXPECT_EQ(r.status, 200) << where << " " << r.body;
  }
  auto d = server_.Post(base_ + "/get", R"({"where":{"k":{"$in":[1.5,2]}}})").Json();
  EXPECT_EQ(ToJson(d["ids"]), R"(["b"])");
  d = server_.Post(base_ + "/get", R"({"where":{"$or":[]}})").Json();
  EXPECT_EQ(ToJson(d["ids"]), "[]");
}

TEST_F(HttpErrorsTest, DeleteRules) {
  ExpectError(server_.Post(base_ + "/delete", R"({"ids":[]})"), 400, "InvalidArgumentError",
              "Validation error: ids, where: Either ids or where must be specified");
  ExpectError(server_.Post(base_ + "/delete", R"({"ids":["a"],"limit":1})"), 400, "InvalidArgumentError",
              "Validation error: limit: limit can only be specified when a where clause is provided");
  ExpectUnchanged();
  Response r = server_.Post(base_ + "/delete", R"({})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"deleted":0})");
  ExpectUnchanged();
  // By ids: the number of ids sent, existing or not.
  r = server_.Post(base_ + "/delete", R"({"ids":["a","missing"]})");
  EXPECT_EQ(r.body, R"({"deleted":2})");
  EXPECT_EQ(server_.Get(base_ + "/count").body, "2");
}

TEST_F(HttpErrorsTest, ConfigurationRules) {
  ExpectError(server_.Post(kCollections, R"({"name":"cfg1","configuration":{"hnsw":{"ef_construction":-1}}})"),
              422, "ChromaError",
              "Failed to deserialize the JSON body into the target type: configuration.hnsw.ef_construction: "
              "invalid value: integer `-1`, expected usize");
  ExpectError(server_.Post(kCollections, R"({"name":"cfg1","configuration":{"hnsw":{"bogus":1}}})"), 422,
              "ChromaError", "Failed to deserialize the JSON body into the target type: configuration.hnsw.bogus: "
                             "unknown field `bogus`");
  ExpectError(server_.Post(kCollections, R"({"name":"cfg1","configuration":{"hnsw":{"space":"hamming"}}})"), 422,
              "ChromaError", "");
  ExpectError(server_.Post(kCollections, R"({"name":"cfg1","configuration":{"hnsw":{},"spann":{}}})"), 400,
              "InvalidArgumentError", "Multiple vector index configurations provided");
  ExpectError(server_.Post(kCollections, R"({"name":"cfg1","configuration":{"hnsw":{"space":"ip"}},)"
                                         R"("schema":{"defaults":{},"keys":{}}})"),
              400, "InvalidArgumentError",
              "Failed to reconcile schema: Cannot set both collection config and schema simultaneously");
  ExpectError(server_.Put(base_, R"({"new_configuration":{"hnsw":{"space":"ip"}}})"), 422, "ChromaError",
              "Failed to deserialize the JSON body into the target type: new_configuration.hnsw.space: unknown "
              "field `space`");
  ExpectError(server_.Put(base_, R"({"new_configuration":{"hnsw":{"ef_construction":10}}})"), 422, "ChromaError",
              "");
  ExpectError(server_.Put(base_, R"({"new_configuration":{"spann":{"search_nprobe":500}}})"), 400,
              "InvalidArgumentError", "Validation error: ");
  EXPECT_EQ(server_.Get(kDb + "/collections_count").body, "1");
}

// ---- issue 12: limits the formats enforce are refused up front, naming the limit ----

// A 400 InvalidArgumentError whose message names `limit_name`.
void ExpectLimitError(const Response& r, const std::string& limit_name) {
  EXPECT_EQ(r.status, 400) << r.body.substr(0, 500);
  auto d = r.Json();
  ASSERT_FALSE(d.HasParseError()) << r.body.substr(0, 500);
  ASSERT_TRUE(d.IsObject() && d.HasMember("error") && d.HasMember("message")) << r.body.substr(0, 500);
  EXPECT_EQ(std::string(d["error"].GetString()), "InvalidArgumentError");
  EXPECT_NE(std::string(d["message"].GetString()).find(limit_name), std::string::npos) << d["message"].GetString();
}

TEST_F(HttpErrorsTest, RecordMetadataStringOverTheValueLimitIs400) {
  const std::string big(fathom::limits::kMetadataStringBytesMax + 1, 'x');
  ExpectLimitError(server_.Post(base_ + "/add", R"({"ids":["z"],"embeddings":[[1,2,3]],"metadatas":[{"s":")" + big +
                                                    R"("}]})"),
                   "limits::kMetadataStringBytesMax");
  ExpectLimitError(server_.Post(base_ + "/update", R"({"ids":["a"],"metadatas":[{"s":[")" + big + R"("]}]})"),
                   "limits::kMetadataStringBytesMax");
  ExpectUnchanged();
}

TEST_F(HttpErrorsTest, CollectionConfigurationOrMetadataOverTheCatalogLimitIs400) {
  // The embedding-function descriptor is stored verbatim, so it can make the schema large.
  const std::string big_schema =
      R"({"defaults":{},"keys":{"#embedding":{"float_list":{"vector_index":{"enabled":true,"config":{)"
      R"("embedding_function":{"type":"known","name":"x","config":{"blob":")" +
      std::string(fathom::limits::kCatalogConfigurationBytesMax, 'x') + R"("}}}}}}}})";
  ExpectLimitError(server_.Post(kCollections, R"({"name":"big1","schema":)" + big_schema + "}"),
                   "limits::kCatalogConfigurationBytesMax");
  ExpectLimitError(server_.Post(kCollections, R"({"name":"big2","metadata":{"s":")" +
                                                  std::string(fathom::limits::kMetadataStringBytesMax + 1, 'x') +
                                                  R"("}})"),
                   "limits::kMetadataStringBytesMax");
  ExpectLimitError(server_.Put(base_, R"({"new_metadata":{"s":")" +
                                          std::string(fathom::limits::kMetadataStringBytesMax + 1, 'x') + R"("}})"),
                   "limits::kMetadataStringBytesMax");
  EXPECT_EQ(server_.Get(kDb + "/collections_count").body, "1");
  ExpectUnchanged();
}

TEST_F(HttpErrorsTest, QueryOverTheResultRowLimitIs400) {
  std::string embeddings;
  for (size_t i = 0; i <= fathom::limits::kQueryResultRowsMax / fathom::limits::kQueryResultsMax; ++i) {
    embeddings += (i ? "," : "") + std::string("[1,0,0]");
  }
  ExpectLimitError(server_.Post(base_ + "/query", R"({"query_embeddings":[)" + embeddings + R"(],"n_results":)" +
                                                      std::to_string(fathom::limits::kQueryResultsMax) + "}"),
                   "limits::kQueryResultRowsMax");
}

}  // namespace
}  // namespace fathom::http_test
