#include "io/local_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>

#include "common/random.h"

namespace fathom {

namespace {

// Maps a failed system call to a Status. A full device or quota (ENOSPC, EDQUOT) is
// StorageFull and a read-only file system is Unavailable: both are conditions of the data
// directory an operator must fix, so the message names it and says what to do. Everything
// else is IOError.
Status ErrnoStatus(const std::string& data_dir, const std::string& what, const std::string& path, int err) {
  std::string detail = what + " " + path + ": " + std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) {
    return Status::StorageFull("data directory " + data_dir + " is out of space (" + detail +
                               "); free space on its device or raise its quota, then retry");
  }
  if (err == EROFS) {
    return Status::Unavailable("data directory " + data_dir + " is read-only (" + detail +
                               "); remount it read-write or use another --path");
  }
  return Status::IOError(detail);
}

Status FsyncPath(const std::string& data_dir, const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(data_dir, "open dir", path, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoStatus(data_dir, "fsync dir", path, err);
  return Status::Ok();
}

std::string ParentOf(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

Status WriteAll(const std::string& data_dir, int fd, std::string_view bytes, const std::string& path) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(data_dir, "write", path, errno);
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

// Temporary files and the lock file start with '.', which object keys never do.
bool IsTempName(const char* name) { return name[0] == '.'; }

// Recursively collects keys under `dir` (whose key prefix is `key_prefix`).
Status Walk(const std::string& data_dir, const std::string& dir, const std::string& key_prefix,
            const std::string& prefix, const std::string& start_after, std::vector<ObjectInfo>* out) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT || errno == ENOTDIR) return Status::Ok();
    return ErrnoStatus(data_dir, "opendir", dir, errno);
  }
  std::unique_ptr<DIR, int (*)(DIR*)> closer(d, ::closedir);
  while (struct dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    if (IsTempName(e->d_name)) continue;
    std::string key = key_prefix + e->d_name;
    std::string path = dir + "/" + e->d_name;
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) continue;  // deleted while we listed
      return ErrnoStatus(data_dir, "stat", path, errno);
    }
    if (S_ISDIR(st.st_mode)) {
      // Only descend where keys below could match the prefix.
      std::string sub = key + "/";
      bool may_match = sub.compare(0, std::min(sub.size(), prefix.size()), prefix, 0,
                                   std::min(sub.size(), prefix.size())) == 0;
      if (may_match) FATHOM_RETURN_IF_ERROR(Walk(data_dir, path, sub, prefix, start_after, out));
    } else if (S_ISREG(st.st_mode)) {
      if (key.compare(0, prefix.size(), prefix) == 0 && key > start_after) {
        out->push_back({key, static_cast<uint64_t>(st.st_size)});
      }
    }
  }
  return Status::Ok();
}

void RemoveTempFiles(const std::string& dir) {
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec) && std::strncmp(it->path().filename().c_str(), ".tmp", 4) == 0) {
      std::filesystem::remove(it->path(), ec);
    }
  }
}

}  // namespace

Result<std::unique_ptr<LocalStore>> LocalStore::Open(const std::string& root) {
  if (root.empty()) return Status::InvalidArgument("empty data directory path");
  std::error_code ec;
  std::filesystem::create_directories(root, ec);
  if (ec) return ErrnoStatus(root, "cannot create data directory", root, ec.value());
  std::string canonical = std::filesystem::canonical(root, ec).string();
  if (ec) return Status::IOError("cannot resolve data directory " + root + ": " + ec.message());
  if (!std::filesystem::is_directory(canonical)) {
    return Status::InvalidArgument("data path is not a directory: " + root);
  }
  if (::access(canonical.c_str(), R_OK | W_OK | X_OK) != 0) {
    return ErrnoStatus(canonical, "no read/write access to data directory", canonical, errno);
  }
  RemoveTempFiles(canonical);
  return std::unique_ptr<LocalStore>(new LocalStore(canonical));
}

Result<std::unique_ptr<DirectoryLock>> DirectoryLock::Acquire(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return ErrnoStatus(dir, "cannot create data directory", dir, ec.value());
  const std::string lock_path = dir + "/.lock";
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus(dir, "open", lock_path, errno);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return Status::FailedPrecondition("data directory " + dir +
                                        " is in use by another fathom process (or another open Database in "
                                        "this one); stop it first or use another --path");
    }
    return ErrnoStatus(dir, "lock", lock_path, err);
  }
  return std::unique_ptr<DirectoryLock>(new DirectoryLock(fd));
}

DirectoryLock::~DirectoryLock() { ::close(fd_); }  // releases the flock

