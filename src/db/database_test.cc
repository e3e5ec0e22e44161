// Catalog behaviour through the public API, on a real directory (LocalStore).
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <fstream>

#include "common/limits.h"
#include "fathom/db.h"
#include "fathom/search.h"
#include "io/executor.h"
#include "test_util.h"

namespace fathom {
namespace {

constexpr const char* kT = Database::kDefaultTenant;
constexpr const char* kD = Database::kDefaultDatabase;

class DatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen() {
    db_.reset();
    auto db = Database::Open({.path = dir_.path() + "/data"});
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
  }
  testing::TempDir dir_;
  std::unique_ptr<Database> db_;
};

TEST_F(DatabaseTest, DefaultsExist) {
  EXPECT_TRUE(db_->GetTenant(kT).ok());
  EXPECT_TRUE(db_->GetDatabase(kT, kD).ok());
  EXPECT_TRUE(db_->GetTenant("nope").status().IsNotFound());
}

TEST_F(DatabaseTest, TenantsAndDatabases) {
  ASSERT_TRUE(db_->CreateTenant("acme").ok());
  EXPECT_TRUE(db_->CreateTenant("acme").IsAlreadyExists());
  EXPECT_EQ(db_->CreateTenant("ab").code(), StatusCode::kInvalidArgument);
  for (const char* name : {"db1", "db2", "db3"}) ASSERT_TRUE(db_->CreateDatabase("acme", name).ok());
  EXPECT_TRUE(db_->CreateDatabase("acme", "db1").IsAlreadyExists());
  EXPECT_EQ(db_->CreateDatabase("acme", "x").code(), StatusCode::kInvalidArgument);
  auto page = db_->ListDatabases("acme", 2, 1);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].name, "db2");
  ASSERT_TRUE(db_->DeleteDatabase("acme", "db2").ok());
  EXPECT_TRUE(db_->GetDatabase("acme", "db2").status().IsNotFound());
  Reopen();
  EXPECT_EQ(db_->ListDatabases("acme", std::nullopt, 0)->size(), 2u);
}

TEST_F(DatabaseTest, CollectionNamesFollowChromaRules) {
  for (const char* bad : {"ab", "-abc", "abc-", "a..b", "192.168.1.1", "has space", "sl/ash"}) {
    EXPECT_EQ(db_->CreateCollection(kT, kD, {.name = bad}).status().code(), StatusCode::kInvalidArgument) << bad;
  }
  for (const char* good : {"abc", "a.b-c_d", "A12"}) {
    EXPECT_TRUE(db_->CreateCollection(kT, kD, {.name = good}).ok()) << good;
  }
}

TEST_F(DatabaseTest, CreateGetOrCreateRenameDelete) {
  bool created = false;
  auto c = db_->CreateCollection(kT, kD, {.name = "docs", .metadata = Metadata{{"a", int64_t{1}}}}, &created);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(created);
  EXPECT_TRUE(db_->CreateCollection(kT, kD, {.name = "docs"}).status().IsAlreadyExists());
  auto again = db_->CreateCollection(kT, kD, {.name = "docs", .metadata = Metadata{{"b", true}}, .get_or_create = true},
                                     &created);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(created);
  EXPECT_EQ((*again)->id(), (*c)->id());
  EXPECT_EQ((*again)->Info()->metadata, (Metadata{{"a", int64_t{1}}}));  // unchanged
  EXPECT_EQ(db_->CreateCollection(kT, "nodb", {.name = "docs"}).status().code(), StatusCode::kInvalidArgument);

  ASSERT_TRUE(db_->CreateCollection(kT, kD, {.name = "other"}).ok());
  ModifyCollectionRequest rename;
  rename.new_name = "other";
  EXPECT_TRUE(db_->ModifyCollection(kT, kD, (*c)->id(), rename).IsAlreadyExists());
  rename.new_name = "renamed";
  rename.new_metadata = std::optional<Metadata>(Metadata{{"c", true}});
  ASSERT_TRUE(db_->ModifyCollection(kT, kD, (*c)->id(), rename).ok());
  EXPECT_EQ((*c)->Info()->name, "renamed");  // open handles see the change
  EXPECT_EQ((*c)->Info()->metadata, (Metadata{{"c", true}}));
  EXPECT_TRUE(db_->GetCollection(kT, kD, "docs").status().IsNotFound());
  EXPECT_EQ(*db_->CountCollections(kT, kD), 2u);

  ASSERT_TRUE((*c)->Add({testing::MakeRecord("r", {1, 2})}).ok());
  Reopen();
  auto by_id = db_->GetCollectionById(kT, kD, (*c)->id());
  ASSERT_TRUE(by_id.ok());
  EXPECT_EQ((*by_id)->Info()->name, "renamed");
  EXPECT_EQ((*by_id)->Info()->dimension, 2u);
  EXPECT_EQ(*(*by_id)->Count(), 1u);
  auto list = db_->ListCollections(kT, kD, 1, 1);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].name, "other");

  ASSERT_TRUE(db_->DeleteCollection(kT, kD, "renamed").ok());
  EXPECT_TRUE(db_->DeleteCollection(kT, kD, "renamed").IsNotFound());
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/data/c/" + (*c)->id()));
}

