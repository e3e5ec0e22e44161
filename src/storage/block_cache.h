// BlockCache: a bounded RAM cache of immutable byte blocks keyed by (file id, block
// number), the "bounded RAM block cache" of DESIGN.md section 2.
//
// Blocks are whatever unit a reader verifies and reads at once (vector_file.h reads
// checksummed blocks of whole rows), at most block_bytes each. The cache is split into
// shards, each an LRU list with its own mutex and an equal share of the capacity, so
// concurrent readers rarely contend. Each shard owns a fixed arena of block_bytes slots
// allocated up front (pages are touched only as slots fill), so a miss costs a copy into
// a free or evicted slot, never an allocation. Blocks are found through an
// open-addressing table of slot numbers (linear probing, at most half full, backward-
// shift deletion): a lookup touches one table entry and the slot's key, and an insert or
// eviction allocates nothing (a node-based map cost a malloc, a free and a pointer chase
// per miss). Every slot is charged block_bytes plus kEntryOverheadBytes (LRU links, key,
// hash, table entries), so capacity_bytes bounds the memory the cache holds, not just
// its payload.
//
// Ownership: the cache owns its arenas; Read copies out, so no caller ever points into
// the cache. Thread-safety: every method is safe from many threads at once.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace fathom {

class BlockCache {
 public:
  // Bytes charged per slot beyond its payload.
  static constexpr size_t kEntryOverheadBytes = 80;
  static constexpr uint32_t kShardsDefault = 16;
  static constexpr uint32_t kShardsMax = 1024;

  struct Stats {
    uint64_t hits = 0;
    uint64_t misses = 0;
    uint64_t inserts = 0;
    uint64_t evictions = 0;
  };

  // Blocks of at most `block_bytes` each. `shard_count` is clamped to [1, kShardsMax] and
  // lowered so that every shard has at least one slot where the capacity allows; a
  // capacity below one slot caches nothing.
  BlockCache(size_t capacity_bytes, size_t block_bytes, uint32_t shard_count = kShardsDefault);
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;

  // A process-unique id for a reader to key its blocks with.
  uint64_t NewFileId() { return next_file_id_.fetch_add(1, std::memory_order_relaxed); }

  // On a hit copies bytes [offset, offset + length) of the block into `dst`, marks the
  // block most recently used and returns true; the range must lie inside the block (a
  // range outside it counts as a miss). On a miss returns false.
  bool Read(uint64_t file_id, uint64_t block, size_t offset, size_t length, void* dst);

  // Whether the block is cached now (a hint: another thread may evict it next). Counts
  // as neither a hit nor a miss and leaves the block's recency alone.
  bool Contains(uint64_t file_id, uint64_t block);

  // Caches a copy of `length` bytes as the block (replacing any copy already there),
  // evicting the shard's least recently used block if it has no free slot. Blocks longer
  // than block_bytes() are not cached.
  void Insert(uint64_t file_id, uint64_t block, const void* data, size_t length);

  // Drops every block of `file_id` (a reader closing its file).
  void EraseFile(uint64_t file_id);

  size_t capacity_bytes() const { return capacity_bytes_; }
  size_t block_bytes() const { return block_bytes_; }
  // Bytes charged now ((block_bytes + overhead) per occupied slot); never above
  // capacity_bytes().
  size_t charged_bytes() const;
  Stats stats() const;

 private:
  static constexpr uint32_t kNone = UINT32_MAX;
  struct Key {
    uint64_t file_id;
    uint64_t block;
    bool operator==(const Key& other) const { return file_id == other.file_id && block == other.block; }
  };
  struct KeyHash {
    size_t operator()(const Key& key) const;
  };
  struct Shard {
    mutable std::mutex mutex;
    std::unique_ptr<char[]> arena;  // slots * block_bytes
    std::vector<Key> keys;          // per slot
    std::vector<uint32_t> lengths;  // per slot: payload bytes
    std::vector<uint32_t> prev, next;  // LRU links per slot; head = most recent
    uint32_t head = kNone, tail = kNone;
    std::vector<uint32_t> free_slots;
    std::vector<uint32_t> hashes;   // per slot: its key's hash (low bits pick the bucket)
    std::vector<uint32_t> table;    // power of two >= 2 * slots: slot numbers or kNone
    uint32_t mask = 0;              // table.size() - 1
    uint32_t used = 0;
    Stats stats;
  };

  Shard& ShardFor(size_t hash);
  static void Unlink(Shard& shard, uint32_t slot);
  static void PushFront(Shard& shard, uint32_t slot);
  static void EraseLocked(Shard& shard, uint32_t slot);
  // The slot holding `key` (whose hash is `hash`), or kNone.
  static uint32_t FindLocked(const Shard& shard, const Key& key, uint32_t hash);
  // Table maintenance for an occupied slot whose key and hash are set.
  static void IndexLocked(Shard& shard, uint32_t slot);
  static void UnindexLocked(Shard& shard, uint32_t slot);

  const size_t capacity_bytes_;
  const size_t block_bytes_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<uint64_t> next_file_id_{1};
};

// Block caches by block size, each created on first use with the same capacity: readers
// whose blocks differ in size (vector files of different dimensions) share the pool
// without wasting slots. Block sizes are rounded up to a power of two, at least
// kMinBlockBytes, so a database has few caches. Thread-safety: ForBlockBytes is safe
// from many threads; the caches live as long as the pool.
class BlockCachePool {
 public:
  static constexpr size_t kMinBlockBytes = 4096;
  explicit BlockCachePool(size_t capacity_bytes_each) : capacity_bytes_each_(capacity_bytes_each) {}
  // A cache whose blocks hold at least `block_bytes`.
  BlockCache* ForBlockBytes(size_t block_bytes);
  // Sum over the caches created so far.
  size_t charged_bytes() const;

 private:
  const size_t capacity_bytes_each_;
  mutable std::mutex mu_;
  std::unordered_map<size_t, std::unique_ptr<BlockCache>> caches_;
};

}  // namespace fathom
