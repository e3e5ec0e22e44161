// CacheStore: a bounded local-disk cache of a remote store's objects (`fathom run --store
// s3://... --cache-dir DIR --cache-size-mib N`).
//
// An ObjectStore that wraps another: Gets (whole or ranged) are answered from page files
// in a local directory where it has them and fetched from the wrapped store otherwise,
// then kept; Puts go to the wrapped store and, once acknowledged, into the cache as well
// (write-through: a segment compaction just wrote is read back from disk at the next
// open); Head, List and Delete go to the wrapped store (a Delete also drops the key's
// pages). The cache survives restarts: pages are found again at open, least recently
// written first in line for eviction.
//
// Why it is safe to serve from a cache without asking the store: fathom never rewrites an
// object. Every engine write is a create-only Put of a key that is never reused (WAL
// sequence numbers, manifest and catalog versions, segment and index ids only grow;
// collection ids are fresh UUIDs), so the bytes cached for a key are the bytes of that
// key for as long as it exists. Two consequences, both harmless for that key discipline:
// an object another node deleted may still be served from the cache, with the bytes it
// had; and a key deleted and re-created with other bytes by another process would be
// served stale (a key deleted through this store is dropped from the cache). A caller
// with another discipline must not put a CacheStore in front of its store.
//
// What is on disk: DIR/pages/<hh>/<key hash>.<page> (io/cache_page.h: each page names its
// key and page and carries a checksum; a damaged page is deleted and fetched again, never
// served), DIR/tmp/ for pages being written (renamed into place; leftovers removed at
// open), DIR/.lock (one process per cache directory). Nothing is fsynced: the cache is
// disposable, and a page torn by a crash fails its checksum.
//
// Bounds: the page files together stay within `capacity_bytes`, evicting the least
// recently used pages; an object larger than half the capacity is passed through
// uncached. A cache I/O failure (disk full, EIO) never fails a read or a write: the
// request is answered from the wrapped store and the failure counted and logged.
//
// Thread-safety: safe for concurrent use (one mutex around the page index; file I/O
// outside it). Two threads missing the same page both fetch it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "io/file_system.h"
#include "io/local_store.h"
#include "io/object_store.h"

namespace fathom {

struct CacheStoreOptions {
  std::string dir;
  // The most the page files may take on disk together (headers included).
  uint64_t capacity_bytes = uint64_t{4} << 30;
  // Objects are cached in pages of this many bytes: a ranged read fetches the whole pages
  // it touches. Larger pages mean fewer files and requests, more bytes per cold read.
  uint32_t page_bytes = 256 * 1024;
  bool write_through = true;
  // Which keys the cache keeps (null: all). The others pass straight through: fathom
  // caches only collection data objects (storage/manifest.h, IsCollectionDataKey), never
  // the small objects whose existence orders commits (WAL, manifests, catalog).
  std::function<bool(const std::string&)> cacheable;
  // Null: the real file system. Tests inject faults through it.
  std::shared_ptr<FileSystem> file_system;
};

struct CacheStats {
  uint64_t page_hits = 0;       // pages served from disk
  uint64_t page_misses = 0;     // pages fetched from the wrapped store
  uint64_t fetches = 0;         // Gets sent to the wrapped store
  uint64_t pages_written = 0;
  uint64_t evictions = 0;
  uint64_t damaged_pages = 0;   // pages that failed their checksum or named another key
  uint64_t io_errors = 0;       // cache reads and writes that failed (the request went on)
  uint64_t resident_pages = 0;
  uint64_t resident_bytes = 0;
};

class CacheStore final : public ObjectStore {
 public:
  // Locks `options.dir` (FailedPrecondition if another process uses it), creates it if
  // missing, removes unfinished pages and indexes the pages found there.
  static Result<std::shared_ptr<CacheStore>> Open(std::shared_ptr<ObjectStore> inner, CacheStoreOptions options);
  ~CacheStore() override;

