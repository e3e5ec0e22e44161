#include "io/file_system.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

namespace fathom {

namespace {

void FillStat(const struct stat& st, FileStat* out) {
  out->size_bytes = static_cast<uint64_t>(st.st_size);
  out->inode = static_cast<uint64_t>(st.st_ino);
  out->is_regular = S_ISREG(st.st_mode);
  out->is_directory = S_ISDIR(st.st_mode);
  out->modified_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

class PosixFile final : public File {
 public:
  explicit PosixFile(int fd) : fd_(fd) {}
  ~PosixFile() override {
    if (fd_ >= 0) ::close(fd_);
  }

  int Write(std::string_view bytes) override {
    size_t done = 0;
    while (done < bytes.size()) {
      ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        return errno;
      }
      done += static_cast<size_t>(n);
    }
    return 0;
  }

  int ReadAt(uint64_t offset, size_t length, char* dst, size_t* read_bytes) override {
    size_t done = 0;
    while (done < length) {
      ssize_t n = ::pread(fd_, dst + done, length - done, static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        *read_bytes = done;
        return errno;
      }
      if (n == 0) break;
      done += static_cast<size_t>(n);
    }
    *read_bytes = done;
    return 0;
  }

  int Sync() override { return ::fsync(fd_) == 0 ? 0 : errno; }

  int Stat(FileStat* out) override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return errno;
    FillStat(st, out);
    return 0;
  }

  int Close() override {
    int fd = fd_;
    fd_ = -1;
    return ::close(fd) == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

}  // namespace

std::shared_ptr<FileSystem> PosixFileSystem::Default() {
  static const std::shared_ptr<FileSystem> instance = std::make_shared<PosixFileSystem>();
  return instance;
}

int PosixFileSystem::CreateNew(const std::string& path, std::unique_ptr<File>* out) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return errno;
  *out = std::make_unique<PosixFile>(fd);
  return 0;
}

int PosixFileSystem::OpenForRead(const std::string& path, std::unique_ptr<File>* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  *out = std::make_unique<PosixFile>(fd);
  return 0;
}

int PosixFileSystem::Link(const std::string& from, const std::string& to) {
  return ::link(from.c_str(), to.c_str()) == 0 ? 0 : errno;
}

int PosixFileSystem::Rename(const std::string& from, const std::string& to) {
  return ::rename(from.c_str(), to.c_str()) == 0 ? 0 : errno;
}

int PosixFileSystem::Unlink(const std::string& path) { return ::unlink(path.c_str()) == 0 ? 0 : errno; }

int PosixFileSystem::MakeDirectory(const std::string& path) {
  return ::mkdir(path.c_str(), 0755) == 0 ? 0 : errno;
}

int PosixFileSystem::RemoveDirectory(const std::string& path) { return ::rmdir(path.c_str()) == 0 ? 0 : errno; }

int PosixFileSystem::SyncDirectory(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  return rc == 0 ? 0 : err;
}

int PosixFileSystem::Stat(const std::string& path, bool follow_links, FileStat* out) {
  struct stat st;
  int rc = follow_links ? ::stat(path.c_str(), &st) : ::lstat(path.c_str(), &st);
  if (rc != 0) return errno;
  FillStat(st, out);
  return 0;
}

int PosixFileSystem::ListDirectory(const std::string& path, std::vector<std::string>* names) {
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) return errno;
  names->clear();
  errno = 0;
  while (struct dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) names->push_back(e->d_name);
    errno = 0;
  }
  int err = errno;
  ::closedir(d);
  return err;
}

int PosixFileSystem::RealPath(const std::string& path, std::string* out) {
  char* resolved = ::realpath(path.c_str(), nullptr);
  if (resolved == nullptr) return errno;
  *out = resolved;
  std::free(resolved);
  return 0;
}

int PosixFileSystem::CheckReadWriteAccess(const std::string& path) {
  return ::access(path.c_str(), R_OK | W_OK | X_OK) == 0 ? 0 : errno;
}

}  // namespace fathom
