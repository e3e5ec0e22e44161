// Unit tests of the schema gate (schema_gate.h). The HTTP behaviour is covered by
// tests/http/schema_test.cc.
#include <gtest/gtest.h>

#include "server/collection_schema.h"
#include "server/schema_gate.h"
#include "server/where_parser.h"

namespace fathom::server {
namespace {

CollectionSchema Reconciled(const std::string& json) {
  auto body = JsonBody::ParseOwned(json);
  EXPECT_TRUE(body.ok()) << json;
  auto schema = ParseSchema(body->root(), "schema");
  EXPECT_TRUE(schema.ok()) << (schema.ok() ? "" : schema.error().message());
  return ReconcileSchema(schema.ok() ? *schema : CollectionSchema{});
}

Where ParseFilter(const std::string& json) {
  auto body = JsonBody::ParseOwned(json);
  EXPECT_TRUE(body.ok()) << json;
  auto where = ParseWhere(body->root());
  EXPECT_TRUE(where.ok()) << json;
  return where.ok() ? *where : Where{};
}

std::string GateMessage(const CollectionSchema& schema, const std::string& where) {
  ApiStatus status = CheckFilterIndexes(schema, ParseFilter(where), std::nullopt);
  return status.ok() ? "ok" : status.error().message();
}

// `author`'s string index and the default int index disabled.
const char* kSchema =
    R"({"defaults":{"int":{"int_inverted_index":{"enabled":false,"config":{}}}},)"
    R"("keys":{"author":{"string":{"string_inverted_index":{"enabled":false,"config":{}}}}}})";

TEST(CheckFilterIndexesTest, FirstRefusedClauseInOrderIsReported) {
  const CollectionSchema schema = Reconciled(kSchema);
  EXPECT_EQ(GateMessage(schema, R"({"author":"a"})"),
            "Cannot filter using metadata key 'author' with type 'Str' because indexing is disabled");
  EXPECT_EQ(GateMessage(schema,
                        R"({"$or":[{"author":1.5},{"$and":[{"k":true},{"n":{"$in":[1,2]}}]},{"author":"a"}]})"),
            "Cannot filter using metadata key 'n' with type 'Int' because indexing is disabled");
  EXPECT_EQ(GateMessage(schema, R"({"author":{"$in":[1.5,2]}})"), "ok");
  EXPECT_EQ(GateMessage(schema, R"({"#document":{"$contains":"x"}})"), "ok");
  EXPECT_EQ(GateMessage(schema, R"({"#id":"a"})"), "ok");
  EXPECT_TRUE(CheckFilterIndexes(std::nullopt, ParseFilter(R"({"author":"a"})"), std::nullopt).ok());
}

TEST(CheckFilterIndexesTest, DocumentClausesNeedTheFullTextIndex) {
  const CollectionSchema schema = Reconciled(
      R"({"defaults":{"string":{"string_inverted_index":{"enabled":false,"config":{}}}},)"
      R"("keys":{"#document":{"string":{"fts_index":{"enabled":false,"config":{}}}}}})");
  EXPECT_FALSE(schema.FtsEnabled());
  const std::string fts = "Cannot filter using full-text search because FTS indexing is disabled";
  EXPECT_EQ(GateMessage(schema, R"({"$and":[{"#document":{"$contains":"x"}},{"a":"b"}]})"), fts);
  EXPECT_EQ(GateMessage(schema, R"({"#id":{"$in":["a"]}})"),
            "Cannot filter using metadata key '#id' with type 'Str' because indexing is disabled");
  WhereDocument empty_and;
  empty_and.kind = WhereDocument::Kind::kAnd;
  EXPECT_TRUE(CheckFilterIndexes(schema, std::nullopt, empty_and).ok());
  WhereDocument contains;
  contains.kind = WhereDocument::Kind::kContains;
  contains.pattern = "x";
  empty_and.children.push_back(contains);
  ApiStatus status = CheckFilterIndexes(schema, std::nullopt, empty_and);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().message(), fts);
}

}  // namespace
}  // namespace fathom::server
