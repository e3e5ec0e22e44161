#include "cli/compact_command.h"

#include <chrono>
#include <cstdio>

#include "fathom/db.h"

namespace fathom::cli {

int Compact(const std::string& path, double recall_target) {
  const auto start = std::chrono::steady_clock::now();
  // No background thread: the work below is the whole point, done in this one.
  auto db = Database::Open({.path = path, .vector_recall_target = recall_target, .background_compaction = false});
  if (!db.ok()) {
    std::fprintf(stderr, "fathom: cannot open %s: %s\n", path.c_str(), db.status().ToString().c_str());
    return 1;
  }
  Status s = (*db)->CompactAll();
  if (!s.ok()) {
    std::fprintf(stderr, "fathom: compaction failed: %s\n", s.ToString().c_str());
    return 1;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("compacted %s in %.2f s\n", path.c_str(), seconds);
  return 0;
}

}  // namespace fathom::cli
