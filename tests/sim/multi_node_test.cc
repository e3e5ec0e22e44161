// Several nodes on one store, one test per edge (docs/design/object-storage.md, "Several
// nodes on one store"): in-process "nodes" are Databases opened on one shared MemStore
// with DatabaseOptions::sharing = kShared. A node's store can be a HookStore, which runs a
// test's function just before a create-only Put, so that another node can win the race
// for a WAL sequence number or a manifest version at a known moment.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/limits.h"
#include "fathom/db.h"
#include "io/manual_clock.h"
#include "io/forwarding_store.h"
#include "io/mem_store.h"
#include "sim/collection_model.h"

namespace fathom::testing {
namespace {

constexpr const char* kT = Database::kDefaultTenant;
constexpr const char* kD = Database::kDefaultDatabase;

// Passes every call to `base`; before a create-only Put of a key starting with
// `prefix`, runs `hook` once (then forgets it).
class HookStore : public ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;

  void SetHook(std::string prefix, std::function<void()> hook) {
    std::lock_guard<std::mutex> lock(mu_);
    prefix_ = std::move(prefix);
    hook_ = std::move(hook);
  }

  // The next create-only Put of a key containing `prefix` fails with IOError before it
  // reaches `base` (as a request lost on the way: its outcome unknown to the writer).
  void FailNextPut(std::string prefix) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_prefix_ = std::move(prefix);
  }

  Status Put(const std::string& key, std::string_view bytes, PutMode mode) override {
    std::function<void()> hook;
    if (mode == PutMode::kCreateOnly) {
      std::lock_guard<std::mutex> lock(mu_);
      if (hook_ && key.find(prefix_) != std::string::npos) hook = std::exchange(hook_, nullptr);
      if (fail_prefix_ && key.find(*fail_prefix_) != std::string::npos) {
        fail_prefix_.reset();
        return Status::IOError("injected: put of " + key + " lost");
      }
    }
    if (hook) hook();
    ++requests;
    return ForwardingStore::Put(key, bytes, mode);
  }
  Result<std::string> Get(const std::string& key, std::optional<ByteRange> range) override {
    ++requests;
    ++gets;
    return ForwardingStore::Get(key, range);
  }
  Result<ObjectInfo> Head(const std::string& key) override {
    ++requests;
    return ForwardingStore::Head(key);
  }
  Result<std::vector<ObjectInfo>> List(const std::string& prefix, const std::string& start_after,
                                       size_t max_keys) override {
    ++requests;
    ++lists;
    return ForwardingStore::List(prefix, start_after, max_keys);
  }

  std::atomic<int> requests{0};  // every request that reached `base`
  std::atomic<int> gets{0}, lists{0};
  std::string Describe() const override { return "hook(" + ForwardingStore::Describe() + ")"; }

 private:
  std::mutex mu_;
  std::string prefix_;
  std::function<void()> hook_;
  std::optional<std::string> fail_prefix_;
};

WriteRecord Rec(const std::string& id, std::vector<float> embedding, int64_t n = 0) {
  WriteRecord r;
  r.id = id;
  r.embedding = std::move(embedding);
  r.metadata = MetadataPatch{{"n", MetadataValue(n)}};
  return r;
}

std::vector<std::string> Ids(Collection& col) {
  auto got = col.Get(GetRequest{});
  EXPECT_TRUE(got.ok()) << got.status().ToString();
  return got.ok() ? got->ids : std::vector<std::string>{};
}

size_t CountKeys(ObjectStore& store, const std::string& collection_id, const std::string& kind) {
  auto listed = store.List("c/" + collection_id + "/" + kind + "/");
  EXPECT_TRUE(listed.ok());
  return listed.ok() ? listed->size() : 0;
}

class MultiNodeTest : public ::testing::Test {
 protected:
  struct Node {
    std::shared_ptr<HookStore> store;
    std::unique_ptr<Database> db;
    std::shared_ptr<Collection> col;
  };

  void SetUp() override {
    base_ = std::make_shared<MemStore>();
    clock_ = std::make_shared<ManualClock>();
  }

