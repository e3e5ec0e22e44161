// LocalStore on a FaultFileSystem: what an acknowledged Put leaves after a crash, and how
// file system errors are reported. Each test names the fsync it depends on
// (docs/design/local-store-faults.md has the table).
#include <gtest/gtest.h>

#include <filesystem>

#include "io/fault_file_system.h"
#include "io/local_store.h"
#include "test_util.h"

namespace fathom {
namespace {

class LocalStoreFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = std::filesystem::canonical(dir_.path()).string();
    fs_ = std::make_shared<FaultFileSystem>(PosixFileSystem::Default(), base_ + "/scratch",
                                            FaultFileSystemOptions{});
    root_ = base_ + "/data";
    // A durable, existing data directory, so these tests do not depend on Open's own
    // directory creation (tested separately below).
    ASSERT_EQ(fs_->MakeDirectory(root_), 0);
    ASSERT_EQ(fs_->SyncDirectory(base_), 0);
  }
  std::unique_ptr<LocalStore> Open(const std::string& root) {
    auto store = LocalStore::Open(root, fs_);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(*store) : nullptr;
  }
  // Crashes and reopens: the store a restarted process would see.
  std::unique_ptr<LocalStore> CrashAndReopen(std::unique_ptr<LocalStore>* store, const std::string& root) {
    store->reset();
    Status s = fs_->SimulateCrash();
    EXPECT_TRUE(s.ok()) << s.ToString();
    return Open(root);
  }
  std::string GetOrStatus(LocalStore& store, const std::string& key) {
    auto got = store.Get(key, std::nullopt);
    return got.ok() ? *got : got.status().ToString();
  }

  testing::TempDir dir_;
  std::string base_;
  std::string root_;
  std::shared_ptr<FaultFileSystem> fs_;
};

// Depends on the fsync of the temporary file's data before link().
TEST_F(LocalStoreFaultTest, AcknowledgedPutDataSurvivesCrash) {
  auto store = Open(root_);
  ASSERT_TRUE(store->Put("k", "the bytes of k", PutMode::kCreateOnly).ok());
  store = CrashAndReopen(&store, root_);
  EXPECT_EQ(GetOrStatus(*store, "k"), "the bytes of k");
}

// Depends on the fsync of the object's directory after link() / rename().
TEST_F(LocalStoreFaultTest, AcknowledgedPutNameSurvivesCrash) {
  auto store = Open(root_);
  ASSERT_TRUE(store->Put("a/k", "first", PutMode::kCreateOnly).ok());
  store = CrashAndReopen(&store, root_);
  ASSERT_TRUE(store->Put("a/k2", "second", PutMode::kCreateOnly).ok());
  ASSERT_TRUE(store->Put("a/k", "overwritten", PutMode::kOverwrite).ok());
  store = CrashAndReopen(&store, root_);
  EXPECT_EQ(GetOrStatus(*store, "a/k"), "overwritten");
  EXPECT_EQ(GetOrStatus(*store, "a/k2"), "second");
  EXPECT_EQ(store->List("", "", 0)->size(), 2u);  // no temporary file shows
}

// Depends on MakeParents fsyncing the parent of each directory it creates.
TEST_F(LocalStoreFaultTest, AcknowledgedPutParentsSurviveCrash) {
  auto store = Open(root_);
  ASSERT_TRUE(store->Put("c/x/wal/1", "deep", PutMode::kCreateOnly).ok());
  store = CrashAndReopen(&store, root_);
  EXPECT_EQ(GetOrStatus(*store, "c/x/wal/1"), "deep");
}

// Unacknowledged Puts leave nothing a reader could mistake for an object: after a crash at
// any point of a Put, the key is whole or absent and no temporary file is listed.
TEST_F(LocalStoreFaultTest, CrashMidPutLeavesWholeObjectOrNothing) {
  uint64_t ops = 0;
  for (; ops < 40; ++ops) {
    SCOPED_TRACE("crash after " + std::to_string(ops) + " mutating operations");
    const std::string key = "c/y/k" + std::to_string(ops);
    auto store = Open(root_);
    fs_->CrashAfterOps(ops);
    Status s = store->Put(key, "payload", PutMode::kCreateOnly);
    store = CrashAndReopen(&store, root_);
    if (s.ok()) {
      EXPECT_EQ(GetOrStatus(*store, key), "payload");
      break;
    }
    auto listed = store->List("", "", 0);
    ASSERT_TRUE(listed.ok());
    for (const ObjectInfo& o : *listed) EXPECT_EQ(GetOrStatus(*store, o.key), "payload") << o.key;
  }
  EXPECT_GT(ops, 5u) << "a Put should span several file system operations";
}

