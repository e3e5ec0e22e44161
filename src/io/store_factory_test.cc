// Stores chosen by URL: which store each form opens, the lock a local directory takes, and
// the errors for what is not supported.
#include "io/store_factory.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "fathom/db.h"
#include "test_util.h"

namespace fathom {
namespace {

TEST(StoreFactoryTest, ParsesEachForm) {
  struct Case {
    const char* url;
    StoreLocation::Kind kind;
    const char* path;
  };
  const Case cases[] = {
      {"data", StoreLocation::Kind::kLocal, "data"},
      {"/srv/fathom", StoreLocation::Kind::kLocal, "/srv/fathom"},
      {"file:///srv/fathom", StoreLocation::Kind::kLocal, "/srv/fathom"},
      {"file://data", StoreLocation::Kind::kLocal, "data"},
      {"FILE:///srv", StoreLocation::Kind::kLocal, "/srv"},
      {"mem://", StoreLocation::Kind::kMemory, ""},
      {"mem://scratch", StoreLocation::Kind::kMemory, "scratch"},
      {"s3://bucket/prefix", StoreLocation::Kind::kS3, "bucket/prefix"},
  };
  for (const Case& c : cases) {
    Result<StoreLocation> location = ParseStoreUrl(c.url);
    ASSERT_TRUE(location.ok()) << c.url << ": " << location.status().ToString();
    EXPECT_EQ(location->kind, c.kind) << c.url;
    EXPECT_EQ(location->path, c.path) << c.url;
  }
}

TEST(StoreFactoryTest, RefusesEmptyAndUnknown) {
  EXPECT_EQ(ParseStoreUrl("").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseStoreUrl("file://").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseStoreUrl("s3://").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseStoreUrl("s3:///prefix").status().code(), StatusCode::kInvalidArgument);
  Status unknown = ParseStoreUrl("gs://bucket").status();
  EXPECT_EQ(unknown.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.message().find("unknown store scheme 'gs://'"), std::string::npos) << unknown.ToString();
}

// Opening an s3:// store checks its settings but does not contact the server.
TEST(StoreFactoryTest, S3UrlOpensAnS3Store) {
  Result<StoreLocation> location = ParseStoreUrl("s3://my-bucket/some/prefix/");
  ASSERT_TRUE(location.ok());
  location->endpoint = "http://127.0.0.1:1/";
  Result<OpenedStore> opened = OpenStore(*location);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(opened->store->Describe(), "s3://my-bucket/some/prefix at http://127.0.0.1:1");
  EXPECT_EQ(opened->lock, nullptr);

  location->endpoint = "ftp://127.0.0.1";
  EXPECT_EQ(OpenStore(*location).status().code(), StatusCode::kInvalidArgument);
  location->endpoint = "http://127.0.0.1/path";
  EXPECT_EQ(OpenStore(*location).status().code(), StatusCode::kInvalidArgument);
  location->endpoint = "http://127.0.0.1";
  location->path = "x/prefix";  // bucket names have 3 to 63 characters
  EXPECT_EQ(OpenStore(*location).status().code(), StatusCode::kInvalidArgument);
  location->path = "bucket/bad prefix";
  EXPECT_EQ(OpenStore(*location).status().code(), StatusCode::kInvalidArgument);
  // An endpoint belongs to s3:// stores only.
  StoreLocation local = StoreLocation::Local("somewhere");
  local.endpoint = "http://127.0.0.1";
  EXPECT_EQ(OpenStore(local).status().code(), StatusCode::kInvalidArgument);
}

TEST(StoreFactoryTest, S3StoreBehindACacheDirectory) {
  testing::TempDir dir;
  Result<StoreLocation> location = ParseStoreUrl("s3://my-bucket/prefix");
  ASSERT_TRUE(location.ok());
  location->endpoint = "http://127.0.0.1:1";
  location->cache_dir = dir.path() + "/cache";
  location->cache_bytes = 1 << 20;
  Result<OpenedStore> opened = OpenStore(*location);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(opened->store->Describe(), "cache:" + dir.path() + "/cache over s3://my-bucket/prefix at http://127.0.0.1:1");
  // One process per cache directory.
  Status second = OpenStore(*location).status();
  EXPECT_EQ(second.code(), StatusCode::kFailedPrecondition) << second.ToString();
  // A size needs a directory; a cache belongs to s3:// stores only.
  location->cache_dir.clear();
  EXPECT_EQ(OpenStore(*location).status().code(), StatusCode::kInvalidArgument);
  StoreLocation local = StoreLocation::Local(dir.path() + "/data");
  local.cache_dir = dir.path() + "/cache2";
  Status refused = OpenStore(local).status();
  EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.message().find("s3:// stores only"), std::string::npos) << refused.ToString();
  EXPECT_EQ(Database::Open({.path = dir.path() + "/data", .store_cache_dir = dir.path() + "/c"}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(StoreFactoryTest, FileUrlOpensALockedLocalStore) {
  testing::TempDir dir;
  const std::string root = dir.path() + "/data";
  Result<OpenedStore> opened = OpenStore("file://" + root);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(opened->store->Describe(), "local:" + root);
  EXPECT_NE(opened->lock, nullptr);
  ASSERT_TRUE(opened->store->Put("a/b", "bytes", PutMode::kCreateOnly).ok());
  EXPECT_TRUE(std::filesystem::exists(root + "/a/b"));
  // The plain path names the same directory, which is taken.
  EXPECT_EQ(OpenStore(root).status().code(), StatusCode::kFailedPrecondition);
  opened->lock.reset();
  EXPECT_TRUE(OpenStore(root).ok());
}

TEST(StoreFactoryTest, MemUrlOpensAFreshStoreEachTime) {
  Result<OpenedStore> first = OpenStore("mem://");
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->store->Describe(), "mem");
  EXPECT_EQ(first->lock, nullptr);
  ASSERT_TRUE(first->store->Put("k", "v", PutMode::kCreateOnly).ok());
  Result<OpenedStore> second = OpenStore("mem://");
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->store->Head("k").status().IsNotFound());
}

// Database::Open reaches the factory through DatabaseOptions.
TEST(StoreFactoryTest, DatabaseOpensByUrl) {
  testing::TempDir dir;
  const std::string root = dir.path() + "/db";
  {
    auto db = Database::Open({.store_url = "file://" + root});
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    ASSERT_TRUE((*db)->CreateCollection(Database::kDefaultTenant, Database::kDefaultDatabase, {.name = "docs"}).ok());
    // The directory is locked against a second open by either form.
    EXPECT_EQ(Database::Open({.path = root}).status().code(), StatusCode::kFailedPrecondition);
  }
  auto reopened = Database::Open({.path = root});
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_TRUE((*reopened)->GetCollection(Database::kDefaultTenant, Database::kDefaultDatabase, "docs").ok());

  auto in_memory = Database::Open({.store_url = "mem://"});
  ASSERT_TRUE(in_memory.ok()) << in_memory.status().ToString();
  EXPECT_EQ(*(*in_memory)->CountCollections(Database::kDefaultTenant, Database::kDefaultDatabase), 0u);

  EXPECT_EQ(Database::Open({.store_url = "s3://bucket", .store_endpoint = "ftp://host"}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Database::Open({.path = root, .store_endpoint = "http://127.0.0.1"}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Database::Open({.path = root, .store_url = "mem://"}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Database::Open({}).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fathom