TEST_F(DatabaseTest, OneOpenDatabasePerDirectory) {
  auto second = Database::Open({.path = dir_.path() + "/data"});
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  auto handle = db_->CreateCollection(kT, kD, {.name = "docs"});
  db_.reset();  // closing releases the directory, even while a collection handle lives
  auto again = Database::Open({.path = dir_.path() + "/data"});
  EXPECT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ((*handle)->Count().status().code(), StatusCode::kUnavailable);
}

TEST_F(DatabaseTest, ResetWipesEverything) {
  ASSERT_TRUE(db_->CreateTenant("acme").ok());
  auto c = db_->CreateCollection(kT, kD, {.name = "docs"});
  ASSERT_TRUE((*c)->Add({testing::MakeRecord("r", {1})}).ok());
  ASSERT_TRUE(db_->Reset().ok());
  EXPECT_TRUE(db_->GetTenant("acme").status().IsNotFound());
  EXPECT_TRUE(db_->GetDatabase(kT, kD).ok());
  EXPECT_EQ(*db_->CountCollections(kT, kD), 0u);
  EXPECT_TRUE((*c)->Count().status().IsNotFound());
  Reopen();
  EXPECT_EQ(*db_->CountCollections(kT, kD), 0u);
}

TEST_F(DatabaseTest, BackgroundCompactionBoundsTheWal) {
  db_.reset();
  auto db = Database::Open({.path = dir_.path() + "/bg", .compaction_trigger_ops = 100});
  ASSERT_TRUE(db.ok());
  auto c = (*db)->CreateCollection(kT, kD, {.name = "docs"});
  for (int i = 0; i < 50; ++i) {
    std::vector<WriteRecord> batch;
    for (int j = 0; j < 10; ++j) batch.push_back(testing::MakeRecord(std::to_string(i * 10 + j), {1, 2}));
    ASSERT_TRUE((*c)->Add(batch).ok());
  }
  (*db)->WaitIdle();
  size_t wal_objects = 0;
  for (auto& e : std::filesystem::recursive_directory_iterator(dir_.path() + "/bg")) {
    wal_objects += e.path().string().find("/wal/") != std::string::npos && e.is_regular_file();
  }
  EXPECT_LT(wal_objects, 20u);
  db->reset();
  auto reopened = Database::Open({.path = dir_.path() + "/bg"});
  EXPECT_EQ(*(*(*reopened)->GetCollection(kT, kD, "docs"))->Count(), 500u);
}

// Runs each job at once on the submitting thread, and counts them.
class CountingExecutor final : public Executor {
 public:
  void Submit(std::function<void()> job) override {
    ++submitted;
    job();
  }
  size_t threads() const override { return 4; }
  std::atomic<size_t> submitted{0};
};

TEST_F(DatabaseTest, OpenBuildsRowIndexesOnTheOptionsExecutor) {
  db_.reset();
  auto executor = std::make_shared<CountingExecutor>();
  const DatabaseOptions options{.path = dir_.path() + "/ex", .background_compaction = false, .executor = executor};
  {
    auto db = Database::Open(options);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    auto c = (*db)->CreateCollection(kT, kD, {.name = "docs"});
    ASSERT_TRUE(c.ok());
    std::vector<WriteRecord> batch;
    for (int i = 0; i < 40; ++i) {
      batch.push_back(testing::MakeRecord(std::to_string(i), {1, 2}, "text " + std::to_string(i % 3),
                                          Metadata{{"n", int64_t{i}}}));
    }
    ASSERT_TRUE((*c)->Add(batch).ok());
    ASSERT_TRUE((*c)->Compact().ok());
  }
  executor->submitted = 0;
  auto db = Database::Open(options);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto c = (*db)->GetCollection(kT, kD, "docs");
  ASSERT_TRUE(c.ok());
  Where small;
  small.kind = Where::Kind::kField;
  small.key = "n";
  small.op = CompareOp::kLt;
  small.operands = {Scalar(int64_t{10})};
  WhereDocument text_one{.kind = WhereDocument::Kind::kContains, .pattern = "text 1"};
  EXPECT_EQ(*(*c)->Count(CountRequest{.where = small, .where_document = text_one}), 3u);  // 1, 4, 7
  // The open's side-by-side index builds went through the options' executor.
  EXPECT_GT(executor->submitted.load(), 0u);
}

