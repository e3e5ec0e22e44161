// `fathom run` and `fathom compact` with --store URL (io/store_factory.h): file:// is the
// directory --path names, mem:// serves from RAM, s3:// serves from an S3 bucket (the
// RGW test server, tests/s3_test_env.h), bad S3 settings and unknown schemes are refused
// with a clear message, and exactly one of --path and --store is taken.
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/random.h"
#include "http/http_test_support.h"
#include "s3_test_env.h"
#include "test_util.h"

namespace fathom::http_test {
namespace {

// Runs the fathom binary with `arguments`; returns its exit status and puts what it
// printed (stdout and stderr) in `output`.
int RunFathom(const std::string& arguments, std::string* output) {
  const char* binary = std::getenv("FATHOM_BINARY");
  if (binary == nullptr) {
    ADD_FAILURE() << "FATHOM_BINARY is not set (run through ctest)";
    return -1;
  }
  output->clear();
  FILE* pipe = ::popen((std::string(binary) + " " + arguments + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return -1;
  char buf[512];
  while (size_t n = std::fread(buf, 1, sizeof(buf), pipe)) output->append(buf, n);
  const int status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

size_t CollectionCount(const ServerProcess& server) {
  Response r = server.Get(std::string(kCollections) + "_count");
  EXPECT_EQ(r.status, 200) << r.body;
  return static_cast<size_t>(std::stoul(r.body.empty() ? "0" : r.body));
}

TEST(StoreUrlTest, FileUrlServesTheDirectoryPathNames) {
  ServerProcess server;
  server.set_store_url("file://" + server.data_dir());
  ASSERT_TRUE(server.Start());
  EXPECT_FALSE(CreateCollection(server, "kept").empty());
  EXPECT_EQ(server.Stop(), 0) << server.log();

  server.set_store_url("");  // --path, the same directory
  ASSERT_TRUE(server.Start());
  EXPECT_EQ(CollectionCount(server), 1u);
  EXPECT_EQ(server.Stop(), 0) << server.log();
}

TEST(StoreUrlTest, MemUrlServesFromMemoryAndKeepsNothing) {
  ServerProcess server;
  server.set_store_url("mem://");
  ASSERT_TRUE(server.Start());
  EXPECT_FALSE(CreateCollection(server, "fleeting").empty());
  EXPECT_EQ(CollectionCount(server), 1u);
  EXPECT_EQ(server.Stop(), 0) << server.log();
  ASSERT_TRUE(server.Start());
  EXPECT_EQ(CollectionCount(server), 0u);
  EXPECT_EQ(server.Stop(), 0) << server.log();
}

TEST(StoreUrlTest, BadS3SettingsAreRefusedClearly) {
  std::string output;
  EXPECT_EQ(RunFathom("run --store s3://bucket/prefix --endpoint ftp://127.0.0.1 --port 0", &output), 1) << output;
  EXPECT_NE(output.find("cannot open s3://bucket/prefix"), std::string::npos) << output;
  EXPECT_NE(output.find("must start with http:// or https://"), std::string::npos) << output;
  EXPECT_EQ(RunFathom("compact --store s3:// --endpoint http://127.0.0.1:1", &output), 1) << output;
  EXPECT_NE(output.find("names no bucket"), std::string::npos) << output;
  EXPECT_EQ(RunFathom("run --path /nonexistent/fathom --endpoint http://127.0.0.1:1 --port 0", &output), 1) << output;
  EXPECT_NE(output.find("applies to s3:// stores only"), std::string::npos) << output;
  EXPECT_EQ(RunFathom("run --path /nonexistent/fathom --cache-dir /tmp/x --port 0", &output), 1) << output;
  EXPECT_NE(output.find("apply to s3:// stores only"), std::string::npos) << output;
  EXPECT_EQ(RunFathom("run --store s3://bucket/prefix --endpoint http://127.0.0.1:1 --cache-size-mib 5 --port 0",
                      &output), 1) << output;
  EXPECT_NE(output.find("without a cache directory"), std::string::npos) << output;
  // Nothing listens on port 1: the store cannot be reached, and says where it tried.
  EXPECT_EQ(RunFathom("compact --store s3://bucket/prefix --endpoint http://127.0.0.1:1", &output), 1) << output;
  EXPECT_NE(output.find("cannot reach http://127.0.0.1:1"), std::string::npos) << output;
}

// `fathom run --store s3://BUCKET/PREFIX` end to end on the RGW test server: records
// written through one server process are there, and found by a query, in the next.
TEST(StoreUrlTest, S3UrlServesFromTheBucket) {
  const std::string missing = fathom::testing::S3TestEnvMissing();
  if (!missing.empty()) {
    if (fathom::testing::S3Required()) FAIL() << missing;
    GTEST_SKIP() << "needs the RGW test server (../shared/s3/README.md): " << missing;
  }
  const std::string url =
      "s3://" + fathom::testing::S3EnvValue("FATHOM_S3_BUCKET") + "/test/" + NewUuidV4() + "/http";
  ServerProcess server;
  server.set_store_url(url);
  ASSERT_TRUE(server.Start());
  const std::string id = CreateCollection(server, "remote");
  ASSERT_FALSE(id.empty());
  const std::string base = kCollections + "/" + id;
  Response added = server.Post(base + "/add",
                               R"({"ids":["a","b","c"],"embeddings":[[1,0],[0,1],[1,1]],)"
                               R"("documents":["apple","banana","cherry"]})");
  ASSERT_EQ(added.status, 201) << added.body;
  EXPECT_EQ(server.Stop(), 0) << server.log();

  ASSERT_TRUE(server.Start());
  Response count = server.Get(base + "/count");
  EXPECT_EQ(count.status, 200) << count.body;
  EXPECT_EQ(count.body, "3");
  Response query = server.Post(base + "/query", R"({"query_embeddings":[[0.1,0.9]],"n_results":1})");
  ASSERT_EQ(query.status, 200) << query.body;
  EXPECT_NE(query.body.find("\"b\""), std::string::npos) << query.body;
  EXPECT_NE(query.body.find("banana"), std::string::npos) << query.body;
  EXPECT_EQ(server.Stop(), 0) << server.log();

  // `fathom compact` on the same URL, then served again.
  std::string output;
  EXPECT_EQ(RunFathom("compact --store " + url, &output), 0) << output;
  ASSERT_TRUE(server.Start());
  EXPECT_EQ(server.Get(base + "/count").body, "3");
  EXPECT_EQ(server.Stop(), 0) << server.log();
}

// `--cache-dir`: the second process finds the first one's pages (written through when
// the WAL and segments were put, io/cache_store.h) and serves the same records.
TEST(StoreUrlTest, S3UrlWithACacheDirectory) {
  const std::string missing = fathom::testing::S3TestEnvMissing();
  if (!missing.empty()) {
    if (fathom::testing::S3Required()) FAIL() << missing;
    GTEST_SKIP() << "needs the RGW test server (../shared/s3/README.md): " << missing;
  }
  const std::string url =
      "s3://" + fathom::testing::S3EnvValue("FATHOM_S3_BUCKET") + "/test/" + NewUuidV4() + "/cached";
  fathom::testing::TempDir cache;
  ServerProcess server;
  server.set_store_url(url);
  server.set_extra_args({"--cache-dir", cache.path(), "--cache-size-mib", "64"});
  ASSERT_TRUE(server.Start());
  const std::string id = CreateCollection(server, "cached");
  ASSERT_FALSE(id.empty());
  const std::string base = kCollections + "/" + id;
  Response added = server.Post(base + "/add", R"({"ids":["a","b"],"embeddings":[[1,0],[0,1]],"documents":["x","y"]})");
  ASSERT_EQ(added.status, 201) << added.body;
  EXPECT_EQ(server.Stop(), 0) << server.log();

  std::string output;
  EXPECT_EQ(RunFathom("compact --store " + url + " --cache-dir " + cache.path(), &output), 0) << output;
  ASSERT_TRUE(server.Start());
  EXPECT_EQ(server.Get(base + "/count").body, "2");
  Response got = server.Post(base + "/get", R"({"ids":["b"],"include":["documents"]})");
  EXPECT_NE(got.body.find("\"y\""), std::string::npos) << got.body;
  EXPECT_EQ(server.Stop(), 0) << server.log();
  // The restarted server (its log is appended to the first one's) found pages in the
  // cache directory.
  const std::string log = server.log();
  const size_t last = log.rfind("bytes found");
  ASSERT_NE(last, std::string::npos) << log;
  const std::string line = log.substr(log.rfind('\n', last) + 1, last - log.rfind('\n', last));
  EXPECT_EQ(line.find(": 0 pages"), std::string::npos) << line;
}

TEST(StoreUrlTest, UnknownSchemeIsRefused) {
  std::string output;
  EXPECT_EQ(RunFathom("run --store gs://bucket --port 0", &output), 1) << output;
  EXPECT_NE(output.find("unknown store scheme 'gs://'"), std::string::npos) << output;
}

TEST(StoreUrlTest, ExactlyOneOfPathAndStore) {
  std::string output;
  EXPECT_NE(RunFathom("run --path /nonexistent/fathom --store mem:// --port 0", &output), 0) << output;
  EXPECT_NE(output.find("--path"), std::string::npos) << output;
  EXPECT_NE(RunFathom("compact", &output), 0) << output;
  EXPECT_NE(output.find("--store"), std::string::npos) << output;
}

TEST(StoreUrlTest, CompactTakesAStoreUrl) {
  ServerProcess server;  // only for its temporary directory
  std::string output;
  EXPECT_EQ(RunFathom("compact --store file://" + server.data_dir(), &output), 0) << output;
  EXPECT_NE(output.find("compacted file://" + server.data_dir()), std::string::npos) << output;
}

}  // namespace
}  // namespace fathom::http_test
