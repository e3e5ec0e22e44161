#include "server/config_cache.h"

#include "server/server_limits.h"

namespace fathom::server {

std::shared_ptr<const CollectionConfig> ConfigCache::Get(const CollectionInfo& info) {
  const bool cacheable = info.configuration_json.size() <= http_limits::kConfigCacheEntryBytesMax;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(info.id);
    if (it != entries_.end() && it->second.space == info.space &&
        it->second.configuration_json == info.configuration_json) {
      return it->second.config;
    }
  }
  // Parsed outside the lock: two threads missing at once both parse, and one entry wins.
  auto config = std::make_shared<const CollectionConfig>(LoadConfig(info));
  if (!cacheable) return config;
  std::lock_guard<std::mutex> lock(mu_);
  if (entries_.size() >= http_limits::kConfigCacheEntriesMax && entries_.find(info.id) == entries_.end()) {
    entries_.erase(entries_.begin());
  }
  entries_.insert_or_assign(info.id, Entry{info.configuration_json, info.space, config});
  return config;
}

}  // namespace fathom::server
