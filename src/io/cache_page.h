// Cache pages: the file format of the local-disk cache of remote objects (io/cache_store.h).
//
// The cache holds each cached object as fixed-size pages: page j of an object is its bytes
// [j * page_bytes, (j + 1) * page_bytes). A page shorter than page_bytes (possibly empty)
// is the object's last: every byte after it is known not to exist. A page file names the
// object key and page it holds, so a file found under the wrong name (a hash collision, a
// renamed file) is never served for another key, and ends with an XXH3 checksum over
// everything before it, so a torn or damaged file is detected and fetched again instead
// of served. Format: docs/format/cache_page.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "fathom/status.h"

namespace fathom {

struct CachePage {
  std::string_view key;   // the object's key
  uint64_t index = 0;     // page number within the object
  uint32_t page_bytes = 0;  // the cache's page size when the page was written
  std::string_view data;  // at most page_bytes bytes
};

// InvalidArgument if the data is longer than page_bytes, page_bytes is 0 or the key is
// empty or longer than 1024 bytes (the longest object key, io/object_store.h).
Result<std::string> EncodeCachePage(const CachePage& page);
// Corruption on any damage. The views point into `bytes`.
Result<CachePage> DecodeCachePage(std::string_view bytes);

}  // namespace fathom
