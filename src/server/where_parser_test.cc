// Unit tests of the where / where_document parser (chroma.md §2).
#include <gtest/gtest.h>

#include "server/where_parser.h"

namespace fathom::server {
namespace {

ApiResult<Where> Parse(const std::string& json) {
  auto body = JsonBody::ParseOwned(json);
  EXPECT_TRUE(body.ok()) << json;
  return ParseWhere(body->root());
}

TEST(WhereParserTest, BuildsTheTree) {
  auto w = Parse(R"({"$and":[{"color":"red"},{"n":{"$gte":2}},{"$or":[{"t":{"$in":["a","b"]}},{"#document":{"$contains":"x"}}]}]})");
  ASSERT_TRUE(w.ok()) << w.error().message();
  ASSERT_EQ(w->kind, Where::Kind::kAnd);
  ASSERT_EQ(w->children.size(), 3u);
  EXPECT_EQ(w->children[0].kind, Where::Kind::kField);
  EXPECT_EQ(w->children[0].op, CompareOp::kEq);
  EXPECT_EQ(std::get<std::string>(w->children[0].operands[0]), "red");
  EXPECT_EQ(w->children[1].op, CompareOp::kGte);
  EXPECT_EQ(std::get<int64_t>(w->children[1].operands[0]), 2);
  const Where& inner = w->children[2];
  EXPECT_EQ(inner.kind, Where::Kind::kOr);
  EXPECT_EQ(inner.children[0].op, CompareOp::kIn);
  EXPECT_EQ(inner.children[0].operands.size(), 2u);
  EXPECT_EQ(inner.children[1].kind, Where::Kind::kDocument);
  EXPECT_EQ(inner.children[1].document[0].kind, WhereDocument::Kind::kContains);
}

TEST(WhereParserTest, InTypingQuirk) {
  auto floats = Parse(R"({"n":{"$in":[1.5,2]}})");
  ASSERT_TRUE(floats.ok());
  EXPECT_EQ(std::get<double>(floats->operands[1]), 2.0);  // integer read as float
  EXPECT_FALSE(Parse(R"({"n":{"$in":[1,2.5]}})").ok());
  EXPECT_FALSE(Parse(R"({"n":{"$nin":[true,"a"]}})").ok());
}

TEST(WhereParserTest, IdKey) {
  auto w = Parse(R"({"#id":{"$nin":["a","b"]}})");
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->kind, Where::Kind::kId);
  EXPECT_EQ(w->op, CompareOp::kNin);
  EXPECT_FALSE(Parse(R"({"#id":{"$gt":"a"}})").ok());
}

TEST(WhereParserTest, RejectsMalformedClauses) {
  for (const char* bad : {R"({})", R"({"a":1,"b":2})", R"({"$and":{}})", R"({"$not":[]})", R"({"a":{"$gt":"s"}})",
                          R"({"a":{"$in":[]}})", R"({"a":{"$regex":"x"}})", R"({"a":null})", R"({"a":[1]})",
                          R"({"a":{"$contains":null}})", R"({"a":{}})", R"({"a":18446744073709551615})"}) {
    auto w = Parse(bad);
    ASSERT_FALSE(w.ok()) << bad;
    EXPECT_EQ(w.error().http_status(), 400u);
    EXPECT_EQ(w.error().message().rfind("Invalid where clause", 0), 0u) << w.error().message();
  }
}

TEST(WhereParserTest, DepthIsBounded) {
  std::string deep;
  for (int i = 0; i < 200; ++i) deep += R"({"$and":[)";
  deep += R"({"a":1})";
  for (int i = 0; i < 200; ++i) deep += "]}";
  EXPECT_FALSE(Parse(deep).ok());
}

TEST(WhereDocumentParserTest, ParsesAndValidates) {
  auto body = JsonBody::ParseOwned(R"({"$or":[{"$contains":"a"},{"$not_regex":"^b.*"}]})");
  auto d = ParseWhereDocument(body->root());
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->kind, WhereDocument::Kind::kOr);
  EXPECT_EQ(d->children[1].kind, WhereDocument::Kind::kNotRegex);
  body = JsonBody::ParseOwned(R"({"$regex":"(a"})");
  auto bad = ParseWhereDocument(body->root());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message().rfind("Regex syntax errror", 0), 0u);
  body = JsonBody::ParseOwned(R"({"$contains":1})");
  EXPECT_FALSE(ParseWhereDocument(body->root()).ok());
}

}  // namespace
}  // namespace fathom::server
