// VectorSource: where the IVF index's exact re-rank (and its exact-scan fallback) reads
// full-precision vectors, by slot.
//
// The index never owns full vectors (DESIGN.md section 3: codes in RAM, full vectors
// apart). A source may hold them in memory (MatrixSource: a dense row-major matrix, or a
// collection's record table) or read them on demand (a file through a block cache).
//
// Thread-safety: Fetch is const and must be safe from many threads at once; `scratch` is
// the caller's, so a source that copies into it needs no locking of its own.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "index/vector/distance.h"
#include "index/vector/kmeans.h"

namespace fathom {

class VectorSource {
 public:
  virtual ~VectorSource() = default;
  virtual uint32_t dim() const = 0;
  // The dim() floats of `slot`. The pointer is either into the source's own memory or
  // `scratch` (dim() floats, filled by the call); it stays valid until `scratch` is
  // reused. Returns nullptr when the source has no such slot or cannot read it; the
  // index then skips that slot (the caller counts such misses through its own means).
  virtual const float* Fetch(uint32_t slot, float* scratch) const = 0;
  // An upper bound on |x - Fetch(slot)| (L2) where x is the slot's exact vector: 0 for a
  // source of exact vectors, positive for one of approximations (Int8MatrixSource). A
  // two-stage search uses it to skip re-scoring rows that cannot make the top k
  // (DistanceLowerBound, distance.h).
  virtual float ApproximationError(uint32_t slot) const {
    (void)slot;
    return 0.0f;
  }
  // |row| for the `row` that Fetch(slot) returned (cosine re-ranking needs it): computed
  // by default; a source that keeps its rows' norms returns them instead of a second pass
  // over the row.
  virtual float RowNorm(uint32_t slot, const float* row) const {
    (void)slot;
    return std::sqrt(DotProduct(row, row, dim()));
  }
  // A hint that these slots will be fetched soon (on-demand sources may batch the reads).
  virtual void Prefetch(const uint32_t* slots, size_t count) const {
    (void)slots;
    (void)count;
  }
  // A CPU cache hint: `slot`'s row (if in memory) will be fetched within microseconds. A
  // re-rank touches rows in random order, one cache miss per line of each row; hinting a
  // few candidates ahead overlaps those misses instead of paying them one at a time.
  virtual void PrefetchToCache(uint32_t slot) const { (void)slot; }
  // An earlier CPU cache hint, for a source that finds a row through per-slot entries
  // (where the row lives, whether it is live, its norm): called a few candidates before
  // PrefetchToCache(slot), so those entries are in cache when that hint reads them
  // rather than a dependent miss before the row's own.
  virtual void PrefetchLocation(uint32_t slot) const { (void)slot; }
  // SpaceDistance from `query` (|query| = query_norm) to the row Fetch(slot) gives, into
  // *out; false where Fetch gives none. A source whose rows are codes (int8) overrides it
  // to score the codes without decoding them into `scratch` first.
  virtual bool Distance(uint32_t slot, DistanceSpace space, const float* query, float query_norm, float* scratch,
                        float* out) const {
    const float* row = Fetch(slot, scratch);
    if (row == nullptr) return false;
    *out = SpaceDistance(space, query, query_norm, row, space == DistanceSpace::kCosine ? RowNorm(slot, row) : 0.0f,
                         dim());
    return true;
  }
};

// Prefetches the cache lines of `bytes` bytes at `p` (a hint: no fault on any address).
inline void PrefetchLines(const void* p, size_t bytes) {
  const char* c = static_cast<const char*>(p);
  for (size_t off = 0; off < bytes; off += 64) __builtin_prefetch(c + off, 0, 3);
}

// The slots of the first `n` of `candidates` (any type with a `slot` member, in the order
// they will be fetched): the reads a search hints with Prefetch before it fetches them.
template <typename Candidate>
std::vector<uint32_t> FirstSlots(const std::vector<Candidate>& candidates, size_t n) {
  std::vector<uint32_t> slots;
  slots.reserve(std::min(candidates.size(), n));
  for (size_t i = 0; i < candidates.size() && slots.size() < n; ++i) slots.push_back(candidates[i].slot);
  return slots;
}

// A dense matrix: slot i is row i.
class MatrixSource final : public VectorSource {
 public:
  explicit MatrixSource(MatrixView matrix) : matrix_(matrix) {}
  uint32_t dim() const override { return matrix_.dim; }
  const float* Fetch(uint32_t slot, float* scratch) const override {
    (void)scratch;
    return slot < matrix_.rows ? matrix_.Row(slot) : nullptr;
  }
  void PrefetchToCache(uint32_t slot) const override {
    if (slot < matrix_.rows) PrefetchLines(matrix_.Row(slot), size_t{matrix_.dim} * sizeof(float));
  }

 private:
  MatrixView matrix_;
};

}  // namespace fathom
