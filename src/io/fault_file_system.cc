#include "io/fault_file_system.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

namespace fathom {

namespace {

// One spelling per path, so "a//b/" and "a/b" name the same entry.
std::string Normalize(const std::string& path) {
  std::string p = std::filesystem::path(path).lexically_normal().string();
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

std::string ParentOf(const std::string& normalized) {
  std::string parent = std::filesystem::path(normalized).parent_path().string();
  return parent.empty() ? "." : parent;
}

}  // namespace

// A file opened through a FaultFileSystem: every call goes through the owner, which
// injects faults and records syncs.
class FaultFile final : public File {
 public:
  FaultFile(FaultFileSystem* fs, std::unique_ptr<File> base, std::string path, uint64_t inode)
      : fs_(fs), base_(std::move(base)), path_(std::move(path)), inode_(inode) {}
  ~FaultFile() override { fs_->FileGone(); }

  int Write(std::string_view bytes) override { return fs_->FileWrite(*base_, path_, bytes); }
  int ReadAt(uint64_t offset, size_t length, char* dst, size_t* read_bytes) override {
    return fs_->FileRead(*base_, path_, offset, length, dst, read_bytes);
  }
  int Sync() override { return fs_->FileSync(*base_, path_, inode_); }
  int Stat(FileStat* out) override { return base_->Stat(out); }
  int Close() override { return fs_->FileClose(*base_, path_); }

 private:
  FaultFileSystem* fs_;
  std::unique_ptr<File> base_;
  std::string path_;
  uint64_t inode_;
};

FaultFileSystem::FaultFileSystem(std::shared_ptr<FileSystem> base, std::string scratch_dir,
                                 FaultFileSystemOptions options)
    : base_(std::move(base)), scratch_dir_(Normalize(scratch_dir)), options_(options), rng_(options.seed) {
  std::error_code ec;
  std::filesystem::create_directories(scratch_dir_, ec);
}

FaultFileSystem::~FaultFileSystem() {
  std::error_code ec;
  std::filesystem::remove_all(scratch_dir_, ec);
}

void FaultFileSystem::SetOptions(FaultFileSystemOptions options) {
  std::lock_guard<std::mutex> lock(mu_);
  options_ = std::move(options);
  rng_.seed(options_.seed);
}

void FaultFileSystem::FailNext(FsOp op, const std::string& path, int error, uint64_t count) {
  std::lock_guard<std::mutex> lock(mu_);
  triggers_.push_back({op, path.empty() ? path : Normalize(path), error, count});
}

void FaultFileSystem::CrashAfterOps(uint64_t mutating_ops) {
  std::lock_guard<std::mutex> lock(mu_);
  crash_after_ = mutating_ops_ + mutating_ops;
}

bool FaultFileSystem::dead() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dead_;
}

uint64_t FaultFileSystem::mutating_ops() const {
  std::lock_guard<std::mutex> lock(mu_);
  return mutating_ops_;
}

uint64_t FaultFileSystem::count(FsOp op) const {
  std::lock_guard<std::mutex> lock(mu_);
  return counts_[static_cast<size_t>(op)];
}

uint64_t FaultFileSystem::injected_errors() const {
  std::lock_guard<std::mutex> lock(mu_);
  return injected_errors_;
}

size_t FaultFileSystem::pending_entries() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_.size();
}

int FaultFileSystem::Decide(FsOp op, const std::string& path, bool mutating) {
  if (dead_) return EIO;
  if (mutating) {
    if (mutating_ops_ >= crash_after_) {
      dead_ = true;
      return EIO;
    }
    ++mutating_ops_;
  }
  for (Trigger& t : triggers_) {
    if (t.op == op && t.remaining > 0 && (t.path.empty() || t.path == path)) {
      --t.remaining;
      return t.error;
    }
  }
  if ((op == FsOp::kSync || op == FsOp::kSyncDirectory) && options_.sync_error_probability > 0 &&
      std::uniform_real_distribution<double>(0, 1)(rng_) < options_.sync_error_probability) {
    return EIO;
  }
  return 0;
}

int FaultFileSystem::CheckSpace(uint64_t more_bytes) {
  if (options_.size_cap_root.empty()) return 0;
  std::set<uint64_t> seen;
  uint64_t used = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(options_.size_cap_root, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st;
    if (::lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode) && seen.insert(st.st_ino).second) {
      used += static_cast<uint64_t>(st.st_size);
    }
  }
  if (used + more_bytes <= options_.size_cap_bytes) return 0;
  ++injected_errors_;
  return ENOSPC;
}

std::string FaultFileSystem::Save(const std::string& path) {
  FileStat st;
  if (base_->Stat(path, /*follow_links=*/false, &st) != 0 || !st.is_regular) return "";
  std::string saved = scratch_dir_ + "/saved-" + std::to_string(saved_files_++);
  return base_->Link(path, saved) == 0 ? saved : "";
}

void FaultFileSystem::Record(PendingEntry entry) { pending_.push_back(std::move(entry)); }

