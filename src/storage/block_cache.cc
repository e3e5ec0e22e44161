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

BlockCache::BlockCache(size_t capacity_bytes, uint32_t shard_count) : capacity_bytes_(capacity_bytes) {
  shard_count = std::clamp<uint32_t>(shard_count, 1, kShardsMax);
  shard_capacity_bytes_ = capacity_bytes / shard_count;
  shards_.reserve(shard_count);
  for (uint32_t i = 0; i < shard_count; ++i) shards_.push_back(std::make_unique<Shard>());
}

BlockCache::Shard& BlockCache::ShardFor(const Key& key) {
  // High bits pick the shard so that the map's buckets (low bits) stay well spread.
  return *shards_[(KeyHash{}(key) >> 32) % shards_.size()];
}

void BlockCache::EraseLocked(Shard& shard, std::list<Entry>::iterator it) {
  shard.charged_bytes -= it->bytes.size() + kEntryOverheadBytes;
  shard.map.erase(it->key);
  shard.lru.erase(it);
}

bool BlockCache::Read(uint64_t file_id, uint64_t block, size_t offset, size_t length, void* dst) {
  const Key key{file_id, block};
  Shard& shard = ShardFor(key);
  std::lock_guard<std::mutex> lock(shard.mutex);
  auto found = shard.map.find(key);
  if (found == shard.map.end() || offset > found->second->bytes.size() ||
      length > found->second->bytes.size() - offset) {
    ++shard.stats.misses;
    return false;
  }
  shard.lru.splice(shard.lru.begin(), shard.lru, found->second);
  std::memcpy(dst, found->second->bytes.data() + offset, length);
  ++shard.stats.hits;
  return true;
}

void BlockCache::Insert(uint64_t file_id, uint64_t block, std::string bytes) {
  const size_t charge = bytes.size() + kEntryOverheadBytes;
  if (charge > shard_capacity_bytes_) return;
  const Key key{file_id, block};
  Shard& shard = ShardFor(key);
  std::lock_guard<std::mutex> lock(shard.mutex);
  auto found = shard.map.find(key);
  if (found != shard.map.end()) EraseLocked(shard, found->second);
  while (shard.charged_bytes + charge > shard_capacity_bytes_ && !shard.lru.empty()) {
    EraseLocked(shard, std::prev(shard.lru.end()));
    ++shard.stats.evictions;
  }
  shard.lru.push_front(Entry{key, std::move(bytes)});
  shard.map.emplace(key, shard.lru.begin());
  shard.charged_bytes += charge;
  ++shard.stats.inserts;
}

void BlockCache::EraseFile(uint64_t file_id) {
  for (auto& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard->mutex);
    for (auto it = shard->lru.begin(); it != shard->lru.end();) {
      auto next = std::next(it);
      if (it->key.file_id == file_id) EraseLocked(*shard, it);
      it = next;
    }
  }
}

size_t BlockCache::charged_bytes() const {
  size_t total = 0;
  for (const auto& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard->mutex);
    total += shard->charged_bytes;
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

}  // namespace fathom