  Node Open(std::chrono::milliseconds grace = std::chrono::minutes(1)) {
    Node node;
    node.store = std::make_shared<HookStore>(base_);
    auto db = Database::Open({.store = node.store,
                              .compaction_trigger_ops = 1u << 30,
                              .sharing = DatabaseOptions::Sharing::kShared,
                              .gc_grace = grace,
                              .background_compaction = false,
                              .clock = clock_});
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    if (!db.ok()) return node;
    node.db = std::move(*db);
    auto col = node.db->CreateCollection(kT, kD, {.name = "shared", .get_or_create = true});
    EXPECT_TRUE(col.ok()) << col.status().ToString();
    if (col.ok()) node.col = *col;
    return node;
  }

  std::shared_ptr<ObjectStore> base_;
  std::shared_ptr<ManualClock> clock_;
};

TEST_F(MultiNodeTest, AWriteOnOneNodeIsSeenByTheNextStrongReadOnAnother) {
  Node a = Open(), b = Open();
  ASSERT_EQ(a.col->id(), b.col->id());  // B found A's collection in the catalog
  ASSERT_TRUE(a.col->Add({Rec("x", {1, 2})}).ok());
  EXPECT_EQ(*b.col->Count(), 1u);
  ASSERT_TRUE(a.col->Add({Rec("y", {3, 4})}).ok());
  // index_only answers from what B has applied; the default level checks the store.
  EXPECT_EQ(*b.col->Count(ReadLevel::kIndexOnly), 1u);
  EXPECT_EQ(Ids(*b.col), (std::vector<std::string>{"x", "y"}));
  SearchRequest search;
  search.searches.push_back(SearchPayload{});
  search.read_level = ReadLevel::kIndexOnly;
  ASSERT_TRUE(b.col->Add({Rec("z", {5, 6})}).ok());
  ASSERT_TRUE(a.col->Search(search).ok());
  EXPECT_EQ((*a.col->Search(search))[0].ids.size(), 2u);
  search.read_level = ReadLevel::kIndexAndWal;
  EXPECT_EQ((*a.col->Search(search))[0].ids.size(), 3u);
}

TEST_F(MultiNodeTest, TheLoserOfAWalRaceCatchesUpAndCommitsAfterTheWinner) {
  Node a = Open(), b = Open();
  ASSERT_TRUE(b.col->Add({Rec("first", {0, 0})}).ok());
  // Just before B's put of the next sequence number, A commits it.
  b.store->SetHook("/wal/", [&] { ASSERT_TRUE(a.col->Add({Rec("winner", {1, 1})}).ok()); });
  ASSERT_TRUE(b.col->Add({Rec("loser", {2, 2})}).ok());
  const std::vector<std::string> want = {"first", "winner", "loser"};  // WAL order
  EXPECT_EQ(Ids(*a.col), want);
  EXPECT_EQ(Ids(*b.col), want);
  EXPECT_EQ(CountKeys(*base_, a.col->id(), "wal"), 3u);  // nothing doubled
  Node c = Open();
  EXPECT_EQ(Ids(*c.col), want);
}

TEST_F(MultiNodeTest, ARetriedWriteIsValidatedAgainstTheStateItFollows) {
  Node a = Open(), b = Open();
  // The collection has no dimension yet: A's winning write fixes it at 2, so B's write of
  // dimension 3 is refused after the race, and nothing of it is logged.
  b.store->SetHook("/wal/", [&] { ASSERT_TRUE(a.col->Add({Rec("two", {1, 1})}).ok()); });
  Status s = b.col->Add({Rec("three", {1, 1, 1})});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_EQ(Ids(*b.col), (std::vector<std::string>{"two"}));
  EXPECT_EQ(CountKeys(*base_, a.col->id(), "wal"), 1u);
}

