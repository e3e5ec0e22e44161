#include "storage/block_cache.h"

#include <algorithm>
#include <cstring>

namespace fathom {

size_t BlockCache::KeyHash::operator()(const Key& key) const {
  // splitmix64 finalizer of the two words: block numbers are sequential, so the shard
  // and bucket must come from mixed bits.
  uint64_t x = key.file_id * 0x9E3779B97F4A7C15ull ^ key.block;
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  x ^= x >> 31;
  return static_cast<size_t>(x);
}

BlockCache::BlockCache(size_t capacity_bytes, size_t block_bytes, uint32_t shard_count)
    : capacity_bytes_(capacity_bytes), block_bytes_(std::max<size_t>(block_bytes, 1)) {
  const size_t slot_charge = block_bytes_ + kEntryOverheadBytes;
  const size_t total_slots = capacity_bytes / slot_charge;
  shard_count = std::clamp<uint32_t>(shard_count, 1, kShardsMax);
  shard_count = static_cast<uint32_t>(std::clamp<size_t>(std::min<size_t>(shard_count, total_slots), 1, kShardsMax));
  const size_t slots_per_shard = total_slots / shard_count;
  shards_.reserve(shard_count);
  for (uint32_t i = 0; i < shard_count; ++i) {
    auto shard = std::make_unique<Shard>();
    // new char[] leaves the arena uninitialized: its pages are touched only as slots fill.
    shard->arena.reset(new char[std::max<size_t>(slots_per_shard, 1) * block_bytes_]);
    shard->keys.resize(slots_per_shard);
    shard->lengths.resize(slots_per_shard);
    shard->prev.resize(slots_per_shard, kNone);
    shard->next.resize(slots_per_shard, kNone);
    shard->free_slots.reserve(slots_per_shard);
    for (size_t s = slots_per_shard; s > 0; --s) shard->free_slots.push_back(static_cast<uint32_t>(s - 1));
    shard->hashes.resize(slots_per_shard);
    size_t buckets = 2;
    while (buckets < 2 * slots_per_shard) buckets *= 2;
    shard->table.assign(buckets, kNone);
    shard->mask = static_cast<uint32_t>(buckets - 1);
    shards_.push_back(std::move(shard));
  }
}

BlockCache::Shard& BlockCache::ShardFor(size_t hash) {
  // High bits pick the shard so that the table's buckets (low bits) stay well spread.
  return *shards_[(hash >> 32) % shards_.size()];
}

uint32_t BlockCache::FindLocked(const Shard& shard, const Key& key, uint32_t hash) {
  for (uint32_t i = hash & shard.mask;; i = (i + 1) & shard.mask) {
    const uint32_t slot = shard.table[i];
    if (slot == kNone) return kNone;
    if (shard.hashes[slot] == hash && shard.keys[slot] == key) return slot;
  }
}

void BlockCache::IndexLocked(Shard& shard, uint32_t slot) {
  uint32_t i = shard.hashes[slot] & shard.mask;
  while (shard.table[i] != kNone) i = (i + 1) & shard.mask;
  shard.table[i] = slot;
}

void BlockCache::UnindexLocked(Shard& shard, uint32_t slot) {
  uint32_t i = shard.hashes[slot] & shard.mask;
  while (shard.table[i] != slot) i = (i + 1) & shard.mask;
  // Backward-shift deletion: move later entries of the probe run into the hole unless
  // their home bucket lies cyclically in (hole, entry], where they must stay.
  for (uint32_t j = i;;) {
    j = (j + 1) & shard.mask;
    const uint32_t moved = shard.table[j];
    if (moved == kNone) break;
    const uint32_t home = shard.hashes[moved] & shard.mask;
    const bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
    if (stays) continue;
    shard.table[i] = moved;
    i = j;
  }
  shard.table[i] = kNone;
}

void BlockCache::Unlink(Shard& shard, uint32_t slot) {
  const uint32_t p = shard.prev[slot], n = shard.next[slot];
  if (p != kNone) shard.next[p] = n; else shard.head = n;
  if (n != kNone) shard.prev[n] = p; else shard.tail = p;
  shard.prev[slot] = shard.next[slot] = kNone;
}

void BlockCache::PushFront(Shard& shard, uint32_t slot) {
  shard.prev[slot] = kNone;
  shard.next[slot] = shard.head;
  if (shard.head != kNone) shard.prev[shard.head] = slot;
  shard.head = slot;
  if (shard.tail == kNone) shard.tail = slot;
}

void BlockCache::EraseLocked(Shard& shard, uint32_t slot) {
  Unlink(shard, slot);
  UnindexLocked(shard, slot);
  shard.free_slots.push_back(slot);
  --shard.used;
}

bool BlockCache::Read(uint64_t file_id, uint64_t block, size_t offset, size_t length, void* dst) {
  const Key key{file_id, block};
  const size_t hash = KeyHash{}(key);
  Shard& shard = ShardFor(hash);
  std::lock_guard<std::mutex> lock(shard.mutex);
  const uint32_t slot = FindLocked(shard, key, static_cast<uint32_t>(hash));
  if (slot == kNone || offset > shard.lengths[slot] || length > shard.lengths[slot] - offset) {
    ++shard.stats.misses;
    return false;
  }
  if (shard.head != slot) {
    Unlink(shard, slot);
    PushFront(shard, slot);
  }
  std::memcpy(dst, shard.arena.get() + size_t{slot} * block_bytes_ + offset, length);
  ++shard.stats.hits;
  return true;
}

bool BlockCache::Contains(uint64_t file_id, uint64_t block) {
  const Key key{file_id, block};
  const size_t hash = KeyHash{}(key);
  Shard& shard = ShardFor(hash);
  std::lock_guard<std::mutex> lock(shard.mutex);
  return FindLocked(shard, key, static_cast<uint32_t>(hash)) != kNone;
}

void BlockCache::Insert(uint64_t file_id, uint64_t block, const void* data, size_t length) {
  if (length > block_bytes_) return;
  const Key key{file_id, block};
  const size_t hash = KeyHash{}(key);
  Shard& shard = ShardFor(hash);
  std::lock_guard<std::mutex> lock(shard.mutex);
  if (shard.keys.empty()) return;  // capacity below one slot
  const uint32_t found = FindLocked(shard, key, static_cast<uint32_t>(hash));
  if (found != kNone) EraseLocked(shard, found);
  if (shard.free_slots.empty()) {
    EraseLocked(shard, shard.tail);
    ++shard.stats.evictions;
  }
  const uint32_t slot = shard.free_slots.back();
  shard.free_slots.pop_back();
  std::memcpy(shard.arena.get() + size_t{slot} * block_bytes_, data, length);
  shard.keys[slot] = key;
  shard.hashes[slot] = static_cast<uint32_t>(hash);
  shard.lengths[slot] = static_cast<uint32_t>(length);
  PushFront(shard, slot);
  IndexLocked(shard, slot);
  ++shard.used;
  ++shard.stats.inserts;
}

void BlockCache::EraseFile(uint64_t file_id) {
  for (auto& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard->mutex);
    for (uint32_t slot = shard->head; slot != kNone;) {
      const uint32_t next = shard->next[slot];
      if (shard->keys[slot].file_id == file_id) EraseLocked(*shard, slot);
      slot = next;
    }
  }
}

size_t BlockCache::charged_bytes() const {
  size_t total = 0;
  for (const auto& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard->mutex);
    total += size_t{shard->used} * (block_bytes_ + kEntryOverheadBytes);
  }
  return total;
}

BlockCache::Stats BlockCache::stats() const {
  Stats total;
  for (const auto& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard->mutex);
    total.hits += shard->stats.hits;
    total.misses += shard->stats.misses;
    total.inserts += shard->stats.inserts;
    total.evictions += shard->stats.evictions;
  }
  return total;
}

BlockCache* BlockCachePool::ForBlockBytes(size_t block_bytes) {
  size_t size = kMinBlockBytes;
  while (size < block_bytes) size *= 2;
  std::lock_guard<std::mutex> lock(mu_);
  std::unique_ptr<BlockCache>& cache = caches_[size];
  if (!cache) cache = std::make_unique<BlockCache>(capacity_bytes_each_, size);
  return cache.get();
}

size_t BlockCachePool::charged_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t total = 0;
  for (const auto& [size, cache] : caches_) total += cache->charged_bytes();
  return total;
}

}  // namespace fathom
