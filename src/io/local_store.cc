#include "io/local_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "common/random.h"

namespace fathom {

namespace {

// Maps a failed system call to a Status. A full device or quota (ENOSPC, EDQUOT) is
// StorageFull, a read-only file system is Unavailable and a refused access (EACCES, EPERM)
// is PermissionDenied: all are conditions of the data directory an operator must fix, so
// the message names it and says what to do. Everything else is IOError.
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
  if (err == EACCES || err == EPERM) {
    return Status::PermissionDenied("data directory " + data_dir + " is not accessible to this process (" + detail +
                                    "); give its user read/write access (chown/chmod) or use another --path");
  }
  return Status::IOError(detail);
}

std::string ParentOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == 0) return "/";
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

// Temporary files and the lock file start with '.', which object keys never do.
bool IsTempName(const std::string& name) { return name[0] == '.'; }

// Recursively collects keys under `dir` (whose key prefix is `key_prefix`).
Status Walk(FileSystem& fs, const std::string& data_dir, const std::string& dir, const std::string& key_prefix,
            const std::string& prefix, const std::string& start_after, std::vector<ObjectInfo>* out) {
  std::vector<std::string> names;
  if (int err = fs.ListDirectory(dir, &names); err != 0) {
    if (err == ENOENT || err == ENOTDIR) return Status::Ok();
    return ErrnoStatus(data_dir, "opendir", dir, err);
  }
  for (const std::string& name : names) {
    if (IsTempName(name)) continue;
    std::string key = key_prefix + name;
    std::string path = dir + "/" + name;
    FileStat st;
    if (int err = fs.Stat(path, /*follow_links=*/false, &st); err != 0) {
      if (err == ENOENT) continue;  // deleted while we listed
      return ErrnoStatus(data_dir, "stat", path, err);
    }
    if (st.is_directory) {
      // Only descend where keys below could match the prefix.
      std::string sub = key + "/";
      bool may_match = sub.compare(0, std::min(sub.size(), prefix.size()), prefix, 0,
                                   std::min(sub.size(), prefix.size())) == 0;
      if (may_match) FATHOM_RETURN_IF_ERROR(Walk(fs, data_dir, path, sub, prefix, start_after, out));
    } else if (st.is_regular) {
      if (key.compare(0, prefix.size(), prefix) == 0 && key > start_after) {
        out->push_back({key, st.size_bytes});
      }
    }
  }
  return Status::Ok();
}

// Best effort: a leftover that cannot be removed is skipped by List anyway.
void RemoveTempFiles(FileSystem& fs, const std::string& dir) {
  std::vector<std::string> names;
  if (fs.ListDirectory(dir, &names) != 0) return;
  for (const std::string& name : names) {
    std::string path = dir + "/" + name;
    FileStat st;
    if (fs.Stat(path, /*follow_links=*/false, &st) != 0) continue;
    if (st.is_directory) {
      RemoveTempFiles(fs, path);
    } else if (st.is_regular && name.compare(0, 4, ".tmp") == 0) {
      (void)fs.Unlink(path);
    }
  }
}