Status LocalStore::MakeParents(const std::string& key) {
  size_t pos = 0;
  while ((pos = key.find('/', pos)) != std::string::npos) {
    std::string dir = root_ + "/" + key.substr(0, pos);
    if (::mkdir(dir.c_str(), 0755) == 0) {
      FATHOM_RETURN_IF_ERROR(FsyncPath(root_, ParentOf(dir)));
    } else if (errno != EEXIST) {
      return ErrnoStatus(root_, "mkdir", dir, errno);
    }
    ++pos;
  }
  return Status::Ok();
}

Status LocalStore::Put(const std::string& key, std::string_view bytes, PutMode mode) {
  FATHOM_RETURN_IF_ERROR(ValidateObjectKey(key));
  const std::string path = PathOf(key);
  const std::string dir = ParentOf(path);
  std::string tmp;
  int fd = -1;
  // A concurrent Delete may remove an empty parent directory between mkdir and open.
  for (int attempt = 0; attempt < 4 && fd < 0; ++attempt) {
    FATHOM_RETURN_IF_ERROR(MakeParents(key));
    tmp = dir + "/.tmp-" + NewUuidV4();
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno != ENOENT) return ErrnoStatus(root_, "create", tmp, errno);
  }
  if (fd < 0) return ErrnoStatus(root_, "create", tmp, errno);
  Status s = WriteAll(root_, fd, bytes, tmp);
  if (s.ok() && ::fsync(fd) != 0) s = ErrnoStatus(root_, "fsync", tmp, errno);
  if (::close(fd) != 0 && s.ok()) s = ErrnoStatus(root_, "close", tmp, errno);
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return s;
  }
  if (mode == PutMode::kCreateOnly) {
    int rc = ::link(tmp.c_str(), path.c_str());
    int err = errno;
    ::unlink(tmp.c_str());
    if (rc != 0) {
      if (err == EEXIST) return Status::AlreadyExists("object exists: " + key);
      return ErrnoStatus(root_, "link", path, err);
    }
  } else if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return ErrnoStatus(root_, "rename", path, err);
  }
  return FsyncPath(root_, dir);
}

Result<std::string> LocalStore::Get(const std::string& key, std::optional<ByteRange> range) {
  FATHOM_RETURN_IF_ERROR(ValidateObjectKey(key));
  const std::string path = PathOf(key);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return Status::NotFound("no object " + key);
    return ErrnoStatus(root_, "open", path, errno);
  }
  std::unique_ptr<int, void (*)(int*)> closer(&fd, [](int* f) { ::close(*f); });
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoStatus(root_, "stat", path, errno);
  if (!S_ISREG(st.st_mode)) return Status::NotFound("no object " + key);
  uint64_t size = static_cast<uint64_t>(st.st_size);
  uint64_t offset = range ? std::min(range->offset, size) : 0;
  uint64_t length = range ? std::min(range->length, size - offset) : size;
  std::string out(length, '\0');
  uint64_t done = 0;
  while (done < length) {
    ssize_t n = ::pread(fd, out.data() + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(root_, "read", path, errno);
    }
    if (n == 0) break;  // file shrank: return what is there; checksums catch it
    done += static_cast<uint64_t>(n);
  }
  out.resize(done);
  return out;
}

Result<ObjectInfo> LocalStore::Head(const std::string& key) {
  FATHOM_RETURN_IF_ERROR(ValidateObjectKey(key));
  struct stat st;
  if (::stat(PathOf(key).c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return Status::NotFound("no object " + key);
    return ErrnoStatus(root_, "stat", PathOf(key), errno);
  }
  if (!S_ISREG(st.st_mode)) return Status::NotFound("no object " + key);
  return ObjectInfo{key, static_cast<uint64_t>(st.st_size)};
}

Result<std::vector<ObjectInfo>> LocalStore::List(const std::string& prefix,
                                                 const std::string& start_after, size_t max_keys) {
  std::string dir_key = prefix.substr(0, prefix.rfind('/') == std::string::npos ? 0 : prefix.rfind('/') + 1);
  std::string dir = dir_key.empty() ? root_ : root_ + "/" + dir_key.substr(0, dir_key.size() - 1);
  std::vector<ObjectInfo> out;
  FATHOM_RETURN_IF_ERROR(Walk(root_, dir, dir_key, prefix, start_after, &out));
  std::sort(out.begin(), out.end(), [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  if (max_keys != 0 && out.size() > max_keys) out.resize(max_keys);
  return out;
}

Status LocalStore::Delete(const std::string& key) {
  FATHOM_RETURN_IF_ERROR(ValidateObjectKey(key));
  const std::string path = PathOf(key);
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return Status::Ok();
    return ErrnoStatus(root_, "unlink", path, errno);
  }
  // Remove directories left empty, so deleted collections leave nothing behind.
  std::string dir = ParentOf(path);
  while (dir.size() > root_.size() && ::rmdir(dir.c_str()) == 0) dir = ParentOf(dir);
  return Status::Ok();
}

}  // namespace fathom
