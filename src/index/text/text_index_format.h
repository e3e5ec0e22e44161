// The persisted full-text index of a collection's compacted rows: one immutable object
// (c/<collection>/tidx/<uuid>.tix) written by compaction and named by the manifest,
// holding the analyzer identity, a sorted term dictionary, per-block skip data, exact
// document lengths, per-document term ids and the postings blocks of
// docs/format/text-postings.md. Byte layout: docs/format/text-index.md; design:
// docs/design/text-index.md, "Persistence".
//
// Slots in the object are ranks: rank r is the r-th live row of the compacted state in
// slot order (as for the persisted vector index), so the reader maps them onto its own
// slots; offsets_hash and documents_hash tell it whether the object describes its rows.
//
// DecodeTextIndexObject takes untrusted bytes: every length, offset, count, slot and
// block is checked, the per-document term ids are checked against the postings, and
// anything wrong is Corruption (never a crash). Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/checksum.h"
#include "fathom/status.h"
#include "index/text/analyzer.h"
#include "index/text/inverted_index.h"

namespace fathom {

inline constexpr char kTextIndexMagic[8] = {'F', 'T', 'H', 'M', 'T', 'I', 'X', '1'};
inline constexpr uint32_t kTextIndexFormatVersion = 1;
// Bumped whenever the analyzer's output changes for some input (tokenizer tables, folding,
// stop-word or stemming rules): an object made by another version is rebuilt, not used.
inline constexpr uint32_t kTextAnalyzerVersion = 1;
// Encoder and decoder limits.
inline constexpr uint64_t kTextIndexRowsMax = UINT32_MAX - 1;  // slots are u32, UINT32_MAX is "none"
inline constexpr uint64_t kTextIndexTermsMax = UINT32_MAX - 1;
inline constexpr size_t kTextIndexTermBytesMax = 65536;
inline constexpr size_t kTextIndexStemmerBytesMax = 64;
inline constexpr size_t kTextIndexHeaderBytes = 248;
inline constexpr size_t kTextIndexSections = 7;
inline constexpr size_t kTextIndexDictionaryEntryBytes = 48;
inline constexpr size_t kTextIndexBlockEntryBytes = 24;

struct TextIndexObject {
  AnalyzerOptions analyzer;     // the options the documents were analyzed with
  uint64_t offsets_hash = 0;    // of the live rows' record offsets, in rank order
  uint64_t documents_hash = 0;  // of the live rows' documents, in rank order
  // Slots are ranks 0..slot_count-1 (slot_count = the compacted state's live rows).
  InvertedIndex::SealedImage image;
};

// InvalidArgument (nothing encoded) when the object breaks a limit the decoder checks
// (rows, terms, term bytes, analyzer options) or two terms have the same text.
Result<std::string> EncodeTextIndexObject(const TextIndexObject& object);
// Corruption for any damage, and for an object whose analyzer version is not
// kTextAnalyzerVersion.
Result<TextIndexObject> DecodeTextIndexObject(std::string_view bytes);

// For tests and fuzzers: recomputes every checksum of `bytes` where the layout allows
// (header, sections, per-term postings), so that damage behind them reaches the checks
// that follow. Never reads out of bounds, whatever the bytes.
void RecomputeTextIndexChecksumsForTesting(std::string* bytes);

// What the object records of a collection's rows, computed the same way by the writer
// (compaction) and the reader (recovery): the XXH3 of the records' offsets (u64 LE each)
// in rank order, and of per live row a presence byte plus the XXH3 of its document.
class TextIndexRowsHasher {
 public:
  TextIndexRowsHasher();
  void AddRow(uint64_t offset, const std::string* document);
  // The same, given the document's Checksum64 instead of the document (a document kept
  // in a segment is hashed without reading it).
  void AddRowChecksum(uint64_t offset, std::optional<uint64_t> document_checksum);
  uint64_t offsets_hash() const;
  uint64_t documents_hash() const;

 private:
  XXH3_state_t offsets_;
  XXH3_state_t documents_;
};

}  // namespace fathom
