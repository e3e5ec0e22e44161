// Regression tests for issue 12 ("Durability at the edges"): each reproduces one way an
// acknowledged write could be lost, hidden or wedged, through the public API, with a store
// that fails exactly the operation the finding is about.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>

#include "common/limits.h"
#include "fathom/db.h"
#include "io/manual_clock.h"
#include "io/mem_store.h"
#include "index/vector/kmeans.h"
#include "storage/manifest.h"
#include "sim/collection_model.h"
#include "test_util.h"

namespace fathom {
namespace {

constexpr const char* kT = Database::kDefaultTenant;
constexpr const char* kD = Database::kDefaultDatabase;

// Wraps a store; a rule sees every operation before it runs and may fail it, or (a Put)
// let it take effect and then report an error, as a lost acknowledgement. The rule runs
// outside any lock, so it may block to hold an operation in flight.
class ScriptedStore : public ObjectStore {
 public:
  enum class Op { kPut, kGet, kHead, kList, kDelete };
  enum class Fault { kNone, kFailBefore, kLoseAck };
  using Rule = std::function<Fault(Op, const std::string& key)>;

  explicit ScriptedStore(std::shared_ptr<ObjectStore> base) : base_(std::move(base)) {}

  void SetRule(Rule rule) {
    std::lock_guard<std::mutex> lock(mu_);
    rule_ = std::move(rule);
  }

  Status Put(const std::string& key, std::string_view bytes, PutMode mode) override {
    Fault f = Decide(Op::kPut, key);
    if (f == Fault::kFailBefore) return Status::IOError("scripted: put failed: " + key);
    Status s = base_->Put(key, bytes, mode);
    if (s.ok() && f == Fault::kLoseAck) return Status::IOError("scripted: put landed, acknowledgement lost: " + key);
    return s;
  }
  Result<std::string> Get(const std::string& key, std::optional<ByteRange> range) override {
    if (Decide(Op::kGet, key) == Fault::kFailBefore) return Status::IOError("scripted: get failed: " + key);
    return base_->Get(key, range);
  }
  Result<ObjectInfo> Head(const std::string& key) override {
    if (Decide(Op::kHead, key) == Fault::kFailBefore) return Status::IOError("scripted: head failed: " + key);
    return base_->Head(key);
  }
  Result<std::vector<ObjectInfo>> List(const std::string& prefix, const std::string& start_after,
                                       size_t max_keys) override {
    if (Decide(Op::kList, prefix) == Fault::kFailBefore) return Status::IOError("scripted: list failed: " + prefix);
    return base_->List(prefix, start_after, max_keys);
  }
  Status Delete(const std::string& key) override {
    if (Decide(Op::kDelete, key) == Fault::kFailBefore) return Status::IOError("scripted: delete failed: " + key);
    return base_->Delete(key);
  }
  std::string Describe() const override { return "scripted(" + base_->Describe() + ")"; }

 private:
  Fault Decide(Op op, const std::string& key) {
    Rule rule;
    {
      std::lock_guard<std::mutex> lock(mu_);
      rule = rule_;
    }
    return rule ? rule(op, key) : Fault::kNone;
  }

  std::shared_ptr<ObjectStore> base_;
  std::mutex mu_;
  Rule rule_;
};

bool Contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

class DurabilityTest : public ::testing::Test {
 protected:
  void Open() {
    db_.reset();
    auto db = Database::Open({.store = scripted_, .background_compaction = false});
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
  }
  std::shared_ptr<Collection> Col(const char* name = "docs") {
    auto col = db_->CreateCollection(kT, kD, {.name = name, .get_or_create = true});
    EXPECT_TRUE(col.ok()) << col.status().ToString();
    return col.ok() ? *col : nullptr;
  }
  void AddRange(Collection& col, int from, int to) {
    std::vector<WriteRecord> records;
    for (int i = from; i < to; ++i) {
      records.push_back(testing::MakeRecord("id" + std::to_string(i), {float(i), 1.0f, 2.0f}, "doc " + std::to_string(i)));
    }
    ASSERT_TRUE(col.Add(std::move(records)).ok());
  }
  // Every record id0..id<n-1> is there with its values.
  void ExpectRange(Collection& col, int n) {
    auto count = col.Count();
    ASSERT_TRUE(count.ok()) << count.status().ToString();
    EXPECT_EQ(*count, uint64_t(n));
    GetRequest get;
    get.include.embeddings = true;
    get.include.documents = true;
    auto got = col.Get(get);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    ASSERT_EQ(got->ids.size(), size_t(n));
    for (size_t i = 0; i < got->ids.size(); ++i) {
      int k = std::stoi(got->ids[i].substr(2));
      EXPECT_EQ(got->embeddings[i][0], float(k));
      EXPECT_EQ(got->documents[i], "doc " + std::to_string(k));
    }
  }
  size_t CountKeys(const std::string& prefix) { return mem_->List(prefix)->size(); }

