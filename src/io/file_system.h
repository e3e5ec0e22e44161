// FileSystem: the seam between LocalStore and the operating system's files.
//
// Every file operation LocalStore makes goes through this interface, so a test can put a
// FaultFileSystem (io/fault_file_system.h) underneath and observe, fail or "crash" each
// one. It is a thin syscall layer on purpose: results are errno values (0 = success), not
// Status, because LocalStore's logic depends on the exact errno (EEXIST from link() is a
// lost create race, ENOENT from open() a parent removed by a concurrent Delete) and maps
// the rest to Status itself. The production implementation, PosixFileSystem, is one
// virtual call around each system call.
//
// Ownership: a File is owned by whoever opened it and closes its descriptor when
// destroyed. Thread-safety: implementations are safe for concurrent use; one File is used
// by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace fathom {

struct FileStat {
  uint64_t size_bytes = 0;
  uint64_t inode = 0;
  bool is_regular = false;
  bool is_directory = false;
  int64_t modified_ns = 0;  // st_mtim, nanoseconds since the epoch
};

// An open file descriptor.
class File {
 public:
  virtual ~File() = default;
  // Appends all of `bytes` at the current offset (retrying short writes and EINTR).
  [[nodiscard]] virtual int Write(std::string_view bytes) = 0;
  // Reads up to `length` bytes at `offset` into `dst`; `*read_bytes` < length only at the end.
  [[nodiscard]] virtual int ReadAt(uint64_t offset, size_t length, char* dst, size_t* read_bytes) = 0;
  // fsync(2): the file's data and size are durable once this returns 0.
  [[nodiscard]] virtual int Sync() = 0;
  [[nodiscard]] virtual int Stat(FileStat* out) = 0;
  // Closes the descriptor and reports close(2)'s error; the destructor closes silently.
  [[nodiscard]] virtual int Close() = 0;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // open(O_WRONLY | O_CREAT | O_EXCL): EEXIST if `path` exists.
  [[nodiscard]] virtual int CreateNew(const std::string& path, std::unique_ptr<File>* out) = 0;
  [[nodiscard]] virtual int OpenForRead(const std::string& path, std::unique_ptr<File>* out) = 0;
  // link(2): EEXIST if `to` exists; the create-only commit.
  [[nodiscard]] virtual int Link(const std::string& from, const std::string& to) = 0;
  // rename(2): replaces `to` atomically.
  [[nodiscard]] virtual int Rename(const std::string& from, const std::string& to) = 0;
  [[nodiscard]] virtual int Unlink(const std::string& path) = 0;
  [[nodiscard]] virtual int MakeDirectory(const std::string& path) = 0;
  [[nodiscard]] virtual int RemoveDirectory(const std::string& path) = 0;
  // Opens the directory and fsyncs it: entries created, linked, renamed or removed in it
  // are durable once this returns 0.
  [[nodiscard]] virtual int SyncDirectory(const std::string& path) = 0;
  // stat(2) (`follow_links`) or lstat(2).
  [[nodiscard]] virtual int Stat(const std::string& path, bool follow_links, FileStat* out) = 0;
  // The names in a directory, without "." and "..", in no particular order.
  [[nodiscard]] virtual int ListDirectory(const std::string& path, std::vector<std::string>* names) = 0;
  // realpath(3).
  [[nodiscard]] virtual int RealPath(const std::string& path, std::string* out) = 0;
  // access(path, R_OK | W_OK | X_OK).
  [[nodiscard]] virtual int CheckReadWriteAccess(const std::string& path) = 0;

  // Whether other code may open a path under this file system directly (bypassing the
  // seam), e.g. RandomReader keeping a local file open. False for fault-injecting file
  // systems, so that every read goes through them.
  virtual bool AllowsDirectAccess() const { return true; }
};

// The real file system (POSIX system calls). Stateless; Default() is shared.
class PosixFileSystem final : public FileSystem {
 public:
  static std::shared_ptr<FileSystem> Default();

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
};

}  // namespace fathom