TEST_F(MultiNodeTest, ARetriedFilterDeleteIsResolvedAgainstTheStateItFollows) {
  Node a = Open(), b = Open();
  ASSERT_TRUE(a.col->Add({Rec("old", {0, 0}, 1)}).ok());
  ASSERT_EQ(*b.col->Count(), 1u);
  // B's delete of n < 5 commits after A's add of another n = 1: it deletes both.
  b.store->SetHook("/wal/", [&] { ASSERT_TRUE(a.col->Add({Rec("new", {1, 1}, 1)}).ok()); });
  DeleteRequest del;
  del.where = NBelow(5);
  auto deleted = b.col->Delete(del);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, 2u);
  EXPECT_EQ(*a.col->Count(), 0u);
  EXPECT_EQ(*b.col->Count(), 0u);
}

// Found by MultiNodeSimulationTest (FATHOM_SEED=1106580367498518316): B, one object
// behind, logs the same delete as A at the same sequence number. Its first put is lost,
// its retry meets A's object, and the bytes were equal, so B took A's object for its own
// and answered its delete from the stale view (1 deleted, where the newest state has
// none left). The writer nonce makes every commit's bytes its own.
TEST_F(MultiNodeTest, ARetriedPutDoesNotTakeAnotherNodesEqualGroupForItsOwn) {
  Node a = Open(), b = Open();
  ASSERT_TRUE(a.col->Add({Rec("x", {0, 0}, 1)}).ok());
  ASSERT_EQ(*b.col->Count(), 1u);  // B has seen x
  DeleteRequest del;
  del.where = NBelow(5);
  auto by_a = a.col->Delete(del);
  ASSERT_TRUE(by_a.ok()) << by_a.status().ToString();
  ASSERT_EQ(*by_a, 1u);
  b.store->FailNextPut("/wal/");
  auto by_b = b.col->Delete(del);
  ASSERT_TRUE(by_b.ok()) << by_b.status().ToString();
  EXPECT_EQ(*by_b, 0u);
  EXPECT_EQ(CountKeys(*base_, a.col->id(), "wal"), 2u);
  EXPECT_EQ(*b.col->Count(), 0u);
}

TEST_F(MultiNodeTest, AWriteWithNothingToLogLooksAtTheStoreBeforeAnswering) {
  Node a = Open(), b = Open();
  ASSERT_TRUE(a.col->Add({Rec("x", {0, 0}, 1)}).ok());
  // B has not read A's add: its filter delete matches nothing in B's view, so there is
  // no PUT to find out that B is behind. It must read the WAL before answering.
  DeleteRequest del;
  del.where = NBelow(5);
  auto deleted = b.col->Delete(del);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, 1u);
  EXPECT_EQ(*a.col->Count(), 0u);
}

TEST_F(MultiNodeTest, AReadAfterAnotherNodesCompactionAndGcReloadsFromItsManifest) {
  Node a = Open(), b = Open();
  ASSERT_TRUE(a.col->Add({Rec("x", {1, 1})}).ok());
  ASSERT_EQ(*b.col->Count(), 1u);  // B has applied WAL 1
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(a.col->Add({Rec("y" + std::to_string(i), {2, 2})}).ok());
  ASSERT_TRUE(a.col->Compact().ok());
  EXPECT_EQ(CountKeys(*base_, a.col->id(), "wal"), 6u);  // within the grace period: kept
  clock_->AdvanceBy(std::chrono::minutes(2));
  ASSERT_TRUE(a.col->Add({Rec("z", {3, 3})}).ok());
  ASSERT_TRUE(a.col->Compact().ok());
  // WAL 2..6 are gone; B knows only WAL 1, and its last manifest listing is older than
  // half the grace: its read lists manifests and reloads.
  EXPECT_EQ(CountKeys(*base_, a.col->id(), "wal"), 1u);  // only WAL 7, obsolete since now
  EXPECT_EQ(Ids(*b.col), (std::vector<std::string>{"x", "y0", "y1", "y2", "y3", "y4", "z"}));
  // And B's writes continue after the newest state.
  ASSERT_TRUE(b.col->Add({Rec("w", {4, 4})}).ok());
  EXPECT_EQ(*a.col->Count(), 8u);
}