  std::shared_ptr<ObjectStore> mem_ = std::make_shared<MemStore>();
  std::shared_ptr<ScriptedStore> scripted_ = std::make_shared<ScriptedStore>(mem_);
  std::unique_ptr<Database> db_;
};

// Finding 3: the put of manifest/<v+1> landed but reported an error. Before the fix the
// collection kept believing in v: every later fold wrote an orphan segment and failed
// with AlreadyExists, and the WAL was never trimmed.
TEST_F(DurabilityTest, ALostManifestAcknowledgementDoesNotWedgeCompaction) {
  Open();
  auto col = Col();
  AddRange(*col, 0, 10);
  std::atomic<int> lost{0};
  scripted_->SetRule([&](ScriptedStore::Op op, const std::string& key) {
    if (op == ScriptedStore::Op::kPut && Contains(key, "/manifest/") && lost.fetch_add(1) == 0) {
      return ScriptedStore::Fault::kLoseAck;
    }
    return ScriptedStore::Fault::kNone;
  });
  (void)col->Compact();  // the outcome of the first try is the store's to tell
  scripted_->SetRule(nullptr);
  AddRange(*col, 10, 20);
  Status s = col->Compact();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(CountKeys("c/" + col->id() + "/wal/"), 0u) << "the WAL is trimmed once folded";
  Open();
  ExpectRange(*Col(), 20);
}

// Finding 3, the harder case: the manifest landed and reading it back fails too, so the
// outcome stays unknown past the first compaction; the next one must learn it.
TEST_F(DurabilityTest, AManifestOfUnknownOutcomeIsResolvedByTheNextCompaction) {
  Open();
  auto col = Col();
  AddRange(*col, 0, 10);
  ASSERT_TRUE(col->Compact().ok());
  AddRange(*col, 10, 15);
  std::string lost_key;
  scripted_->SetRule([&](ScriptedStore::Op op, const std::string& key) {
    if (!Contains(key, "/manifest/")) return ScriptedStore::Fault::kNone;
    if (op == ScriptedStore::Op::kPut) {
      lost_key = key;
      return ScriptedStore::Fault::kLoseAck;
    }
    return op == ScriptedStore::Op::kGet ? ScriptedStore::Fault::kFailBefore : ScriptedStore::Fault::kNone;
  });
  EXPECT_FALSE(col->Compact().ok());
  scripted_->SetRule(nullptr);
  ASSERT_FALSE(lost_key.empty());
  ASSERT_TRUE(mem_->Head(lost_key).ok()) << "the manifest landed";
  AddRange(*col, 15, 20);
  Status s = col->Compact();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(CountKeys("c/" + col->id() + "/wal/"), 0u);
  ExpectRange(*col, 20);
  Open();
  ExpectRange(*Col(), 20);
}

// Holds the first Put whose key contains `part` until Release().
class PutGate {
 public:
  explicit PutGate(std::string part) : part_(std::move(part)) {}
  ScriptedStore::Rule Rule() {
    return [this](ScriptedStore::Op op, const std::string& key) {
      if (op == ScriptedStore::Op::kPut && Contains(key, part_.c_str())) {
        std::unique_lock<std::mutex> lock(mu_);
        if (!reached_) {
          reached_ = true;
          cv_.notify_all();
          cv_.wait(lock, [&] { return released_; });
        }
      }
      return ScriptedStore::Fault::kNone;
    };
  }
  void WaitReached() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return reached_; });
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::string part_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool reached_ = false;
  bool released_ = false;
};

