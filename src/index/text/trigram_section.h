// The trigram section of the text index object (docs/format/text-index.md, version 2,
// section 7): the `where_document` trigram index (trigram_index.h) of the same rows as the
// object's BM25 sections, slots being ranks. A directory of (trigram key, cardinality,
// byte size) sorted by key, then one Roaring bitmap per trigram in CRoaring's portable
// serialization.
//
// DecodeTrigramSection takes untrusted bytes (behind the section's checksum, which its
// caller verifies): keys, counts, sizes and every slot are checked, and each bitmap is
// rebuilt from its checked values rather than adopted as deserialized, so that no
// malformed container reaches the index. Anything wrong is Corruption, never a crash.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fathom/status.h"
#include "index/text/trigram_index.h"

namespace fathom {

// Trigram keys are 3 bytes.
inline constexpr uint64_t kTrigramKeysMax = uint64_t{1} << 24;
inline constexpr size_t kTrigramDirectoryEntryBytes = 16;

// `postings` sorted by key, unique, non-empty, every slot < `rows` (checked: a violation is
// a bug in the caller). Bitmaps are written as they are: run-optimize them first.
std::string EncodeTrigramSection(const TrigramIndex::SortedPostings& postings, uint64_t rows);

// Decodes `bytes` for an object whose rank r has a document iff has_document[r] (ranks
// are has_document.size()). Every bitmap comes out run-optimized.
Status DecodeTrigramSection(std::string_view bytes, const std::vector<uint8_t>& has_document,
                            TrigramIndex::SortedPostings* out);

}  // namespace fathom