TEST_F(MultiNodeTest, ACommitIsOnePutWhileTheLastManifestListingIsFresh) {
  Node a = Open(), b = Open();
  ASSERT_TRUE(b.col->Add({Rec("x", {1, 1})}).ok());
  ASSERT_TRUE(a.col->Add({Rec("y", {2, 2})}).ok());  // lost to B's WAL 1: caught up
  int before = a.store->requests;
  ASSERT_TRUE(a.col->Add({Rec("z", {3, 3})}).ok());
  EXPECT_EQ(a.store->requests - before, 1);  // the create-only PUT alone, as a raw PUT
  // Half a grace later WAL objects after A's may have been compacted and deleted: the
  // commit lists manifests and reads the next WAL key before its PUT.
  clock_->AdvanceBy(std::chrono::seconds(30));
  before = a.store->requests;
  ASSERT_TRUE(a.col->Add({Rec("w", {4, 4})}).ok());
  EXPECT_EQ(a.store->requests - before, 3);
  EXPECT_EQ(Ids(*b.col), (std::vector<std::string>{"x", "y", "z", "w"}));
}

TEST_F(MultiNodeTest, AWriteAfterAnotherNodesCompactionAndGcFollowsItsManifest) {
  Node a = Open(), b = Open();
  ASSERT_TRUE(a.col->Add({Rec("x", {1, 1})}).ok());
  ASSERT_EQ(*b.col->Count(), 1u);  // B has applied WAL 1
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(a.col->Add({Rec("y" + std::to_string(i), {2, 2})}).ok());
  ASSERT_TRUE(a.col->Compact().ok());
  clock_->AdvanceBy(std::chrono::minutes(2));
  ASSERT_TRUE(a.col->Add({Rec("z", {3, 3})}).ok());
  ASSERT_TRUE(a.col->Compact().ok());
  ASSERT_EQ(CountKeys(*base_, a.col->id(), "wal"), 1u);  // WAL 2..6 deleted, WAL 7 kept
  // B's next WAL number (2) is free again in the store; a PUT of it would succeed under
  // a manifest that covers it, and the write would be lost. B's commit must find the
  // manifest first, reload, and log after WAL 7.
  ASSERT_TRUE(b.col->Add({Rec("w", {4, 4})}).ok());
  const std::vector<std::string> all{"x", "y0", "y1", "y2", "y3", "y4", "z", "w"};
  EXPECT_EQ(Ids(*a.col), all);
  Node c = Open();
  EXPECT_EQ(Ids(*c.col), all);
}

TEST_F(MultiNodeTest, TwoNodesCompactingAtOnceOneWinsTheOtherReloads) {
  Node a = Open(), b = Open();
  ASSERT_TRUE(a.col->Add({Rec("x", {1, 1})}).ok());
  ASSERT_TRUE(b.col->Add({Rec("y", {2, 2})}).ok());
  ASSERT_EQ(*a.col->Count(), 2u);
  // Just before B commits manifest 1, A commits it.
  b.store->SetHook("/manifest/", [&] { ASSERT_TRUE(a.col->Compact().ok()); });
  Status s = b.col->Compact();
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(CountKeys(*base_, a.col->id(), "manifest"), 1u);
  // B goes on from A's manifest: its next compaction commits version 2.
  ASSERT_TRUE(b.col->Add({Rec("z", {3, 3})}).ok());
  ASSERT_TRUE(b.col->Compact().ok());
  auto manifests = base_->List("c/" + a.col->id() + "/manifest/");
  ASSERT_TRUE(manifests.ok());
  EXPECT_EQ(manifests->back().key, "c/" + a.col->id() + "/manifest/" + std::string(19, '0') + "2");
  Node c = Open();
  EXPECT_EQ(Ids(*c.col), (std::vector<std::string>{"x", "y", "z"}));
  EXPECT_EQ(Ids(*a.col), (std::vector<std::string>{"x", "y", "z"}));
}

