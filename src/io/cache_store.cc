#include "io/cache_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <unordered_map>

#include "common/checksum.h"
#include "io/cache_page.h"

namespace fathom {

namespace {

constexpr char kPagesDir[] = "/pages";
constexpr char kTmpDir[] = "/tmp";
constexpr size_t kHashHexDigits = 16;

std::string Hex(uint64_t v, int digits) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(static_cast<size_t>(digits), '0');
  for (int i = digits - 1; i >= 0; --i, v >>= 4) out[static_cast<size_t>(i)] = kDigits[v & 0xf];
  return out;
}

std::optional<uint64_t> ParseHex(std::string_view text) {
  if (text.empty() || text.size() > kHashHexDigits) return std::nullopt;
  uint64_t v = 0;
  for (char c : text) {
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) return std::nullopt;
    v = v << 4 | static_cast<uint64_t>(d);
  }
  return v;
}

std::optional<uint64_t> ParseDecimal(std::string_view text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

int MakeDirectoryIfMissing(FileSystem& fs, const std::string& path) {
  int err = fs.MakeDirectory(path);
  return err == EEXIST ? 0 : err;
}

// Reads a whole small file; errno on failure.
int ReadWholeFile(FileSystem& fs, const std::string& path, std::string* out) {
  std::unique_ptr<File> file;
  if (int err = fs.OpenForRead(path, &file); err != 0) return err;
  FileStat st;
  if (int err = file->Stat(&st); err != 0) return err;
  out->resize(st.size_bytes);
  size_t read = 0;
  if (int err = file->ReadAt(0, out->size(), out->data(), &read); err != 0) return err;
  out->resize(read);
  return 0;
}

}  // namespace

Result<std::shared_ptr<CacheStore>> CacheStore::Open(std::shared_ptr<ObjectStore> inner, CacheStoreOptions options) {
  if (inner == nullptr) return Status::InvalidArgument("cache: no store to cache");
  if (options.dir.empty()) return Status::InvalidArgument("cache: no cache directory given");
  if (options.page_bytes == 0) return Status::InvalidArgument("cache: page size must be at least 1 byte");
  if (options.capacity_bytes == 0) return Status::InvalidArgument("cache: capacity must be at least 1 byte");
  if (options.file_system == nullptr) options.file_system = PosixFileSystem::Default();
  auto lock = DirectoryLock::Acquire(options.dir, *options.file_system);
  if (!lock.ok()) {
    if (lock.status().code() == StatusCode::kFailedPrecondition) {
      return Status::FailedPrecondition("cache directory " + options.dir +
                                        " is in use by another fathom process; give each node its own --cache-dir");
    }
    return lock.status().WithContext("cache directory " + options.dir);
  }
  std::shared_ptr<CacheStore> store(new CacheStore(std::move(inner), std::move(options), std::move(*lock)));
  FATHOM_RETURN_IF_ERROR(store->LoadIndex());
  return store;
}

CacheStore::CacheStore(std::shared_ptr<ObjectStore> inner, CacheStoreOptions options,
                       std::unique_ptr<DirectoryLock> lock)
    : inner_(std::move(inner)), options_(std::move(options)), fs_(options_.file_system), lock_(std::move(lock)) {}

CacheStore::~CacheStore() = default;

std::string CacheStore::Describe() const { return "cache:" + options_.dir + " over " + inner_->Describe(); }

std::string CacheStore::PagePath(PageId id) const {
  return options_.dir + kPagesDir + "/" + Hex(id.hash >> 56, 2) + "/" + Hex(id.hash, kHashHexDigits) + "." +
         std::to_string(id.index);
}

