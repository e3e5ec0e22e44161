// ConfigCache: the typed configurations (collection_config.h) of the collections recent
// requests used, so that a read checks its filters against the schema and picks its
// search effort without parsing the stored configuration JSON again.
//
// An entry is keyed by collection id and used only while the collection's stored
// configuration text and space are what it was built from: a modified, renamed or
// re-created collection simply misses and is parsed again. At most
// http_limits::kConfigCacheEntriesMax entries (one is dropped to make room); a
// configuration over http_limits::kConfigCacheEntryBytesMax (a huge embedding-function
// descriptor) is parsed on each use instead of held.
//
// Thread-safety: Get may be called from many threads at once; the configurations it
// returns are immutable and shared.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "fathom/types.h"
#include "server/collection_config.h"

namespace fathom::server {

class ConfigCache {
 public:
  std::shared_ptr<const CollectionConfig> Get(const CollectionInfo& info);

 private:
  struct Entry {
    std::string configuration_json;
    DistanceSpace space = DistanceSpace::kL2;
    std::shared_ptr<const CollectionConfig> config;
  };

  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;  // by collection id; REQUIRES: mu_ held
};

}  // namespace fathom::server
