// The collection envelope of a persisted vector index (docs/format/vector_index.md,
// "Collection envelope"): a header that ties the index to one state of its collection's
// rows and carries the calibrated search budget, its checksum, then the IVF index itself
// (IvfIndex::Serialize) with dense ranks for slots.
//
// This file is the pure byte codec: DecodeVectorIndexEnvelope checks everything that can
// be checked from the bytes alone (magic, version, checksum, the budget's and the built
// rows' rules, the index's own checksums and its row count) and returns the parts;
// CollectionVectorIndex::Load then checks them against the record table (live rows, the
// rows' offsets, the dimension, every rank). The encoder enforces the decoder's rules from
// the same functions, so nothing fathom writes is refused on read.
//
// Thread-safety: free functions over their arguments.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "fathom/status.h"
#include "index/vector/ivf_index.h"
#include "index/vector/search_calibration.h"

namespace fathom {

// The envelope version written; 1 (no budget) and 2 (no built rows) are still read.
inline constexpr uint32_t kVectorIndexEnvelopeVersion = 3;
// Re-rank depths a persisted budget may name (k * factor candidates); a query's scaled
// depth is capped at it too.
inline constexpr uint32_t kVectorIndexRerankFactorMax = 1u << 16;

struct VectorIndexEnvelopeHeader {
  uint64_t live_rows = 0;     // live rows of the collection the index was written for
  uint64_t offsets_hash = 0;  // LiveOffsetsHash of those rows
  uint64_t covered_rows = 0;  // rows in the index
  SearchBudget budget;        // not calibrated in a version 1 envelope
  // Rows at the index's last full build; 0 = not recorded (versions 1 and 2). A plain
  // integer rather than std::optional: GCC 12's -O2 warns an inlined optional's value
  // "may be used uninitialized", and -Werror stops the release build.
  uint64_t built_rows = 0;
};

struct VectorIndexEnvelope {
  uint32_t version = 0;
  VectorIndexEnvelopeHeader header;
  IvfIndex index;  // slots are dense ranks: slot r is the r-th live row in slot order
};

// The rules a persisted budget obeys for an index of `clusters` (Corruption otherwise).
Status CheckVectorIndexBudget(const SearchBudget& budget, uint32_t clusters);
// The rows of the last full build a version 3 header may name (Corruption otherwise).
Status CheckVectorIndexBuiltRows(uint64_t built_rows);

// The current version's bytes for `dense` (slots = ranks) under `header`; InvalidArgument
// (nothing encoded) when the header breaks a rule the decoder checks or disagrees with
// the index's row count.
Result<std::string> EncodeVectorIndexEnvelope(const VectorIndexEnvelopeHeader& header, const IvfIndex& dense);

// Any version's bytes; Corruption for anything EncodeVectorIndexEnvelope (or an older
// version's encoder) did not produce. Never crashes on arbitrary bytes.
Result<VectorIndexEnvelope> DecodeVectorIndexEnvelope(std::string_view bytes);

// Tests and fuzzing: recomputes the header checksum of `bytes` (any version, as its
// version field says; unchanged when too short or of an unknown version), to reach the
// checks behind it.
void RecomputeVectorIndexEnvelopeChecksumForTesting(std::string* bytes);

}  // namespace fathom