int FaultFileSystem::CreateNew(const std::string& path, std::unique_ptr<File>* out) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string p = Normalize(path);
  if (int err = Inject(FsOp::kCreate, p, true)) return err;
  if (int err = CheckWritable(p)) return err;
  std::unique_ptr<File> file;
  if (int err = base_->CreateNew(p, &file)) return err;
  FileStat st;
  if (int err = file->Stat(&st)) return err;
  synced_size_by_inode_[st.inode] = 0;  // a new inode (numbers are reused: reset)
  data_dirs_.insert(ParentOf(p));
  Record({PendingEntry::Kind::kCreate, p, "", "", {ParentOf(p)}});
  *out = std::make_unique<FaultFile>(this, std::move(file), p, st.inode);
  ++open_files_;
  Done(FsOp::kCreate);
  return 0;
}

int FaultFileSystem::OpenForRead(const std::string& path, std::unique_ptr<File>* out) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string p = Normalize(path);
  if (int err = Inject(FsOp::kOpenForRead, p, false)) return err;
  std::unique_ptr<File> file;
  if (int err = base_->OpenForRead(p, &file)) return err;
  *out = std::make_unique<FaultFile>(this, std::move(file), p, 0);
  ++open_files_;
  Done(FsOp::kOpenForRead);
  return 0;
}

int FaultFileSystem::Link(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string f = Normalize(from), t = Normalize(to);
  if (int err = Inject(FsOp::kLink, t, true)) return err;
  if (int err = CheckWritable(t)) return err;
  if (int err = base_->Link(f, t)) return err;
  data_dirs_.insert(ParentOf(t));
  Record({PendingEntry::Kind::kCreate, t, "", "", {ParentOf(t)}});
  Done(FsOp::kLink);
  return 0;
}

int FaultFileSystem::Rename(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string f = Normalize(from), t = Normalize(to);
  if (int err = Inject(FsOp::kRename, t, true)) return err;
  if (int err = CheckWritable(t)) return err;
  std::string saved = Save(t);
  if (int err = base_->Rename(f, t)) {
    if (!saved.empty()) (void)base_->Unlink(saved);
    return err;
  }
  data_dirs_.insert(ParentOf(t));
  Record({PendingEntry::Kind::kRename, t, f, saved, {ParentOf(f), ParentOf(t)}});
  Done(FsOp::kRename);
  return 0;
}

int FaultFileSystem::Unlink(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string p = Normalize(path);
  if (int err = Inject(FsOp::kUnlink, p, true)) return err;
  if (int err = CheckWritable(p)) return err;
  std::string saved = Save(p);
  if (int err = base_->Unlink(p)) {
    if (!saved.empty()) (void)base_->Unlink(saved);
    return err;
  }
  Record({PendingEntry::Kind::kRemove, p, "", saved, {ParentOf(p)}});
  Done(FsOp::kUnlink);
  return 0;
}

int FaultFileSystem::MakeDirectory(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string p = Normalize(path);
  if (int err = Inject(FsOp::kMakeDirectory, p, true)) return err;
  if (options_.read_only) {
    FileStat st;
    if (base_->Stat(p, /*follow_links=*/false, &st) == 0) return EEXIST;  // Linux checks this first
    ++injected_errors_;
    return EROFS;
  }
  if (int err = base_->MakeDirectory(p)) return err;
  Record({PendingEntry::Kind::kMakeDirectory, p, "", "", {ParentOf(p)}});
  Done(FsOp::kMakeDirectory);
  return 0;
}

int FaultFileSystem::RemoveDirectory(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string p = Normalize(path);
  if (int err = Inject(FsOp::kRemoveDirectory, p, true)) return err;
  if (int err = CheckWritable(p)) return err;
  if (int err = base_->RemoveDirectory(p)) return err;
  Record({PendingEntry::Kind::kRemoveDirectory, p, "", "", {ParentOf(p)}});
  Done(FsOp::kRemoveDirectory);
  return 0;
}

int FaultFileSystem::SyncDirectory(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string p = Normalize(path);
  if (int err = Inject(FsOp::kSyncDirectory, p, true)) return err;
  if (options_.real_syncs) {
    if (int err = base_->SyncDirectory(p)) return err;
  } else {
    FileStat st;
    if (int err = base_->Stat(p, /*follow_links=*/true, &st)) return err;  // open() would fail too
    if (!st.is_directory) return ENOTDIR;
  }
  for (PendingEntry& e : pending_) e.dirs.erase(p);
  auto durable = std::stable_partition(pending_.begin(), pending_.end(),
                                       [](const PendingEntry& e) { return !e.dirs.empty(); });
  for (auto it = durable; it != pending_.end(); ++it) {
    if (!it->saved.empty()) (void)base_->Unlink(it->saved);  // no crash can bring it back now
  }
  pending_.erase(durable, pending_.end());
  Done(FsOp::kSyncDirectory);
  return 0;
}

int FaultFileSystem::Stat(const std::string& path, bool follow_links, FileStat* out) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string p = Normalize(path);
  if (int err = Inject(FsOp::kStat, p, false)) return err;
  if (int err = base_->Stat(p, follow_links, out)) return err;
  Done(FsOp::kStat);
  return 0;
}

