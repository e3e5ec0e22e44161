// Records segment: an immutable object holding the full state of some records (and
// deletions of others) as of a WAL sequence number. Byte layout: docs/format/segment.md.
//
// Blocks of about limits::kSegmentBlockBytesTarget (64 KiB) each with its own XXH3-64,
// then a footer (block index, counts) and a fixed-size trailer. The reader verifies every
// checksum and bound; malformed bytes give Corruption, never a crash (fuzzed in
// tests/fuzz/). ReadRecordsSegment decodes a whole object held in memory; random access
// (one block by a ranged read) and streaming decode are storage/records_segment_reader.h,
// built on the frame functions at the end of this header.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/assert.h"
#include "common/coding.h"
#include "storage/row.h"
#include "fathom/status.h"

namespace fathom {

inline constexpr char kSegmentMagic[4] = {'F', 'S', 'E', 'G'};
inline constexpr char kSegmentTrailerMagic[8] = {'F', 'S', 'E', 'G', 'T', 'A', 'I', 'L'};
inline constexpr uint16_t kSegmentFormatVersion = 1;
inline constexpr uint16_t kSegmentKindRecords = 1;

class RecordsSegmentWriter {
 public:
  explicit RecordsSegmentWriter(uint32_t dimension);

  // Rows must be added in ascending offset order. A row or id over a limit the reader
  // enforces (common/limits.h) is not written; Finish then returns the error. Returns
  // where the row's document lies (meaningful once Finish succeeded, and when the row has
  // a document). Only row.id, offset, document, uri and metadata are written: a document
  // that is stored elsewhere (document_stored()) must be read into `document` first.
  SegmentDocumentLocator AddRow(const Row& row, const float* embedding);
  void AddTombstone(const std::string& id);
  // Returns the complete object bytes, or InvalidArgument naming the limit that the first
  // refused row broke (then nothing may be stored).
  Result<std::string> Finish();

  uint64_t rows() const { return rows_; }
  uint64_t tombstones() const { return tombstones_; }

 private:
  void CutBlock();
  Status CheckId(const std::string& id) const;
  Status CheckRow(const Row& row) const;

  uint32_t dimension_;
  std::string out_;
  std::string block_;
  uint64_t block_entries_ = 0;
  struct BlockRef {
    uint64_t offset, length, entries;
  };
  std::vector<BlockRef> blocks_;
  uint64_t rows_ = 0;
  uint64_t tombstones_ = 0;
  Status status_;  // the first refused row's error
};

// One decoded entry: a row with its embedding, or a tombstone (only `row.id` set).
struct SegmentEntry {
  bool tombstone = false;
  Row row;
  std::vector<float> embedding;
  // Where the document's bytes start, counted from the entry's first byte (when the row
  // has a document): with the entry's locator, the document's (DocumentLocatorOf).
  uint32_t document_position = 0;
};

// The locator of the document of `entry` (a row with a document), decoded at `at`.
inline SegmentDocumentLocator DocumentLocatorOf(SegmentEntryLocator at, const SegmentEntry& entry) {
  FATHOM_DCHECK(!entry.tombstone && entry.row.document.has_value());
  return SegmentDocumentLocator{at.block, at.offset + entry.document_position,
                                static_cast<uint32_t>(entry.row.document->size())};
}

struct SegmentSummary {
  uint32_t dimension = 0;
  uint64_t rows = 0;
  uint64_t tombstones = 0;
};

// ---- the frame, shared by the whole-object and the random-access readers ----

inline constexpr size_t kSegmentHeaderBytes = 16;   // magic, version, kind, dimension, reserved
inline constexpr size_t kSegmentTrailerBytes = 32;  // footer offset, length, checksum, magic
inline constexpr size_t kSegmentBlockChecksumBytes = 8;
// A block payload longer than this is refused by the writer (InvalidArgument) and the
// reader (Corruption): an entry's position in its block is kept in 32 bits.
inline constexpr uint64_t kSegmentBlockPayloadBytesMax = UINT32_MAX;

struct SegmentTrailer {
  uint64_t footer_offset = 0;
  uint64_t footer_length = 0;
  uint64_t footer_checksum = 0;
};

struct SegmentBlock {
  uint64_t offset = 0;  // of the payload in the object; its checksum follows it
  uint64_t length = 0;  // payload bytes
  uint64_t entries = 0;
};

// What the header and footer say: enough to read any block on its own.
struct SegmentLayout {
  uint32_t dimension = 0;
  uint64_t rows = 0;
  uint64_t tombstones = 0;
  uint64_t footer_offset = 0;
  std::vector<SegmentBlock> blocks;
};

// Checks the trailer (the last kSegmentTrailerBytes of an object of `object_size` bytes):
// magic, and a footer that ends where the trailer begins.
Result<SegmentTrailer> DecodeSegmentTrailer(std::string_view trailer, uint64_t object_size);
// Checks the header and footer against the trailer's checksum and decodes them; blocks
// must tile the space between header and footer. Corruption otherwise.
Result<SegmentLayout> DecodeSegmentLayout(std::string_view header, std::string_view footer,
                                          const SegmentTrailer& trailer);
// The same, from a whole object held in memory (its header, footer and trailer).
Result<SegmentLayout> DecodeSegmentLayout(std::string_view object);
// `bytes` is one block as stored (payload then its checksum); Corruption naming block
// `index` unless the checksum matches.
Status VerifySegmentBlock(std::string_view bytes, uint64_t index);
// Decodes the entry at the decoder's position (the entry is reset first). False on
// malformed bytes.
bool DecodeSegmentEntry(Decoder* in, uint32_t dimension, SegmentEntry* entry);

// Verifies and decodes a whole segment, calling `visit` for each entry in order. The
// entry is reused between calls (the visitor may move fields out of it).
Result<SegmentSummary> ReadRecordsSegment(std::string_view bytes,
                                          const std::function<void(SegmentEntry&)>& visit);

}  // namespace fathom
