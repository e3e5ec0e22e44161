// The persisted full-text index of a collection's compacted rows: one immutable object
// (c/<collection>/tidx/<uuid>.tix) written by compaction and named by the manifest,
// holding the analyzer identity, a sorted term dictionary, per-block skip data, exact
// document lengths, per-document term ids and the postings blocks of
// docs/format/text-postings.md, and (format version 2) the where_document trigram index
// of the same rows (trigram_section.h). Byte layout: docs/format/text-index.md; design:
// docs/design/text-index.md, "Persistence".
//
// Slots in the object are ranks: rank r is the r-th live row of the compacted state in
// slot order (as for the persisted vector index), so the reader maps them onto its own
// slots; offsets_hash and documents_hash tell it whether the object describes its rows.
//
// DecodeTextIndexObject takes untrusted bytes: every length, offset, count, slot and
// block is checked, the per-document term ids are checked against the postings, and
// anything wrong is Corruption (never a crash). Thread-safety: pure functions. The encoder
// is text_index_format.cc, the decoder text_index_decode.cc.
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
#include "index/text/trigram_index.h"

namespace fathom {

inline constexpr char kTextIndexMagic[8] = {'F', 'T', 'H', 'M', 'T', 'I', 'X', '1'};
// Version 2 adds the trigram section; version 1 objects still load (their trigram index
// is rebuilt from the documents).
inline constexpr uint32_t kTextIndexFormatVersion = 2;
// Bumped whenever the analyzer's output changes for some input (tokenizer tables, folding,
// stop-word or stemming rules): an object made by another version is rebuilt, not used.
inline constexpr uint32_t kTextAnalyzerVersion = 1;
// Encoder and decoder limits.
inline constexpr uint64_t kTextIndexRowsMax = UINT32_MAX - 1;  // slots are u32, UINT32_MAX is "none"
inline constexpr uint64_t kTextIndexTermsMax = UINT32_MAX - 1;
inline constexpr size_t kTextIndexTermBytesMax = 65536;
inline constexpr size_t kTextIndexStemmerBytesMax = 64;
// Version 1 has the first 7 sections, version 2 all 8; the header holds one section table
// entry (24 bytes) per section.
inline constexpr size_t kTextIndexSections = 8;
inline constexpr size_t TextIndexSections(uint32_t version) { return version == 1 ? 7 : 8; }
inline constexpr size_t TextIndexHeaderBytes(uint32_t version) { return 72 + TextIndexSections(version) * 24 + 8; }
inline constexpr size_t kTextIndexHeaderBytes = TextIndexHeaderBytes(kTextIndexFormatVersion);
inline constexpr size_t kTextIndexDictionaryEntryBytes = 48;
inline constexpr size_t kTextIndexBlockEntryBytes = 24;

struct TextIndexObject {
  AnalyzerOptions analyzer;     // the options the documents were analyzed with
  uint64_t offsets_hash = 0;    // of the live rows' record offsets, in rank order
  uint64_t documents_hash = 0;  // of the live rows' documents, in rank order
  // Slots are ranks 0..slot_count-1 (slot_count = the compacted state's live rows).
  InvertedIndex::SealedImage image;
  // The `where_document` trigram index of the same rows (slots are ranks), or nullopt: the
  // encoder then writes a version 1 object (tests); the decoder gives nullopt for a
  // version 1 object or a damaged trigram section, and says which in trigram_status.
  std::optional<TrigramIndex::SortedPostings> trigrams;
  Status trigram_status;
};

// InvalidArgument (nothing encoded) when the object breaks a limit the decoder checks
// (rows, terms, term bytes, analyzer options) or two terms have the same text.
Result<std::string> EncodeTextIndexObject(const TextIndexObject& object);
// Corruption for any damage, and for an object whose analyzer version is not
// kTextAnalyzerVersion; except damage inside the trigram section (checksum or contents),
// which only drops the trigram index (trigrams nullopt, trigram_status the Corruption):
// the BM25 sections are checked on their own.
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
