// Randomised robustness test of ApiService, in process: mutated and truncated request
// bodies must always get a well-formed answer (a JSON error for 4xx), never a crash, and
// rejected writes must change nothing. Prints its seed; FATHOM_TEST_SEED replays one.
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "fathom/db.h"
#include "server/api.h"

namespace fathom::server {
namespace {

class ApiRobustnessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("fathom-api-robustness-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    auto db = Database::Open({.path = dir_.string(), .background_compaction = false});
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    api_ = std::make_unique<ApiService>(db_.get(), ApiOptions{.allow_reset = true});
  }
  void TearDown() override {
    api_.reset();
    db_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  HttpResponse Call(const std::string& method, const std::string& target, std::string body = "") {
    HttpRequest request{.method = method, .target = target, .content_type = "application/json",
                        .body = std::move(body)};
    return api_->Handle(std::move(request));
  }

  std::filesystem::path dir_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<ApiService> api_;
};

uint64_t Seed() {
  if (const char* s = std::getenv("FATHOM_TEST_SEED")) return std::strtoull(s, nullptr, 10);
  return std::random_device{}();
}

std::string Mutate(std::string s, std::mt19937_64& rng) {
  static const char kAlphabet[] = "{}[]\":,0123456789.-+eE \\ntrufalsnAZ=/$#";
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int e = 0; e < edits && !s.empty(); ++e) {
    const size_t pos = rng() % s.size();
    switch (rng() % 4) {
      case 0: s[pos] = kAlphabet[rng() % (sizeof(kAlphabet) - 1)]; break;
      case 1: s.erase(pos, 1 + rng() % 8); break;
      case 2: s.insert(pos, 1, kAlphabet[rng() % (sizeof(kAlphabet) - 1)]); break;
      case 3: s.resize(pos); break;
    }
  }
  return s;
}

TEST_F(ApiRobustnessTest, MutatedBodiesGetWellFormedAnswersAndChangeNothing) {
  const uint64_t seed = Seed();
  std::printf("ApiRobustnessTest seed: %llu (set FATHOM_TEST_SEED to replay)\n",
              static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  const std::string c = "/api/v2/tenants/default_tenant/databases/default_database/collections";
  HttpResponse created = Call("POST", c, R"({"name":"robust"})");
  ASSERT_EQ(created.status, 200u) << created.body;
  rapidjson::Document d;
  d.Parse(created.body.c_str());
  const std::string base = c + "/" + d["id"].GetString();
  ASSERT_EQ(Call("POST", base + "/add", R"({"ids":["a","b"],"embeddings":[[1,2,3],[3,2,1]],)"
                                        R"("metadatas":[{"k":1},{"k":2}],"documents":["x","y"]})").status,
            201u);
  const std::string snapshot_body = R"({"include":["documents","metadatas","embeddings","uris"]})";
  std::string before = Call("POST", base + "/get", snapshot_body).body;

  struct Template {
    const char* method;
    std::string target;
    std::string body;
    bool writes;
  };
  const std::vector<Template> templates = {
      {"POST", base + "/add", R"({"ids":["z"],"embeddings":["AACAPwAAAAAAAAAA"],"metadatas":[{"m":[1,2]}],"documents":["d"],"uris":["u"]})", true},
      {"POST", base + "/upsert", R"({"ids":["a"],"embeddings":[[1,2,3]],"metadatas":[{"k":null}]})", true},
      {"POST", base + "/update", R"({"ids":["b"],"embeddings":[null],"documents":["n"],"metadatas":[{"k":5}]})", true},
      {"POST", base + "/delete", R"({"where":{"$and":[{"k":{"$gte":1}},{"k":{"$in":[1,2]}}]},"limit":1})", true},
      {"POST", base + "/get", R"({"ids":["a"],"where":{"$or":[{"k":1},{"#document":{"$regex":"^x"}}]},"where_document":{"$contains":"x"},"limit":5,"offset":0,"include":["embeddings"]})", false},
      {"POST", base + "/query", R"({"query_embeddings":[[1,2,3]],"n_results":2,"where":{"k":{"$ne":2}},"include":["distances","metadatas"]})", false},
      {"POST", c, R"({"name":"other","metadata":{"a":1},"configuration":{"hnsw":{"space":"cosine","ef_search":5}},"get_or_create":true})", false},
      {"PUT", base, R"({"new_name":"robust","new_metadata":{"z":true},"new_configuration":{"hnsw":{"ef_search":9}}})", false},
  };
  for (int i = 0; i < 3000; ++i) {
    const Template& t = templates[rng() % templates.size()];
    const std::string body = Mutate(t.body, rng);
    const HttpResponse r = Call(t.method, t.target, body);
    ASSERT_GE(r.status, 200u) << body;
    ASSERT_LT(r.status, 600u) << body;
    if (r.status >= 400) {
      // Every error is Chroma's JSON shape, never a crash or an empty answer.
      rapidjson::Document e;
      e.Parse(r.body.c_str());
      ASSERT_FALSE(e.HasParseError()) << body << " -> " << r.body;
      ASSERT_TRUE(e.IsObject() && e.HasMember("error") && e.HasMember("message")) << r.body;
      ASSERT_NE(r.status, 500u) << body << " -> " << r.body;
      if (t.writes) {
        ASSERT_EQ(Call("POST", base + "/get", snapshot_body).body, before) << "rejected write changed data: " << body;
      }
    } else if (t.writes) {
      // A mutation that is still a valid write: it changed data legitimately.
      before = Call("POST", base + "/get", snapshot_body).body;
    }
  }
}

}  // namespace
}  // namespace fathom::server
