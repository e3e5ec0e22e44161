// `fathom compact`: open the embedded store at a directory, compact every collection
// (vector index maintenance, WAL tail folded into segments, index persisted) and exit.
// For operators before a restart or a backup, and for benchmarks that want the index
// ready when the server starts.
#pragma once

#include <string>

namespace fathom::cli {

// Returns the process exit code (0, or 1 with the error on stderr).
int Compact(const std::string& path, double recall_target = 0.0);

}  // namespace fathom::cli
