// BlockCache: a bounded RAM cache of immutable byte blocks keyed by (file id, block
// number), the "bounded RAM block cache" of DESIGN.md section 2.
//
// Blocks are whatever unit a reader verifies and reads at once (vector_file.h reads
// checksummed blocks of whole rows). The cache is split into shards, each an LRU list
// with its own mutex and an equal share of the capacity, so concurrent readers rarely
// contend. Every cached block is charged its size plus kEntryOverheadBytes (list node,
// hash entry, allocation), so capacity_bytes bounds the memory the cache holds, not just
// its payload. A block larger than one shard's share is never cached.
//
// Ownership: the cache owns the bytes of the blocks it holds; Read copies out, so no
// caller ever points into the cache. Thread-safety: every method is safe from many
// threads at once.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace fathom {

class BlockCache {
 public:
  // Bytes charged per cached block beyond its payload.
  static constexpr size_t kEntryOverheadBytes = 96;
  static constexpr uint32_t kShardsDefault = 16;
  static constexpr uint32_t kShardsMax = 1024;

  struct Stats {
    uint64_t hits = 0;
    uint64_t misses = 0;
    uint64_t inserts = 0;
    uint64_t evictions = 0;
  };

  // `shard_count` is clamped to [1, kShardsMax].
  explicit BlockCache(size_t capacity_bytes, uint32_t shard_count = kShardsDefault);
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;

  // A process-unique id for a reader to key its blocks with.
  uint64_t NewFileId() { return next_file_id_.fetch_add(1, std::memory_order_relaxed); }

  // On a hit copies bytes [offset, offset + length) of the block into `dst`, marks the
  // block most recently used and returns true; the range must lie inside the block (a
  // range outside it counts as a miss). On a miss returns false.
  bool Read(uint64_t file_id, uint64_t block, size_t offset, size_t length, void* dst);

  // Caches `bytes` as the block (replacing any copy already there), evicting the least
  // recently used blocks of its shard until the shard is within its share.
  void Insert(uint64_t file_id, uint64_t block, std::string bytes);

  // Drops every block of `file_id` (a reader closing its file).
  void EraseFile(uint64_t file_id);

  size_t capacity_bytes() const { return capacity_bytes_; }
  // Bytes charged now (payload + overhead); never above capacity_bytes().
  size_t charged_bytes() const;
  Stats stats() const;

 private:
  struct Key {
    uint64_t file_id;
    uint64_t block;
    bool operator==(const Key& other) const { return file_id == other.file_id && block == other.block; }
  };
  struct KeyHash {
    size_t operator()(const Key& key) const;
  };
  struct Entry {
    Key key;
    std::string bytes;
  };
  struct Shard {
    mutable std::mutex mutex;
    std::list<Entry> lru;  // front = most recently used
    std::unordered_map<Key, std::list<Entry>::iterator, KeyHash> map;
    size_t charged_bytes = 0;
    Stats stats;
  };

  Shard& ShardFor(const Key& key);
  static void EraseLocked(Shard& shard, std::list<Entry>::iterator it);

  const size_t capacity_bytes_;
  size_t shard_capacity_bytes_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<uint64_t> next_file_id_{1};
};

}  // namespace fathom