  Status Put(const std::string& key, std::string_view bytes, PutMode mode) override;
  Result<std::string> Get(const std::string& key, std::optional<ByteRange> range = std::nullopt) override;
  // Serves what the cache holds and fetches every read's missing pages (one span per
  // read, as Get does) in one GetRanges call to the wrapped store: a batch costs one
  // round trip to the store at most.
  Result<std::vector<std::string>> GetRanges(const std::vector<RangedRead>& reads) override;
  Result<ObjectInfo> Head(const std::string& key) override { return inner_->Head(key); }
  Result<std::vector<ObjectInfo>> List(const std::string& prefix, const std::string& start_after,
                                       size_t max_keys) override {
    return inner_->List(prefix, start_after, max_keys);
  }
  Status Delete(const std::string& key) override;
  std::vector<Status> DeleteMany(const std::vector<std::string>& keys) override;
  std::string Describe() const override;

  CacheStats stats() const;

 private:
  // A page's place in the index: the key's hash and the page number.
  struct PageId {
    uint64_t hash = 0;
    uint64_t index = 0;
    bool operator<(const PageId& o) const { return hash != o.hash ? hash < o.hash : index < o.index; }
  };
  struct Entry {
    uint64_t file_bytes = 0;
    std::list<PageId>::iterator lru;  // position in lru_ (front: most recently used)
  };

  CacheStore(std::shared_ptr<ObjectStore> inner, CacheStoreOptions options, std::unique_ptr<DirectoryLock> lock);
  Status LoadIndex();
  std::string PagePath(PageId id) const;
  bool Cacheable(const std::string& key) const;

  // A ranged read planned against the cache: the pages found, and what to fetch.
  struct RangePlan {
    ByteRange range;
    uint64_t end = 0;    // range.offset + range.length, saturated
    uint64_t first = 0;  // first page touched
    std::vector<std::optional<std::string>> pages;  // from `first` on; nullopt: missing
    bool pass_through = false;  // too many pages to cache: fetch `range` as it is
    size_t missing_first = 0;   // pages[missing_first .. + span_pages) are fetched
    uint64_t span_pages = 0;    // 0: nothing to fetch
  };

  Result<std::string> GetWhole(const std::string& key);
  // The object whole from cached pages, or nullopt when a page is missing.
  std::optional<std::string> CachedWhole(const std::string& key);
  // Caches an object fetched whole.
  void KeepWhole(const std::string& key, const std::string& bytes);
  Result<std::string> GetRange(const std::string& key, ByteRange range);
  RangePlan PlanRange(const std::string& key, ByteRange range);
  // The read that fetches the plan's missing span (span_pages > 0).
  RangedRead SpanRead(const std::string& key, const RangePlan& plan) const;
  // The range's bytes from the plan's pages and `fetched` (the span's bytes, when the
  // plan had one); caches the fetched pages when `keep` (a batch keeps a fetch two
  // reads share once).
  std::string FinishRange(const std::string& key, RangePlan& plan, const std::string* fetched, bool keep = true);
  // The page's data, or nullopt when the cache does not have it (or had it damaged).
  std::optional<std::string> ReadPage(const std::string& key, PageId id);
  // Caches `bytes`, the object's bytes from page `first_page` on; `reaches_end`: they run
  // to the object's end (so a last page of exactly page_bytes is followed by an empty one).
  void StorePages(const std::string& key, uint64_t first_page, std::string_view bytes, bool reaches_end);
  void WritePage(const std::string& key, PageId id, std::string_view data);
  void DropKey(uint64_t hash);
  void RemoveFiles(const std::vector<PageId>& ids);
  void CountIoError(const std::string& what, const std::string& path, int err);

  std::shared_ptr<ObjectStore> inner_;
  const CacheStoreOptions options_;
  std::shared_ptr<FileSystem> fs_;
  std::unique_ptr<DirectoryLock> lock_;

  mutable std::mutex mu_;
  std::map<PageId, Entry> pages_;
  std::list<PageId> lru_;
  uint64_t resident_bytes_ = 0;

  std::atomic<uint64_t> page_hits_{0}, page_misses_{0}, fetches_{0}, pages_written_{0}, evictions_{0},
      damaged_pages_{0}, io_errors_{0}, tmp_counter_{0};
};

}  // namespace fathom
