// Collection semantics through the public C++ API (chroma.md sections 1.6, 1.7, 2).
#include <gtest/gtest.h>

#include <cmath>

#include "fathom/db.h"
#include "common/checksum.h"
#include "common/coding.h"
#include "io/mem_store.h"
#include "wal/wal_format.h"
#include "test_util.h"

namespace fathom {
namespace {

using testing::MakeRecord;

class CollectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::make_shared<MemStore>();
    Reopen();
  }
  void Reopen(DistanceSpace space = DistanceSpace::kL2) {
    col_.reset();
    db_.reset();
    auto db = Database::Open({.store = store_, .background_compaction = false});
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    auto col = db_->CreateCollection(Database::kDefaultTenant, Database::kDefaultDatabase,
                                     {.name = "col", .space = space, .get_or_create = true});
    ASSERT_TRUE(col.ok()) << col.status().ToString();
    col_ = *col;
  }
  std::vector<std::string> Ids(const GetRequest& r = {}) {
    auto g = col_->Get(r);
    EXPECT_TRUE(g.ok()) << g.status().ToString();
    return g.ok() ? g->ids : std::vector<std::string>{};
  }

  std::shared_ptr<MemStore> store_;
  std::unique_ptr<Database> db_;
  std::shared_ptr<Collection> col_;
};

TEST_F(CollectionTest, AddGetInInsertionOrder) {
  ASSERT_TRUE(col_->Add({MakeRecord("b", {1, 0}), MakeRecord("a", {0, 1}), MakeRecord("c", {1, 1})}).ok());
  EXPECT_EQ(Ids(), (std::vector<std::string>{"b", "a", "c"}));
  GetRequest r;
  r.ids = std::vector<std::string>{"c", "b", "missing"};
  EXPECT_EQ(Ids(r), (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(*col_->Count(), 3u);
}

// Observed on Chroma 1.4.4 (a record's URI lives among its metadata there): with a URI and
// no metadata, metadatas holds {}; without a URI, null. Also after the last key is removed.
TEST_F(CollectionTest, ARecordWithAUriAndNoMetadataHasEmptyMetadata) {
  WriteRecord with_uri = MakeRecord("a", {1, 0});
  with_uri.uri = "u1";
  WriteRecord with_both = MakeRecord("c", {1, 1}, std::nullopt, Metadata{{"k", int64_t{1}}});
  with_both.uri = "u3";
  ASSERT_TRUE(col_->Add({with_uri, MakeRecord("b", {0, 1}), with_both}).ok());
  WriteRecord remove_key{.id = "c"};
  remove_key.metadata = MetadataPatch{{"k", std::nullopt}};
  GetRequest get;
  get.include.metadatas = true;
  auto g = col_->Get(get);
  ASSERT_TRUE(g.ok());
  ASSERT_EQ(g->metadatas.size(), 3u);
  EXPECT_EQ(g->metadatas[0], Metadata{});
  EXPECT_EQ(g->metadatas[1], std::nullopt);
  EXPECT_EQ(g->metadatas[2], (Metadata{{"k", int64_t{1}}}));
  ASSERT_TRUE(col_->Update({remove_key}).ok());
  g = col_->Get(get);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->metadatas[2], Metadata{});
}

TEST_F(CollectionTest, AddOfExistingIdIsIgnored) {
  ASSERT_TRUE(col_->Add({MakeRecord("a", {1, 0}, "first")}).ok());
  ASSERT_TRUE(col_->Add({MakeRecord("a", {0, 1}, "second")}).ok());
  auto g = col_->Get({});
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->documents[0], "first");
}

TEST_F(CollectionTest, UpsertMergesMetadataAndKeepsDocument) {
  ASSERT_TRUE(col_->Add({MakeRecord("a", {1, 0}, "doc", Metadata{{"x", int64_t{1}}, {"y", std::string("s")}})}).ok());
  WriteRecord up = MakeRecord("a", {0, 1});
  up.metadata = MetadataPatch{{"x", MetadataValue(int64_t{2})}, {"y", std::nullopt}};
  ASSERT_TRUE(col_->Upsert({up}).ok());
  GetRequest r;
  r.include.embeddings = true;
  auto g = col_->Get(r);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->documents[0], "doc");
  ASSERT_TRUE(g->metadatas[0].has_value());
  EXPECT_EQ(g->metadatas[0]->size(), 1u);
  EXPECT_EQ(std::get<int64_t>(g->metadatas[0]->at("x")), 2);
  EXPECT_EQ(g->embeddings[0], (std::vector<float>{0, 1}));
}

