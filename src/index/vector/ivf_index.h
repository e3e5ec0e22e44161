// IvfIndex: an inverted-file vector index with RaBitQ codes and exact re-ranking
// (DESIGN.md section 3; design notes in docs/design/vector-index.md; byte layout in
// docs/format/vector_index.md).
//
// Build: vectors are mapped to an internal space where the search is squared L2
// (l2: as is; cosine: normalized; ip: the standard MIPS-to-L2 reduction, one extra
// coordinate sqrt(M^2 - |x|^2) with M the largest norm, the query scaled to norm M with
// extra coordinate 0), clustered
// with balanced k-means, rotated by a random orthogonal map and coded with 1 bit per
// rotated dimension relative to their centroid (rabitq.h). Each cluster's rows are
// contiguous: slots, codes, then the three per-code factors.
//
// Search: the query is rotated once; the nearest `probes` centroids are scanned (for
// each, the query residual is quantized to 4 bit planes and every code is scored with
// popcounts); the k * rerank_factor best estimates are kept; those are re-ranked with
// exact distances from the full-precision vectors, in order of estimate, stopping early
// once no remaining candidate's lower bound (estimate - error bound) can beat the k-th
// exact distance. A filter is applied inside the scan (codes of disallowed slots are
// never scored); when it lets few rows through, the search is an exact scan of the
// allowed rows instead (see IvfSearchStats::exact_scan and PlanFilteredSearch in the .cc).
//
// Slots: each indexed row has a distinct uint32 slot, the row number of the matrix given
// to Build unless Build is given explicit slots (a collection uses its record table's
// slots). The full-precision vectors used for re-ranking are not part of the index: the
// caller passes a VectorSource (vector_source.h) that yields them by slot. Returned
// distances are Chroma's for the space (distance.h).
//
// Maintenance: Updated() derives a new index with rows removed and added (assigned to
// their nearest centroid; clusters that outgrow their cap are split, tiny ones merged,
// as SPFresh does) without re-clustering everything; Remapped() renumbers slots.
//
// Ownership: IvfIndex owns its centroids, codes and rotation; MatrixView, VectorSource
// and SlotFilter borrow. Thread-safety: immutable after Build/Deserialize/Updated;
// Search is const and safe from many threads at once.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/aligned_allocator.h"
#include "fathom/status.h"
#include "fathom/types.h"
#include "index/vector/centroid_router.h"
#include "index/vector/ivf_limits.h"
#include "index/vector/kmeans.h"
#include "index/vector/rabitq.h"
#include "index/vector/top_k.h"
#include "index/vector/vector_source.h"

namespace fathom {

// The rows a search may return: all, those whose bit is set in a bitset, or those a
// predicate accepts. Borrows the bitset / predicate.
class SlotFilter {
 public:
  SlotFilter() = default;  // every slot allowed

  // `words` holds at least ceil(slot_count / 64) words; `allowed_count` is its number of
  // set bits below slot_count (the planner's selectivity).
  static SlotFilter Bitset(const uint64_t* words, size_t slot_count, size_t allowed_count) {
    SlotFilter f;
    f.words_ = words;
    f.slot_count_ = slot_count;
    f.allowed_count_ = allowed_count;
    return f;
  }
  // `estimated_allowed` stands in for the count when planning.
  static SlotFilter Predicate(const std::function<bool(uint32_t)>* allows, size_t estimated_allowed) {
    SlotFilter f;
    f.predicate_ = allows;
    f.allowed_count_ = estimated_allowed;
    return f;
  }

