// `fathom compact`: open the store at a directory (or store URL), compact every collection
// (vector index maintenance, WAL tail folded into segments, index persisted) and exit.
// For operators before a restart or a backup, and for benchmarks that want the index
// ready when the server starts.
#pragma once

#include <cstdint>
#include <string>

namespace fathom::cli {

struct CompactOptions {
  std::string path;           // --path DIR ...
  std::string store_url;      // ... or --store URL (DatabaseOptions::store_url)
  std::string store_endpoint; // --endpoint URL, for s3:// (DatabaseOptions::store_endpoint)
  std::string cache_dir;      // --cache-dir DIR (DatabaseOptions::store_cache_dir)
  uint64_t cache_size_mib = 0;  // --cache-size-mib N (DatabaseOptions::store_cache_bytes in MiB)
  double recall_target = 0.0;  // DatabaseOptions::vector_recall_target (0 = 0.95)
};

// Returns the process exit code (0, or 1 with the error on stderr).
int Compact(const CompactOptions& options);

}  // namespace fathom::cli