TEST_F(CollectionTest, UpdateOfMissingIdIsIgnored) {
  WriteRecord u;
  u.id = "ghost";
  u.document = "x";
  ASSERT_TRUE(col_->Update({u}).ok());
  EXPECT_EQ(*col_->Count(), 0u);
}

TEST_F(CollectionTest, DimensionIsFixedByFirstWrite) {
  ASSERT_TRUE(col_->Add({MakeRecord("a", {1, 2, 3})}).ok());
  Status s = col_->Add({MakeRecord("b", {1, 2})});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "Collection expecting embedding with dimension of 3, got 2");
  s = col_->Add({MakeRecord("c", {1, 2, 3}), MakeRecord("d", {1, 2})});
  EXPECT_EQ(s.message(), "Inconsistent dimensions in provided embeddings");
  QueryRequest q;
  q.query_embeddings = {{1, 2}};
  EXPECT_EQ(col_->Query(q).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(*col_->Count(), 1u);
}

TEST_F(CollectionTest, QueryWithAMissingCandidateIdIsNotFound) {
  ASSERT_TRUE(col_->Add({MakeRecord("a", {1, 2, 3})}).ok());
  QueryRequest q;
  q.query_embeddings = {{1, 2, 3}};
  q.ids = std::vector<std::string>{"a", "nope"};
  Status s = col_->Query(q).status();
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message().rfind(std::string(Collection::kMissingQueryIdMessage) + "nope", 0), 0u) << s.message();
  q.ids = std::vector<std::string>{"a"};
  auto r = col_->Query(q);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->rows[0].ids, std::vector<std::string>{"a"});
}

TEST_F(CollectionTest, RejectsBadRecordsWithoutChangingAnything) {
  EXPECT_EQ(col_->Add({MakeRecord("", {1})}).message(), "Empty ID, ID must have at least one character");
  EXPECT_FALSE(col_->Add({MakeRecord("a", {})}).ok());
  EXPECT_FALSE(col_->Add({MakeRecord("a", {NAN})}).ok());
  EXPECT_FALSE(col_->Add({MakeRecord("a", {INFINITY})}).ok());
  EXPECT_FALSE(col_->Add({MakeRecord("a", {1}, std::nullopt, Metadata{{"$bad", true}})}).ok());
  EXPECT_FALSE(col_->Add({MakeRecord("a", {1}, std::nullopt, Metadata{{"", true}})}).ok());
  WriteRecord no_embedding;
  no_embedding.id = "x";
  EXPECT_FALSE(col_->Add({no_embedding}).ok());
  EXPECT_EQ(*col_->Count(), 0u);
  EXPECT_FALSE(col_->Info()->dimension.has_value());
}

TEST_F(CollectionTest, DistancesMatchChroma) {
  Reopen(DistanceSpace::kL2);
  ASSERT_TRUE(col_->Add({MakeRecord("a", {1, 0, 0}), MakeRecord("b", {0.5, 0.5, 0})}).ok());
  QueryRequest q;
  q.query_embeddings = {{1, 0, 0}};
  auto r = col_->Query(q);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->rows[0].ids, (std::vector<std::string>{"a", "b"}));
  EXPECT_FLOAT_EQ(r->distances[0][1], 0.5f);

  ASSERT_TRUE(db_->CreateCollection("default_tenant", "default_database",
                                    {.name = "cos", .space = DistanceSpace::kCosine}).ok());
  auto cos = *db_->GetCollection("default_tenant", "default_database", "cos");
  ASSERT_TRUE(cos->Add({MakeRecord("a", {3, 4})}).ok());
  q.query_embeddings = {{1, 1}};
  EXPECT_NEAR(cos->Query(q)->distances[0][0], 0.010050476f, 1e-6);

  ASSERT_TRUE(db_->CreateCollection("default_tenant", "default_database",
                                    {.name = "ipc", .space = DistanceSpace::kInnerProduct}).ok());
  auto ip = *db_->GetCollection("default_tenant", "default_database", "ipc");
  ASSERT_TRUE(ip->Add({MakeRecord("a", {3, 4})}).ok());
  EXPECT_FLOAT_EQ(ip->Query(q)->distances[0][0], -6.0f);
}

TEST_F(CollectionTest, QueryWithFiltersAndIds) {
  std::vector<WriteRecord> records;
  for (int i = 0; i < 20; ++i) {
    records.push_back(MakeRecord("r" + std::to_string(i), {static_cast<float>(i), 0}, "doc " + std::to_string(i),
                                 Metadata{{"n", int64_t{i}}, {"even", i % 2 == 0}}));
  }
  ASSERT_TRUE(col_->Add(records).ok());
  QueryRequest q;
  q.query_embeddings = {{0, 0}};
  q.n_results = 3;
  Where w;
  w.kind = Where::Kind::kField;
  w.key = "even";
  w.op = CompareOp::kEq;
  w.operands = {Scalar(false)};
  q.where = w;
  auto r = col_->Query(q);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->rows[0].ids, (std::vector<std::string>{"r1", "r3", "r5"}));
  q.where.reset();
  q.ids = std::vector<std::string>{"r7", "r9"};
  q.n_results = 10;
  r = col_->Query(q);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->rows[0].ids, (std::vector<std::string>{"r7", "r9"}));
  q.ids = std::vector<std::string>{"nope"};
  EXPECT_FALSE(col_->Query(q).ok());
}

