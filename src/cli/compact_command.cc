#include "cli/compact_command.h"

#include <chrono>
#include <cstdio>

#include "fathom/db.h"

namespace fathom::cli {

int Compact(const CompactOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const std::string& where = options.path.empty() ? options.store_url : options.path;
  // No background thread: the work below is the whole point, done in this one.
  auto db = Database::Open({.path = options.path,
                            .store_url = options.store_url,
                            .store_endpoint = options.store_endpoint,
                            .store_cache_dir = options.cache_dir,
                            .store_cache_bytes = options.cache_size_mib << 20,
                            .vector_recall_target = options.recall_target,
                            .background_compaction = false});
  if (!db.ok()) {
    std::fprintf(stderr, "fathom: cannot open %s: %s\n", where.c_str(), db.status().ToString().c_str());
    return 1;
  }
  Status s = (*db)->CompactAll();
  if (!s.ok()) {
    std::fprintf(stderr, "fathom: compaction failed: %s\n", s.ToString().c_str());
    return 1;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("compacted %s in %.2f s\n", where.c_str(), seconds);
  return 0;
}

}  // namespace fathom::cli