TEST_F(LocalStoreFaultTest, FullDeviceIsStorageFullAndNamesTheDirectory) {
  auto store = Open(root_);
  fs_->SetOptions({.size_cap_root = root_, .size_cap_bytes = 100});
  ASSERT_TRUE(store->Put("small", std::string(60, 'x'), PutMode::kCreateOnly).ok());
  Status s = store->Put("large", std::string(60, 'y'), PutMode::kCreateOnly);
  EXPECT_EQ(s.code(), StatusCode::kStorageFull) << s.ToString();
  EXPECT_NE(s.message().find(root_), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("free space"), std::string::npos) << s.ToString();
  EXPECT_EQ(store->List("", "", 0)->size(), 1u);  // the temporary file is gone
  // Space freed: writes go on.
  ASSERT_TRUE(store->Delete("small").ok());
  EXPECT_TRUE(store->Put("large", std::string(60, 'y'), PutMode::kCreateOnly).ok());
  // EDQUOT is the same condition.
  fs_->FailNext(FsOp::kWrite, "", EDQUOT);
  EXPECT_EQ(store->Put("quota", "q", PutMode::kCreateOnly).code(), StatusCode::kStorageFull);
}

TEST_F(LocalStoreFaultTest, ReadOnlyFileSystemIsUnavailable) {
  auto store = Open(root_);
  ASSERT_TRUE(store->Put("a/k", "v", PutMode::kCreateOnly).ok());
  fs_->SetOptions({.read_only = true});
  for (const char* key : {"a/k2", "b/k"}) {
    Status s = store->Put(key, "v", PutMode::kCreateOnly);
    EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
    EXPECT_NE(s.message().find("read-only"), std::string::npos) << s.ToString();
    EXPECT_NE(s.message().find(root_), std::string::npos) << s.ToString();
  }
  EXPECT_EQ(store->Delete("a/k").code(), StatusCode::kUnavailable);
  EXPECT_EQ(GetOrStatus(*store, "a/k"), "v");  // reads still work
  EXPECT_EQ(LocalStore::Open(root_, fs_).status().code(), StatusCode::kUnavailable);
}

