// Row: one record's stored state (its embedding lives apart, in columnar storage).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "fathom/types.h"

namespace fathom {

// Where an entry of a records segment starts: its block and the byte offset in that
// block's payload (storage/records_segment_reader.h).
struct SegmentEntryLocator {
  uint32_t block = 0;
  uint32_t offset = 0;
  bool operator==(const SegmentEntryLocator&) const = default;
};

// Where a row's document lies in a records segment: its block, and the byte range of the
// document's bytes (after its length prefix) in that block's payload. A read on demand
// copies just this range out of the cached block (RecordsSegmentReader::ReadDocuments).
// A block's payload is at most kSegmentBlockPayloadBytesMax (2^32 - 1) bytes, so both
// fit in 32 bits.
struct SegmentDocumentLocator {
  uint32_t block = 0;
  uint32_t offset = 0;
  uint32_t length = 0;
  bool operator==(const SegmentDocumentLocator&) const = default;
};

struct Row {
  static constexpr uint32_t kNotStored = UINT32_MAX;

  std::string id;
  uint64_t offset = 0;  // insertion counter: orders rows, survives compaction
  // The document, when it is in RAM (rows not yet in a segment, or while a table loads).
  std::optional<std::string> document;
  std::optional<std::string> uri;
  std::optional<Metadata> metadata;  // never an empty map
  bool live = false;
  // Where the document is stored when it is not in RAM: a segment of the owning table's
  // (db/record_table.h numbers them) and the document's bytes there, with the document's
  // XXH3 (hashes of the rows are taken without reading it, and every read is checked
  // against it). kNotStored: the row has no stored document (then it has none, or
  // `document` holds it). A row never holds both.
  uint32_t document_segment = kNotStored;
  SegmentDocumentLocator document_at;
  uint64_t document_checksum = 0;

  bool document_stored() const { return document_segment != kNotStored; }
  // Whether the row has a document at all (in RAM or stored).
  bool has_document() const { return document.has_value() || document_stored(); }
};

}  // namespace fathom
