// Recovery's checks of what the store holds (CollectionImpl::Recover and its steps): a
// manifest or WAL object that is not where its bytes say it belongs is Corruption, and
// the failed open deletes nothing.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "fathom/db.h"
#include "io/mem_store.h"
#include "storage/manifest.h"
#include "test_util.h"
#include "wal/wal_format.h"

namespace fathom {
namespace {

using testing::MakeRecord;

class CollectionRecoverTest : public ::testing::Test {
 protected:
  // A collection with three WAL objects (sequences 1 to 3), then closed.
  void SetUp() override {
    auto db = Open();
    auto col = db->CreateCollection(Database::kDefaultTenant, Database::kDefaultDatabase, {.name = "col"});
    ASSERT_TRUE(col.ok()) << col.status().ToString();
    id_ = (*col)->id();
    for (const char* record : {"a", "b", "c"}) ASSERT_TRUE((*col)->Add({MakeRecord(record, {1, 2})}).ok());
  }
  std::unique_ptr<Database> Open() {
    auto db = Database::Open({.store = store_, .background_compaction = false});
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    return db.ok() ? std::move(*db) : nullptr;
  }
  // Opens the collection in a new database over the store: its status, and the store
  // unchanged by the attempt.
  Status OpenCollection() {
    const std::map<std::string, std::string> before = store_->Snapshot();
    auto db = Open();
    auto col = db->GetCollection(Database::kDefaultTenant, Database::kDefaultDatabase, "col");
    db.reset();
    EXPECT_EQ(store_->Snapshot(), before) << "a failed open changed the store";
    return col.status();
  }

  std::shared_ptr<MemStore> store_ = std::make_shared<MemStore>();
  std::string id_;
};

TEST_F(CollectionRecoverTest, TheUntouchedStoreOpens) {
  const Status s = OpenCollection();
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST_F(CollectionRecoverTest, AGapInTheWalIsCorruption) {
  ASSERT_TRUE(store_->Delete(WalKey(id_, 2)).ok());
  const Status s = OpenCollection();
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find("WAL gap"), std::string::npos) << s.ToString();
}

TEST_F(CollectionRecoverTest, AWalObjectHoldingAnotherSequenceIsCorruption) {
  // Sequence 3's object under key 2, and under its own key: each is intact on its own.
  store_->Set(WalKey(id_, 2), store_->Snapshot().at(WalKey(id_, 3)));
  const Status s = OpenCollection();
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find("another sequence number"), std::string::npos) << s.ToString();
}

TEST_F(CollectionRecoverTest, AnObjectOfAnotherNameAmongTheWalIsCorruption) {
  store_->Set(WalPrefix(id_) + "stray", "x");
  const Status s = OpenCollection();
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find("unexpected object"), std::string::npos) << s.ToString();
}

TEST_F(CollectionRecoverTest, AManifestUnderTheKeyOfAnotherVersionIsCorruption) {
  {
    auto db = Open();
    ASSERT_TRUE(db->CompactAll().ok());
  }
  // Version 1's bytes as version 2: the newest key names a manifest it does not hold.
  store_->Set(ManifestKey(id_, 2), store_->Snapshot().at(ManifestKey(id_, 1)));
  const Status s = OpenCollection();
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find("holds manifest version 1"), std::string::npos) << s.ToString();
}

}  // namespace
}  // namespace fathom
