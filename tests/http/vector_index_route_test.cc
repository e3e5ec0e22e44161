// fathom's own route GET /fathom/v1/tenants/{t}/databases/{d}/collections/{id}/vector_index
// against the real `fathom run`: the index state, the calibrated default search and the
// recall monitor, as JSON; Chroma-style errors for bad ids and methods.
#include <string>

#include "http/http_test_support.h"

namespace fathom::http_test {
namespace {

const std::string kFathomCollections = "/fathom/v1/tenants/default_tenant/databases/default_database/collections/";

TEST(VectorIndexRouteTest, ReportsTheIndexAndItsCalibration) {
  ServerProcess server(/*allow_reset=*/false);
  ASSERT_TRUE(server.Start());
  const std::string id = CreateCollection(server, "stats");
  ASSERT_FALSE(id.empty());
  Response add = server.Post(kCollections + "/" + id + "/add",
                             R"({"ids":["a","b"],"embeddings":[[1,0],[0,1]],"documents":["x","y"]})");
  ASSERT_EQ(add.status, 201) << add.body;

  Response r = server.Get(kFathomCollections + id + "/vector_index");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/json");
  auto d = r.Json();
  ASSERT_TRUE(d.IsObject()) << r.body;
  // Two rows: no index, every query scans exactly.
  EXPECT_FALSE(d["active"].GetBool());
  EXPECT_EQ(std::string(d["default_search"]["plan"].GetString()), "exact_scan");
  EXPECT_DOUBLE_EQ(d["calibration"]["recall_target"].GetDouble(), 0.95);
  EXPECT_FALSE(d["calibration"]["calibrated"].GetBool());
  EXPECT_EQ(d["monitor"]["samples"].GetUint64(), 0u);
  EXPECT_FALSE(d["monitor"]["below_target"].GetBool());
  EXPECT_EQ(d["vectors"]["hot"].GetUint64(), 2u);
  ASSERT_TRUE(d.HasMember("background")) << r.body;
  EXPECT_EQ(d["background"]["consecutive_failures"].GetUint64(), 0u);
  EXPECT_TRUE(d["background"]["last_error"].IsNull());

  // Errors: like Chroma's record routes.
  ExpectError(server.Get(kFathomCollections + "not-a-uuid/vector_index"), 400, "InvalidArgumentError",
              "Collection ID is not a valid UUIDv4");
  ExpectError(server.Get(kFathomCollections + "00000000-0000-4000-8000-000000000000/vector_index"), 404,
              "NotFoundError", "Collection [");
  EXPECT_EQ(server.Post(kFathomCollections + id + "/vector_index", "{}").status, 405);
  EXPECT_EQ(server.Get("/fathom/v1/nothing").status, 404);
  EXPECT_EQ(server.Stop(), 0) << server.log();
}

}  // namespace
}  // namespace fathom::http_test
