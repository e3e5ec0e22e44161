// FaultFileSystem: a FileSystem over a real directory that remembers what is durable,
// can drop everything that is not (SimulateCrash), and injects errors. Modelled on
// RocksDB's FaultInjectionTestFS; used under LocalStore by fault and crash tests.
// docs/design/local-store-faults.md describes the model.
//
// What is tracked (for files and directories reached through this object only):
//   - file data: for each inode created here, the size at its last successful fsync.
//     Files are modelled as append-only (LocalStore writes each file once, in order);
//     rewriting already-synced bytes in place is not modelled.
//   - directory entries: every create, link, mkdir, unlink, rmdir and rename stays
//     pending until an fsync of the directory holding the entry succeeds (a rename: of
//     both directories). Unlinked and replaced files are kept as hard links in
//     `scratch_dir` so a crash can bring them back.
// SimulateCrash() undoes pending entries newest first (a created name is removed, a
// removed one is linked back, a rename is reversed, an mkdir'ed directory is removed with
// everything under it, an rmdir'ed one recreated), then truncates every tracked file still
// reachable to its synced size (or, with `torn_unsynced_tail`, to a random point of its
// unsynced tail). Not modelled: metadata other than names and sizes (mode, times),
// partially persisted renames, a file system that reorders entries within one fsync
// group, and the Linux habit of marking pages clean after a failed fsync (here a failed
// fsync simply leaves the data unsynced).
//
// Injected errors (each operation fails before it has any effect):
//   - FailNext: explicit triggers, the next `count` operations of a kind on a path;
//   - sync_error_probability: EIO from file and directory fsyncs, from a seeded PRNG;
//   - size cap: ENOSPC from a write once the tree under `size_cap_root` would hold more
//     than `size_cap_bytes` bytes;
//   - read_only: EROFS from every mutation (EEXIST first where Linux checks that first);
//   - CrashAfterOps: after n more mutating operations every operation fails with EIO,
//     as if the machine had died; SimulateCrash then decides what survived.
//
// Ownership: files opened here must be closed before the FaultFileSystem is destroyed and
// before SimulateCrash. Thread-safety: one mutex around every operation (including the
// underlying system call), so the order of operations is the order they are recorded in.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "fathom/status.h"
#include "io/file_system.h"

namespace fathom {

enum class FsOp : uint8_t {
  kCreate,
  kOpenForRead,
  kWrite,
  kRead,
  kSync,
  kClose,
  kLink,
  kRename,
  kUnlink,
  kMakeDirectory,
  kRemoveDirectory,
  kSyncDirectory,
  kStat,
  kListDirectory,
  kCount,  // not an operation: the number of kinds
};

struct FaultFileSystemOptions {
  uint64_t seed = 1;
  // EIO from File::Sync and SyncDirectory with this probability.
  double sync_error_probability = 0.0;
  // Writes fail with ENOSPC once the regular files under size_cap_root would hold more
  // than size_cap_bytes (each inode counted once). Empty root: no cap.
  std::string size_cap_root;
  uint64_t size_cap_bytes = UINT64_MAX;
  // Every mutation fails with EROFS.
  bool read_only = false;
  // SimulateCrash keeps a random prefix of each file's unsynced tail instead of none.
  bool torn_unsynced_tail = false;
  // Also fsync the real files and directories. Off by default: the model, not the disk,
  // decides what survives a simulated crash, and real fsyncs only cost test time.
  bool real_syncs = false;
};

class FaultFileSystem final : public FileSystem {
 public:
  // `scratch_dir` must be on the same file system as the tracked tree and outside it; it
  // is created if missing.
  FaultFileSystem(std::shared_ptr<FileSystem> base, std::string scratch_dir, FaultFileSystemOptions options);
  ~FaultFileSystem() override;