TEST_F(MultiNodeTest, ObsoleteObjectsWaitOutTheGracePeriod) {
  Node a = Open(std::chrono::minutes(10));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(a.col->Add({Rec("x" + std::to_string(i), {1, 1})}).ok());
  ASSERT_TRUE(a.col->Compact().ok());
  ASSERT_TRUE(a.col->Add({Rec("y", {1, 1})}).ok());
  ASSERT_TRUE(a.col->Compact().ok());
  const std::string id = a.col->id();
  EXPECT_EQ(CountKeys(*base_, id, "wal"), 4u);
  EXPECT_EQ(CountKeys(*base_, id, "manifest"), 2u);
  clock_->AdvanceBy(std::chrono::minutes(9));
  ASSERT_TRUE(a.col->Compact().ok());
  EXPECT_EQ(CountKeys(*base_, id, "wal"), 4u);
  clock_->AdvanceBy(std::chrono::minutes(2));
  ASSERT_TRUE(a.col->Compact().ok());
  // First seen obsolete at minute 0: WAL 1..3 and manifest 1; WAL 4 at minute 0 too
  // (the second compaction covered it).
  EXPECT_EQ(CountKeys(*base_, id, "wal"), 0u);
  EXPECT_EQ(CountKeys(*base_, id, "manifest"), 1u);
  EXPECT_EQ(CountKeys(*base_, id, "seg"), 2u);  // both deltas are live
  // A restart forgets the clock: objects are deleted a full grace after it (never early).
  ASSERT_TRUE(a.col->Add({Rec("z", {1, 1})}).ok());
  ASSERT_TRUE(a.col->Compact().ok());
  a.col.reset();
  a.db.reset();
  Node b = Open(std::chrono::minutes(10));
  ASSERT_TRUE(b.col->Compact().ok());
  EXPECT_EQ(CountKeys(*base_, id, "wal"), 1u);
  clock_->AdvanceBy(std::chrono::minutes(11));
  ASSERT_TRUE(b.col->Compact().ok());
  EXPECT_EQ(CountKeys(*base_, id, "wal"), 0u);
  EXPECT_EQ(Ids(*b.col), (std::vector<std::string>{"x0", "x1", "x2", "y", "z"}));
}

TEST_F(MultiNodeTest, ACollectionCreatedOrDeletedOnOneNodeIsSeenOnAnother) {
  Node a = Open(), b = Open();
  auto created = a.db->CreateCollection(kT, kD, {.name = "later"});
  ASSERT_TRUE(created.ok());
  auto found = b.db->GetCollection(kT, kD, "later");
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ((*found)->id(), (*created)->id());
  ASSERT_TRUE(a.db->DeleteCollection(kT, kD, "later").ok());
  // B's lookup hits its own catalog copy, which a newer stored version makes stale.
  EXPECT_EQ(b.db->GetCollection(kT, kD, "later").status().code(), StatusCode::kNotFound);
  EXPECT_EQ((*found)->Count().status().code(), StatusCode::kNotFound);
  auto listed = b.db->ListCollections(kT, kD, std::nullopt, 0);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 1u);
  // B creates a collection on top of A's catalog changes, not over them.
  ASSERT_TRUE(b.db->CreateCollection(kT, kD, {.name = "third"}).ok());
  auto names = a.db->ListCollections(kT, kD, std::nullopt, 0);
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(names->size(), 2u);
}

// The catalog check of a lookup is one GET of the next catalog version. It must still see
// a change when many more versions were committed after it (a GET of a pruned successor
// would answer "nothing newer": catalog versions are kept for the grace period), and
// when the node's last look is more than half a grace old (then it lists).
TEST_F(MultiNodeTest, ACatalogChangeIsSeenHoweverManyVersionsFollowedIt) {
  Node a = Open(), b = Open();
  for (const bool past_half_a_grace : {false, true}) {
    SCOPED_TRACE(past_half_a_grace ? "past half a grace" : "within half a grace");
    const std::string name = past_half_a_grace ? "later2" : "later1";
    auto created = a.db->CreateCollection(kT, kD, {.name = name});
    ASSERT_TRUE(created.ok());
    auto found = b.db->GetCollection(kT, kD, name);
    ASSERT_TRUE(found.ok()) << found.status().ToString();
    ASSERT_TRUE(a.db->DeleteCollection(kT, kD, name).ok());
    for (size_t i = 0; i < 3 * limits::kCatalogVersionsKept; ++i) {
      ASSERT_TRUE(a.db->CreateTenant(name + "-t" + std::to_string(i)).ok());
    }
    if (past_half_a_grace) {
      // A's next commits delete every version the grace period let go, the successor of
      // B's version among them.
      clock_->AdvanceBy(std::chrono::minutes(2));
      ASSERT_TRUE(a.db->CreateTenant(name + "-last").ok());
    }
    const int before = b.store->requests.load();
    EXPECT_EQ(b.db->GetCollection(kT, kD, name).status().code(), StatusCode::kNotFound);
    EXPECT_GT(b.store->requests.load(), before);
  }
}