TEST_F(CollectionTest, CountWithFiltersAndIdsEqualsTheGet) {
  std::vector<WriteRecord> records;
  for (int i = 0; i < 20; ++i) {
    records.push_back(MakeRecord("r" + std::to_string(i), {static_cast<float>(i), 0}, "doc " + std::to_string(i),
                                 Metadata{{"n", int64_t{i}}, {"even", i % 2 == 0}}));
  }
  ASSERT_TRUE(col_->Add(records).ok());
  Where even;
  even.kind = Where::Kind::kField;
  even.key = "even";
  even.op = CompareOp::kEq;
  even.operands = {Scalar(true)};
  WhereDocument one{.kind = WhereDocument::Kind::kContains, .pattern = "doc 1"};  // r1, r10..r19
  EXPECT_EQ(*col_->Count(CountRequest{}), 20u);
  EXPECT_EQ(*col_->Count(CountRequest{.where = even}), 10u);
  EXPECT_EQ(*col_->Count(CountRequest{.where_document = one}), 11u);
  EXPECT_EQ(*col_->Count(CountRequest{.where = even, .where_document = one}), 5u);
  EXPECT_EQ(*col_->Count(CountRequest{.ids = std::vector<std::string>{"r1", "r2", "nope"}}), 2u);
  EXPECT_EQ(*col_->Count(CountRequest{.ids = std::vector<std::string>{"r1", "r2", "nope"}, .where = even}), 1u);
  ASSERT_TRUE(col_->Delete(DeleteRequest{.ids = std::vector<std::string>{"r2"}}).ok());
  EXPECT_EQ(*col_->Count(CountRequest{.where = even}), 9u);
  ASSERT_TRUE(col_->Compact().ok());
  EXPECT_EQ(*col_->Count(CountRequest{.where = even, .where_document = one}), 5u);
  // A bad filter is the Get's error.
  WhereDocument bad{.kind = WhereDocument::Kind::kRegex, .pattern = "(unclosed"};
  auto counted = col_->Count(CountRequest{.where_document = bad});
  EXPECT_EQ(counted.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(counted.status().message(), col_->Get(GetRequest{.where_document = bad}).status().message());
}

TEST_F(CollectionTest, DeleteByIdsAndByFilter) {
  std::vector<WriteRecord> records;
  for (int i = 0; i < 10; ++i) {
    records.push_back(MakeRecord("r" + std::to_string(i), {static_cast<float>(i)}, std::nullopt,
                                 Metadata{{"n", int64_t{i}}}));
  }
  ASSERT_TRUE(col_->Add(records).ok());
  DeleteRequest by_ids;
  by_ids.ids = std::vector<std::string>{"r0", "missing"};
  EXPECT_EQ(*col_->Delete(by_ids), 2u);  // Chroma counts ids sent
  DeleteRequest by_filter;
  Where w;
  w.kind = Where::Kind::kField;
  w.key = "n";
  w.op = CompareOp::kGte;
  w.operands = {Scalar(5.5)};
  by_filter.where = w;
  by_filter.limit = 2;
  EXPECT_EQ(*col_->Delete(by_filter), 2u);
  EXPECT_EQ(Ids(), (std::vector<std::string>{"r1", "r2", "r3", "r4", "r5", "r8", "r9"}));
  DeleteRequest nothing;
  EXPECT_EQ(*col_->Delete(nothing), 0u);
  DeleteRequest empty_ids;
  empty_ids.ids = std::vector<std::string>{};
  EXPECT_EQ(col_->Delete(empty_ids).status().code(), StatusCode::kInvalidArgument);
  DeleteRequest limit_only;
  limit_only.limit = 1;
  EXPECT_EQ(col_->Delete(limit_only).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(CollectionTest, GetLimitOffsetAndInclude) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(col_->Add({MakeRecord("r" + std::to_string(i), {1})}).ok());
  GetRequest r;
  r.offset = 1;
  r.limit = 2;
  EXPECT_EQ(Ids(r), (std::vector<std::string>{"r1", "r2"}));
  r.limit = 0;
  EXPECT_TRUE(Ids(r).empty());
  GetRequest none;
  none.include = Include{.embeddings = false, .documents = false, .metadatas = false};
  auto g = col_->Get(none);
  EXPECT_TRUE(g->documents.empty());
  EXPECT_TRUE(g->metadatas.empty());
  EXPECT_EQ(g->ids.size(), 5u);
}

TEST_F(CollectionTest, SurvivesReopenWithAndWithoutCompaction) {
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(col_->Add({MakeRecord("r" + std::to_string(i), {static_cast<float>(i), 1}, "d",
                                      Metadata{{"i", int64_t{i}}})}).ok());
  }
  ASSERT_TRUE(col_->Compact().ok());
  DeleteRequest del;
  del.ids = std::vector<std::string>{"r3", "r4"};
  ASSERT_TRUE(col_->Delete(del).ok());
  ASSERT_TRUE(col_->Add({MakeRecord("r3", {9, 9})}).ok());  // re-added: goes to the end
  WriteRecord u;
  u.id = "r10";
  u.document = "changed";
  ASSERT_TRUE(col_->Update({u}).ok());
  auto before = *col_->Get({});
  Reopen();
  auto after = *col_->Get({});
  EXPECT_EQ(before.ids, after.ids);
  EXPECT_EQ(before.documents, after.documents);
  EXPECT_EQ(after.ids.back(), "r3");
  ASSERT_TRUE(col_->Compact().ok());
  Reopen();
  EXPECT_EQ(col_->Get({})->ids, before.ids);
  EXPECT_EQ(col_->Info()->dimension, 2u);
}

TEST_F(CollectionTest, ManySegmentsAreMerged) {
  for (int round = 0; round < 12; ++round) {
    ASSERT_TRUE(col_->Upsert({MakeRecord("r" + std::to_string(round % 5), {static_cast<float>(round)}),
                              MakeRecord("s" + std::to_string(round), {1})}).ok());
    ASSERT_TRUE(col_->Compact().ok());
  }
  auto before = *col_->Get(GetRequest{.include = {.embeddings = true}});
  Reopen();
  auto after = *col_->Get(GetRequest{.include = {.embeddings = true}});
  EXPECT_EQ(before.ids, after.ids);
  EXPECT_EQ(before.embeddings, after.embeddings);
  int segments = 0;
  for (const auto& [key, bytes] : store_->Snapshot()) segments += key.find("/seg/") != std::string::npos;
  EXPECT_LE(segments, 9);
}

TEST_F(CollectionTest, DeletedCollectionHandleReportsNotFound) {
  ASSERT_TRUE(col_->Add({MakeRecord("a", {1})}).ok());
  ASSERT_TRUE(db_->DeleteCollection("default_tenant", "default_database", "col").ok());
  EXPECT_EQ(col_->Add({MakeRecord("b", {1})}).code(), StatusCode::kNotFound);
  EXPECT_EQ(col_->Count().status().code(), StatusCode::kNotFound);
  for (const auto& [key, bytes] : store_->Snapshot()) EXPECT_NE(key.substr(0, 2), "c/") << key;
}

TEST_F(CollectionTest, WalObjectWithWrongDimensionIsCorruptionNotACrash) {
  ASSERT_TRUE(col_->Add({MakeRecord("a", {1, 2})}).ok());
  const std::string id = col_->id();
  // A checksum-valid object that breaks the dimension rule, as a second writer could leave.
  OperationBatch ops(1);
  ops[0].type = OpType::kAdd;
  ops[0].record = MakeRecord("b", {1, 2, 3, 4, 5});
  store_->Set(WalKey(id, 2), EncodeWalObject(2, ops, 2).value());
  col_.reset();
  db_.reset();
  auto db = Database::Open({.store = store_, .background_compaction = false});
  ASSERT_TRUE(db.ok());
  auto col = (*db)->GetCollection(Database::kDefaultTenant, Database::kDefaultDatabase, "col");
  ASSERT_FALSE(col.ok());
  EXPECT_TRUE(col.status().IsCorruption()) << col.status().ToString();
}

TEST_F(CollectionTest, WalAddWithoutEmbeddingIsCorruption) {
  OperationBatch ops(1);
  ops[0].type = OpType::kUpdate;
  ops[0].record.id = "x";
  std::string bytes = EncodeWalObject(1, ops, 1).value();
  bytes[28] = static_cast<char>(OpType::kAdd);  // the first op (after the header and nonce): an add with no embedding
  std::string body = bytes.substr(0, bytes.size() - 8);
  std::string fixed = body;
  PutFixed64(&fixed, Checksum64(body));
  EXPECT_TRUE(DecodeWalObject(fixed).status().IsCorruption());
}

}  // namespace
}  // namespace fathom