Status CacheStore::LoadIndex() {
  FileSystem& fs = *fs_;
  const std::string pages_dir = options_.dir + kPagesDir;
  const std::string tmp_dir = options_.dir + kTmpDir;
  for (const std::string& dir : {pages_dir, tmp_dir}) {
    if (int err = MakeDirectoryIfMissing(fs, dir); err != 0) {
      return Status::IOError("cache directory " + options_.dir + ": mkdir " + dir + ": " + std::strerror(err));
    }
  }
  // Pages being written when the last process stopped: never renamed into place, so
  // never part of the cache.
  std::vector<std::string> names;
  if (int err = fs.ListDirectory(tmp_dir, &names); err != 0) {
    return Status::IOError("cache directory " + options_.dir + ": list " + tmp_dir + ": " + std::strerror(err));
  }
  for (const std::string& name : names) (void)fs.Unlink(tmp_dir + "/" + name);

  struct Found {
    PageId id;
    uint64_t bytes;
    int64_t modified_ns;
  };
  std::vector<Found> found;
  std::vector<std::string> subdirs;
  if (int err = fs.ListDirectory(pages_dir, &subdirs); err != 0) {
    return Status::IOError("cache directory " + options_.dir + ": list " + pages_dir + ": " + std::strerror(err));
  }
  for (const std::string& sub : subdirs) {
    const std::string sub_path = pages_dir + "/" + sub;
    std::vector<std::string> files;
    if (fs.ListDirectory(sub_path, &files) != 0) continue;  // not a directory of ours
    for (const std::string& file : files) {
      const std::string path = sub_path + "/" + file;
      const size_t dot = file.find('.');
      std::optional<uint64_t> hash, index;
      if (dot != std::string::npos) {
        hash = ParseHex(std::string_view(file).substr(0, dot));
        index = ParseDecimal(std::string_view(file).substr(dot + 1));
      }
      FileStat st;
      const bool named_right = hash && index && dot == kHashHexDigits && sub == Hex(*hash >> 56, 2);
      if (!named_right || fs.Stat(path, false, &st) != 0 || !st.is_regular) {
        (void)fs.Unlink(path);  // not a page file: whatever it is, the cache does not serve it
        continue;
      }
      found.push_back({PageId{*hash, *index}, st.size_bytes, st.modified_ns});
    }
  }
  // The most recently written first in line to stay.
  std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) { return a.modified_ns > b.modified_ns; });
  std::vector<PageId> evicted;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const Found& f : found) {
      if (resident_bytes_ + f.bytes > options_.capacity_bytes) {
        evicted.push_back(f.id);  // the capacity shrank since these were written
        continue;
      }
      lru_.push_back(f.id);
      pages_[f.id] = Entry{f.bytes, std::prev(lru_.end())};
      resident_bytes_ += f.bytes;
    }
  }
  RemoveFiles(evicted);
  evictions_ += evicted.size();
  spdlog::info("cache {}: {} pages, {} bytes found", options_.dir, found.size() - evicted.size(), resident_bytes_);
  return Status::Ok();
}

bool CacheStore::Cacheable(const std::string& key) const {
  return options_.cacheable == nullptr || options_.cacheable(key);
}

Status CacheStore::Put(const std::string& key, std::string_view bytes, PutMode mode) {
  Status s = inner_->Put(key, bytes, mode);
  if (!s.ok() || !Cacheable(key)) return s;
  // A key that now holds these bytes: whatever was cached for it is gone (only possible
  // if another process deleted and re-created it).
  DropKey(Checksum64(key));
  if (options_.write_through && bytes.size() <= options_.capacity_bytes / 2) StorePages(key, 0, bytes, true);
  return s;
}

std::vector<Status> CacheStore::DeleteMany(const std::vector<std::string>& keys) {
  std::vector<Status> statuses = inner_->DeleteMany(keys);
  for (const std::string& key : keys) DropKey(Checksum64(key));  // as Delete: even after a failure
  return statuses;
}

Status CacheStore::Delete(const std::string& key) {
  Status s = inner_->Delete(key);
  DropKey(Checksum64(key));  // even if the Delete failed: the object may be gone
  return s;
}

Result<std::string> CacheStore::Get(const std::string& key, std::optional<ByteRange> range) {
  if (!Cacheable(key)) return inner_->Get(key, range);
  if (!range) return GetWhole(key);
  if (range->length == 0) return inner_->Get(key, range);  // answers "exists?" too
  return GetRange(key, *range);
}

Result<std::string> CacheStore::GetWhole(const std::string& key) {
  if (std::optional<std::string> cached = CachedWhole(key)) return std::move(*cached);
  ++fetches_;
  FATHOM_ASSIGN_OR_RETURN(std::string bytes, inner_->Get(key, std::nullopt));
  KeepWhole(key, bytes);
  return bytes;
}

std::optional<std::string> CacheStore::CachedWhole(const std::string& key) {
  const uint64_t hash = Checksum64(key);
  std::string out;
  for (uint64_t index = 0;; ++index) {
    std::optional<std::string> page = ReadPage(key, PageId{hash, index});
    if (!page) return std::nullopt;
    out += *page;
    if (page->size() < options_.page_bytes) return out;  // the last page
  }
}

