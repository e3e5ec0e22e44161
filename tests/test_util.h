// Shared helpers for tests: temporary directories, seeds, small record builders.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fathom/types.h"

namespace fathom::testing {

// A fresh directory under $TMPDIR, removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The seed for a randomized test: FATHOM_SEED if set, else random; printed to stdout so
// a failure can be replayed with FATHOM_SEED=<seed>.
uint64_t SeedForTest(const char* test_name);

WriteRecord MakeRecord(const std::string& id, std::vector<float> embedding,
                       std::optional<std::string> document = std::nullopt,
                       std::optional<Metadata> metadata = std::nullopt);

}  // namespace fathom::testing