// Finding 2: closing the Database returned while a Compact() ran on another thread; the
// next owner of the store garbage-collected the compaction's segment as an orphan, then
// the old compaction committed a manifest naming it and deleted the WAL.
TEST_F(DurabilityTest, ClosingWaitsForARunningCompaction) {
  Open();
  auto col = Col();
  AddRange(*col, 0, 10);
  PutGate gate("/manifest/");
  scripted_->SetRule(gate.Rule());
  std::thread compactor([&] { (void)col->Compact(); });
  gate.WaitReached();  // the segment is written; the manifest is not yet
  std::atomic<bool> closed{false};
  std::thread closer([&] {
    db_.reset();
    closed = true;
  });
  // A close that waits cannot finish before the release below; one that does not,
  // finishes at once.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const bool closed_early = closed.load();
  EXPECT_FALSE(closed_early) << "the database closed while a compaction was still running";
  if (closed_early) {
    // What the next owner does at open: recovery deletes what no manifest names.
    auto next = Database::Open({.store = mem_, .background_compaction = false});
    ASSERT_TRUE(next.ok());
    (void)(*next)->GetCollection(kT, kD, "docs");
  }
  gate.Release();
  compactor.join();
  closer.join();
  EXPECT_EQ(col->Count().status().code(), StatusCode::kUnavailable);
  scripted_->SetRule(nullptr);
  Open();
  ExpectRange(*Col(), 10);
}

