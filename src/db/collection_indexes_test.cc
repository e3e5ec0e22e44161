// CollectionIndexes, the coordinator's loops over a collection's derived indexes, driven
// with fake indexes that record every call: the order of the life cycle across open,
// write, fold and reopen, which indexes a fold persists, and that one index's failed
// persist or load never touches another's manifest reference. Then the same through a
// collection with its real indexes (the vector index and the text index object).
#include "db/collection_indexes.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "fathom/db.h"
#include "io/forwarding_store.h"
#include "io/mem_store.h"
#include "storage/manifest.h"
#include "test_util.h"

namespace fathom {
namespace {

using Log = std::vector<std::string>;

const PersistedIndexKind kFirstKind = {"first index", &Manifest::vector_index, &VectorIndexPrefix, &VectorIndexKey};
const PersistedIndexKind kSecondKind = {"second index", &Manifest::text_index, &TextIndexPrefix, &TextIndexKey};

class FakeSnapshot final : public IndexSnapshot {
 public:
  FakeSnapshot(std::string name, Log* log, std::string bytes, bool fail)
      : name_(std::move(name)), log_(log), bytes_(std::move(bytes)), fail_(fail) {}
  uint64_t rows() const override { return bytes_.size(); }
  Result<std::string> Encode() override {
    log_->push_back(name_ + ".Encode");
    if (fail_) return Status::IOError(name_ + ": encode failed");
    return bytes_;
  }

 private:
  std::string name_;
  Log* log_;
  std::string bytes_;
  bool fail_;
};

// A persisted (and, when asked, background) index whose content is a string.
class FakeIndex final : public PersistedIndex, public BackgroundIndex {
 public:
  FakeIndex(const PersistedIndexKind& kind, std::string name, Log* log)
      : kind_(kind), name_(std::move(name)), log_(log) {}

  std::string content;        // what a snapshot holds ("" = nothing to persist)
  std::string loaded;         // the bytes LoadObject took
  bool stale = false;         // ObjectStale's answer
  bool refuse_load = false;   // LoadObject answers Corruption
  bool fail_encode = false;   // the snapshot's Encode fails
  bool maintenance_due = false;

  const PersistedIndexKind& kind() const override { return kind_; }
  const char* name() const override { return name_.c_str(); }
  void Reset() override { Record("Reset"); }
  Status LoadObject(RecordTable&, const std::string&, std::string bytes) override {
    Record("LoadObject(" + bytes + ")");
    if (refuse_load) return Status::Corruption("refused");
    loaded = std::move(bytes);
    return Status::Ok();
  }
  void ForgetObject() override { Record("ForgetObject"); }
  bool ObjectStale(const RecordTable&) const override { return stale; }
  std::unique_ptr<IndexSnapshot> SnapshotObject(const RecordTable&) override {
    Record("SnapshotObject");
    if (content.empty()) return nullptr;
    return std::make_unique<FakeSnapshot>(name_, log_, content, fail_encode);
  }
  void ObjectCommitted(bool written) override { Record(std::string("ObjectCommitted(") + (written ? "1" : "0") + ")"); }

  void Absorb(RecordTable&, const std::vector<uint32_t>& renumbered) override {
    Record("Absorb(" + std::to_string(renumbered.size()) + ")");
  }
  bool InstallTask(const RecordTable&, std::unique_ptr<IndexTask>) override { return true; }
  void Abandon() override {}
  bool NeedsMaintenance(const RecordTable&, bool) const override { return maintenance_due; }
  std::unique_ptr<IndexTask> PlanTask(const RecordTable&, bool) override { return nullptr; }

 private:
  void Record(const std::string& call) { log_->push_back(name_ + "." + call); }

  const PersistedIndexKind& kind_;
  std::string name_;
  Log* log_;
};

// Fails every Get with an I/O error.
class ReadFailingStore : public ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  Result<std::string> Get(const std::string& key, std::optional<ByteRange>) override {
    return Status::IOError("read of " + key + " failed");
  }
};

class CollectionIndexesTest : public ::testing::Test {
 protected:
  const std::string id_ = "0f8fad5b-d9cb-469f-a165-70867728950e";
  std::shared_ptr<MemStore> store_ = std::make_shared<MemStore>();
  RecordTable table_;
  Log log_;
  FakeIndex first_{kFirstKind, "first", &log_};
  FakeIndex second_{kSecondKind, "second", &log_};
  CollectionIndexes indexes_{{&first_, &second_}, {&first_}};

  // A fold as CollectionImpl::FoldTail runs it; returns the manifest it commits.
  Manifest Fold(const Manifest& current, bool rows_changed) {
    Manifest next = current;
    CollectionIndexes::Snapshots snapshots = indexes_.TakeSnapshots(table_, rows_changed);
    indexes_.WriteObjects(*store_, id_, &snapshots, &next);
    indexes_.Committed(snapshots, next);
    return next;
  }

