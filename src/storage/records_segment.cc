#include "storage/records_segment.h"

#include <cstring>

#include "common/assert.h"
#include "common/checksum.h"
#include "common/coding.h"
#include "common/limits.h"
#include "common/value_coding.h"

namespace fathom {

namespace {

constexpr size_t kHeaderBytes = kSegmentHeaderBytes;
constexpr size_t kTrailerBytes = kSegmentTrailerBytes;
constexpr uint8_t kEntryRow = 1;
constexpr uint8_t kEntryTombstone = 2;
enum FieldBit : uint8_t { kHasDocument = 1, kHasUri = 2, kHasMetadata = 4 };

Status Corrupt(const std::string& why) { return Status::Corruption("records segment: " + why); }

}  // namespace

bool DecodeSegmentEntry(Decoder* in, uint32_t dimension, SegmentEntry* e) {
  const size_t start = in->position();
  e->document_position = 0;
  uint8_t kind;
  std::string_view id;
  if (!in->GetU8(&kind) || !in->GetLengthPrefixed(&id, limits::kIdLengthMax) || id.empty()) return false;
  e->row.id.assign(id);
  e->row.offset = 0;
  e->row.document.reset();
  e->row.uri.reset();
  e->row.metadata.reset();
  e->row.live = false;
  if (kind == kEntryTombstone) {
    e->tombstone = true;
    return true;
  }
  if (kind != kEntryRow) return false;
  e->tombstone = false;
  uint8_t bits;
  if (!in->GetVarint64(&e->row.offset) || !in->GetU8(&bits) || (bits & ~0x07) != 0) return false;
  if (dimension > in->remaining() / 4) return false;  // before allocating
  e->embedding.resize(dimension);
  // A segment of dimension 0 holds rows without floats (and data() may be null then).
  if (dimension != 0 && !in->GetFloats(dimension, e->embedding.data())) return false;
  std::string_view s;
  if (bits & kHasDocument) {
    if (!in->GetLengthPrefixed(&s, limits::kDocumentBytesMax)) return false;
    e->row.document = std::string(s);
    e->document_position = static_cast<uint32_t>(in->position() - s.size() - start);
  }
  if (bits & kHasUri) {
    if (!in->GetLengthPrefixed(&s, limits::kUriBytesMax)) return false;
    e->row.uri = std::string(s);
  }
  if (bits & kHasMetadata) {
    Metadata m;
    if (!DecodeMetadata(in, &m) || m.empty()) return false;
    e->row.metadata = std::move(m);
  }
  e->row.live = true;
  return true;
}

RecordsSegmentWriter::RecordsSegmentWriter(uint32_t dimension) : dimension_(dimension) {
  out_.append(kSegmentMagic, 4);
  PutFixed16(&out_, kSegmentFormatVersion);
  PutFixed16(&out_, kSegmentKindRecords);
  PutFixed32(&out_, dimension_);
  PutFixed32(&out_, 0);
}

Status RecordsSegmentWriter::CheckId(const std::string& id) const {
  if (id.empty()) return Status::InvalidArgument("records segment: empty id");
  if (id.size() > limits::kIdLengthMax) {
    return Status::InvalidArgument("records segment: id of " + std::to_string(id.size()) +
                                   " bytes exceeds limits::kIdLengthMax (" + std::to_string(limits::kIdLengthMax) + ")");
  }
  return Status::Ok();
}

Status RecordsSegmentWriter::CheckRow(const Row& row) const {
  FATHOM_RETURN_IF_ERROR(CheckId(row.id));
  if (row.document && row.document->size() > limits::kDocumentBytesMax) {
    return Status::InvalidArgument("records segment: row '" + row.id.substr(0, 64) + "': document of " +
                                   std::to_string(row.document->size()) + " bytes exceeds limits::kDocumentBytesMax (" +
                                   std::to_string(limits::kDocumentBytesMax) + ")");
  }
  if (row.uri && row.uri->size() > limits::kUriBytesMax) {
    return Status::InvalidArgument("records segment: row '" + row.id.substr(0, 64) + "': uri of " +
                                   std::to_string(row.uri->size()) + " bytes exceeds limits::kUriBytesMax (" +
                                   std::to_string(limits::kUriBytesMax) + ")");
  }
  if (row.metadata) {
    if (row.metadata->empty()) return Status::InvalidArgument("records segment: row '" + row.id.substr(0, 64) + "': empty metadata");
    if (Status s = CheckMetadataLimits(*row.metadata); !s.ok()) {
      // A record's merged metadata (updates add keys) can outgrow limits::kMetadataKeysMax.
      return Status::InvalidArgument("records segment: row '" + row.id.substr(0, 64) + "': " + s.message());
    }
  }
  return Status::Ok();
}

SegmentDocumentLocator RecordsSegmentWriter::AddRow(const Row& row, const float* embedding) {
  if (!status_.ok()) return {};
  if (Status s = CheckRow(row); !s.ok()) {
    status_ = std::move(s);
    return {};
  }
  FATHOM_CHECK(!row.document_stored() || row.document.has_value());
  block_.push_back(static_cast<char>(kEntryRow));
  PutLengthPrefixed(&block_, row.id);
  PutVarint64(&block_, row.offset);
  uint8_t bits = (row.document ? kHasDocument : 0) | (row.uri ? kHasUri : 0) |
                 (row.metadata ? kHasMetadata : 0);
  block_.push_back(static_cast<char>(bits));
  PutFloats(&block_, embedding, dimension_);
  SegmentDocumentLocator at;
  if (row.document) {
    PutLengthPrefixed(&block_, *row.document);
    // Blocks over kSegmentBlockPayloadBytesMax fail Finish, so the offset fits when it
    // matters; a document is at most limits::kDocumentBytesMax (checked by CheckRow).
    at = SegmentDocumentLocator{static_cast<uint32_t>(blocks_.size()),
                                static_cast<uint32_t>(block_.size() - row.document->size()),
                                static_cast<uint32_t>(row.document->size())};
  }
  if (row.uri) PutLengthPrefixed(&block_, *row.uri);
  if (row.metadata) FATHOM_CHECK(EncodeMetadata(&block_, *row.metadata).ok());  // checked by CheckRow
  ++rows_;
  if (++block_entries_, block_.size() >= limits::kSegmentBlockBytesTarget) CutBlock();
  return at;
}

void RecordsSegmentWriter::AddTombstone(const std::string& id) {
  if (!status_.ok()) return;
  if (Status s = CheckId(id); !s.ok()) {
    status_ = std::move(s);
    return;
  }
  block_.push_back(static_cast<char>(kEntryTombstone));
  PutLengthPrefixed(&block_, id);
  ++tombstones_;
  if (++block_entries_, block_.size() >= limits::kSegmentBlockBytesTarget) CutBlock();
}

void RecordsSegmentWriter::CutBlock() {
  if (block_entries_ == 0) return;
  if (block_.size() > kSegmentBlockPayloadBytesMax && status_.ok()) {
    // Only one entry can make a block this long (blocks are cut past the target).
    status_ = Status::InvalidArgument("records segment: an entry of " + std::to_string(block_.size()) +
                                      " bytes exceeds kSegmentBlockPayloadBytesMax");
  }
  blocks_.push_back({out_.size(), block_.size(), block_entries_});
  out_ += block_;
  PutFixed64(&out_, Checksum64(block_));
  block_.clear();
  block_entries_ = 0;
}

Result<std::string> RecordsSegmentWriter::Finish() {
  CutBlock();
  if (!status_.ok()) return status_;
  std::string footer;
  PutVarint64(&footer, blocks_.size());
  for (const BlockRef& b : blocks_) {
    PutVarint64(&footer, b.offset);
    PutVarint64(&footer, b.length);
    PutVarint64(&footer, b.entries);
  }
  PutVarint64(&footer, rows_);
  PutVarint64(&footer, tombstones_);
  uint64_t footer_offset = out_.size();
  out_ += footer;
  // The footer checksum also covers the header, so every byte is checked.
  std::string covered = out_.substr(0, kHeaderBytes) + footer;
  PutFixed64(&out_, footer_offset);
  PutFixed64(&out_, footer.size());
  PutFixed64(&out_, Checksum64(covered));
  out_.append(kSegmentTrailerMagic, 8);
  return std::move(out_);
}

Result<SegmentTrailer> DecodeSegmentTrailer(std::string_view trailer, uint64_t object_size) {
  if (object_size < kHeaderBytes + kTrailerBytes || trailer.size() != kTrailerBytes) return Corrupt("too short");
  if (std::memcmp(trailer.data() + 24, kSegmentTrailerMagic, 8) != 0) return Corrupt("bad trailer magic");
  SegmentTrailer t;
  t.footer_offset = DecodeFixed64(trailer.data());
  t.footer_length = DecodeFixed64(trailer.data() + 8);
  t.footer_checksum = DecodeFixed64(trailer.data() + 16);
  const uint64_t body_end = object_size - kTrailerBytes;
  if (t.footer_offset < kHeaderBytes || t.footer_offset > body_end || t.footer_length != body_end - t.footer_offset) {
    return Corrupt("footer out of bounds");
  }
  return t;
}

Result<SegmentLayout> DecodeSegmentLayout(std::string_view header_bytes, std::string_view footer,
                                          const SegmentTrailer& trailer) {
  if (header_bytes.size() != kHeaderBytes || footer.size() != trailer.footer_length) return Corrupt("too short");
  if (std::memcmp(header_bytes.data(), kSegmentMagic, 4) != 0) return Corrupt("bad magic");
  std::string covered = std::string(header_bytes) + std::string(footer);
  if (Checksum64(covered) != trailer.footer_checksum) return Corrupt("footer checksum mismatch");

  Decoder header(header_bytes.substr(4));
  uint16_t version, kind;
  uint32_t dimension, reserved;
  if (!header.GetFixed16(&version) || !header.GetFixed16(&kind) || !header.GetFixed32(&dimension) ||
      !header.GetFixed32(&reserved)) {
    return Corrupt("truncated header");
  }
  if (version != kSegmentFormatVersion) return Corrupt("unsupported version " + std::to_string(version));
  if (kind != kSegmentKindRecords || reserved != 0) return Corrupt("not a records segment");
  if (dimension > limits::kDimensionMax) return Corrupt("dimension out of range");

  SegmentLayout layout;
  layout.dimension = dimension;
  layout.footer_offset = trailer.footer_offset;
  Decoder f(footer);
  uint64_t block_count;
  // Each block takes at least three footer bytes: the count cannot size a huge allocation.
  if (!f.GetVarint64(&block_count) || block_count > footer.size() / 3) return Corrupt("bad block count");
  layout.blocks.reserve(block_count);
  uint64_t expected_offset = kHeaderBytes;
  const uint64_t footer_offset = trailer.footer_offset;
  for (uint64_t b = 0; b < block_count; ++b) {
    SegmentBlock block;
    if (!f.GetVarint64(&block.offset) || !f.GetVarint64(&block.length) || !f.GetVarint64(&block.entries)) {
      return Corrupt("truncated block index");
    }
    // Blocks are contiguous: payload then an 8-byte checksum.
    if (block.offset != expected_offset || block.length > footer_offset ||
        block.offset + block.length + kSegmentBlockChecksumBytes > footer_offset ||
        block.length > kSegmentBlockPayloadBytesMax || block.entries > block.length) {
      return Corrupt("block " + std::to_string(b) + " out of bounds");
    }
    expected_offset = block.offset + block.length + kSegmentBlockChecksumBytes;
    layout.blocks.push_back(block);
  }
  if (expected_offset != footer_offset) return Corrupt("gap before footer");
  if (!f.GetVarint64(&layout.rows) || !f.GetVarint64(&layout.tombstones) || !f.empty()) {
    return Corrupt("malformed footer");
  }
  return layout;
}

Status VerifySegmentBlock(std::string_view bytes, uint64_t index) {
  if (bytes.size() < kSegmentBlockChecksumBytes) return Corrupt("block " + std::to_string(index) + " truncated");
  const std::string_view payload = bytes.substr(0, bytes.size() - kSegmentBlockChecksumBytes);
  if (Checksum64(payload) != DecodeFixed64(bytes.data() + payload.size())) {
    return Corrupt("block " + std::to_string(index) + " checksum mismatch");
  }
  return Status::Ok();
}

Result<SegmentLayout> DecodeSegmentLayout(std::string_view bytes) {
  if (bytes.size() < kHeaderBytes + kTrailerBytes) return Corrupt("too short");
  FATHOM_ASSIGN_OR_RETURN(SegmentTrailer trailer,
                          DecodeSegmentTrailer(bytes.substr(bytes.size() - kTrailerBytes), bytes.size()));
  return DecodeSegmentLayout(bytes.substr(0, kHeaderBytes), bytes.substr(trailer.footer_offset, trailer.footer_length),
                             trailer);
}

Result<SegmentSummary> ReadRecordsSegment(std::string_view bytes,
                                          const std::function<void(SegmentEntry&)>& visit) {
  FATHOM_ASSIGN_OR_RETURN(SegmentLayout layout, DecodeSegmentLayout(bytes));
  SegmentSummary summary;
  summary.dimension = layout.dimension;
  summary.rows = layout.rows;
  summary.tombstones = layout.tombstones;
  uint64_t seen_rows = 0, seen_tombstones = 0;
  SegmentEntry entry;
  for (uint64_t b = 0; b < layout.blocks.size(); ++b) {
    const SegmentBlock& block = layout.blocks[b];
    FATHOM_RETURN_IF_ERROR(VerifySegmentBlock(bytes.substr(block.offset, block.length + kSegmentBlockChecksumBytes), b));
    Decoder in(bytes.substr(block.offset, block.length));
    for (uint64_t i = 0; i < block.entries; ++i) {
      if (!DecodeSegmentEntry(&in, layout.dimension, &entry)) return Corrupt("malformed entry in block " + std::to_string(b));
      (entry.tombstone ? seen_tombstones : seen_rows)++;
      visit(entry);  // the visitor may move fields out; DecodeSegmentEntry resets them
    }
    if (!in.empty()) return Corrupt("trailing bytes in block " + std::to_string(b));
  }
  if (summary.rows != seen_rows || summary.tombstones != seen_tombstones) return Corrupt("entry counts disagree");
  return summary;
}

}  // namespace fathom