void CacheStore::KeepWhole(const std::string& key, const std::string& bytes) {
  page_misses_ += bytes.size() / options_.page_bytes + 1;
  if (bytes.size() <= options_.capacity_bytes / 2) StorePages(key, 0, bytes, true);
}

Result<std::string> CacheStore::GetRange(const std::string& key, ByteRange range) {
  RangePlan plan = PlanRange(key, range);
  if (plan.pass_through) {
    ++fetches_;
    return inner_->Get(key, range);
  }
  if (plan.span_pages == 0) return FinishRange(key, plan, nullptr);
  const RangedRead span = SpanRead(key, plan);
  ++fetches_;
  FATHOM_ASSIGN_OR_RETURN(std::string fetched, inner_->Get(span.key, span.range));
  return FinishRange(key, plan, &fetched);
}

CacheStore::RangePlan CacheStore::PlanRange(const std::string& key, ByteRange range) {
  const uint64_t page_bytes = options_.page_bytes;
  RangePlan plan;
  plan.range = range;
  plan.end = range.length > std::numeric_limits<uint64_t>::max() - range.offset ? std::numeric_limits<uint64_t>::max()
                                                                               : range.offset + range.length;
  plan.first = range.offset / page_bytes;
  const uint64_t last = (plan.end - 1) / page_bytes;
  // A range that would take more pages than the cache holds is not worth caching (and
  // page arithmetic near 2^64 would overflow): pass it through.
  if ((last - plan.first + 1) > options_.capacity_bytes / 2 / page_bytes ||
      last >= std::numeric_limits<uint64_t>::max() / page_bytes) {
    plan.pass_through = true;
    return plan;
  }
  const uint64_t hash = Checksum64(key);
  plan.pages.reserve(last - plan.first + 1);
  for (uint64_t index = plan.first; index <= last; ++index) {
    plan.pages.push_back(ReadPage(key, PageId{hash, index}));
    if (plan.pages.back() && plan.pages.back()->size() < page_bytes) break;  // the object ends here
  }
  size_t missing_first = plan.pages.size(), missing_last = 0;
  for (size_t i = 0; i < plan.pages.size(); ++i) {
    if (plan.pages[i]) continue;
    missing_first = std::min(missing_first, i);
    missing_last = i;
  }
  if (missing_first < plan.pages.size()) {
    // One request for the span of missing pages (present ones inside it come along).
    plan.missing_first = missing_first;
    plan.span_pages = missing_last - missing_first + 1;
  }
  return plan;
}

RangedRead CacheStore::SpanRead(const std::string& key, const RangePlan& plan) const {
  const uint64_t page_bytes = options_.page_bytes;
  return RangedRead{key, ByteRange{(plan.first + plan.missing_first) * page_bytes, plan.span_pages * page_bytes}};
}

std::string CacheStore::FinishRange(const std::string& key, RangePlan& plan, const std::string* fetched, bool keep) {
  const uint64_t page_bytes = options_.page_bytes;
  std::vector<std::optional<std::string>>& pages = plan.pages;
  if (fetched != nullptr) {
    const uint64_t span_pages = plan.span_pages;
    const size_t missing_first = plan.missing_first;
    if (keep) page_misses_ += span_pages;
    const bool reaches_end = fetched->size() < span_pages * page_bytes;
    for (uint64_t i = 0; i < span_pages; ++i) {
      const uint64_t at = i * page_bytes;
      if (at > fetched->size()) {
        pages.resize(missing_first + i);  // past the end the object has no pages
        break;
      }
      pages[missing_first + i] = fetched->substr(at, page_bytes);
      if (pages[missing_first + i]->size() < page_bytes) {
        pages.resize(missing_first + i + 1);
        break;
      }
    }
    if (keep) StorePages(key, plan.first + missing_first, *fetched, reaches_end);
  }
  std::string out;
  uint64_t position = plan.first * page_bytes;
  for (const std::optional<std::string>& page : pages) {
    const uint64_t page_end = position + page->size();
    const uint64_t from = std::max(position, plan.range.offset);
    const uint64_t to = std::min(page_end, plan.end);
    if (from < to) out.append(*page, from - position, to - from);
    position += page_bytes;
    if (page->size() < page_bytes) break;
  }
  return out;
}

