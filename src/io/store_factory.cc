#include "io/store_factory.h"

#include <algorithm>
#include <cctype>

#include "io/cache_store.h"
#include "io/mem_store.h"
#include "io/s3_store.h"

namespace fathom {

namespace {

constexpr std::string_view kSchemeSeparator = "://";

std::string Lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

}  // namespace

Result<StoreLocation> ParseStoreUrl(std::string_view url) {
  if (url.empty()) return Status::InvalidArgument("empty store URL: use a directory, file://DIR or mem://");
  const size_t separator = url.find(kSchemeSeparator);
  if (separator == std::string_view::npos) return StoreLocation::Local(std::string(url));
  const std::string scheme = Lowercase(url.substr(0, separator));
  const std::string rest(url.substr(separator + kSchemeSeparator.size()));
  if (scheme == "file") {
    if (rest.empty()) return Status::InvalidArgument("store URL " + std::string(url) + " names no directory");
    return StoreLocation::Local(rest);
  }
  if (scheme == "mem") return StoreLocation{StoreLocation::Kind::kMemory, rest, {}, {}, 0, nullptr};
  if (scheme == "s3") {
    if (rest.empty() || rest[0] == '/') {
      return Status::InvalidArgument("store URL " + std::string(url) + " names no bucket: use s3://BUCKET/PREFIX");
    }
    return StoreLocation{StoreLocation::Kind::kS3, rest, {}, {}, 0, nullptr};
  }
  return Status::InvalidArgument("unknown store scheme '" + scheme + "://' in " + std::string(url) +
                                 ": fathom stores data in a directory (DIR or file://DIR), in memory (mem://) or "
                                 "in an S3 bucket (s3://BUCKET/PREFIX)");
}

Result<OpenedStore> OpenStore(const StoreLocation& location) {
  OpenedStore opened;
  if (!location.endpoint.empty() && location.kind != StoreLocation::Kind::kS3) {
    return Status::InvalidArgument("an endpoint (" + location.endpoint + ") applies to s3:// stores only");
  }
  if ((!location.cache_dir.empty() || location.cache_bytes != 0) && location.kind != StoreLocation::Kind::kS3) {
    return Status::InvalidArgument(
        "a cache directory (--cache-dir) and its size apply to s3:// stores only: a local store is read from its "
        "own files");
  }
  if (location.cache_bytes != 0 && location.cache_dir.empty()) {
    return Status::InvalidArgument("a cache size was given without a cache directory (--cache-dir DIR)");
  }
  switch (location.kind) {
    case StoreLocation::Kind::kLocal: {
      if (location.path.empty()) return Status::InvalidArgument("no data directory given");
      // Locked before the store is opened: Open removes leftover temporary files, which
      // must not be those of another process's writes in progress.
      FATHOM_ASSIGN_OR_RETURN(opened.lock, DirectoryLock::Acquire(location.path));
      FATHOM_ASSIGN_OR_RETURN(opened.store, LocalStore::Open(location.path));
      return opened;
    }
    case StoreLocation::Kind::kMemory:
      opened.store = std::make_shared<MemStore>();
      return opened;
    case StoreLocation::Kind::kS3: {
      S3StoreOptions options;
      const size_t slash = location.path.find('/');
      options.bucket = location.path.substr(0, slash);
      if (slash != std::string::npos) options.prefix = location.path.substr(slash + 1);
      options.endpoint = location.endpoint;
      FATHOM_ASSIGN_OR_RETURN(opened.store, S3Store::Open(std::move(options)));
      if (!location.cache_dir.empty()) {
        CacheStoreOptions cache;
        cache.dir = location.cache_dir;
        if (location.cache_bytes != 0) cache.capacity_bytes = location.cache_bytes;
        cache.cacheable = location.cache_filter;
        FATHOM_ASSIGN_OR_RETURN(opened.store, CacheStore::Open(std::move(opened.store), std::move(cache)));
      }
      return opened;
    }
  }
  return Status::Internal("unknown store kind");
}

Result<OpenedStore> OpenStore(std::string_view url) {
  FATHOM_ASSIGN_OR_RETURN(StoreLocation location, ParseStoreUrl(url));
  return OpenStore(location);
}

}  // namespace fathom