// EACCES and EPERM (a directory the process's user may not write, say after a restore as
// another user) name the data directory and say what to do, rather than a bare IOError.
TEST_F(LocalStoreFaultTest, RefusedAccessIsPermissionDeniedAndNamesTheDirectory) {
  auto store = Open(root_);
  ASSERT_TRUE(store->Put("a/k", "v", PutMode::kCreateOnly).ok());
  for (int err : {EACCES, EPERM}) {
    fs_->FailNext(FsOp::kCreate, "", err);
    Status s = store->Put("a/k2", "v", PutMode::kCreateOnly);
    EXPECT_EQ(s.code(), StatusCode::kPermissionDenied) << s.ToString();
    EXPECT_NE(s.message().find(root_), std::string::npos) << s.ToString();
    EXPECT_NE(s.message().find("read/write access"), std::string::npos) << s.ToString();
  }
  fs_->FailNext(FsOp::kUnlink, "", EACCES);
  EXPECT_EQ(store->Delete("a/k").code(), StatusCode::kPermissionDenied);
  fs_->FailNext(FsOp::kOpenForRead, "", EACCES);
  EXPECT_EQ(store->Get("a/k", std::nullopt).status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(GetOrStatus(*store, "a/k"), "v");  // nothing changed
  // At open: a data directory that cannot be created.
  fs_->FailNext(FsOp::kMakeDirectory, "", EACCES);
  Status opened = LocalStore::Open(root_ + "/sub", fs_).status();
  EXPECT_EQ(opened.code(), StatusCode::kPermissionDenied) << opened.ToString();
  EXPECT_NE(opened.message().find(root_ + "/sub"), std::string::npos) << opened.ToString();
}

TEST_F(LocalStoreFaultTest, FailedFsyncIsIOErrorAndLeavesNoObject) {
  auto store = Open(root_);
  fs_->FailNext(FsOp::kSync, "", EIO);
  Status s = store->Put("k", "v", PutMode::kCreateOnly);
  EXPECT_EQ(s.code(), StatusCode::kIOError) << s.ToString();
  EXPECT_TRUE(store->Get("k", std::nullopt).status().IsNotFound());
  EXPECT_TRUE(store->List("", "", 0)->empty());
}

TEST_F(LocalStoreFaultTest, ReadErrorsComeThroughTheFileSystem) {
  auto store = Open(root_);
  ASSERT_TRUE(store->Put("k", "v", PutMode::kCreateOnly).ok());
  EXPECT_FALSE(store->LocalPath("k").has_value());  // readers may not bypass the seam
  fs_->FailNext(FsOp::kRead, "", EIO);
  EXPECT_EQ(store->Get("k", std::nullopt).status().code(), StatusCode::kIOError);
  EXPECT_EQ(GetOrStatus(*store, "k"), "v");
}

// Finding 5 ("visible is treated as durable"). A create-only Put whose directory fsync
// failed leaves the object visible but not durable. The caller's retry gets AlreadyExists
// and treats the write as committed, so that answer must first make the name durable.
TEST_F(LocalStoreFaultTest, AlreadyExistsAnswerIsDurable) {
  auto store = Open(root_);
  ASSERT_TRUE(store->Put("c/x/wal/1", "one", PutMode::kCreateOnly).ok());
  fs_->FailNext(FsOp::kSyncDirectory, root_ + "/c/x/wal", EIO);
  EXPECT_EQ(store->Put("c/x/wal/2", "two", PutMode::kCreateOnly).code(), StatusCode::kIOError);
  EXPECT_EQ(GetOrStatus(*store, "c/x/wal/2"), "two");  // visible, not durable
  EXPECT_TRUE(store->Put("c/x/wal/2", "two", PutMode::kCreateOnly).IsAlreadyExists());
  store = CrashAndReopen(&store, root_);
  EXPECT_EQ(GetOrStatus(*store, "c/x/wal/2"), "two");
}

// If the directory fsync fails on the AlreadyExists path too, the answer is the error:
// nothing durable can be promised.
TEST_F(LocalStoreFaultTest, AlreadyExistsWithFailedDirectorySyncIsAnError) {
  auto store = Open(root_);
  fs_->FailNext(FsOp::kSyncDirectory, root_, EIO, 2);
  EXPECT_EQ(store->Put("k", "v", PutMode::kCreateOnly).code(), StatusCode::kIOError);
  EXPECT_EQ(store->Put("k", "v", PutMode::kCreateOnly).code(), StatusCode::kIOError);
  EXPECT_TRUE(store->Put("k", "v", PutMode::kCreateOnly).IsAlreadyExists());
}

// A directory left by a Put whose parent fsync failed exists but is not durable; the next
// Put through it must not skip the fsync because mkdir says EEXIST.
TEST_F(LocalStoreFaultTest, ExistingButUnsyncedDirectoryIsMadeDurable) {
  auto store = Open(root_);
  fs_->FailNext(FsOp::kSyncDirectory, root_, EIO);
  EXPECT_EQ(store->Put("c/y/k", "v", PutMode::kCreateOnly).code(), StatusCode::kIOError);
  ASSERT_TRUE(store->Put("c/y/k2", "v2", PutMode::kCreateOnly).ok());
  store = CrashAndReopen(&store, root_);
  EXPECT_EQ(GetOrStatus(*store, "c/y/k2"), "v2");
}

// Known-durable directories are remembered only after a successful fsync, and forgotten
// when Delete removes them: a directory recreated after a Delete is not durable because
// its earlier self was.
TEST_F(LocalStoreFaultTest, DurableDirectoriesAreRememberedOnlyWhileTheyExist) {
  auto store = Open(root_);
  ASSERT_TRUE(store->Put("c/z/k", "v", PutMode::kCreateOnly).ok());
  const uint64_t syncs = fs_->count(FsOp::kSyncDirectory);
  ASSERT_TRUE(store->Put("c/z/k2", "v", PutMode::kCreateOnly).ok());
  EXPECT_EQ(fs_->count(FsOp::kSyncDirectory), syncs + 1) << "only the object's own directory";
  ASSERT_TRUE(store->Delete("c/z/k").ok());
  ASSERT_TRUE(store->Delete("c/z/k2").ok());  // removes c/z and c
  fs_->FailNext(FsOp::kSyncDirectory, root_ + "/c", EIO);
  EXPECT_EQ(store->Put("c/z/k3", "v3", PutMode::kCreateOnly).code(), StatusCode::kIOError);
  ASSERT_TRUE(store->Put("c/z/k4", "v4", PutMode::kCreateOnly).ok());
  store = CrashAndReopen(&store, root_);
  EXPECT_EQ(GetOrStatus(*store, "c/z/k4"), "v4");
}

// A data directory Open creates (with missing parents) must itself survive a crash, or
// every object in it goes with it. The same for DirectoryLock::Acquire.
TEST_F(LocalStoreFaultTest, FreshDataDirectorySurvivesCrash) {
  const std::string root = base_ + "/fresh/nested/data";
  auto store = Open(root);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Put("k", "v", PutMode::kCreateOnly).ok());
  store = CrashAndReopen(&store, root);
  EXPECT_EQ(GetOrStatus(*store, "k"), "v");

  const std::string locked = base_ + "/locked/data";
  auto lock = DirectoryLock::Acquire(locked, *fs_);
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  lock->reset();
  ASSERT_TRUE(fs_->SimulateCrash().ok());
  EXPECT_TRUE(std::filesystem::is_directory(locked));
}

// An earlier Open that created the data directory but failed before its parent fsync
// leaves a directory that exists without being durable: the next Open makes it durable.
TEST_F(LocalStoreFaultTest, ExistingButUnsyncedDataDirectoryIsMadeDurable) {
  const std::string root = base_ + "/again";
  fs_->FailNext(FsOp::kSyncDirectory, base_, EIO);
  EXPECT_FALSE(LocalStore::Open(root, fs_).ok());
  ASSERT_TRUE(std::filesystem::is_directory(root));
  auto store = Open(root);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Put("k", "v", PutMode::kCreateOnly).ok());
  store = CrashAndReopen(&store, root);
  EXPECT_EQ(GetOrStatus(*store, "k"), "v");
}

}  // namespace
}  // namespace fathom
