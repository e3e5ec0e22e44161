// HTTP tests against the real `fathom run`: the collection object, configuration
// round-trips, and durability across a restart (write through HTTP, stop, start on the
// same directory, read everything back).
#include <atomic>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "http/http_test_support.h"

namespace fathom::http_test {
namespace {

TEST(CollectionsHttpTest, CollectionObjectHasEveryField) {
  ServerProcess server;
  ASSERT_TRUE(server.Start());
  Response r = server.Post(kCollections, R"({"name":"col1","metadata":{"a":1,"hnsw:space":"ip"}})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto d = r.Json();
  for (const char* field : {"id", "name", "configuration_json", "schema", "metadata", "dimension", "tenant",
                            "database", "log_position", "version"}) {
    EXPECT_TRUE(d.HasMember(field)) << field;
  }
  EXPECT_EQ(ToJson(d["configuration_json"]),
            R"({"hnsw":{"space":"ip","ef_construction":100,"ef_search":100,"max_neighbors":16,)"
            R"("resize_factor":1.2,"sync_threshold":1000},"spann":null,"embedding_function":null})");
  EXPECT_EQ(ToJson(d["metadata"]), R"({"a":1,"hnsw:space":"ip"})");
  EXPECT_TRUE(d["dimension"].IsNull());
  EXPECT_EQ(std::string(d["tenant"].GetString()), "default_tenant");
  EXPECT_EQ(d["log_position"].GetInt(), 0);
  EXPECT_TRUE(d["schema"]["keys"].HasMember("#embedding"));
  const std::string id = d["id"].GetString();

  // dimension is set by the first write.
  ASSERT_EQ(server.Post(kCollections + "/" + id + "/add", R"({"ids":["x"],"embeddings":[[1,2]]})").status, 201);
  d = server.Get(kCollections + "/by-id/" + id).Json();
  EXPECT_EQ(d["dimension"].GetInt(), 2);

  // Configuration: spann turns into hnsw with the same space; the embedding function is
  // echoed; PUT changes only mutable keys.
  r = server.Post(kCollections, R"({"name":"col2","configuration":{"spann":{"space":"cosine","search_nprobe":10},)"
                                R"("embedding_function":{"type":"known","name":"openai","config":{"model_name":"m"}}}})");
  ASSERT_EQ(r.status, 200) << r.body;
  d = r.Json();
  EXPECT_EQ(std::string(d["configuration_json"]["hnsw"]["space"].GetString()), "cosine");
  EXPECT_TRUE(d["configuration_json"]["spann"].IsNull());
  EXPECT_EQ(ToJson(d["configuration_json"]["embedding_function"]),
            R"({"type":"known","name":"openai","config":{"model_name":"m"}})");
  const std::string id2 = d["id"].GetString();
  r = server.Put(kCollections + "/" + id2, R"({"new_configuration":{"hnsw":{"ef_search":42}},"new_name":"col3",)"
                                           R"("new_metadata":{"c":true}})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "{}");
  d = server.Get(kCollections + "/col3").Json();
  EXPECT_EQ(d["configuration_json"]["hnsw"]["ef_search"].GetInt(), 42);
  EXPECT_EQ(std::string(d["configuration_json"]["hnsw"]["space"].GetString()), "cosine");
  EXPECT_EQ(ToJson(d["metadata"]), R"({"c":true})");
  // A null value in new_metadata resets it.
  ASSERT_EQ(server.Put(kCollections + "/" + id2, R"({"new_metadata":{"c":null}})").status, 200);
  EXPECT_TRUE(server.Get(kCollections + "/col3").Json()["metadata"].IsNull());

  // List with limit/offset, count, delete by name.
  EXPECT_EQ(server.Get(kDb + "/collections_count").body, "2");
  d = server.Get(kCollections + "?limit=1&offset=1").Json();
  ASSERT_EQ(d.Size(), 1u);
  EXPECT_EQ(std::string(d[0]["name"].GetString()), "col3");
  EXPECT_EQ(server.Get(kCollections + "?limit=0").body, "[]");
  EXPECT_EQ(server.Delete(kCollections + "/col1").body, "{}");
  ExpectError(server.Post(kCollections + "/" + id + "/get", "{}"), 404, "NotFoundError", "");
  EXPECT_EQ(server.Stop(), 0);
}

TEST(CollectionsHttpTest, TenantsAndDatabases) {
  ServerProcess server;
  ASSERT_TRUE(server.Start());
  EXPECT_EQ(server.Post("/api/v2/tenants", R"({"name":"acme"})").body, "{}");
  EXPECT_EQ(server.Get("/api/v2/tenants/acme").body, R"({"name":"acme","resource_name":null})");
  EXPECT_EQ(Request(server.port(), "PATCH", "/api/v2/tenants/acme", std::string(R"({"resource_name":"r"})")).status,
            200);
  for (const char* name : {"db0", "db1", "db2"}) {
    EXPECT_EQ(server.Post("/api/v2/tenants/acme/databases", std::string(R"({"name":")") + name + "\"}").status, 200);
  }
  auto d = server.Get("/api/v2/tenants/acme/databases?limit=2").Json();
  ASSERT_EQ(d.Size(), 2u);
  EXPECT_EQ(std::string(d[1]["name"].GetString()), "db1");
  d = server.Get("/api/v2/tenants/acme/databases?offset=2").Json();
  ASSERT_EQ(d.Size(), 1u);
  EXPECT_EQ(std::string(d[0]["name"].GetString()), "db2");
  d = server.Get("/api/v2/tenants/acme/databases/db0").Json();
  EXPECT_EQ(std::string(d["tenant"].GetString()), "acme");
  EXPECT_TRUE(d["id"].IsString());
  EXPECT_EQ(server.Delete("/api/v2/tenants/acme/databases/db0").body, "{}");
  EXPECT_EQ(server.Get("/api/v2/tenants/acme/databases/db0").status, 404);
  // Local Chroma lets a database be created under a tenant nobody created.
  EXPECT_EQ(server.Post("/api/v2/tenants/ghost/databases", R"({"name":"dbx"})").status, 200);
  EXPECT_EQ(server.Post("/api/v2/tenants/ghost/databases", R"({"name":"dbx"})").status, 409);
  EXPECT_EQ(server.Stop(), 0);
}

TEST(RestartHttpTest, EverythingWrittenIsReadBackAfterRestart) {
  ServerProcess first;
  ASSERT_TRUE(first.Start());
  ASSERT_EQ(first.Post("/api/v2/tenants", R"({"name":"tenant1"})").status, 200);
  ASSERT_EQ(first.Post("/api/v2/tenants/tenant1/databases", R"({"name":"db1"})").status, 200);
  const std::string other = "/api/v2/tenants/tenant1/databases/db1/collections";
  Response created = first.Post(other, R"({"name":"kept","metadata":{"m":"v"},)"
                                       R"("configuration":{"hnsw":{"space":"cosine","ef_search":7}}})");
  ASSERT_EQ(created.status, 200) << created.body;
  const std::string id = created.Json()["id"].GetString();
  const std::string base = other + "/" + id;
  ASSERT_EQ(first.Post(base + "/add", R"({"ids":["a","b","c"],"embeddings":["AACAPwAAAAAAAAAA","AAAAAAAAgD8AAAAA",)"
                                      R"("AAAAAAAAAAAAAIA/"],"documents":["red apple","green pear","blue berry"],)"
                                      R"("uris":["u1",null,"u3"],"metadatas":[{"n":1,"tags":["x","y"]},{"n":2},null]})")
                .status,
            201);
  ASSERT_EQ(first.Post(base + "/update", R"({"ids":["b"],"metadatas":[{"n":20}]})").status, 200);
  ASSERT_EQ(first.Post(base + "/delete", R"({"ids":["c"]})").status, 200);
  const std::string get_all = R"({"include":["documents","metadatas","embeddings","uris"]})";
  const std::string before_records = first.Post(base + "/get", get_all).body;
  const std::string before_collection = first.Get(other + "/kept").body;
  const std::string query = R"({"query_embeddings":[[1,0.1,0]],"n_results":2})";
  const std::string before_query = first.Post(base + "/query", query).body;
  const std::string data_dir = first.data_dir();
  ASSERT_EQ(first.Stop(), 0) << first.log();

  ServerProcess second(/*allow_reset=*/true, data_dir);
  ASSERT_TRUE(second.Start());
  EXPECT_EQ(second.Post(base + "/get", get_all).body, before_records);
  EXPECT_EQ(second.Get(other + "/kept").body, before_collection);
  EXPECT_EQ(second.Post(base + "/query", query).body, before_query);
  EXPECT_EQ(second.Get(base + "/count").body, "2");
  EXPECT_EQ(second.Get("/api/v2/tenants/tenant1").status, 200);
  auto d = second.Post(base + "/get", get_all).Json();
  EXPECT_EQ(ToJson(d["metadatas"]), R"([{"n":1,"tags":["x","y"]},{"n":20}])");
  EXPECT_EQ(ToJson(d["uris"]), R"(["u1",null])");
  EXPECT_EQ(second.Stop(), 0) << second.log();
}

TEST(RestartHttpTest, SigtermDuringWritesLosesNothingAcknowledged) {
  ServerProcess first;
  ASSERT_TRUE(first.Start());
  const std::string id = CreateCollection(first, "busy");
  ASSERT_FALSE(id.empty());
  const std::string base = kCollections + "/" + id;
  std::mutex mu;
  std::set<std::string> acknowledged;
  std::atomic<int> acks{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < 3; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; !stop.load(); ++i) {
        std::string ids;
        for (int j = 0; j < 20; ++j) ids += (j ? "," : "") + std::string("\"w") + std::to_string(w) + "-" +
                                             std::to_string(i) + "-" + std::to_string(j) + "\"";
        std::string embeddings;
        for (int j = 0; j < 20; ++j) embeddings += (j ? "," : "") + std::string("[1,2,3]");
        Response r = first.Post(base + "/add", "{\"ids\":[" + ids + "],\"embeddings\":[" + embeddings + "]}");
        if (r.status == 0) break;  // the server is gone
        if (r.status == 201) {
          std::lock_guard<std::mutex> lock(mu);
          for (int j = 0; j < 20; ++j) {
            acknowledged.insert("w" + std::to_string(w) + "-" + std::to_string(i) + "-" + std::to_string(j));
          }
          acks.fetch_add(1);
        }
      }
    });
  }
  // Let some writes land, then stop the server while writers are still sending.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (acks.load() < 20 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling, bounded
  }
  EXPECT_EQ(first.Stop(), 0) << first.log();
  stop.store(true);
  for (auto& t : writers) t.join();
  ASSERT_GE(acknowledged.size(), 400u);

  ServerProcess second(/*allow_reset=*/true, first.data_dir());
  ASSERT_TRUE(second.Start());
  auto d = second.Post(base + "/get", R"({"include":[]})").Json();
  std::set<std::string> stored;
  for (const auto& v : d["ids"].GetArray()) stored.insert(v.GetString());
  for (const auto& ack : acknowledged) {
    ASSERT_TRUE(stored.count(ack)) << "acknowledged record " << ack << " lost";
  }
  EXPECT_EQ(second.Stop(), 0) << second.log();
}

}  // namespace
}  // namespace fathom::http_test
