// XXH3-64 checksums for every WAL object, segment block, manifest and catalog object.
#pragma once

#include <cstdint>
#include <string_view>

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace fathom {

inline uint64_t Checksum64(std::string_view data) {
  return XXH3_64bits(data.data(), data.size());
}

}  // namespace fathom