int FaultFileSystem::ListDirectory(const std::string& path, std::vector<std::string>* names) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string p = Normalize(path);
  if (int err = Inject(FsOp::kListDirectory, p, false)) return err;
  if (int err = base_->ListDirectory(p, names)) return err;
  Done(FsOp::kListDirectory);
  return 0;
}

int FaultFileSystem::RealPath(const std::string& path, std::string* out) {
  std::lock_guard<std::mutex> lock(mu_);
  if (int err = Inject(FsOp::kStat, Normalize(path), false)) return err;
  return base_->RealPath(path, out);
}

int FaultFileSystem::CheckReadWriteAccess(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  if (int err = Inject(FsOp::kStat, Normalize(path), false)) return err;
  if (int err = CheckWritable(path)) return err;
  return base_->CheckReadWriteAccess(path);
}

int FaultFileSystem::FileWrite(File& base, const std::string& path, std::string_view bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  if (int err = Inject(FsOp::kWrite, path, true)) return err;
  if (int err = CheckWritable(path)) return err;
  if (int err = CheckSpace(bytes.size())) return err;
  if (int err = base.Write(bytes)) return err;
  Done(FsOp::kWrite);
  return 0;
}

int FaultFileSystem::FileRead(File& base, const std::string& path, uint64_t offset, size_t length, char* dst,
                              size_t* read) {
  std::lock_guard<std::mutex> lock(mu_);
  *read = 0;
  if (int err = Inject(FsOp::kRead, path, false)) return err;
  if (int err = base.ReadAt(offset, length, dst, read)) return err;
  Done(FsOp::kRead);
  return 0;
}

int FaultFileSystem::FileSync(File& base, const std::string& path, uint64_t inode) {
  std::lock_guard<std::mutex> lock(mu_);
  if (int err = Inject(FsOp::kSync, path, true)) return err;
  if (options_.real_syncs) {
    if (int err = base.Sync()) return err;
  }
  FileStat st;
  if (int err = base.Stat(&st)) return err;
  auto it = synced_size_by_inode_.find(inode);
  if (it != synced_size_by_inode_.end()) it->second = st.size_bytes;
  Done(FsOp::kSync);
  return 0;
}

int FaultFileSystem::FileClose(File& base, const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  int injected = Inject(FsOp::kClose, path, false);
  int err = base.Close();  // the descriptor is released either way, as close(2) does
  if (injected) return injected;
  if (err == 0) Done(FsOp::kClose);
  return err;
}

void FaultFileSystem::FileGone() {
  std::lock_guard<std::mutex> lock(mu_);
  --open_files_;
}

Status FaultFileSystem::SimulateCrash() {
  std::lock_guard<std::mutex> lock(mu_);
  if (open_files_ != 0) {
    return Status::FailedPrecondition(std::to_string(open_files_) +
                                      " files are still open; close them (destroy the Database) before a crash");
  }
  // Undo what no directory fsync made durable, newest first, so each step sees the state
  // its operation left. Errors are ignored: what cannot be undone is the closest a real
  // crash could come (the model's limit, documented above).
  std::error_code ec;
  for (auto it = pending_.rbegin(); it != pending_.rend(); ++it) {
    switch (it->kind) {
      case PendingEntry::Kind::kCreate: (void)base_->Unlink(it->path); break;
      case PendingEntry::Kind::kMakeDirectory: std::filesystem::remove_all(it->path, ec); break;
      case PendingEntry::Kind::kRemove:
        if (!it->saved.empty()) (void)base_->Link(it->saved, it->path);
        break;
      case PendingEntry::Kind::kRemoveDirectory: (void)base_->MakeDirectory(it->path); break;
      case PendingEntry::Kind::kRename:
        (void)base_->Rename(it->path, it->from);
        if (!it->saved.empty()) (void)base_->Link(it->saved, it->path);
        break;
    }
  }
  // Cut every surviving file created here back to the bytes its last fsync covered.
  for (const std::string& dir : data_dirs_) {
    for (auto it = std::filesystem::directory_iterator(dir, ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
      struct stat st;
      if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      auto synced = synced_size_by_inode_.find(static_cast<uint64_t>(st.st_ino));
      uint64_t size = static_cast<uint64_t>(st.st_size);
      if (synced == synced_size_by_inode_.end() || size <= synced->second) continue;
      uint64_t keep = synced->second;
      if (options_.torn_unsynced_tail) {
        keep += std::uniform_int_distribution<uint64_t>(0, size - synced->second)(rng_);
      }
      // Each inode once: a second name of it must not be cut again at a new random point.
      synced->second = keep;
      if (::truncate(it->path().c_str(), static_cast<off_t>(keep)) != 0) {
        return Status::IOError("simulated crash: cannot truncate " + it->path().string());
      }
    }
    ec.clear();
  }
  pending_.clear();
  synced_size_by_inode_.clear();
  data_dirs_.clear();
  triggers_.clear();
  dead_ = false;
  crash_after_ = UINT64_MAX;
  std::filesystem::remove_all(scratch_dir_, ec);
  std::filesystem::create_directories(scratch_dir_, ec);
  return Status::Ok();
}

}  // namespace fathom