  // Calls fn(slot) for every allowed slot below `slots`, in increasing order (a bitset is
  // walked word by word, so sparse filters cost their set bits, not `slots`).
  template <typename Fn>
  void ForEachAllowed(size_t slots, Fn&& fn) const {
    if (words_ != nullptr) {
      const size_t limit = std::min(slots, slot_count_);
      for (size_t w = 0; w * 64 < limit; ++w) {
        for (uint64_t bits = words_[w]; bits != 0; bits &= bits - 1) {
          const size_t slot = w * 64 + static_cast<size_t>(__builtin_ctzll(bits));
          if (slot >= limit) return;
          fn(static_cast<uint32_t>(slot));
        }
      }
      return;
    }
    for (size_t slot = 0; slot < slots; ++slot) {
      if (predicate_ == nullptr || (*predicate_)(static_cast<uint32_t>(slot))) fn(static_cast<uint32_t>(slot));
    }
  }

  bool allows_all() const { return words_ == nullptr && predicate_ == nullptr; }
  size_t allowed_count() const { return allowed_count_; }
  bool Allows(uint32_t slot) const {
    if (words_ != nullptr) return slot < slot_count_ && ((words_[slot >> 6] >> (slot & 63)) & 1);
    if (predicate_ != nullptr) return (*predicate_)(slot);
    return true;
  }

 private:
  const uint64_t* words_ = nullptr;
  size_t slot_count_ = 0;
  const std::function<bool(uint32_t)>* predicate_ = nullptr;
  size_t allowed_count_ = 0;
};

struct IvfBuildOptions {
  DistanceSpace space = DistanceSpace::kL2;
  uint32_t clusters = 0;  // 0 = sqrt(rows) * kClustersPerSqrtRowsDefault
  int kmeans_iterations = ivf_limits::kKmeansIterationsDefault;
  uint64_t seed = 1;
  int threads = 1;
  // The RaBitQ rotation (rabitq.h): structured Hadamard rounds by default; dense is the
  // kind of indexes written before format version 2.
  RotationKind rotation = RotationKind::kHadamard;
};

// How a filtered search runs: chosen by the planner (cost model in ivf_search.cc), or
// forced for tests and benchmarks.
enum class FilterStrategy : uint8_t { kAuto = 0, kIvfScan = 1, kExactScan = 2 };

struct IvfSearchOptions {
  uint32_t k = 10;
  uint32_t probes = ivf_limits::kProbesDefault;
  // Candidates kept from the code scan for exact re-ranking: k * rerank_factor.
  uint32_t rerank_factor = ivf_limits::kRerankFactorDefault;
  // The error bound's epsilon_0 for early termination of the re-rank; 0 re-ranks every
  // kept candidate.
  float error_bound_epsilon = ivf_limits::kErrorBoundEpsilonDefault;
  const SlotFilter* filter = nullptr;  // null = no filter
  FilterStrategy filter_strategy = FilterStrategy::kAuto;
  // Two-stage re-rank: when set, the VectorSource given to Search holds compact
  // approximations (e.g. Int8Matrix, int8_matrix.h) and re-ranks the candidates; the best
  // k * refine_factor of those are then scored again from `exact` (full f32 vectors,
  // typically read on demand), and the k best by exact distance are returned. Distances
  // returned are then always exact.
  const VectorSource* exact = nullptr;
  uint32_t refine_factor = ivf_limits::kRefineFactorDefault;
  // The VectorSource given to Search reads its rows on demand (cold rows kept without RAM
  // copies, db/vector_column.h): the re-rank goes in order of each candidate's lower
  // bound (estimate - error bound), and every row it can reach, settled in advance by
  // the candidates' upper bounds (estimate + error bound), is hinted in one
  // VectorSource::Prefetch batch before the first Fetch (BoundedRescoreBatched,
  // bounded_rescore.h). The answer is the one-by-one re-rank's whenever the bounds hold;
  // only the order and batching of the reads differ. A filtered exact scan hints its
  // rows in batches too.
  bool batched_reads = false;
};

struct IvfSearchStats {
  bool exact_scan = false;     // the filter planner chose an exact scan
  uint32_t clusters_probed = 0;
  size_t centroids_scored = 0;  // exact centroid distances computed (routing adds int8 ones)
  size_t codes_scored = 0;
  size_t candidates = 0;       // kept for re-ranking
  size_t reranked = 0;         // distances computed from the Search's VectorSource
  size_t refined = 0;          // exact distances computed from IvfSearchOptions::exact
};

// Incremental maintenance (Updated); defaults keep cluster sizes within the same bounds
// as Build.
struct IvfUpdateOptions {
  uint64_t seed = 1;  // for the 2-means of splits
  int threads = 1;
};

struct IvfUpdateStats {
  size_t removed = 0;        // rows dropped because `keep` rejected them
  size_t added = 0;
  uint32_t splits = 0;       // clusters split in two
  uint32_t merges = 0;       // clusters dissolved into their neighbours
  size_t norm_overflow = 0;  // ip only: added rows longer than the build's max norm M
  // Added slots the VectorSource could not produce (skipped), plus kept rows that had
  // to move (their cluster was split or dissolved) but whose vectors could not be read
  // (dropped).
  size_t unreadable = 0;
};

class IvfIndex {
 public:
  // Row i of `vectors` gets slot `slots[i]` (distinct), or slot i when `slots` is null.
  static Result<IvfIndex> Build(MatrixView vectors, const IvfBuildOptions& options,
                                const uint32_t* slots = nullptr);

