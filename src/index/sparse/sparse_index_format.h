// The persisted sparse vector index of a collection's compacted rows: one immutable object
// (c/<collection>/sidx/<uuid>.six) written by compaction and named by the manifest,
// holding the sparse key, what identifies the rows (live count, rows with a vector,
// hashes of their record offsets and vectors) and the index's sealed form
// (SparseIndex::Image: per dimension its postings in blocks with their largest and
// smallest weight). Byte layout: docs/format/sparse-index.md; design:
// docs/design/sparse-vectors.md, "Persistence".
//
// Slots in the object are ranks: rank r is the r-th live row of the compacted state in
// slot order (as in the text index object), so the reader maps them onto its own slots.
//
// DecodeSparseIndexObject takes untrusted bytes: every count, size, dimension, slot,
// weight and block bound is checked against the checksums and against each other, and
// anything wrong is Corruption (never a crash). Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fathom/status.h"
#include "index/sparse/sparse_index.h"

namespace fathom {

inline constexpr char kSparseIndexMagic[8] = {'F', 'T', 'H', 'M', 'S', 'I', 'X', '1'};
inline constexpr uint32_t kSparseIndexFormatVersion = 1;
// Encoder and decoder limits.
inline constexpr uint64_t kSparseIndexRowsMax = UINT32_MAX - 1;  // slots are u32
inline constexpr size_t kSparseIndexKeyBytesMax = 4096;           // limits::kMetadataKeyBytesMax
inline constexpr size_t kSparseIndexHeaderBytes = 96;

struct SparseIndexObject {
  std::string key;              // the collection's sparse key (1..kSparseIndexKeyBytesMax bytes)
  uint64_t vector_rows = 0;     // live rows holding a sparse vector at the key (<= rows)
  uint64_t offsets_hash = 0;    // of the live rows' record offsets, in rank order
  uint64_t vectors_hash = 0;    // of the live rows' vectors at the key, in rank order
  SparseIndex::Image image;     // slots are ranks; image.slot_count = the live rows
};

// InvalidArgument (nothing encoded) when the object breaks a limit the decoder checks
// (rows, key bytes, vector rows). The image must be as SparseIndex::MakeImage makes it.
Result<std::string> EncodeSparseIndexObject(const SparseIndexObject& object);
// Corruption for any damage or inconsistency.
Result<SparseIndexObject> DecodeSparseIndexObject(std::string_view bytes);

// For tests and fuzzers: recomputes both checksums of `bytes` when it is long enough to
// hold a header, so that damage behind them reaches the checks that follow.
void RecomputeSparseIndexChecksumsForTesting(std::string* bytes);

// XXH3 of a sparse vector as the object's vectors hash takes it: its indices (u32 LE
// each) then its values (f32 LE each); the tokens do not reach the index.
uint64_t SparseVectorChecksum(const SparseVector& vector);

}  // namespace fathom
