// FaultFileSystem on its own: what a simulated crash keeps and drops, and the injected
// errors. LocalStore on top of it: local_store_fault_test.cc.
#include "io/fault_file_system.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "test_util.h"

namespace fathom {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool Exists(const std::string& path) { return std::filesystem::exists(path); }

class FaultFileSystemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = std::filesystem::canonical(dir_.path()).string();
    fs_ = std::make_unique<FaultFileSystem>(PosixFileSystem::Default(), base_ + "/scratch", FaultFileSystemOptions{});
  }
  // Creates `path` with `synced` fsynced and `unsynced` appended after.
  void WriteFile(const std::string& path, const std::string& synced, const std::string& unsynced = "") {
    std::unique_ptr<File> f;
    ASSERT_EQ(fs_->CreateNew(path, &f), 0);
    ASSERT_EQ(f->Write(synced), 0);
    ASSERT_EQ(f->Sync(), 0);
    if (!unsynced.empty()) {
      ASSERT_EQ(f->Write(unsynced), 0);
    }
    ASSERT_EQ(f->Close(), 0);
  }

  testing::TempDir dir_;
  std::string base_;
  std::unique_ptr<FaultFileSystem> fs_;
};

TEST_F(FaultFileSystemTest, CrashDropsUnsyncedDataAndEntries) {
  const std::string d = base_ + "/d";
  ASSERT_EQ(fs_->MakeDirectory(d), 0);
  ASSERT_EQ(fs_->SyncDirectory(base_), 0);
  WriteFile(d + "/a", "hello", " world");
  ASSERT_EQ(fs_->SyncDirectory(d), 0);
  WriteFile(d + "/b", "synced data, unsynced name");
  ASSERT_EQ(fs_->MakeDirectory(d + "/e"), 0);
  WriteFile(d + "/e/c", "in a directory whose own name is not durable");
  ASSERT_EQ(fs_->SyncDirectory(d + "/e"), 0);
  EXPECT_EQ(ReadFile(d + "/a"), "hello world");
  EXPECT_GT(fs_->pending_entries(), 0u);

  ASSERT_TRUE(fs_->SimulateCrash().ok());
  EXPECT_EQ(ReadFile(d + "/a"), "hello");
  EXPECT_FALSE(Exists(d + "/b"));
  EXPECT_FALSE(Exists(d + "/e"));
  EXPECT_EQ(fs_->pending_entries(), 0u);
}

TEST_F(FaultFileSystemTest, CrashUndoesUnsyncedUnlinkRenameAndLink) {
  WriteFile(base_ + "/a", "old a");
  WriteFile(base_ + "/gone", "to be unlinked");
  ASSERT_EQ(fs_->SyncDirectory(base_), 0);
  WriteFile(base_ + "/x", "new a");
  ASSERT_EQ(fs_->Rename(base_ + "/x", base_ + "/a"), 0);
  ASSERT_EQ(fs_->Unlink(base_ + "/gone"), 0);
  ASSERT_EQ(fs_->Link(base_ + "/a", base_ + "/alias"), 0);
  ASSERT_EQ(ReadFile(base_ + "/a"), "new a");

  ASSERT_TRUE(fs_->SimulateCrash().ok());
  EXPECT_EQ(ReadFile(base_ + "/a"), "old a");
  EXPECT_EQ(ReadFile(base_ + "/gone"), "to be unlinked");
  EXPECT_FALSE(Exists(base_ + "/alias"));
  EXPECT_FALSE(Exists(base_ + "/x"));  // its creation was never durable either

  // Once the directory is fsynced, the same changes survive.
  WriteFile(base_ + "/x", "new a");
  ASSERT_EQ(fs_->Rename(base_ + "/x", base_ + "/a"), 0);
  ASSERT_EQ(fs_->Unlink(base_ + "/gone"), 0);
  ASSERT_EQ(fs_->SyncDirectory(base_), 0);
  ASSERT_TRUE(fs_->SimulateCrash().ok());
  EXPECT_EQ(ReadFile(base_ + "/a"), "new a");
  EXPECT_FALSE(Exists(base_ + "/gone"));
}

TEST_F(FaultFileSystemTest, TornTailKeepsAPrefixOfTheUnsyncedBytes) {
  uint64_t seed = testing::SeedForTest("FaultFileSystemTest.TornTailKeepsAPrefixOfTheUnsyncedBytes");
  fs_->SetOptions({.seed = seed, .torn_unsynced_tail = true});
  WriteFile(base_ + "/f", "synced|", "0123456789");
  ASSERT_EQ(fs_->SyncDirectory(base_), 0);
  ASSERT_TRUE(fs_->SimulateCrash().ok());
  std::string got = ReadFile(base_ + "/f");
  EXPECT_EQ(got, std::string("synced|0123456789").substr(0, got.size()));
  EXPECT_GE(got.size(), 7u);
}

TEST_F(FaultFileSystemTest, InjectedErrors) {
  // Explicit trigger: once, on one path, without effect.
  fs_->FailNext(FsOp::kMakeDirectory, base_ + "/d", EIO);
  EXPECT_EQ(fs_->MakeDirectory(base_ + "/d"), EIO);
  EXPECT_FALSE(Exists(base_ + "/d"));
  EXPECT_EQ(fs_->MakeDirectory(base_ + "/d"), 0);

  // Read-only: every mutation is EROFS, mkdir of an existing name EEXIST.
  fs_->SetOptions({.read_only = true});
  std::unique_ptr<File> f;
  EXPECT_EQ(fs_->CreateNew(base_ + "/f", &f), EROFS);
  EXPECT_EQ(fs_->MakeDirectory(base_ + "/d"), EEXIST);
  EXPECT_EQ(fs_->MakeDirectory(base_ + "/d2"), EROFS);
  EXPECT_EQ(fs_->RemoveDirectory(base_ + "/d"), EROFS);
  fs_->SetOptions({});

  // Size cap: a write that would pass it is ENOSPC; a smaller one still fits.
  fs_->SetOptions({.size_cap_root = base_ + "/d", .size_cap_bytes = 10});
  ASSERT_EQ(fs_->CreateNew(base_ + "/d/f", &f), 0);
  EXPECT_EQ(f->Write("0123456"), 0);
  EXPECT_EQ(f->Write("0123456"), ENOSPC);
  EXPECT_EQ(f->Write("012"), 0);
  ASSERT_EQ(f->Close(), 0);
  f.reset();

  // Seeded fsync errors, and a machine that dies after n mutations.
  fs_->SetOptions({.sync_error_probability = 1.0});
  EXPECT_EQ(fs_->SyncDirectory(base_), EIO);
  fs_->SetOptions({});
  fs_->CrashAfterOps(1);
  EXPECT_EQ(fs_->SyncDirectory(base_), 0);
  EXPECT_EQ(fs_->SyncDirectory(base_), EIO);
  EXPECT_TRUE(fs_->dead());
  FileStat st;
  EXPECT_EQ(fs_->Stat(base_, true, &st), EIO);
  ASSERT_TRUE(fs_->SimulateCrash().ok());
  EXPECT_FALSE(fs_->dead());
  EXPECT_EQ(fs_->Stat(base_, true, &st), 0);
}

TEST_F(FaultFileSystemTest, CrashRefusedWhileFilesAreOpen) {
  std::unique_ptr<File> f;
  ASSERT_EQ(fs_->CreateNew(base_ + "/f", &f), 0);
  EXPECT_EQ(fs_->SimulateCrash().code(), StatusCode::kFailedPrecondition);
  f.reset();
  EXPECT_TRUE(fs_->SimulateCrash().ok());
}

}  // namespace
}  // namespace fathom