  // The k nearest allowed rows to `query` (dim() floats), nearest first, with Chroma's
  // distance for space(). `vectors` yields the full-precision rows by slot.
  Result<std::vector<Hit>> Search(const float* query, const IvfSearchOptions& options,
                                  const VectorSource& vectors, IvfSearchStats* stats = nullptr) const;
  Result<std::vector<Hit>> Search(const float* query, const IvfSearchOptions& options, MatrixView vectors,
                                  IvfSearchStats* stats = nullptr) const {
    return Search(query, options, MatrixSource(vectors), stats);
  }

  // A new index holding this one's rows that `keep` allows plus `added` (slots not kept,
  // distinct; their vectors come from `vectors`), each assigned to its nearest
  // centroid. Clusters above kClusterSizeCapFactor times the mean are split with
  // 2-means; clusters below kClusterMergeFactor times the mean are merged into their
  // nearest neighbours. Centroids, rotation and the ip norm M are kept (see
  // IvfUpdateStats::norm_overflow). Implemented in ivf_update.cc.
  Result<IvfIndex> Updated(const SlotFilter& keep, const std::vector<uint32_t>& added, const VectorSource& vectors,
                           const IvfUpdateOptions& options, IvfUpdateStats* stats = nullptr) const;

  // A copy with every slot s renamed to map(s), dropping rows mapped to nullopt. The new
  // slots must be distinct (InvalidArgument otherwise). Returns InvalidArgument if no row
  // is left.
  Result<IvfIndex> Remapped(const std::function<std::optional<uint32_t>(uint32_t)>& map) const;
  // Renames every slot s to map(s) in place, keeping every row (no copy of the codes:
  // what the open needs, where a copy would double the index's memory at its peak).
  // InvalidArgument, and the index unchanged, if map drops a row (nullopt), names the
  // reserved slot 2^32-1, or gives two rows one slot.
  Status RenameSlots(const std::function<std::optional<uint32_t>(uint32_t)>& map);

  // Every cluster with its squared distance from `query` in the search space, nearest
  // first (for studies of probe counts and for tests).
  std::vector<std::pair<float, uint32_t>> CentroidOrder(const float* query) const;
  // The cluster holding each row, by slot (slots not in the index map to UINT32_MAX).
  std::vector<uint32_t> ClusterOfSlots() const;

  // Whether searches find their centroids through the int8 router (BuildRouting).
  bool routed() const { return !router_.empty(); }
  // A copy that scans every centroid (to measure or check routing against).
  IvfIndex WithoutRouting() const;
  // Whether `slot` is a row of this index.
  bool Contains(uint32_t slot) const {
    return slot < slot_bound_ && ((members_[slot >> 6] >> (slot & 63)) & 1);
  }
  // Calls fn(slot) for every row, in cluster order.
  template <typename Fn>
  void ForEachSlot(Fn&& fn) const {
    for (uint32_t slot : slots_) fn(slot);
  }