Result<std::vector<std::string>> CacheStore::GetRanges(const std::vector<RangedRead>& reads) {
  if (reads.size() > kGetRangesReadsMax) {
    return Status::InvalidArgument("GetRanges of " + std::to_string(reads.size()) + " reads exceeds " +
                                   std::to_string(kGetRangesReadsMax));
  }
  // What each read needs once the batch's fetches are back.
  enum class Kind { kDone, kRaw, kWhole, kRange };
  struct Pending {
    Kind kind = Kind::kDone;
    RangePlan plan;
    size_t fetch = 0;  // its position in `fetches`
  };
  std::vector<std::string> out(reads.size());
  std::vector<Pending> pending(reads.size());
  std::vector<RangedRead> fetches;
  std::unordered_map<std::string, size_t> fetch_of;  // key and span -> its fetch
  for (size_t i = 0; i < reads.size(); ++i) {
    const RangedRead& read = reads[i];
    Pending& p = pending[i];
    if (!Cacheable(read.key) || (read.range && read.range->length == 0)) {
      p.kind = Kind::kRaw;  // as Get: straight to the store
    } else if (!read.range) {
      if (std::optional<std::string> cached = CachedWhole(read.key)) {
        out[i] = std::move(*cached);
        continue;
      }
      p.kind = Kind::kWhole;
    } else {
      p.plan = PlanRange(read.key, *read.range);
      if (p.plan.pass_through) {
        p.kind = Kind::kRaw;
      } else if (p.plan.span_pages == 0) {
        out[i] = FinishRange(read.key, p.plan, nullptr);
        continue;
      } else {
        p.kind = Kind::kRange;
      }
    }
    // Reads that need the same bytes (two blocks in one page) share one fetch.
    RangedRead fetch = p.kind == Kind::kRange ? SpanRead(read.key, p.plan) : read;
    std::string id = fetch.key;
    if (fetch.range) id += '\0' + std::to_string(fetch.range->offset) + '+' + std::to_string(fetch.range->length);
    auto [it, added] = fetch_of.try_emplace(std::move(id), fetches.size());
    p.fetch = it->second;
    if (added) fetches.push_back(std::move(fetch));
  }
  if (fetches.empty()) return out;
  fetches_ += fetches.size();
  FATHOM_ASSIGN_OR_RETURN(std::vector<std::string> fetched, inner_->GetRanges(fetches));
  if (fetched.size() != fetches.size()) {
    return Status::IOError("cache: " + inner_->Describe() + " answered " + std::to_string(fetched.size()) +
                           " of a batch of " + std::to_string(fetches.size()) + " reads");
  }
  std::vector<bool> kept(fetches.size(), false);  // a shared fetch is cached once
  for (size_t i = 0; i < reads.size(); ++i) {
    Pending& p = pending[i];
    const bool keep = p.kind != Kind::kDone && !kept[p.fetch];
    if (p.kind != Kind::kDone) kept[p.fetch] = true;
    switch (p.kind) {
      case Kind::kDone:
        break;
      case Kind::kRaw:
        out[i] = fetched[p.fetch];  // copied: another read may share the fetch
        break;
      case Kind::kWhole:
        if (keep) KeepWhole(reads[i].key, fetched[p.fetch]);
        out[i] = fetched[p.fetch];
        break;
      case Kind::kRange:
        out[i] = FinishRange(reads[i].key, p.plan, &fetched[p.fetch], keep);
        break;
    }
  }
  return out;
}

std::optional<std::string> CacheStore::ReadPage(const std::string& key, PageId id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = pages_.find(id);
    if (it == pages_.end()) return std::nullopt;
    lru_.splice(lru_.begin(), lru_, it->second.lru);
  }
  const std::string path = PagePath(id);
  std::string file;
  if (int err = ReadWholeFile(*fs_, path, &file); err != 0) {
    // Evicted between the lookup and the open: an ordinary miss.
    if (err != ENOENT) CountIoError("read", path, err);
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = pages_.find(id); it != pages_.end() && err == ENOENT) {
      resident_bytes_ -= it->second.file_bytes;
      lru_.erase(it->second.lru);
      pages_.erase(it);
    }
    return std::nullopt;
  }
  auto page = DecodeCachePage(file);
  if (!page.ok() || page->key != key || page->index != id.index || page->page_bytes != options_.page_bytes) {
    // Damaged, another key's page under a colliding hash, or written with another page
    // size: never served. Another key's page is left alone; the rest is removed.
    if (!page.ok()) {
      ++damaged_pages_;
      spdlog::warn("cache {}: page {} is damaged ({}); fetching it again", options_.dir, path,
                   page.status().ToString());
    }
    if (!page.ok() || page->key == key) RemoveFiles({id});
    return std::nullopt;
  }
  ++page_hits_;
  return std::string(page->data);
}