  void SetOptions(FaultFileSystemOptions options);
  // The next `count` operations `op` on `path` ("" = any path) fail with `error`.
  void FailNext(FsOp op, const std::string& path, int error, uint64_t count = 1);
  // Lets `mutating_ops` more mutating operations through; every operation after them
  // fails with EIO until SimulateCrash.
  void CrashAfterOps(uint64_t mutating_ops);
  bool dead() const;
  uint64_t mutating_ops() const;
  // Successful operations of one kind so far.
  uint64_t count(FsOp op) const;
  // Directory entries not yet made durable.
  size_t pending_entries() const;
  // Errors injected so far (triggers, PRNG, cap, read-only, dead machine).
  uint64_t injected_errors() const;

  // Drops everything not durable (see above), then forgets all history, clears triggers
  // and the dead state: what is left is the state a rebooted machine would see.
  // FailedPrecondition while files are open.
  Status SimulateCrash();

  int CreateNew(const std::string& path, std::unique_ptr<File>* out) override;
  int OpenForRead(const std::string& path, std::unique_ptr<File>* out) override;
  int Link(const std::string& from, const std::string& to) override;
  int Rename(const std::string& from, const std::string& to) override;
  int Unlink(const std::string& path) override;
  int MakeDirectory(const std::string& path) override;
  int RemoveDirectory(const std::string& path) override;
  int SyncDirectory(const std::string& path) override;
  int Stat(const std::string& path, bool follow_links, FileStat* out) override;
  int ListDirectory(const std::string& path, std::vector<std::string>* names) override;
  int RealPath(const std::string& path, std::string* out) override;
  int CheckReadWriteAccess(const std::string& path) override;
  bool AllowsDirectAccess() const override { return false; }

 private:
  friend class FaultFile;

  // A directory entry change not yet durable.
  struct PendingEntry {
    enum class Kind : uint8_t { kCreate, kMakeDirectory, kRemove, kRemoveDirectory, kRename } kind;
    std::string path;            // the name created or removed; a rename's destination
    std::string from;            // a rename's source
    std::string saved;           // scratch link of the removed or replaced file, "" = none
    std::set<std::string> dirs;  // directories still to be fsynced before it is durable
  };
  struct Trigger {
    FsOp op;
    std::string path;
    int error;
    uint64_t remaining;
  };

  // REQUIRES: mu_ held (for all below).
  // The error to inject into `op` on `path`, or 0. `mutating` counts toward CrashAfterOps.
  int Inject(FsOp op, const std::string& path, bool mutating) {
    int err = Decide(op, path, mutating);
    injected_errors_ += err != 0 ? 1 : 0;
    return err;
  }
  int Decide(FsOp op, const std::string& path, bool mutating);
  int CheckWritable(const std::string& path) {
    int err = options_.read_only ? EROFS : 0;
    injected_errors_ += err != 0 ? 1 : 0;
    (void)path;
    return err;
  }
  int CheckSpace(uint64_t more_bytes);
  // Hard-links `path` into the scratch directory; "" if it is not a regular file.
  std::string Save(const std::string& path);
  void Record(PendingEntry entry);
  void TrackInode(const std::string& path);
  void Done(FsOp op) { ++counts_[static_cast<size_t>(op)]; }

  // File callbacks (take mu_).
  int FileWrite(File& base, const std::string& path, std::string_view bytes);
  int FileRead(File& base, const std::string& path, uint64_t offset, size_t length, char* dst, size_t* read);
  int FileSync(File& base, const std::string& path, uint64_t inode);
  int FileClose(File& base, const std::string& path);
  void FileGone();

  const std::shared_ptr<FileSystem> base_;
  const std::string scratch_dir_;
  mutable std::mutex mu_;
  FaultFileSystemOptions options_;
  std::mt19937_64 rng_;
  std::vector<Trigger> triggers_;
  std::vector<PendingEntry> pending_;
  std::map<uint64_t, uint64_t> synced_size_by_inode_;  // inodes created here
  std::set<std::string> data_dirs_;                    // where those inodes got names
  std::array<uint64_t, static_cast<size_t>(FsOp::kCount)> counts_{};
  uint64_t mutating_ops_ = 0;
  uint64_t injected_errors_ = 0;
  uint64_t crash_after_ = UINT64_MAX;
  bool dead_ = false;
  uint64_t saved_files_ = 0;
  int open_files_ = 0;
};

}  // namespace fathom
