// Internal to the text index object's encoder (text_index_format.cc) and decoder
// (text_index_decode.cc), not for other code: the section numbers and header field
// offsets of docs/format/text-index.md, and the per-term postings checksum both compute.
// Thread-safety: constants and a pure function.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/checksum.h"
#include "index/text/text_index_format.h"

namespace fathom::text_index_layout {

// Sections in file order (docs/format/text-index.md).
enum Section : size_t {
  kAnalyzerSection = 0,
  kDictionarySection = 1,
  kTermTextSection = 2,
  kBlockSection = 3,
  kDocumentSection = 4,
  kForwardSection = 5,
  kPostingsSection = 6,
  kTrigramSection = 7,  // version 2
};

// Header field offsets.
inline constexpr size_t kVersionAt = 8;
inline constexpr size_t kFlagsAt = 12;
inline constexpr size_t kRowsAt = 16;
inline constexpr size_t kOffsetsHashAt = 24;
inline constexpr size_t kDocumentsHashAt = 32;
inline constexpr size_t kDocumentsAt = 40;
inline constexpr size_t kTotalLengthAt = 48;
inline constexpr size_t kTermsAt = 56;
inline constexpr size_t kBlocksAt = 64;
inline constexpr size_t kSectionTableAt = 72;
constexpr size_t HeaderChecksumAt(uint32_t version) { return kSectionTableAt + TextIndexSections(version) * 24; }
static_assert(HeaderChecksumAt(kTextIndexFormatVersion) + 8 == kTextIndexHeaderBytes);
static_assert(TextIndexHeaderBytes(1) == 248);

// The checksum of one term's postings run, kept in its dictionary entry.
inline uint32_t TermChecksum(std::string_view bytes) { return static_cast<uint32_t>(Checksum64(bytes)); }

}  // namespace fathom::text_index_layout
