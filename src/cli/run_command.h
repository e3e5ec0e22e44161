// `fathom run`: open the store at a directory (or store URL) and serve Chroma's HTTP API v2.
#pragma once

#include <cstdint>
#include <string>

namespace fathom::cli {

struct RunOptions {
  std::string path;       // --path DIR ...
  std::string store_url;  // ... or --store URL (DatabaseOptions::store_url)
  std::string store_endpoint;  // --endpoint URL, for s3:// (DatabaseOptions::store_endpoint)
  std::string cache_dir;       // --cache-dir DIR (DatabaseOptions::store_cache_dir)
  uint64_t cache_size_mib = 0;  // --cache-size-mib N (DatabaseOptions::store_cache_bytes in MiB)
  std::string host = "127.0.0.1";
  uint16_t port = 8000;
  bool allow_reset = false;
  size_t worker_threads = 0;  // 0 = hardware concurrency, at least 2
  size_t io_threads = 0;      // 0 = hardware concurrency, at least 2
  uint64_t vector_cache_mib = 0;     // DatabaseOptions::vector_cache_bytes in MiB (0 = default)
  uint64_t memory_budget_mib = 0;    // DatabaseOptions::memory_budget_bytes in MiB (0 = none)
  bool keep_vectors_in_ram = false;  // DatabaseOptions::cold_vectors = false
  double recall_target = 0.0;        // DatabaseOptions::vector_recall_target (0 = 0.95)
  uint64_t compaction_trigger_ops = 0;  // DatabaseOptions::compaction_trigger_ops (0 = default)
  uint64_t vector_index_min_rows = 0;   // DatabaseOptions::vector_index_min_rows (0 = default)
  uint64_t cold_spill_min_rows = 0;     // DatabaseOptions::cold_spill_min_rows (0 = default)
};

// Serves until SIGINT or SIGTERM, then shuts down cleanly: stops accepting, lets requests
// in flight finish, closes the database. Returns the process exit code.
int Run(const RunOptions& options);

}  // namespace fathom::cli
