// The one place that turns "where the data lives" into an ObjectStore.
//
//   DIR, file://DIR      LocalStore on the directory, created if missing, locked (one open
//                        Database per directory, in any process). file:// is followed by
//                        the path itself: file:///srv/data is /srv/data, file://data is
//                        ./data (no host part).
//   mem://[NAME]         a new, empty MemStore: gone with its last holder (tests, demos).
//   s3://BUCKET/PREFIX   S3Store on the bucket, keys under PREFIX/ (may be empty);
//                        endpoint from StoreLocation::endpoint, else the environment
//                        (io/s3_store.h: FATHOM_S3_ENDPOINT, AWS_*); behind a
//                        local-disk cache (io/cache_store.h) when cache_dir is set.
// Any other "scheme://" is InvalidArgument. Schemes are case-insensitive.
// Database::Open reaches it through DatabaseOptions::path and ::store_url, so embedders
// and the CLI (`fathom run --path DIR | --store URL`) open stores the same way.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "fathom/status.h"
#include "io/local_store.h"
#include "io/object_store.h"

namespace fathom {

struct StoreLocation {
  enum class Kind { kLocal, kMemory, kS3 };
  Kind kind = Kind::kLocal;
  // kLocal: the directory; kMemory: the name (may be empty); kS3: bucket/prefix.
  std::string path;
  // kS3 only: "http(s)://host[:port]"; empty = from the environment.
  std::string endpoint;
  // kS3 only: a local-disk cache of the store's objects in this directory
  // (io/cache_store.h), holding at most cache_bytes (0 = CacheStoreOptions' default).
  std::string cache_dir;
  uint64_t cache_bytes = 0;
  // Which keys the cache keeps (CacheStoreOptions::cacheable; null: all).
  std::function<bool(const std::string&)> cache_filter;

  static StoreLocation Local(std::string directory) { return {Kind::kLocal, std::move(directory), {}, {}, 0, nullptr}; }
};

// Parses a store URL (a plain path, without "://", names a local directory).
Result<StoreLocation> ParseStoreUrl(std::string_view url);

struct OpenedStore {
  std::shared_ptr<ObjectStore> store;
  // Local directories: held while the store is in use. Kept apart from the store so that
  // it is released when its owner (the Database) closes, even if something else still
  // holds the store.
  std::unique_ptr<DirectoryLock> lock;
};

// Opens the store at `location`. Does not probe it (Database::Open does).
Result<OpenedStore> OpenStore(const StoreLocation& location);
Result<OpenedStore> OpenStore(std::string_view url);

}  // namespace fathom
