// MemoryBudget: how DatabaseOptions::memory_budget_bytes is divided among what a
// database keeps in RAM (docs/design/memory-budget.md).
//
// With no budget (0, the embedded default) nothing changes: the vector block cache is
// DatabaseOptions::vector_cache_bytes (128 MiB by default), cold rows keep int8 copies,
// and a collection spills indexed vectors once 64 MiB (or an eighth of its cold rows)
// are hot. With a budget B:
// - the vector block cache gets B / 4 (or vector_cache_bytes when set, at most B / 2);
// - cold rows keep no int8 copy (0 bytes a row instead of dim + 8): searches re-score
//   their candidates from the exact rows, read in batches through that cache;
// - a collection spills once B / 8 of indexed f32 vectors are hot (at most 64 MiB), with
//   no proportional rule, so hot vectors stay within B / 8 per collection beyond the
//   WAL tail;
// - the rest, B * 5 / 8, is the share of what stays resident per row: the vector index
//   (RaBitQ codes: about dim / 8 + 16 bytes a row), each slot's locator and norm (12
//   bytes), and the record table (ids, documents, metadata: not bounded yet).
// A collection whose index and vector column alone outgrow that share is still served
// (a query needs its codes): a warning is logged and VectorIndexStats::over_memory_budget
// says so. What the budget does not count is listed in the design page.
//
// Thread-safety: an immutable value.
#pragma once

#include <cstdint>

#include "fathom/options.h"
#include "fathom/status.h"

namespace fathom {

struct MemoryBudget {
  // Smallest budget accepted: below it the cache and spill shares are too small to
  // serve a search (a re-score batch alone may touch a few MiB of blocks).
  static constexpr uint64_t kBytesMin = uint64_t{64} << 20;
  // Largest accepted (a sanity bound on a mistyped value, 1 PiB).
  static constexpr uint64_t kBytesMax = uint64_t{1} << 50;
  // Shares of the budget (1 / this each).
  static constexpr uint64_t kVectorCacheShareInverse = 4;
  static constexpr uint64_t kHotVectorsShareInverse = 8;

  uint64_t budget_bytes = 0;  // 0: no budget
  // The vector block cache, per distinct block size (BlockCachePool).
  uint64_t vector_cache_bytes = 0;
  // Whether cold rows keep int8 copies in RAM (ColdPart::approximations).
  bool cold_approximations = true;
  // With a budget: indexed f32 vectors a collection keeps hot before it spills (bytes);
  // 0 without one (the default rule: limits::kColdPartBytesMax or an eighth of the cold
  // rows).
  uint64_t hot_vector_bytes_max = 0;
  // With a budget: what the per-row resident structures of all collections (index,
  // vector column, record table) may take.
  uint64_t resident_share_bytes = 0;

  bool bounded() const { return budget_bytes != 0; }
  // Rows a collection of `dim` dimensions spills at once (and keeps hot at most beyond
  // its pending rows) under the budget; 0 without one.
  uint64_t SpillRows(uint32_t dim) const;

  // The division for `options`; InvalidArgument (naming the option and the fix) for a
  // budget outside [kBytesMin, kBytesMax] or a vector cache larger than half of it.
  static Result<MemoryBudget> Plan(const DatabaseOptions& options);
  // Plan for options already checked by Database::Open (no budget if they are not).
  static MemoryBudget Resolve(const DatabaseOptions& options);
};

}  // namespace fathom