void CacheStore::StorePages(const std::string& key, uint64_t first_page, std::string_view bytes, bool reaches_end) {
  const uint64_t hash = Checksum64(key);
  const size_t page_bytes = options_.page_bytes;
  size_t at = 0;
  uint64_t index = first_page;
  for (; at + page_bytes <= bytes.size(); at += page_bytes, ++index) {
    WritePage(key, PageId{hash, index}, bytes.substr(at, page_bytes));
  }
  // The tail: a short last page, or an empty one marking an end on a page boundary.
  if (reaches_end) WritePage(key, PageId{hash, index}, bytes.substr(at));
}

void CacheStore::WritePage(const std::string& key, PageId id, std::string_view data) {
  auto encoded = EncodeCachePage(CachePage{key, id.index, options_.page_bytes, data});
  if (!encoded.ok()) return;  // a key longer than any object key: not cached
  const std::string path = PagePath(id);
  const std::string tmp = options_.dir + kTmpDir + "/" + std::to_string(tmp_counter_++);
  std::unique_ptr<File> file;
  int err = fs_->CreateNew(tmp, &file);
  if (err == 0) err = file->Write(*encoded);
  if (err == 0) err = file->Close();
  if (err == 0) {
    err = fs_->Rename(tmp, path);
    if (err == ENOENT) {  // the first page under this hash prefix: make its directory
      err = MakeDirectoryIfMissing(*fs_, path.substr(0, path.rfind('/')));
      if (err == 0) err = fs_->Rename(tmp, path);
    }
  }
  if (err != 0) {
    CountIoError("write", path, err);
    (void)fs_->Unlink(tmp);
    return;
  }
  ++pages_written_;
  std::vector<PageId> evicted;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto [it, inserted] = pages_.try_emplace(id);
    if (inserted) {
      lru_.push_front(id);
      it->second.lru = lru_.begin();
    } else {
      resident_bytes_ -= it->second.file_bytes;
      lru_.splice(lru_.begin(), lru_, it->second.lru);
    }
    it->second.file_bytes = encoded->size();
    resident_bytes_ += encoded->size();
    while (resident_bytes_ > options_.capacity_bytes && !lru_.empty()) {
      const PageId victim = lru_.back();
      auto v = pages_.find(victim);
      resident_bytes_ -= v->second.file_bytes;
      pages_.erase(v);
      lru_.pop_back();
      evicted.push_back(victim);
    }
  }
  evictions_ += evicted.size();
  // Unlinked after the index forgot them: a reader that still found one gets ENOENT (a
  // miss) or the whole file it opened first, never a partial one.
  for (PageId victim : evicted) (void)fs_->Unlink(PagePath(victim));
}

void CacheStore::DropKey(uint64_t hash) {
  std::vector<PageId> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = pages_.lower_bound(PageId{hash, 0});
    while (it != pages_.end() && it->first.hash == hash) {
      dropped.push_back(it->first);
      ++it;
    }
  }
  RemoveFiles(dropped);
}

void CacheStore::RemoveFiles(const std::vector<PageId>& ids) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (PageId id : ids) {
      auto it = pages_.find(id);
      if (it == pages_.end()) continue;
      resident_bytes_ -= it->second.file_bytes;
      lru_.erase(it->second.lru);
      pages_.erase(it);
    }
  }
  for (PageId id : ids) (void)fs_->Unlink(PagePath(id));
}

void CacheStore::CountIoError(const std::string& what, const std::string& path, int err) {
  const uint64_t n = ++io_errors_;
  // The first failure and then every power of two: a full disk must not flood the log.
  if ((n & (n - 1)) == 0) {
    spdlog::warn("cache {}: {} {} failed: {} ({} cache I/O errors so far; requests go to the store)", options_.dir,
                 what, path, std::strerror(err), n);
  }
}

CacheStats CacheStore::stats() const {
  CacheStats s;
  s.page_hits = page_hits_;
  s.page_misses = page_misses_;
  s.fetches = fetches_;
  s.pages_written = pages_written_;
  s.evictions = evictions_;
  s.damaged_pages = damaged_pages_;
  s.io_errors = io_errors_;
  std::lock_guard<std::mutex> lock(mu_);
  s.resident_pages = pages_.size();
  s.resident_bytes = resident_bytes_;
  return s;
}

}  // namespace fathom