// mkdir -p that leaves `path` durable: every level's parent is fsynced, whether the level
// was created now or found (an earlier attempt may have created it and failed before its
// fsync). A parent this process may not open is skipped for a level it did not create:
// such a level predates fathom and is not ours to make durable.
Status CreateDirectories(FileSystem& fs, const std::string& path) {
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    std::string level = path.substr(0, pos);
    if (level.empty() || level == "/" || level.back() == '/') continue;
    int err = fs.MakeDirectory(level);
    if (err != 0 && err != EEXIST) return ErrnoStatus(path, "cannot create data directory", level, err);
    int sync_err = fs.SyncDirectory(ParentOf(level));
    if (sync_err != 0 && !(err == EEXIST && (sync_err == EACCES || sync_err == EPERM))) {
      return ErrnoStatus(path, "fsync dir", ParentOf(level), sync_err);
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<LocalStore>> LocalStore::Open(const std::string& root) {
  return Open(root, PosixFileSystem::Default());
}

Result<std::unique_ptr<LocalStore>> LocalStore::Open(const std::string& root, std::shared_ptr<FileSystem> fs) {
  if (root.empty()) return Status::InvalidArgument("empty data directory path");
  if (fs == nullptr) return Status::InvalidArgument("LocalStore::Open needs a file system");
  FATHOM_RETURN_IF_ERROR(CreateDirectories(*fs, root));
  std::string canonical;
  if (int err = fs->RealPath(root, &canonical); err != 0) {
    return ErrnoStatus(root, "cannot resolve data directory", root, err);
  }
  FileStat st;
  if (int err = fs->Stat(canonical, /*follow_links=*/true, &st); err != 0) {
    return ErrnoStatus(canonical, "stat", canonical, err);
  }
  if (!st.is_directory) return Status::InvalidArgument("data path is not a directory: " + root);
  if (int err = fs->CheckReadWriteAccess(canonical); err != 0) {
    return ErrnoStatus(canonical, "no read/write access to data directory", canonical, err);
  }
  RemoveTempFiles(*fs, canonical);
  return std::unique_ptr<LocalStore>(new LocalStore(canonical, std::move(fs)));
}

Result<std::unique_ptr<DirectoryLock>> DirectoryLock::Acquire(const std::string& dir) {
  return Acquire(dir, *PosixFileSystem::Default());
}

Result<std::unique_ptr<DirectoryLock>> DirectoryLock::Acquire(const std::string& dir, FileSystem& fs) {
  FATHOM_RETURN_IF_ERROR(CreateDirectories(fs, dir));
  const std::string lock_path = dir + "/.lock";
  // Read-only: flock needs no write access, and a file open for writing would keep an
  // operator from remounting the file system read-only while fathom runs.
  int fd = ::open(lock_path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
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

std::optional<std::string> LocalStore::LocalPath(const std::string& key) const {
  if (!fs_->AllowsDirectAccess()) return std::nullopt;
  return PathOf(key);
}

Status LocalStore::SyncDirectory(const std::string& dir) {
  if (int err = fs_->SyncDirectory(dir); err != 0) return ErrnoStatus(root_, "fsync dir", dir, err);
  return Status::Ok();
}

Status LocalStore::MakeParents(const std::string& key) {
  size_t pos = 0;
  while ((pos = key.find('/', pos)) != std::string::npos) {
    std::string dir = root_ + "/" + key.substr(0, pos);
    ++pos;
    int err = fs_->MakeDirectory(dir);
    if (err != 0 && err != EEXIST) return ErrnoStatus(root_, "mkdir", dir, err);
    if (err == EEXIST) {
      std::lock_guard<std::mutex> lock(durable_dirs_mu_);
      if (durable_dirs_.count(dir)) continue;
    }
    // Created now, or found but maybe left by a Put whose fsync here failed.
    FATHOM_RETURN_IF_ERROR(SyncDirectory(ParentOf(dir)));
    std::lock_guard<std::mutex> lock(durable_dirs_mu_);
    durable_dirs_.insert(dir);
  }
  return Status::Ok();
}

Status LocalStore::Put(const std::string& key, std::string_view bytes, PutMode mode) {
  FATHOM_RETURN_IF_ERROR(ValidateObjectKey(key));
  const std::string path = PathOf(key);
  const std::string dir = ParentOf(path);
  std::string tmp;
  std::unique_ptr<File> file;
  int err = ENOENT;
  // A concurrent Delete may remove an empty parent directory between mkdir and open.
  for (int attempt = 0; attempt < 4 && err == ENOENT; ++attempt) {
    FATHOM_RETURN_IF_ERROR(MakeParents(key));
    tmp = dir + "/.tmp-" + NewUuidV4();
    err = fs_->CreateNew(tmp, &file);
  }
  if (err != 0) return ErrnoStatus(root_, "create", tmp, err);
  Status s;
  if (err = file->Write(bytes); err != 0) s = ErrnoStatus(root_, "write", tmp, err);
  if (s.ok() && (err = file->Sync()) != 0) s = ErrnoStatus(root_, "fsync", tmp, err);
  if ((err = file->Close()) != 0 && s.ok()) s = ErrnoStatus(root_, "close", tmp, err);
  if (!s.ok()) {
    (void)fs_->Unlink(tmp);
    return s;
  }
  if (mode == PutMode::kCreateOnly) {
    int link_err = fs_->Link(tmp, path);
    (void)fs_->Unlink(tmp);
    if (link_err != 0) {
      if (link_err == EEXIST) {
        // The caller will take AlreadyExists as "the object is there": make sure it stays
        // there. It may be the name of an earlier Put of ours whose directory fsync failed.
        FATHOM_RETURN_IF_ERROR(SyncDirectory(dir));
        return Status::AlreadyExists("object exists: " + key);
      }
      return ErrnoStatus(root_, "link", path, link_err);
    }
  } else if (int rename_err = fs_->Rename(tmp, path); rename_err != 0) {
    (void)fs_->Unlink(tmp);
    return ErrnoStatus(root_, "rename", path, rename_err);
  }
  return SyncDirectory(dir);
}

Result<std::string> LocalStore::Get(const std::string& key, std::optional<ByteRange> range) {
  FATHOM_RETURN_IF_ERROR(ValidateObjectKey(key));
  const std::string path = PathOf(key);
  std::unique_ptr<File> file;
  if (int err = fs_->OpenForRead(path, &file); err != 0) {
    if (err == ENOENT || err == ENOTDIR) return Status::NotFound("no object " + key);
    return ErrnoStatus(root_, "open", path, err);
  }
  FileStat st;
  if (int err = file->Stat(&st); err != 0) return ErrnoStatus(root_, "stat", path, err);
  if (!st.is_regular) return Status::NotFound("no object " + key);
  uint64_t size = st.size_bytes;
  uint64_t offset = range ? std::min(range->offset, size) : 0;
  uint64_t length = range ? std::min(range->length, size - offset) : size;
  std::string out(length, '\0');
  size_t done = 0;
  if (int err = file->ReadAt(offset, length, out.data(), &done); err != 0) {
    return ErrnoStatus(root_, "read", path, err);
  }
  out.resize(done);  // the file shrank: return what is there; checksums catch it
  return out;
}

Result<ObjectInfo> LocalStore::Head(const std::string& key) {
  FATHOM_RETURN_IF_ERROR(ValidateObjectKey(key));
  FileStat st;
  if (int err = fs_->Stat(PathOf(key), /*follow_links=*/true, &st); err != 0) {
    if (err == ENOENT || err == ENOTDIR) return Status::NotFound("no object " + key);
    return ErrnoStatus(root_, "stat", PathOf(key), err);
  }
  if (!st.is_regular) return Status::NotFound("no object " + key);
  return ObjectInfo{key, st.size_bytes};
}

Result<std::vector<ObjectInfo>> LocalStore::List(const std::string& prefix,
                                                 const std::string& start_after, size_t max_keys) {
  std::string dir_key = prefix.substr(0, prefix.rfind('/') == std::string::npos ? 0 : prefix.rfind('/') + 1);
  std::string dir = dir_key.empty() ? root_ : root_ + "/" + dir_key.substr(0, dir_key.size() - 1);
  std::vector<ObjectInfo> out;
  FATHOM_RETURN_IF_ERROR(Walk(*fs_, root_, dir, dir_key, prefix, start_after, &out));
  std::sort(out.begin(), out.end(), [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  if (max_keys != 0 && out.size() > max_keys) out.resize(max_keys);
  return out;
}

Status LocalStore::Delete(const std::string& key) {
  FATHOM_RETURN_IF_ERROR(ValidateObjectKey(key));
  const std::string path = PathOf(key);
  if (int err = fs_->Unlink(path); err != 0) {
    if (err == ENOENT || err == ENOTDIR) return Status::Ok();
    return ErrnoStatus(root_, "unlink", path, err);
  }
  // Remove directories left empty, so deleted collections leave nothing behind.
  // Each is forgotten as durable first: once removed, a directory of the same name is a
  // new one, durable only after its own parent fsync.
  std::string dir = ParentOf(path);
  while (dir.size() > root_.size()) {
    {
      std::lock_guard<std::mutex> lock(durable_dirs_mu_);
      durable_dirs_.erase(dir);
    }
    if (fs_->RemoveDirectory(dir) != 0) break;
    dir = ParentOf(dir);
  }
  return Status::Ok();
}

}  // namespace fathom
