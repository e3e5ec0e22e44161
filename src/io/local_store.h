// LocalStore: an ObjectStore on a local directory; the embedded default.
//
// Key "a/b/c" is the file ROOT/a/b/c. Durability: every Put writes a temporary file in
// the target's directory, fsyncs it, then link()s it to the final name (create-only: link
// fails if the name exists) or rename()s it (overwrite), then fsyncs the directory. A
// crash leaves at most a ".tmp-*" file, which List never shows and Open removes. Names
// starting with '.' are never keys.
// Visible is not durable: a name that exists (an object from a Put whose directory fsync
// failed, a directory from a mkdir whose parent fsync failed, a data directory created by
// an Open that failed) may still vanish in a crash. So every answer that relies on an
// existing name fsyncs the directory holding it first: AlreadyExists, mkdir's EEXIST, an
// existing data directory (docs/design/local-store-faults.md).
// Every file operation goes through a FileSystem (io/file_system.h): the real one by
// default, a FaultFileSystem in crash and fault tests.
// Thread-safe: the set of directories known durable has its own mutex; nothing else is
// shared beyond the file system.
#pragma once

#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "io/file_system.h"
#include "io/object_store.h"

namespace fathom {

class LocalStore : public ObjectStore {
 public:
  // Creates `root` if missing and removes leftover temporary files.
  static Result<std::unique_ptr<LocalStore>> Open(const std::string& root);
  // The same on `file_system` (shared: a test keeps using it after the store is gone).
  static Result<std::unique_ptr<LocalStore>> Open(const std::string& root,
                                                  std::shared_ptr<FileSystem> file_system);

  Status Put(const std::string& key, std::string_view bytes, PutMode mode) override;
  Result<std::string> Get(const std::string& key, std::optional<ByteRange> range) override;
  Result<ObjectInfo> Head(const std::string& key) override;
  Result<std::vector<ObjectInfo>> List(const std::string& prefix, const std::string& start_after,
                                       size_t max_keys) override;
  Status Delete(const std::string& key) override;
  std::string Describe() const override { return "local:" + root_; }
  std::optional<std::string> LocalPath(const std::string& key) const override;

 private:
  LocalStore(std::string root, std::shared_ptr<FileSystem> file_system)
      : root_(std::move(root)), fs_(std::move(file_system)) {}
  std::string PathOf(const std::string& key) const { return root_ + "/" + key; }
  // mkdir -p of the directory that holds `key`; each level is made durable (its parent
  // fsynced) unless it is already known durable, whether mkdir created it or found it.
  Status MakeParents(const std::string& key);
  Status SyncDirectory(const std::string& dir);

  std::string root_;
  std::shared_ptr<FileSystem> fs_;
  // Directories under root_ whose entry is known durable: added only after a successful
  // fsync of the parent, removed before Delete removes the directory.
  std::mutex durable_dirs_mu_;
  std::set<std::string> durable_dirs_;  // GUARDED_BY(durable_dirs_mu_)
};

// An exclusive flock on DIR/.lock, held until destroyed: one open Database per directory,
// in any process. A second Acquire gets FailedPrecondition.
class DirectoryLock {
 public:
  // Creates `dir` if missing (through `file_system`), then locks it. The lock file itself
  // is opened with plain system calls: a lock is process state, nothing durable.
  static Result<std::unique_ptr<DirectoryLock>> Acquire(const std::string& dir);
  static Result<std::unique_ptr<DirectoryLock>> Acquire(const std::string& dir, FileSystem& file_system);
  ~DirectoryLock();
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;

 private:
  explicit DirectoryLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace fathom