// Finding 2 for deletes: the collection's data was deleted while its compaction ran, and
// the compaction then wrote its segment and manifest back.
TEST_F(DurabilityTest, DeletingACollectionWaitsForItsRunningCompaction) {
  Open();
  auto col = Col();
  AddRange(*col, 0, 10);
  const std::string prefix = "c/" + col->id() + "/";
  PutGate gate("/seg/");
  scripted_->SetRule(gate.Rule());
  std::thread compactor([&] { (void)col->Compact(); });
  gate.WaitReached();
  std::atomic<bool> deleted{false};
  std::thread deleter([&] {
    EXPECT_TRUE(db_->DeleteCollection(kT, kD, "docs").ok());
    deleted = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(deleted.load()) << "the collection's data was deleted while its compaction was running";
  gate.Release();
  compactor.join();
  deleter.join();
  EXPECT_EQ(CountKeys(prefix), 0u) << "nothing of a deleted collection is left behind";
  EXPECT_EQ(CountKeys("dropped/"), 0u);
}

// Finding 2, after a failed delete: the failed commit dropped the collection's handle
// (it might be gone) while a compaction ran on it; the collection turned out to exist,
// and a second delete must still wait for that compaction before deleting its objects.
TEST_F(DurabilityTest, ASecondDeleteWaitsForTheHandleAFailedDeleteDropped) {
  Open();
  auto col = Col();
  AddRange(*col, 0, 10);
  const std::string prefix = "c/" + col->id() + "/";
  PutGate gate("/seg/");
  std::atomic<bool> fail_catalog{false};
  auto gated = gate.Rule();
  scripted_->SetRule([&](ScriptedStore::Op op, const std::string& key) {
    if (fail_catalog && op == ScriptedStore::Op::kPut && key.rfind("catalog/", 0) == 0) {
      return ScriptedStore::Fault::kFailBefore;
    }
    return gated(op, key);
  });
  std::thread compactor([&] { (void)col->Compact(); });
  gate.WaitReached();
  fail_catalog = true;
  EXPECT_FALSE(db_->DeleteCollection(kT, kD, "docs").ok());
  fail_catalog = false;
  // (Opening it now would wait for the old handle's compaction, like the delete below.)
  ASSERT_EQ(*db_->CountCollections(kT, kD), 1u) << "the failed delete did not land";
  std::atomic<bool> deleted{false};
  std::thread deleter([&] {
    EXPECT_TRUE(db_->DeleteCollection(kT, kD, "docs").ok());
    deleted = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(deleted.load()) << "the data was deleted while the dropped handle's compaction ran";
  gate.Release();
  compactor.join();
  deleter.join();
  EXPECT_EQ(CountKeys(prefix), 0u) << "nothing of a deleted collection is left behind";
}

// A merge that failed after its fold committed left the WAL objects and segments the new
// manifest made obsolete, and no later compaction merged or cleaned up (it found no tail
// to fold), so on a full disk the space never came back.
TEST_F(DurabilityTest, AMergeThatFailsAfterItsFoldStillCleansUpAndIsRetried) {
  Open();
  auto col = Col();
  for (int i = 0; i < int(limits::kSegmentsPerCollectionMax); ++i) {
    AddRange(*col, i, i + 1);
    ASSERT_TRUE(col->Compact().ok());
  }
  const int start = int(limits::kSegmentsPerCollectionMax);
  AddRange(*col, start, start + 5);
  std::atomic<int> segment_puts{0};
  scripted_->SetRule([&](ScriptedStore::Op op, const std::string& key) {
    // The fold's segment lands; the merge's does not.
    return op == ScriptedStore::Op::kPut && Contains(key, "/seg/") && segment_puts.fetch_add(1) > 0
               ? ScriptedStore::Fault::kFailBefore
               : ScriptedStore::Fault::kNone;
  });
  EXPECT_FALSE(col->Compact().ok());
  EXPECT_EQ(CountKeys("c/" + col->id() + "/wal/"), 0u) << "the fold's manifest covers the WAL";
  EXPECT_EQ(CountKeys("c/" + col->id() + "/manifest/"), 1u);
  EXPECT_GT(CountKeys("c/" + col->id() + "/seg/"), limits::kSegmentsPerCollectionMax);
  scripted_->SetRule(nullptr);
  ASSERT_TRUE(col->Compact().ok());
  EXPECT_EQ(CountKeys("c/" + col->id() + "/seg/"), 1u) << "the merge is retried with nothing to fold";
  ExpectRange(*col, start + 5);
  Open();
  ExpectRange(*Col(), start + 5);
}

// Finding 6 (with a real directory): a data directory whose catalog/ is missing was
// opened with a fresh catalog, and orphan removal deleted every collection.
TEST(DurabilityDirectoryTest, AMissingCatalogRefusesToOpenAndDeletesNothing) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/data";
  {
    auto db = Database::Open({.path = path, .background_compaction = false});
    ASSERT_TRUE(db.ok());
    auto col = (*db)->CreateCollection(kT, kD, {.name = "docs"});
    ASSERT_TRUE(col.ok());
    ASSERT_TRUE((*col)->Add({testing::MakeRecord("a", {1, 2, 3})}).ok());
    ASSERT_TRUE((*col)->Compact().ok());
  }
  std::filesystem::remove_all(path + "/catalog");
  auto files = [&] {
    size_t n = 0;
    for (auto& e : std::filesystem::recursive_directory_iterator(path + "/c")) n += e.is_regular_file();
    return n;
  };
  const size_t before = files();
  ASSERT_GT(before, 0u);
  auto db = Database::Open({.path = path, .background_compaction = false});
  ASSERT_FALSE(db.ok()) << "opened a directory with collection data and no catalog";
  EXPECT_EQ(db.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(db.status().message(), "no catalog")) << db.status().message();
  EXPECT_EQ(files(), before);
}

// Finding 6, a partial restore: the catalog is older than some collection data. Data no
// catalog and no drop record names is kept.
TEST(DurabilityDirectoryTest, AnOlderCatalogDoesNotDeleteDataItDoesNotName) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/data";
  const std::string saved = dir.path() + "/catalog-copy";
  std::string newer_id;
  {
    auto db = Database::Open({.path = path, .background_compaction = false});
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->CreateCollection(kT, kD, {.name = "old"}).ok());
  }
  std::filesystem::copy(path + "/catalog", saved, std::filesystem::copy_options::recursive);
  {
    auto db = Database::Open({.path = path, .background_compaction = false});
    ASSERT_TRUE(db.ok());
    auto col = (*db)->CreateCollection(kT, kD, {.name = "newer"});
    ASSERT_TRUE(col.ok());
    newer_id = (*col)->id();
    ASSERT_TRUE((*col)->Add({testing::MakeRecord("a", {1, 2, 3})}).ok());
    ASSERT_TRUE((*col)->Compact().ok());
  }
  std::filesystem::remove_all(path + "/catalog");
  std::filesystem::copy(saved, path + "/catalog", std::filesystem::copy_options::recursive);
  {
    auto db = Database::Open({.path = path, .background_compaction = false});
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    EXPECT_TRUE((*db)->GetCollection(kT, kD, "newer").status().IsNotFound());
  }
  EXPECT_TRUE(std::filesystem::exists(path + "/c/" + newer_id)) << "data the catalog does not name was deleted";
}

// The other side of finding 6: a delete interrupted after its catalog commit is finished
// at the next open, because its drop record names the collection.
TEST_F(DurabilityTest, AnInterruptedDeleteIsFinishedAtTheNextOpen) {
  Open();
  auto col = Col();
  AddRange(*col, 0, 10);
  ASSERT_TRUE(col->Compact().ok());
  const std::string prefix = "c/" + col->id() + "/";
  scripted_->SetRule([](ScriptedStore::Op op, const std::string& key) {
    return op == ScriptedStore::Op::kDelete && key.rfind("c/", 0) == 0 ? ScriptedStore::Fault::kFailBefore
                                                                       : ScriptedStore::Fault::kNone;
  });
  ASSERT_TRUE(db_->DeleteCollection(kT, kD, "docs").ok());
  ASSERT_GT(CountKeys(prefix), 0u);
  EXPECT_EQ(CountKeys("dropped/"), 1u);
  scripted_->SetRule(nullptr);
  Open();
  EXPECT_EQ(CountKeys(prefix), 0u);
  EXPECT_EQ(CountKeys("dropped/"), 0u);
  EXPECT_TRUE(db_->GetCollection(kT, kD, "docs").status().IsNotFound());
}

// A collection whose vectors are all spilled to cold parts, and a way to damage them.
class ColdPartDurabilityTest : public DurabilityTest {
 protected:
  static constexpr int kRows = 400;
  static constexpr size_t kDim = 8;

  void SetUp() override {
    Rng rng(testing::SeedForTest(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    vectors_.assign(kRows, std::vector<float>(kDim));
    for (auto& v : vectors_) {
      for (float& x : v) x = static_cast<float>(rng.Gaussian());
    }
    OpenCold();
    auto col = Col();
    id_ = col->id();
    std::vector<WriteRecord> records;
    for (int i = 0; i < kRows; ++i) records.push_back(testing::MakeRecord("id" + std::to_string(i), vectors_[i]));
    ASSERT_TRUE(col->Add(std::move(records)).ok());
    ASSERT_TRUE(col->Compact().ok());
    auto stats = col->IndexStats();
    ASSERT_TRUE(stats.ok());
    ASSERT_GT(stats->cold_vectors, 0u) << "the test needs spilled rows";
    db_.reset();
  }

  void OpenCold() {
    db_.reset();
    auto db = Database::Open({.store = scripted_, .vector_index_min_rows = 200, .cold_spill_min_rows = 100,
                              .background_compaction = false});
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
  }

  // Flips one row byte in each of the first `blocks` blocks of every part
  // (docs/format/vector_file.md: a 64-byte header, then blocks of 4096 / (dim * 4) rows
  // and an 8-byte checksum; the row tags after them stay intact).
  void DamageParts(size_t blocks) {
    constexpr size_t kBlockRows = 4096 / (kDim * 4);
    auto parts = mem_->List(ColdPartPrefix(id_));
    ASSERT_TRUE(parts.ok());
    ASSERT_FALSE(parts->empty());
    for (const ObjectInfo& part : *parts) {
      std::string bytes = *mem_->Get(part.key);
      for (size_t b = 0; b < blocks && b * kBlockRows < size_t(kRows); ++b) {
        bytes[64 + b * (kBlockRows * kDim * 4 + 8) + 10] ^= 0x20;
      }
      ASSERT_TRUE(mem_->Delete(part.key).ok());
      ASSERT_TRUE(mem_->Put(part.key, bytes, PutMode::kCreateOnly).ok());
    }
  }

  void ExpectAllExact(Collection& col) {
    GetRequest get;
    get.include.embeddings = true;
    auto got = col.Get(get);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    ASSERT_EQ(got->ids.size(), size_t(kRows));
    for (size_t i = 0; i < got->ids.size(); ++i) {
      EXPECT_EQ(got->embeddings[i], vectors_[std::stoi(got->ids[i].substr(2))]) << got->ids[i];
    }
  }

  std::vector<std::vector<float>> vectors_;
  std::string id_;
};

// Finding 4: one bad byte in a cold part made every fold (which reads the vectors of
// changed cold rows) and every read of those rows fail, forever, though the segments
// hold every vector. The rows are restored from the log and the part is dropped.
TEST_F(ColdPartDurabilityTest, ABadByteInAColdPartIsRepairedFromTheLog) {
  DamageParts(1);
  OpenCold();
  {
    auto col = Col();
    // A fold that reads every cold row (their metadata changed).
    std::vector<WriteRecord> updates;
    for (int i = 0; i < kRows; ++i) {
      WriteRecord r;
      r.id = "id" + std::to_string(i);
      r.metadata = MetadataPatch{{"touched", MetadataValue{true}}};
      updates.push_back(std::move(r));
    }
    ASSERT_TRUE(col->Update(std::move(updates)).ok());
    Status s = col->Compact();
    ASSERT_TRUE(s.ok()) << s.ToString();
    ExpectAllExact(*col);
  }
  OpenCold();
  ExpectAllExact(*Col());
}

// Finding 4, read side: a query that meets the damaged blocks is answered, exactly.
TEST_F(ColdPartDurabilityTest, AQueryThatMeetsABadColdBlockIsStillAnswered) {
  DamageParts(SIZE_MAX);
  OpenCold();
  auto col = Col();
  QueryRequest query;
  query.query_embeddings = {vectors_[7]};
  query.n_results = 5;
  query.include.embeddings = true;
  query.include.distances = true;
  auto result = col->Query(query);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ASSERT_FALSE(result->rows[0].ids.empty());
  EXPECT_EQ(result->rows[0].ids[0], "id7");
  EXPECT_EQ(result->rows[0].embeddings[0], vectors_[7]);
  EXPECT_EQ(result->distances[0][0], 0.0f);
}

// A background compaction that fails is shown in the collection's stats and retried by
// itself: once the store works again the WAL is folded without another write.
TEST_F(DurabilityTest, BackgroundFailuresAreReportedAndRetriedByThemselves) {
  auto db = Database::Open({.store = scripted_, .compaction_trigger_ops = 5});
  ASSERT_TRUE(db.ok());
  db_ = std::move(*db);
  auto col = Col();
  scripted_->SetRule([](ScriptedStore::Op op, const std::string& key) {
    return op == ScriptedStore::Op::kPut && Contains(key, "/seg/") ? ScriptedStore::Fault::kFailBefore
                                                                  : ScriptedStore::Fault::kNone;
  });
  AddRange(*col, 0, 10);  // past the trigger: the background job runs, and fails
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  VectorIndexStats stats;
  while (std::chrono::steady_clock::now() < deadline) {
    stats = *col->IndexStats();
    if (stats.background_failures > 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_GT(stats.background_failures, 0u) << "the failure is not reported";
  EXPECT_TRUE(Contains(stats.background_error, "scripted: put failed")) << stats.background_error;
  scripted_->SetRule(nullptr);
  const std::string wal = "c/" + col->id() + "/wal/";
  while (std::chrono::steady_clock::now() < deadline && (CountKeys(wal) > 0 || stats.background_failures > 0)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    stats = *col->IndexStats();
  }
  EXPECT_EQ(CountKeys(wal), 0u) << "no retry folded the WAL";
  EXPECT_EQ(stats.background_failures, 0u);
  EXPECT_EQ(stats.background_error, "");
  ExpectRange(*col, 10);
}

// Finding 1 (segments): while merges kept failing, every fold added a segment, until the
// manifest named more than its decoder accepts and the collection no longer opened.
TEST_F(DurabilityTest, SegmentsStayWithinTheManifestLimitWhenMergesFail) {
  Open();
  auto col = Col();
  scripted_->SetRule([](ScriptedStore::Op op, const std::string& key) {
    // Merges read segments back; folds never do.
    return op == ScriptedStore::Op::kGet && Contains(key, "/seg/") ? ScriptedStore::Fault::kFailBefore
                                                                   : ScriptedStore::Fault::kNone;
  });
  constexpr int kFolds = 40;
  for (int i = 0; i < kFolds; ++i) {
    AddRange(*col, i, i + 1);
    (void)col->Compact();
  }
  scripted_->SetRule(nullptr);
  Open();
  col = Col();
  ExpectRange(*col, kFolds);
  ASSERT_TRUE(col->Compact().ok());
  EXPECT_EQ(CountKeys("c/" + col->id() + "/wal/"), 0u);
}

// Finding 1 (WAL): the group limit was checked on an estimate of 32 bytes per metadata
// key, so integer arrays produced WAL objects far past it.
TEST_F(DurabilityTest, AWriteWhoseMetadataEncodesPastTheRequestLimitIsRefused) {
  Open();
  auto col = Col();
  std::vector<WriteRecord> records;
  for (int i = 0; i < 9; ++i) {
    Metadata m;
    m["values"] = std::vector<int64_t>(1000000, int64_t{1} << 40);
    records.push_back(testing::MakeRecord("id" + std::to_string(i), {1, 2, 3}, std::nullopt, std::move(m)));
  }
  Status s = col->Add(std::move(records));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_TRUE(Contains(s.message(), "MiB")) << s.message();
  EXPECT_EQ(*col->Count(), 0u);
  EXPECT_EQ(CountKeys("c/" + col->id() + "/wal/"), 0u) << "nothing was logged";
}

// Finding 1 (WAL), the group side: a group commit is checked on its encoded bytes.
// Writers whose group is too large for one WAL object commit one by one; a write too
// large alone, or a delete by filter that resolves to too many ids, is refused and
// logs nothing.
TEST_F(DurabilityTest, GroupsTooLargeForOneWalObjectAreSplitAndLargeWritesRefused) {
  constexpr uint64_t kObjectMax = 8192;
  // The test meets the writers through the clock, never by sleeping: a WAL put it holds
  // sleeps on this clock, and writers queued behind it wait on it for their turn.
  auto clock = std::make_shared<ManualClock>();
  auto db = Database::Open(
      {.store = scripted_, .wal_object_bytes_max = kObjectMax, .background_compaction = false, .clock = clock});
  ASSERT_TRUE(db.ok());
  db_ = std::move(*db);
  auto col = Col();
  const std::string wal = "c/" + col->id() + "/wal/";
  const std::string doc(2000, 'x');  // a record encodes to about 2 KB: two fit in one object, five do not

  std::vector<WriteRecord> big;
  for (int i = 0; i < 10; ++i) big.push_back(testing::MakeRecord("big" + std::to_string(i), {1, 2, 3}, doc));
  Status refused = col->Add(std::move(big));
  EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument) << refused.ToString();
  EXPECT_TRUE(Contains(refused.message(), "split")) << refused.message();
  EXPECT_EQ(CountKeys(wal), 0u);

  // Forms one group of `queued` writers: the next WAL put is held (it sleeps on the
  // clock) while they queue behind its leader, then released; their group commits next.
  constexpr auto kHold = std::chrono::seconds(1);
  std::atomic<bool> hold{false};
  scripted_->SetRule([&](ScriptedStore::Op op, const std::string& key) {
    if (op == ScriptedStore::Op::kPut && Contains(key, "/wal/") && hold.exchange(false)) clock->SleepFor(kHold);
    return ScriptedStore::Fault::kNone;
  });
  std::atomic<int> failed{0};
  int written = 0;
  auto add_one = [&] {
    const int i = written++;
    return std::thread([&, i] {
      if (!col->Add({testing::MakeRecord("w" + std::to_string(i), {float(i), 1, 0}, doc)}).ok()) ++failed;
    });
  };
  auto group_behind_a_held_put = [&](size_t queued) {
    ASSERT_EQ(clock->waiters(), 0u);
    hold = true;
    std::vector<std::thread> writers;
    writers.push_back(add_one());
    EXPECT_EQ(clock->AwaitWaiters(1).size(), 1u) << "the leader's put is not held";
    for (size_t i = 0; i < queued; ++i) writers.push_back(add_one());
    EXPECT_EQ(clock->AwaitWaiters(1 + queued).size(), 1 + queued) << "the writers did not queue";
    clock->AdvanceBy(kHold);
    for (std::thread& w : writers) w.join();
  };

  // A group that fits commits as one WAL object.
  group_behind_a_held_put(2);
  EXPECT_EQ(CountKeys(wal), 2u) << "the two queued writers were not grouped into one WAL object";
  // A group that does not fit commits writer by writer, each in an object that fits.
  group_behind_a_held_put(5);
  EXPECT_EQ(CountKeys(wal), 2u + 1 + 5) << "the group too large for one WAL object was not split writer by writer";
  scripted_->SetRule(nullptr);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(*col->Count(), uint64_t(written));
  auto objects = mem_->List(wal);
  ASSERT_TRUE(objects.ok());
  for (const ObjectInfo& o : *objects) EXPECT_LE(o.size_bytes, kObjectMax) << o.key;

  // A delete by filter over every record resolves to more ids than one object holds.
  for (int batch = 0; batch < 5; ++batch) {
    std::vector<WriteRecord> small;
    for (int i = 0; i < 100; ++i) {
      const std::string id = "small-record-" + std::to_string(100000 + batch * 100 + i);
      small.push_back(testing::MakeRecord(id, {0, 0, 1}, std::nullopt, Metadata{{"n", int64_t{1}}}));
    }
    ASSERT_TRUE(col->Add(std::move(small)).ok());
  }
  const uint64_t before = *col->Count();
  DeleteRequest all;
  all.where = testing::NBelow(2);
  auto deleted = col->Delete(all);
  EXPECT_EQ(deleted.status().code(), StatusCode::kInvalidArgument) << deleted.status().ToString();
  EXPECT_TRUE(Contains(deleted.status().message(), "add a limit")) << deleted.status().message();
  EXPECT_EQ(*col->Count(), before);
  all.limit = 100;
  deleted = col->Delete(all);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, 100u);

  Open();
  col = Col();
  EXPECT_EQ(*col->Count(), before - 100);
  GetRequest get;
  get.ids = std::vector<std::string>{"w7"};
  get.include.documents = true;
  auto got = col->Get(get);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->documents.size(), 1u);
  EXPECT_EQ(got->documents[0], doc);
}

// Finding 7: a manifest's row count sized an allocation before its segment was read.
TEST_F(DurabilityTest, AManifestRowCountTheSegmentCannotHoldIsCorruption) {
  Open();
  std::string id;
  {
    auto col = Col();
    id = col->id();
    AddRange(*col, 0, 3);
    ASSERT_TRUE(col->Compact().ok());
  }
  db_.reset();
  auto manifests = mem_->List(ManifestPrefix(id));
  ASSERT_TRUE(manifests.ok());
  ASSERT_FALSE(manifests->empty());
  auto manifest = DecodeManifest(*mem_->Get(manifests->back().key));
  ASSERT_TRUE(manifest.ok());
  ASSERT_EQ(manifest->segments.size(), 1u);
  manifest->segments[0].rows = uint64_t{1} << 40;
  manifest->version += 1;
  ASSERT_TRUE(mem_->Put(ManifestKey(id, manifest->version), *EncodeManifest(*manifest), PutMode::kCreateOnly).ok());
  Open();
  auto col = db_->CreateCollection(kT, kD, {.name = "docs", .get_or_create = true});
  ASSERT_FALSE(col.ok());
  EXPECT_TRUE(col.status().IsCorruption()) << col.status().ToString();
}

}  // namespace
}  // namespace fathom
