// Unit tests of route matching (chroma.md §1.3).
#include <gtest/gtest.h>

#include "server/names.h"
#include "server/router.h"

namespace fathom::server {
namespace {

TEST(RouterTest, MatchesChromaRoutes) {
  const std::string c = "/api/v2/tenants/t1/databases/d1/collections";
  auto m = MatchRoute("POST", c + "/0b8a-x/add");
  EXPECT_EQ(m.id, RouteId::kAdd);
  EXPECT_EQ(m.tenant, "t1");
  EXPECT_EQ(m.database, "d1");
  EXPECT_EQ(m.collection, "0b8a-x");
  EXPECT_EQ(MatchRoute("GET", c + "/by-id/abc").id, RouteId::kGetCollectionById);
  EXPECT_EQ(MatchRoute("GET", c + "/name%20x").collection, "name x");
  EXPECT_EQ(MatchRoute("GET", c + "?limit=1").query, "limit=1");
  EXPECT_EQ(MatchRoute("GET", "/api/v2").id, RouteId::kHeartbeat);
  EXPECT_EQ(MatchRoute("GET", "/api/v1/anything").id, RouteId::kV1Deprecated);
  EXPECT_EQ(MatchRoute("GET", "/api/v2/nothing").id, RouteId::kNotFound);
  EXPECT_EQ(MatchRoute("GET", "/api/v20").id, RouteId::kNotFound);
  auto wrong = MatchRoute("PATCH", c);
  EXPECT_EQ(wrong.id, RouteId::kMethodNotAllowed);
  EXPECT_EQ(wrong.allow, "GET, POST");
}

TEST(RouterTest, QueryParameters) {
  EXPECT_EQ(QueryParam("a=1&limit=5", "limit"), "5");
  EXPECT_EQ(QueryParam("x=a%20b+c", "x"), "a b c");
  EXPECT_FALSE(QueryParam("a=1", "b").has_value());
  EXPECT_EQ(*QueryParamU32("limit=7", "limit").value(), 7u);
  auto bad = QueryParamU32("offset=x", "offset");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(), "Failed to deserialize query string: offset: invalid digit found in string");
  EXPECT_FALSE(QueryParamU32("limit=99999999999", "limit").ok());
}

TEST(NamesTest, ChromaNameRules) {
  EXPECT_TRUE(ValidateName("abc").ok());
  EXPECT_TRUE(ValidateName("my-collection_1.v2").ok());
  for (const char* bad : {"ab", "-abc", "abc-", "a..b", "a b c", "192.168.0.1"}) {
    EXPECT_FALSE(ValidateName(bad).ok()) << bad;
  }
  EXPECT_TRUE(ValidateName("1.2.3").ok());
  EXPECT_EQ(NormalizeUuid("0B8A9C5E-1234-4ABC-8DEF-0123456789AB"), "0b8a9c5e-1234-4abc-8def-0123456789ab");
  EXPECT_EQ(NormalizeUuid("0b8a9c5e12344abc8def0123456789ab"), "0b8a9c5e-1234-4abc-8def-0123456789ab");
  EXPECT_FALSE(NormalizeUuid("not-a-uuid").has_value());
  EXPECT_FALSE(NormalizeUuid("0b8a9c5e-1234-4abc-8def-0123456789ag").has_value());
}

}  // namespace
}  // namespace fathom::server
