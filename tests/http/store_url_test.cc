// `fathom run` and `fathom compact` with --store URL (io/store_factory.h): file:// is the
// directory --path names, mem:// serves from RAM, s3:// and unknown schemes are refused
// with a clear message, and exactly one of --path and --store is taken.
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "http/http_test_support.h"

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

TEST(StoreUrlTest, S3IsRefusedAsNotSupportedYet) {
  std::string output;
  EXPECT_EQ(RunFathom("run --store s3://bucket/prefix --port 0", &output), 1) << output;
  EXPECT_NE(output.find("cannot open s3://bucket/prefix"), std::string::npos) << output;
  EXPECT_NE(output.find("s3:// object storage is not supported yet"), std::string::npos) << output;
  EXPECT_EQ(RunFathom("compact --store s3://bucket/prefix", &output), 1) << output;
  EXPECT_NE(output.find("s3:// object storage is not supported yet"), std::string::npos) << output;
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