// While nothing changes, a lookup's catalog check on a shared store is one GET.
TEST_F(MultiNodeTest, ALookupsCatalogCheckIsOneGet) {
  Node a = Open(), b = Open();
  ASSERT_TRUE(b.db->GetCollection(kT, kD, "shared").ok());
  const int lists_before = b.store->lists.load(), gets_before = b.store->gets.load();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(b.db->GetCollection(kT, kD, "shared").ok());
  EXPECT_EQ(b.store->lists.load(), lists_before);
  EXPECT_EQ(b.store->gets.load(), gets_before + 3);
}

// A lookup for a read at once (as an HTTP read makes) sends the collection's WAL check
// with its catalog check, and the read uses it: still every write another node
// acknowledged before the lookup is seen, and a deletion too.
TEST_F(MultiNodeTest, ALookupForAReadAtOnceChecksTheWalAheadAndTheReadSeesEveryWrite) {
  Node a = Open(), b = Open();
  const std::string id = a.col->id();
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(a.col->Add({Rec("x" + std::to_string(i), {1, float(i)})}).ok());
    auto looked_up = b.db->GetCollectionById(kT, kD, id, {.read_at_once = true});
    ASSERT_TRUE(looked_up.ok()) << looked_up.status().ToString();
    const int gets_before = b.store->gets.load();
    auto count = (*looked_up)->Count();
    ASSERT_TRUE(count.ok());
    EXPECT_EQ(*count, static_cast<uint64_t>(i + 1));
    // The read made no check of its own: the lookup's was enough.
    EXPECT_EQ(b.store->gets.load(), gets_before) << i;
    // A second read through the same handle checks again (the lookup's check served one).
    ASSERT_TRUE(a.col->Add({Rec("y" + std::to_string(i), {1, float(i)})}).ok());
    EXPECT_EQ(*(*looked_up)->Count(), static_cast<uint64_t>(i + 2));
    ASSERT_TRUE(a.col->Delete({.ids = std::vector<std::string>{"y" + std::to_string(i)}}).ok());
  }
  // Without read_at_once, the lookup leaves the check to the read.
  ASSERT_TRUE(a.col->Add({Rec("z", {2, 2})}).ok());
  auto plain = b.db->GetCollectionById(kT, kD, id);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(*(*plain)->Count(), 6u);
  ASSERT_TRUE(a.db->DeleteCollection(kT, kD, "shared").ok());
  EXPECT_EQ(b.db->GetCollectionById(kT, kD, id, {.read_at_once = true}).status().code(), StatusCode::kNotFound);
}

TEST_F(MultiNodeTest, ALocalStoreIsNotSharedUnlessSaid) {
  // The default for a caller's store: one node, no freshness checks.
  auto db1 = Database::Open({.store = base_, .background_compaction = false});
  ASSERT_TRUE(db1.ok());
  auto col1 = (*db1)->CreateCollection(kT, kD, {.name = "shared"});
  ASSERT_TRUE(col1.ok());
  Node b = Open();
  ASSERT_EQ(*(*col1)->Count(), 0u);
  ASSERT_TRUE(b.col->Add({Rec("x", {1, 1})}).ok());
  EXPECT_EQ(*(*col1)->Count(), 0u);  // db1 does not look
  EXPECT_EQ(*b.col->Count(), 1u);
}

}  // namespace
}  // namespace fathom::testing
