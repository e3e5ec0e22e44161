// LocalStore: an ObjectStore on a local directory; the embedded default.
//
// Key "a/b/c" is the file ROOT/a/b/c. Durability: every Put writes a temporary file in
// the target's directory, fsyncs it, then link()s it to the final name (create-only: link
// fails if the name exists) or rename()s it (overwrite), then fsyncs the directory. A
// crash leaves at most a ".tmp-*" file, which List never shows and Open removes. Names
// starting with '.' are never keys.
// Thread-safe: no shared mutable state beyond the file system.
#pragma once

#include <memory>
#include <string>

#include "io/object_store.h"

namespace fathom {

class LocalStore : public ObjectStore {
 public:
  // Creates `root` if missing and removes leftover temporary files.
  static Result<std::unique_ptr<LocalStore>> Open(const std::string& root);

  Status Put(const std::string& key, std::string_view bytes, PutMode mode) override;
  Result<std::string> Get(const std::string& key, std::optional<ByteRange> range) override;
  Result<ObjectInfo> Head(const std::string& key) override;
  Result<std::vector<ObjectInfo>> List(const std::string& prefix, const std::string& start_after,
                                       size_t max_keys) override;
  Status Delete(const std::string& key) override;
  std::string Describe() const override { return "local:" + root_; }
  std::optional<std::string> LocalPath(const std::string& key) const override { return PathOf(key); }

 private:
  explicit LocalStore(std::string root) : root_(std::move(root)) {}
  std::string PathOf(const std::string& key) const { return root_ + "/" + key; }
  // mkdir -p of the directory that holds `key`, fsyncing each directory it creates.
  Status MakeParents(const std::string& key);

  std::string root_;
};

// An exclusive flock on DIR/.lock, held until destroyed: one open Database per directory,
// in any process. A second Acquire gets FailedPrecondition.
class DirectoryLock {
 public:
  static Result<std::unique_ptr<DirectoryLock>> Acquire(const std::string& dir);
  ~DirectoryLock();
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;

 private:
  explicit DirectoryLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace fathom
