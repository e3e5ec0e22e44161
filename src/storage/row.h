// Row: one record's stored state (its embedding lives apart, in columnar storage).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "fathom/types.h"

namespace fathom {

struct Row {
  std::string id;
  uint64_t offset = 0;  // insertion counter: orders rows, survives compaction
  std::optional<std::string> document;
  std::optional<std::string> uri;
  std::optional<Metadata> metadata;  // never an empty map
  bool live = false;
};

}  // namespace fathom