  // The format of docs/format/vector_index.md. Deserialize returns Corruption for any
  // bytes Serialize did not produce (checksums on every section), never crashes.
  std::string Serialize() const;
  static Result<IvfIndex> Deserialize(std::string_view bytes);

  DistanceSpace space() const { return space_; }
  uint32_t dim() const { return dim_; }
  size_t rows() const { return rows_; }
  uint32_t clusters() const { return static_cast<uint32_t>(offsets_.size() - 1); }
  size_t ClusterRows(uint32_t cluster) const { return offsets_[cluster + 1] - offsets_[cluster]; }
  // Bytes resident for the index itself (centroids, rotation, codes, factors, slots),
  // not counting the full-precision vectors.
  size_t MemoryBytes() const;

 private:
  IvfIndex() = default;

  // The search space transform of a query: internal_dim_ floats.
  void TransformQuery(const float* query, float query_norm, float* out) const;
  std::vector<Hit> ExactScan(const float* query, float query_norm, uint32_t k, const SlotFilter& filter,
                             const VectorSource& vectors, bool batched_reads = false) const;
  // The second stage of a two-stage re-rank (IvfSearchOptions::exact): the k best of
  // `approximate` (distances from `approx`) by exact distance, re-scoring only the rows
  // whose lower bound can still make the cut (bounded_rescore.h); `approximate` itself
  // when there is no exact source.
  std::vector<Hit> Refine(const float* query, float query_norm, uint32_t k, std::vector<Hit> approximate,
                          const VectorSource& approx, const IvfSearchOptions& options,
                          IvfSearchStats* stats) const;
  // Rebuilds members_ / slot_bound_ from slots_; false if a slot repeats.
  bool IndexMembers();
  // An index with this one's space, dimensions, ip norm and rotation, and no clusters or
  // rows yet (Remapped and Updated fill them in).
  IvfIndex EmptyWithSameShape() const;
  // Centroid routing: with at least ivf_limits::kRoutingClustersMin clusters, searches
  // find their nearest centroids through an int8 copy with error bounds
  // (centroid_router.h), exactly the clusters a scan of every f32 centroid would pick.
  // Derived from centroids_ (not serialized); recomputed by Build, Deserialize and
  // Updated.
  void BuildRouting();
  // The clusters a search should consider first, with their exact centroid distances:
  // all of them without routing, else a subset holding the `wanted` nearest. Returns how
  // many exact centroid distances it computed.
  size_t RouteQuery(const float* rotated, uint32_t wanted, std::vector<std::pair<float, uint32_t>>* order,
                  std::vector<float>* scratch) const;

  DistanceSpace space_ = DistanceSpace::kL2;
  uint32_t dim_ = 0;
  uint32_t internal_dim_ = 0;  // dim_ + 1 for ip (the MIPS reduction), else dim_
  float ip_max_norm_ = 0.0f;   // M of the ip reduction
  size_t rows_ = 0;
  std::optional<RabitqQuantizer> quantizer_;
  std::vector<float> centroids_;   // clusters x padded_dim, rotated
  std::vector<uint32_t> offsets_;  // clusters + 1: cluster j is rows [offsets_[j], offsets_[j+1])
  std::vector<uint32_t> slots_;    // per row, in cluster order
  std::vector<uint64_t> members_;  // bitset over slots: which slots are rows
  CentroidRouter router_;          // BuildRouting: empty when not used
  uint32_t slot_bound_ = 0;        // max slot + 1
  std::vector<uint64_t, AlignedAllocator<uint64_t>> codes_;  // rows x code_words
  std::vector<float> add_, rescale_, error_;                 // per row: RaBitQ factors
};

}  // namespace fathom
