// Two `fathom run --store s3://…` processes on one bucket prefix (the RGW test server,
// tests/s3_test_env.h): a collection created through one is found through the other,
// writes through both to one collection are all visible from both at once (strong reads),
// `count?read_level=index_only` answers from what a node has applied, and a third process
// started afterwards sees the same records in the same order.
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/random.h"
#include "http/http_test_support.h"
#include "s3_test_env.h"

namespace fathom::http_test {
namespace {

TEST(MultiNodeHttpTest, TwoServersOnOneBucketShareACollection) {
  const std::string missing = fathom::testing::S3TestEnvMissing();
  if (!missing.empty()) {
    if (fathom::testing::S3Required()) FAIL() << missing;
    GTEST_SKIP() << "needs the RGW test server (../shared/s3/README.md): " << missing;
  }
  const std::string url =
      "s3://" + fathom::testing::S3EnvValue("FATHOM_S3_BUCKET") + "/test/" + NewUuidV4() + "/nodes";
  ServerProcess a, b;
  a.set_store_url(url);
  b.set_store_url(url);
  ASSERT_TRUE(a.Start()) << a.log();
  ASSERT_TRUE(b.Start()) << b.log();
  const std::string id = CreateCollection(a, "shared");
  ASSERT_FALSE(id.empty());
  const std::string base = kCollections + "/" + id;
  // B had read the catalog before the collection existed: a lookup that misses reads it again.
  ASSERT_EQ(b.Get(base + "/count").status, 200) << b.Get(base + "/count").body;

  constexpr int kWrites = 20;
  std::vector<std::thread> writers;
  std::vector<int> failures(4, 0);
  std::vector<std::string> failure_bodies(4);
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      ServerProcess& node = w % 2 == 0 ? a : b;
      for (int i = 0; i < kWrites; ++i) {
        const std::string rid = "w" + std::to_string(w) + "-" + std::to_string(i);
        Response r = node.Post(base + "/add", R"({"ids":[")" + rid + R"("],"embeddings":[[)" + std::to_string(w) +
                                                   "," + std::to_string(i) + "]]}");
        if (r.status != 201) {
          ++failures[w];
          failure_bodies[w] += std::to_string(r.status) + " " + r.body + "\n";
        }
      }
    });
  }
  for (auto& t : writers) t.join();
  for (int w = 0; w < 4; ++w) EXPECT_EQ(failures[w], 0) << "writer " << w << ": " << failure_bodies[w];
  const std::string total = std::to_string(4 * kWrites);
  EXPECT_EQ(a.Get(base + "/count").body, total);
  EXPECT_EQ(b.Get(base + "/count").body, total);

  // One more write through A: B's index_only count does not look for it, its default does.
  ASSERT_EQ(a.Post(base + "/add", R"({"ids":["last"],"embeddings":[[9,9]]})").status, 201);
  EXPECT_EQ(b.Get(base + "/count?read_level=index_only").body, total);
  EXPECT_EQ(b.Get(base + "/count").body, std::to_string(4 * kWrites + 1));

  Response from_a = a.Post(base + "/get", "{}");
  Response from_b = b.Post(base + "/get", "{}");
  ASSERT_EQ(from_a.status, 200) << from_a.body;
  EXPECT_EQ(from_a.body, from_b.body);  // the same records in the same (WAL) order
  EXPECT_EQ(a.Stop(), 0) << a.log();
  EXPECT_EQ(b.Stop(), 0) << b.log();

  ServerProcess c;
  c.set_store_url(url);
  ASSERT_TRUE(c.Start()) << c.log();
  EXPECT_EQ(c.Post(base + "/get", "{}").body, from_a.body);
  EXPECT_EQ(c.Stop(), 0) << c.log();
}

}  // namespace
}  // namespace fathom::http_test