  std::string Object(const PersistedIndexKind& kind, const Manifest& manifest) {
    const auto& ref = manifest.*kind.ref;
    if (!ref) return "(none)";
    auto bytes = static_cast<ObjectStore&>(*store_).Get(kind.key(id_, ref->id));
    return bytes.ok() ? *bytes : bytes.status().ToString();
  }
};

TEST_F(CollectionIndexesTest, LifeCycleAcrossOpenWriteFoldAndReopen) {
  // Open with no manifest, one applied WAL group, a fold.
  indexes_.Reset();
  ASSERT_TRUE(indexes_.Load(*store_, id_, Manifest(), table_).ok());
  indexes_.Absorb(table_, {});
  indexes_.Absorb(table_, {7, RecordTable::kNoSlot});
  first_.content = "first v1";
  second_.content = "second v1";
  const Manifest folded = Fold(Manifest(), /*rows_changed=*/true);
  EXPECT_EQ(Object(kFirstKind, folded), "first v1");
  EXPECT_EQ(Object(kSecondKind, folded), "second v1");
  EXPECT_EQ(folded.vector_index->rows, 8u);
  EXPECT_EQ(folded.vector_index->size_bytes, 8u);
  EXPECT_EQ(log_, (Log{"first.Reset", "second.Reset", "first.Absorb(0)", "first.Absorb(2)", "first.SnapshotObject",
                       "second.SnapshotObject", "first.Encode", "second.Encode", "first.ObjectCommitted(1)",
                       "second.ObjectCommitted(1)"}));

  // Reopen: each index gets its own object, before the table's changes are absorbed.
  log_.clear();
  indexes_.Reset();
  ASSERT_TRUE(indexes_.Load(*store_, id_, folded, table_).ok());
  indexes_.Absorb(table_, {});
  EXPECT_EQ(first_.loaded, "first v1");
  EXPECT_EQ(second_.loaded, "second v1");
  EXPECT_EQ(log_, (Log{"first.Reset", "second.Reset", "first.LoadObject(first v1)", "second.LoadObject(second v1)",
                       "first.Absorb(0)"}));
}

TEST_F(CollectionIndexesTest, FoldPersistsOnlyIndexesDue) {
  first_.content = "first v1";
  second_.content = "second v1";
  const Manifest v1 = Fold(Manifest(), true);
  EXPECT_FALSE(indexes_.AnyObjectStale(table_));

  // No new rows and nothing stale: no snapshot, the references stay.
  log_.clear();
  Manifest v2 = Fold(v1, /*rows_changed=*/false);
  EXPECT_TRUE(log_.empty());
  EXPECT_EQ(v2.vector_index->id, v1.vector_index->id);
  EXPECT_EQ(v2.text_index->id, v1.text_index->id);

  // No new rows, one index stale: only it is written again.
  second_.stale = true;
  second_.content = "second v2";
  EXPECT_TRUE(indexes_.AnyObjectStale(table_));
  log_.clear();
  v2 = Fold(v1, false);
  EXPECT_EQ(log_, (Log{"second.SnapshotObject", "second.Encode", "second.ObjectCommitted(1)"}));
  EXPECT_EQ(v2.vector_index->id, v1.vector_index->id);
  EXPECT_EQ(Object(kSecondKind, v2), "second v2");

  // An index with nothing to persist leaves no reference, and that is its object.
  first_.content.clear();
  log_.clear();
  const Manifest v3 = Fold(v2, true);
  EXPECT_FALSE(v3.vector_index.has_value());
  EXPECT_EQ(log_[0], "first.SnapshotObject");
  EXPECT_NE(std::find(log_.begin(), log_.end(), "first.ObjectCommitted(1)"), log_.end());
}

TEST_F(CollectionIndexesTest, FailedPersistOfOneLeavesTheOthersReference) {
  first_.content = "first v1";
  second_.content = "second v1";
  const Manifest v1 = Fold(Manifest(), true);

  // Only the second is due and its encoding fails: the first keeps its reference, the
  // second names no object (its old one described another state) and knows it.
  second_.stale = true;
  second_.fail_encode = true;
  log_.clear();
  const Manifest v2 = Fold(v1, /*rows_changed=*/false);
  ASSERT_TRUE(v2.vector_index.has_value());
  EXPECT_EQ(v2.vector_index->id, v1.vector_index->id);
  EXPECT_EQ(Object(kFirstKind, v2), "first v1");
  EXPECT_FALSE(v2.text_index.has_value());
  EXPECT_EQ(log_.back(), "second.ObjectCommitted(0)");

  // New rows, the first fails: the second's new object is named all the same.
  second_.fail_encode = false;
  second_.content = "second v3";
  first_.fail_encode = true;
  log_.clear();
  const Manifest v3 = Fold(v2, true);
  EXPECT_FALSE(v3.vector_index.has_value());
  EXPECT_EQ(Object(kSecondKind, v3), "second v3");
  EXPECT_EQ(log_, (Log{"first.SnapshotObject", "second.SnapshotObject", "first.Encode", "second.Encode",
                       "first.ObjectCommitted(0)", "second.ObjectCommitted(1)"}));
}

TEST_F(CollectionIndexesTest, LoadIgnoresMissingOrRefusedObjectsAndFailsOnReadErrors) {
  first_.content = "first v1";
  second_.content = "second v1";
  const Manifest v1 = Fold(Manifest(), true);

  // Missing object: forgotten, the other still loads.
  ASSERT_TRUE(store_->Delete(VectorIndexKey(id_, v1.vector_index->id)).ok());
  log_.clear();
  ASSERT_TRUE(indexes_.Load(*store_, id_, v1, table_).ok());
  EXPECT_EQ(log_, (Log{"first.ForgetObject", "second.LoadObject(second v1)"}));

  // Refused bytes: the same.
  second_.refuse_load = true;
  log_.clear();
  ASSERT_TRUE(indexes_.Load(*store_, id_, v1, table_).ok());
  EXPECT_EQ(log_, (Log{"first.ForgetObject", "second.LoadObject(second v1)", "second.ForgetObject"}));

  // A failed read fails the open (a retry repeats it), telling no index anything.
  ReadFailingStore failing(store_);
  log_.clear();
  EXPECT_EQ(indexes_.Load(failing, id_, v1, table_).code(), StatusCode::kIOError);
  EXPECT_TRUE(log_.empty());
}

TEST_F(CollectionIndexesTest, ListObsoleteKeepsWhatTheManifestNames) {
  first_.content = "first v1";
  second_.content = "second v1";
  const Manifest v1 = Fold(Manifest(), true);
  first_.content = "first v2";
  const Manifest v2 = Fold(v1, true);
  std::vector<std::string> obsolete;
  indexes_.ListObsolete(*store_, id_, v2, &obsolete);
  std::sort(obsolete.begin(), obsolete.end());
  std::vector<std::string> expected = {VectorIndexKey(id_, v1.vector_index->id),
                                       TextIndexKey(id_, v1.text_index->id)};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(obsolete, expected);
}

TEST_F(CollectionIndexesTest, MaintenanceDueWhenAnyBackgroundIndexIs) {
  EXPECT_FALSE(indexes_.NeedsMaintenance(table_));
  first_.maintenance_due = true;
  EXPECT_TRUE(indexes_.NeedsMaintenance(table_));
  // The second is not a background index: its answer is never asked.
  first_.maintenance_due = false;
  second_.maintenance_due = true;
  EXPECT_FALSE(indexes_.NeedsMaintenance(table_));
}

// Refuses every Put of a vector index object while `failing`.
class VectorIndexFailingStore : public ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  bool failing = true;
  Status Put(const std::string& key, std::string_view bytes, PutMode mode) override {
    if (failing && key.find("/vidx/") != std::string::npos) return Status::IOError("refused: " + key);
    return ForwardingStore::Put(key, bytes, mode);
  }
};

