// `fathom run --path` on a data directory its user may not write: start-up is refused with
// a PermissionDenied message naming the directory, and a write the directory refuses later
// is an HTTP 503 saying so, not an "internal error" (docs/design/durability.md).
// Root writes through any mode, so as root the server runs as user nobody (setpriv); the
// tests skip when neither works.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "http/http_test_support.h"
#include "test_util.h"

namespace fathom::http_test {
namespace {

constexpr const char* kSetpriv = "/usr/bin/setpriv";
constexpr uid_t kNobody = 65534;

// The command prefix that runs the server as a user mode bits apply to ({} when this
// process is not root), or nullopt when there is none (root without setpriv, or a binary
// user nobody cannot run).
std::optional<std::vector<std::string>> UnprivilegedPrefix(std::string* why_not) {
  if (::geteuid() != 0) return std::vector<std::string>{};
  std::vector<std::string> prefix = {kSetpriv, "--reuid=" + std::to_string(kNobody),
                                     "--regid=" + std::to_string(kNobody), "--clear-groups"};
  const char* binary = std::getenv("FATHOM_BINARY");
  if (binary == nullptr || ::access(kSetpriv, X_OK) != 0) {
    *why_not = "running as root without FATHOM_BINARY or /usr/bin/setpriv to drop to user nobody";
    return std::nullopt;
  }
  std::string command;
  for (const std::string& word : prefix) command += word + " ";
  command += std::string(binary) + " --help >/dev/null 2>&1";
  if (std::system(command.c_str()) != 0) {
    *why_not = "user nobody cannot run " + std::string(binary) + " (a directory on its path is not searchable)";
    return std::nullopt;
  }
  return prefix;
}

// A temporary root every user may search, holding data/ owned by the user the server runs
// as (nobody when this process is root).
class DataDirectoryAccessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why_not;
    auto prefix = UnprivilegedPrefix(&why_not);
    if (!prefix) {
      GTEST_SKIP() << why_not;
    }
    prefix_ = *prefix;
    root_ = std::filesystem::canonical(dir_.path()).string();
    data_dir_ = root_ + "/data";
    ASSERT_EQ(::chmod(root_.c_str(), 0755), 0);
    ASSERT_TRUE(std::filesystem::create_directory(data_dir_));
    if (::geteuid() == 0) {
      ASSERT_EQ(::chown(data_dir_.c_str(), kNobody, kNobody), 0);
    }
  }
  // Writable again, so TempDir can remove it when this process is not root.
  void TearDown() override {
    if (!data_dir_.empty()) SetWritable(data_dir_, true);
  }
  // Every directory from `dir` down: writable by its owner or not.
  static void SetWritable(const std::string& dir, bool writable) {
    const mode_t mode = writable ? 0755 : 0555;
    ::chmod(dir.c_str(), mode);
    std::error_code ec;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir, ec)) {
      if (entry.is_directory()) ::chmod(entry.path().c_str(), mode);
    }
  }

  testing::TempDir dir_;
  std::vector<std::string> prefix_;
  std::string root_;
  std::string data_dir_;
};

TEST_F(DataDirectoryAccessTest, StartOnAnUnwritableDirectoryIsRefusedClearly) {
  SetWritable(data_dir_, false);
  std::string command;
  for (const std::string& word : prefix_) command += word + " ";
  command += std::string(std::getenv("FATHOM_BINARY")) + " run --path " + data_dir_ + " --port 0 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buf[512];
  while (size_t n = std::fread(buf, 1, sizeof(buf), pipe)) output.append(buf, n);
  const int status = ::pclose(pipe);
  ASSERT_TRUE(WIFEXITED(status)) << output;
  EXPECT_EQ(WEXITSTATUS(status), 1) << output;
  for (const std::string& part : {std::string("PermissionDenied"), data_dir_, std::string("read/write access")}) {
    EXPECT_NE(output.find(part), std::string::npos) << "lacks \"" << part << "\": " << output;
  }
  EXPECT_EQ(output.find("Internal"), std::string::npos) << output;
}

TEST_F(DataDirectoryAccessTest, AWriteTheDirectoryRefusesIsA503NamingIt) {
  ServerProcess server(/*allow_reset=*/true, data_dir_);
  server.set_command_prefix(prefix_);
  server.set_log_dir(root_);
  ASSERT_TRUE(server.Start());
  const std::string id = CreateCollection(server, "guarded");
  ASSERT_FALSE(id.empty());
  const std::string add = kCollections + "/" + id + "/add";
  ASSERT_EQ(server.Post(add, R"({"ids":["a"],"embeddings":[[1,2]]})").status, 201);

  SetWritable(data_dir_, false);
  Response refused = server.Post(add, R"({"ids":["b"],"embeddings":[[3,4]]})");
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_NE(refused.body.find("not accessible to this process"), std::string::npos) << refused.body;
  EXPECT_NE(refused.body.find(data_dir_), std::string::npos) << refused.body;
  EXPECT_EQ(refused.body.find("InternalError"), std::string::npos) << refused.body;

  SetWritable(data_dir_, true);
  EXPECT_EQ(server.Post(add, R"({"ids":["c"],"embeddings":[[5,6]]})").status, 201);
  Response count = server.Get(kCollections + "/" + id + "/count");
  EXPECT_EQ(count.body, "2") << "a and c; b was refused";
  EXPECT_EQ(server.Stop(), 0) << server.log();
}

}  // namespace
}  // namespace fathom::http_test