TEST_F(DatabaseTest, CorruptWalIsReportedNotServed) {
  auto c = db_->CreateCollection(kT, kD, {.name = "docs"});
  ASSERT_TRUE((*c)->Add({testing::MakeRecord("r", {1})}).ok());
  std::string id = (*c)->id();
  db_.reset();
  std::string wal_dir = dir_.path() + "/data/c/" + id + "/wal";
  for (auto& e : std::filesystem::directory_iterator(wal_dir)) {
    std::fstream f(e.path(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(30);
    f.put('\x7f');
  }
  Reopen();
  auto got = db_->GetCollection(kT, kD, "docs");
  ASSERT_FALSE(got.ok());
  EXPECT_TRUE(got.status().IsCorruption()) << got.status().ToString();
  EXPECT_TRUE(db_->GetTenant(kT).ok());  // the rest of the database still works
}

// ---- issue 12, finding 1: nothing acknowledged may make the next open fail ----

void ExpectInvalidNaming(const Status& status, const std::string& limit_name) {
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();
  EXPECT_NE(status.message().find(limit_name), std::string::npos) << status.ToString();
}

TEST_F(DatabaseTest, OverLimitRecordMetadataStringIsRefusedAndTheDatabaseReopens) {
  auto c = db_->CreateCollection(kT, kD, {.name = "docs"});
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE((*c)->Add({testing::MakeRecord("keep", {1})}).ok());
  const std::string big(limits::kMetadataStringBytesMax + 1, 'x');
  ExpectInvalidNaming((*c)->Add({testing::MakeRecord("r", {1}, std::nullopt, Metadata{{"s", big}})}),
                      "limits::kMetadataStringBytesMax");
  WriteRecord update{.id = "keep"};
  update.metadata = MetadataPatch{{"s", MetadataValue(std::vector<std::string>{big})}};
  ExpectInvalidNaming((*c)->Update({update}), "limits::kMetadataStringBytesMax");
  Reopen();
  auto reopened = db_->GetCollection(kT, kD, "docs");
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_EQ(*(*reopened)->Count(), 1u);
}

TEST_F(DatabaseTest, OverLimitCollectionConfigurationOrMetadataIsRefusedAndTheDatabaseReopens) {
  CreateCollectionRequest request{.name = "cfg"};
  request.configuration_json = std::string(limits::kCatalogConfigurationBytesMax + 1, ' ');
  ExpectInvalidNaming(db_->CreateCollection(kT, kD, request).status(), "limits::kCatalogConfigurationBytesMax");
  CreateCollectionRequest with_metadata{.name = "meta"};
  with_metadata.metadata = Metadata{{"s", std::string(limits::kMetadataStringBytesMax + 1, 'x')}};
  ExpectInvalidNaming(db_->CreateCollection(kT, kD, with_metadata).status(), "limits::kMetadataStringBytesMax");
  auto c = db_->CreateCollection(kT, kD, {.name = "docs"});
  ASSERT_TRUE(c.ok());
  const std::string id = (*c)->id();
  ModifyCollectionRequest modify;
  modify.new_configuration_json = std::string(limits::kCatalogConfigurationBytesMax + 1, ' ');
  ExpectInvalidNaming(db_->ModifyCollection(kT, kD, id, modify), "limits::kCatalogConfigurationBytesMax");
  ModifyCollectionRequest modify_metadata;
  modify_metadata.new_metadata = std::optional<Metadata>(Metadata{{"s", std::string(limits::kMetadataStringBytesMax + 1, 'x')}});
  ExpectInvalidNaming(db_->ModifyCollection(kT, kD, id, modify_metadata), "limits::kMetadataStringBytesMax");
  Reopen();  // asserts that the database opens
  EXPECT_EQ(*db_->CountCollections(kT, kD), 1u);
  EXPECT_TRUE(db_->GetCollection(kT, kD, "docs").ok());
}

// Updates merge metadata key by key: each patch is within limits::kMetadataKeysMax, the
// merged record is not. Compaction must not write a segment that no longer opens.
TEST_F(DatabaseTest, MergedMetadataOverTheKeyLimitNeverReachesASegment) {
  auto c = db_->CreateCollection(kT, kD, {.name = "docs"});
  ASSERT_TRUE(c.ok());
  Metadata first;
  MetadataPatch second;
  for (size_t i = 0; i < limits::kMetadataKeysMax; ++i) {
    first["a" + std::to_string(i)] = int64_t{1};
    second["b" + std::to_string(i)] = MetadataValue(int64_t{2});
  }
  ASSERT_TRUE((*c)->Add({testing::MakeRecord("r", {1}, std::nullopt, first)}).ok());
  WriteRecord update{.id = "r"};
  update.metadata = second;
  // Refused before it is logged, so nothing is left that compaction cannot fold.
  const Status updated = (*c)->Update({update});
  EXPECT_EQ(updated.code(), StatusCode::kInvalidArgument) << updated.ToString();
  EXPECT_NE(updated.message().find("limits::kMetadataKeysMax"), std::string::npos) << updated.message();
  const Status compacted = (*c)->Compact();
  EXPECT_TRUE(compacted.ok()) << compacted.ToString();
  // Within one group commit too: two writers whose merges only together pass the limit.
  MetadataPatch half;
  for (size_t i = 0; i < 10; ++i) half["c" + std::to_string(i)] = MetadataValue(int64_t{3});
  WriteRecord one{.id = "r"};
  one.metadata = MetadataPatch{{"a0", std::nullopt}};  // frees one key
  ASSERT_TRUE((*c)->Update({one}).ok());
  WriteRecord two{.id = "r"};
  two.metadata = MetadataPatch{{"z", MetadataValue(int64_t{4})}};
  EXPECT_TRUE((*c)->Update({two}).ok()) << "one key was freed";
  WriteRecord three{.id = "r"};
  three.metadata = half;
  EXPECT_EQ((*c)->Update({three}).code(), StatusCode::kInvalidArgument);
  Reopen();
  auto reopened = db_->GetCollection(kT, kD, "docs");
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_EQ(*(*reopened)->Count(), 1u);
}

// Issue 12, finding 7: one small request may not ask for an unbounded result.
TEST_F(DatabaseTest, QueryResultRowsAreBounded) {
  auto c = db_->CreateCollection(kT, kD, {.name = "docs"});
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE((*c)->Add({testing::MakeRecord("r", {1, 0})}).ok());
  QueryRequest request;
  request.query_embeddings.assign(limits::kQueryResultRowsMax / limits::kQueryResultsMax + 1, {1.0f, 0.0f});
  request.n_results = limits::kQueryResultsMax;
  ExpectInvalidNaming((*c)->Query(request).status(), "limits::kQueryResultRowsMax");
  request.query_embeddings.resize(limits::kQueryResultRowsMax / limits::kQueryResultsMax);
  auto at_limit = (*c)->Query(request);
  EXPECT_TRUE(at_limit.ok()) << at_limit.status().ToString();
}

// The Search API's answer is bounded as a whole: many searches with no limit over a
// collection may not materialise it many times over.
TEST_F(DatabaseTest, SearchResultRowsAreBoundedAcrossSearches) {
  auto c = db_->CreateCollection(kT, kD, {.name = "docs"});
  ASSERT_TRUE(c.ok());
  std::vector<WriteRecord> records;
  for (int i = 0; i < 1000; ++i) records.push_back(testing::MakeRecord("r" + std::to_string(i), {1, 0}));
  ASSERT_TRUE((*c)->Add(std::move(records)).ok());
  SearchRequest request;
  request.searches.resize(limits::kQueryResultRowsMax / 1000);  // every row in each: exactly the bound
  auto at_limit = (*c)->Search(request);
  ASSERT_TRUE(at_limit.ok()) << at_limit.status().ToString();
  EXPECT_EQ(at_limit->size(), request.searches.size());
  request.searches.emplace_back();
  ExpectInvalidNaming((*c)->Search(request).status(), "limits::kQueryResultRowsMax");
}

}  // namespace
}  // namespace fathom