Manifest CurrentManifest(ObjectStore& store, const std::string& collection_id) {
  auto manifests = store.List(ManifestPrefix(collection_id));
  EXPECT_TRUE(manifests.ok() && !manifests->empty());
  if (!manifests.ok() || manifests->empty()) return Manifest();
  auto bytes = store.Get(manifests->back().key);
  EXPECT_TRUE(bytes.ok());
  auto manifest = DecodeManifest(bytes.ok() ? *bytes : std::string());
  EXPECT_TRUE(manifest.ok());
  return manifest.ok() ? *manifest : Manifest();
}

TEST(CollectionIndexObjectsTest, AFailedVectorIndexObjectLeavesTheTextIndexAndIsWrittenByTheNextFold) {
  auto base = std::make_shared<MemStore>();
  auto store = std::make_shared<VectorIndexFailingStore>(base);
  auto db = Database::Open({.store = store, .vector_index_min_rows = 64, .background_compaction = false});
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto col = (*db)->CreateCollection(Database::kDefaultTenant, Database::kDefaultDatabase, {.name = "col"});
  ASSERT_TRUE(col.ok()) << col.status().ToString();
  std::vector<WriteRecord> records;
  for (int i = 0; i < 200; ++i) {
    const float x = static_cast<float>(i);
    records.push_back(testing::MakeRecord("r" + std::to_string(i), {x, x * 0.5f, 1.0f - x, 2.0f},
                                          "document number " + std::to_string(i % 7)));
  }
  ASSERT_TRUE((*col)->Add(records).ok());
  ASSERT_TRUE((*col)->Compact().ok());
  ASSERT_TRUE((*col)->IndexStats()->active);
  const Manifest first = CurrentManifest(*base, (*col)->id());
  EXPECT_FALSE(first.vector_index.has_value());
  ASSERT_TRUE(first.text_index.has_value());

  // No new rows: the next fold writes the vector index object the last one could not,
  // and keeps the text index object the manifest names.
  store->failing = false;
  ASSERT_TRUE((*col)->Compact().ok());
  const Manifest second = CurrentManifest(*base, (*col)->id());
  EXPECT_EQ(second.version, first.version + 1);
  ASSERT_TRUE(second.vector_index.has_value());
  ASSERT_TRUE(second.text_index.has_value());
  EXPECT_EQ(second.text_index->id, first.text_index->id);

  // Nothing stale any more: a fold has nothing to record.
  ASSERT_TRUE((*col)->Compact().ok());
  EXPECT_EQ(CurrentManifest(*base, (*col)->id()).version, second.version);
}

}  // namespace
}  // namespace fathom
