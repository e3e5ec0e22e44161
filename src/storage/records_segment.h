// Records segment: an immutable object holding the full state of some records (and
// deletions of others) as of a WAL sequence number. Byte layout: docs/format/segment.md.
//
// Blocks of about 1 MiB, each with its own XXH3-64, then a footer (block index, counts)
// and a fixed-size trailer. The reader verifies every checksum and bound; malformed
// bytes give Corruption, never a crash (fuzzed in tests/fuzz/).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

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
  // enforces (common/limits.h) is not written; Finish then returns the error.
  void AddRow(const Row& row, const float* embedding);
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
};

struct SegmentSummary {
  uint32_t dimension = 0;
  uint64_t rows = 0;
  uint64_t tombstones = 0;
};

// Verifies and decodes a whole segment, calling `visit` for each entry in order. The
// entry is reused between calls (the visitor may move fields out of it).
Result<SegmentSummary> ReadRecordsSegment(std::string_view bytes,
                                          const std::function<void(SegmentEntry&)>& visit);

}  // namespace fathom
