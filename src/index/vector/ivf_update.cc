// IvfIndex::Updated: incremental maintenance of the IVF index in the manner of SPFresh
// (Xu et al., SOSP 2023). Design notes in docs/design/vector-index.md, "Incremental
// maintenance".
//
// The work happens on a mutable copy of the cluster lists (UpdateWork below): each row is
// an Entry that either still owns its code in the source index (it stays in its cluster
// and that cluster's centroid is unchanged) or carries its rotated internal vector and
// is encoded against its final centroid when the new index is assembled. Full vectors
// are read from the VectorSource only for the rows that move: added rows, rows of
// clusters that are split or dissolved, and the rows of a split's neighbours that the
// reassignment inspects.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "common/aligned_allocator.h"
#include "common/assert.h"
#include "index/vector/distance.h"
#include "index/vector/ivf_index.h"

namespace fathom {

namespace {

constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();
constexpr size_t kNoCluster = std::numeric_limits<size_t>::max();
// Seed stream of the splits' 2-means, derived from IvfUpdateOptions::seed.
constexpr uint64_t kSplitSeedStream = 1;

bool AllFinite(const float* v, uint32_t n) {
  for (uint32_t d = 0; d < n; ++d) {
    if (!std::isfinite(v[d])) return false;
  }
  return true;
}

// Build's transform of one row into the internal squared-L2 space (dim floats in,
// dim + 1 for ip out). Returns true when an ip row is longer than max_norm M, in which
// case its extra coordinate is clamped to 0: it then lies off the sphere of radius M and
// its internal distance to every query is overstated by |x|^2 - M^2, so the code scan
// under-ranks it in proportion to the excess (returned distances stay exact: the re-rank
// reads the full vector). The caller rebuilds when such rows become many.
bool TransformRow(DistanceSpace space, const float* row, uint32_t dim, float max_norm, float* out) {
  switch (space) {
    case DistanceSpace::kL2:
      std::copy_n(row, dim, out);
      return false;
    case DistanceSpace::kCosine: {
      const float norm = std::sqrt(DotProduct(row, row, dim));
      const float inverse = norm > 0.0f ? 1.0f / norm : 0.0f;
      for (uint32_t d = 0; d < dim; ++d) out[d] = row[d] * inverse;
      return false;
    }
    case DistanceSpace::kInnerProduct: {
      const float norm = std::sqrt(DotProduct(row, row, dim));
      std::copy_n(row, dim, out);
      const double slack = static_cast<double>(max_norm) * max_norm - static_cast<double>(norm) * norm;
      out[dim] = static_cast<float>(std::sqrt(std::max(0.0, slack)));
      return norm > max_norm;
    }
  }
  return false;
}

// 2-means on `count` rows of `dim` floats: k-means++ seeding (the first centre uniform,
// the second drawn in proportion to squared distance), then Lloyd iterations in double.
// On success `centroids` holds the two centres (2 x dim), and side[i] the one row i is
// nearest to (ties to 0); false when the rows cannot be separated (all equal).
bool TwoMeans(const float* rows, size_t count, uint32_t dim, uint64_t seed, std::vector<float>* centroids,
              std::vector<uint8_t>* side) {
  if (count < 2) return false;
  auto row = [&](size_t i) { return rows + i * dim; };
  Rng rng(seed);
  const size_t first = rng.Below(count);
  std::vector<float> nearest(count);
  double total = 0.0;
  size_t farthest = first;
  for (size_t i = 0; i < count; ++i) {
    nearest[i] = L2Squared(row(i), row(first), dim);
    total += nearest[i];
    if (nearest[i] > nearest[farthest]) farthest = i;
  }
  if (!(total > 0.0)) return false;
  size_t second = farthest;  // if rounding leaves the draw below the total
  const double target = rng.Uniform() * total;
  double accumulated = 0.0;
  for (size_t i = 0; i < count; ++i) {
    accumulated += nearest[i];
    if (accumulated >= target && nearest[i] > 0.0f) {
      second = i;
      break;
    }
  }
  centroids->resize(size_t{2} * dim);
  float* c0 = centroids->data();
  float* c1 = centroids->data() + dim;
  std::copy_n(row(first), dim, c0);
  std::copy_n(row(second), dim, c1);
  side->assign(count, 0);
  std::vector<double> sums(size_t{2} * dim);
  for (int iteration = 0;; ++iteration) {
    size_t sizes[2] = {0, 0};
    for (size_t i = 0; i < count; ++i) {
      const uint8_t s = L2Squared(row(i), c1, dim) < L2Squared(row(i), c0, dim) ? 1 : 0;
      (*side)[i] = s;
      ++sizes[s];
    }
    if (sizes[0] == 0 || sizes[1] == 0) return false;
    if (iteration == ivf_limits::kSplitIterations) return true;
    std::fill(sums.begin(), sums.end(), 0.0);
    for (size_t i = 0; i < count; ++i) {
      double* sum = sums.data() + size_t{(*side)[i]} * dim;
      for (uint32_t d = 0; d < dim; ++d) sum[d] += row(i)[d];
    }
    for (size_t s = 0; s < 2; ++s) {
      for (uint32_t d = 0; d < dim; ++d) {
        (*centroids)[s * dim + d] = static_cast<float>(sums[s * dim + d] / static_cast<double>(sizes[s]));
      }
    }
  }
}

// One row of the index under construction.
struct Entry {
  uint32_t slot;
  // Its row in the source index while that row's code is still valid here (same cluster,
  // unchanged centroid); kNone once it must be encoded from `vector`.
  uint32_t old_row;
  // Its rotated internal vector in UpdateWork's store, or kNone when not read.
  uint32_t vector;
};

struct WorkCluster {
  std::vector<Entry> rows;
  bool alive = true;
  bool splittable = true;  // false once 2-means failed to separate its rows
};

// The source index's rows, borrowed (IvfIndex's members, in cluster order).
struct SourceRows {
  uint32_t clusters;
  const uint32_t* offsets;  // clusters + 1: cluster j is rows [offsets[j], offsets[j + 1])
  const uint32_t* slots;    // per row
  const uint64_t* codes;    // per row: code_words words
  const float* add;         // per row: RaBitQ factors
  const float* rescale;
  const float* error;
};

// What reading an added row found.
enum class AddedRead : uint8_t { kRead, kUnreadable, kNotFinite, kOverflow };

// Per added row (in the order given to Updated): what reading it found, and the source
// cluster nearest to it.
struct AddedRows {
  std::vector<AddedRead> outcome;
  std::vector<uint32_t> assignment;
};

// The mutable cluster lists of an update: the added rows read (ReadAdded), the lists
// filled with the kept and added rows (Fill), then the merge and split passes. Centroids
// are rotated (padded_dim floats each); clusters are never erased, only marked dead, so a
// cluster's number stays its position in `centroids`.
class UpdateWork {
 public:
  // Starts from the source index's rotated centroids.
  UpdateWork(const RabitqQuantizer& quantizer, DistanceSpace space, uint32_t dim, float max_norm,
             std::vector<float> centroids, const VectorSource& vectors, uint64_t seed, IvfUpdateStats* stats)
      : quantizer_(quantizer),
        space_(space),
        dim_(dim),
        padded_(quantizer.padded_dim()),
        max_norm_(max_norm),
        vectors_(vectors),
        split_seed_(MixSeed(seed, kSplitSeedStream)),
        stats_(stats),
        centroids_(std::move(centroids)),
        scratch_(dim),
        internal_(quantizer.dim()) {}

  const std::vector<WorkCluster>& clusters() const { return clusters_; }
  const float* Vector(uint32_t v) const { return store_.data() + size_t{v} * padded_; }
  const float* Centroid(size_t c) const { return centroids_.data() + c * padded_; }
  size_t rows() const { return rows_; }

  // Reads, transforms and rotates the added rows and assigns each to its nearest source
  // centroid, in parallel on `threads`; added row i becomes vector i of the store. Call
  // first. InvalidArgument if an added vector is not finite.
  Result<AddedRows> ReadAdded(const std::vector<uint32_t>& added, int threads) {
    const size_t source_clusters = centroids_.size() / padded_;
    AddedRows read;
    read.outcome.assign(added.size(), AddedRead::kRead);
    read.assignment.assign(added.size(), 0);
    FATHOM_CHECK(store_.empty());
    store_.resize(added.size() * padded_);
    vectors_.Prefetch(added.data(), added.size());
    ParallelForChunks(added.size(), ivf_limits::kParallelChunkRows, threads, [&](size_t begin, size_t end) {
      std::vector<float> scratch(dim_), internal(quantizer_.dim()), distances(source_clusters);
      for (size_t i = begin; i < end; ++i) {
        const float* row = vectors_.Fetch(added[i], scratch.data());
        if (row == nullptr) {
          read.outcome[i] = AddedRead::kUnreadable;
          continue;
        }
        if (!AllFinite(row, dim_)) {
          read.outcome[i] = AddedRead::kNotFinite;
          continue;
        }
        if (TransformRow(space_, row, dim_, max_norm_, internal.data())) read.outcome[i] = AddedRead::kOverflow;
        float* rotated = store_.data() + i * padded_;
        quantizer_.Rotate(internal.data(), rotated);
        SquaredL2ToMany(rotated, centroids_.data(), source_clusters, padded_, distances.data());
        read.assignment[i] =
            static_cast<uint32_t>(std::min_element(distances.begin(), distances.end()) - distances.begin());
      }
    });
    for (AddedRead o : read.outcome) {
      if (o == AddedRead::kNotFinite) return Status::InvalidArgument("IVF update: added vectors must be finite");
    }
    return read;
  }

  // Fills the cluster lists: the source's rows that `keep` allows, in their clusters, then
  // the added rows that could be read (`read`, from ReadAdded), each in its nearest
  // cluster. Counts them, marking empty clusters dead.
  void Fill(const SourceRows& source, const SlotFilter& keep, const std::vector<uint32_t>& added,
            const AddedRows& read) {
    clusters_.resize(source.clusters);
    for (uint32_t j = 0; j < source.clusters; ++j) {
      for (uint32_t r = source.offsets[j]; r < source.offsets[j + 1]; ++r) {
        if (keep.Allows(source.slots[r])) {
          clusters_[j].rows.push_back(Entry{source.slots[r], r, kNone});
        } else {
          ++stats_->removed;
        }
      }
    }
    for (size_t i = 0; i < added.size(); ++i) {
      if (read.outcome[i] == AddedRead::kUnreadable) {
        ++stats_->unreadable;
        continue;
      }
      if (read.outcome[i] == AddedRead::kOverflow) ++stats_->norm_overflow;
      clusters_[read.assignment[i]].rows.push_back(Entry{added[i], kNone, static_cast<uint32_t>(i)});
      ++stats_->added;
    }
    live_ = 0;
    rows_ = 0;
    for (WorkCluster& cluster : clusters_) {
      cluster.alive = !cluster.rows.empty();
      live_ += cluster.alive ? 1 : 0;
      rows_ += cluster.rows.size();
    }
  }

  // Dissolves clusters below kClusterMergeFactor times the mean (which grows as clusters
  // go), smallest first, never the last one.
  void MergeSmall() {
    for (bool merged = true; merged && live_ > 1;) {
      merged = false;
      std::vector<std::pair<size_t, size_t>> small;  // (size, cluster)
      for (size_t c = 0; c < clusters_.size(); ++c) {
        const size_t size = clusters_[c].rows.size();
        if (clusters_[c].alive && static_cast<double>(size) < MergeThreshold()) small.emplace_back(size, c);
      }
      std::sort(small.begin(), small.end());
      for (const auto& candidate : small) {
        const size_t c = candidate.second;
        if (live_ <= 1) return;
        if (!clusters_[c].alive || static_cast<double>(clusters_[c].rows.size()) >= MergeThreshold()) continue;
        Dissolve(c);
        merged = true;
      }
    }
  }

  // Splits clusters above kClusterSizeCapFactor times the mean until none is (or they
  // cannot be split). The mean shrinks as clusters are added, so passes repeat until one
  // changes nothing. A split lowers its rows' distances to their centroids and the
  // reassignment only moves rows to nearer ones, so this settles; the budget of one split
  // per row is a backstop against a cycle all the same.
  void SplitLarge() {
    size_t budget = rows_;
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t c = 0; c < clusters_.size(); ++c) {
        while (clusters_[c].alive && clusters_[c].splittable &&
               static_cast<double>(clusters_[c].rows.size()) > SizeCap()) {
          if (live_ >= ivf_limits::kClustersMax || budget == 0) return;
          --budget;
          Split(c);
          changed = true;
        }
      }
    }
  }

 private:
  double Mean() const { return static_cast<double>(rows_) / static_cast<double>(std::max<size_t>(live_, 1)); }
  double MergeThreshold() const { return ivf_limits::kClusterMergeFactor * Mean(); }
  double SizeCap() const { return ivf_limits::kClusterSizeCapFactor * Mean(); }

  // Reads, transforms and rotates the full vector of `slot` into the store; kNone when the
  // source cannot produce it (or produces non-finite values).
  uint32_t ReadRotated(uint32_t slot) {
    const float* row = vectors_.Fetch(slot, scratch_.data());
    if (row == nullptr || !AllFinite(row, dim_)) return kNone;
    TransformRow(space_, row, dim_, max_norm_, internal_.data());
    const size_t v = store_.size() / padded_;
    store_.resize(store_.size() + padded_);
    quantizer_.Rotate(internal_.data(), store_.data() + v * padded_);
    return static_cast<uint32_t>(v);
  }

  // Gives every row of cluster c its vector, dropping (and counting) the unreadable ones.
  void ReadAll(size_t c) {
    std::vector<Entry>& rows = clusters_[c].rows;
    std::vector<uint32_t> wanted;
    for (const Entry& e : rows) {
      if (e.vector == kNone) wanted.push_back(e.slot);
    }
    vectors_.Prefetch(wanted.data(), wanted.size());
    size_t kept = 0;
    for (Entry& e : rows) {
      if (e.vector == kNone) e.vector = ReadRotated(e.slot);
      if (e.vector == kNone) {
        ++stats_->unreadable;
        --rows_;
        continue;
      }
      rows[kept++] = e;
    }
    rows.resize(kept);
    if (rows.empty()) Kill(c);
  }

  void Kill(size_t c) {
    if (!clusters_[c].alive) return;
    clusters_[c].alive = false;
    --live_;
  }

  // The nearest live cluster to `point` among all (candidates == nullptr) or the listed ones.
  size_t Nearest(const float* point, const std::vector<size_t>* candidates) {
    size_t best = kNoCluster;
    float best_distance = std::numeric_limits<float>::infinity();
    if (candidates != nullptr) {
      for (size_t c : *candidates) {
        if (!clusters_[c].alive) continue;
        const float d = L2Squared(point, Centroid(c), padded_);
        if (d < best_distance || best == kNoCluster) best = c, best_distance = d;
      }
      return best;
    }
    distances_.resize(clusters_.size());
    SquaredL2ToMany(point, centroids_.data(), clusters_.size(), padded_, distances_.data());
    for (size_t c = 0; c < clusters_.size(); ++c) {
      if (!clusters_[c].alive) continue;
      if (distances_[c] < best_distance || best == kNoCluster) best = c, best_distance = distances_[c];
    }
    return best;
  }

  // Moves every row of cluster c to its nearest other live cluster and kills c.
  void Dissolve(size_t c) {
    ReadAll(c);
    if (!clusters_[c].alive) return;  // every row was unreadable
    Kill(c);
    std::vector<Entry> rows = std::move(clusters_[c].rows);
    clusters_[c].rows.clear();
    for (Entry e : rows) {
      const size_t target = Nearest(Vector(e.vector), nullptr);
      FATHOM_CHECK(target != kNoCluster);
      e.old_row = kNone;
      clusters_[target].rows.push_back(e);
    }
    ++stats_->merges;
  }

  // Splits cluster c in two with 2-means: c keeps one half under a new centroid, the
  // other half becomes a new cluster; then the reassignment between the halves and their
  // nearest neighbours. Each call makes progress: a split, dropped unreadable rows, or c
  // marked unsplittable.
  void Split(size_t c) {
    const size_t before = clusters_[c].rows.size();
    ReadAll(c);
    if (clusters_[c].rows.size() != before) return;  // dropped rows: the caller re-checks the cap
    std::vector<Entry>& rows = clusters_[c].rows;
    std::vector<float> gathered(rows.size() * padded_);
    for (size_t i = 0; i < rows.size(); ++i) {
      std::copy_n(Vector(rows[i].vector), padded_, gathered.data() + i * padded_);
    }
    std::vector<float> two;
    std::vector<uint8_t> side;
    if (!TwoMeans(gathered.data(), rows.size(), padded_, MixSeed(split_seed_, stats_->splits), &two, &side)) {
      clusters_[c].splittable = false;
      return;
    }
    std::vector<float> old_centroid(Centroid(c), Centroid(c) + padded_);
    const size_t n = clusters_.size();
    std::copy_n(two.data(), padded_, centroids_.data() + c * padded_);
    centroids_.insert(centroids_.end(), two.begin() + padded_, two.end());
    clusters_.emplace_back();
    ++live_;
    ++stats_->splits;
    std::vector<Entry> all = std::move(clusters_[c].rows);
    clusters_[c].rows.clear();
    for (size_t i = 0; i < all.size(); ++i) {
      all[i].old_row = kNone;
      clusters_[side[i] == 0 ? c : n].rows.push_back(all[i]);
    }
    Reassign(c, n, old_centroid.data());
  }

  // SPFresh's reassignment after splitting a cluster (old centroid `old_centroid`) into
  // halves a and b: a split row nearer to one of the old centroid's nearest neighbours
  // than to its half moves there, and a neighbour's row nearer to a half than to its own
  // centroid moves to that half. Neighbour rows that cannot be read stay where they are
  // (their codes are still valid).
  void Reassign(size_t a, size_t b, const float* old_centroid) {
    distances_.resize(clusters_.size());
    SquaredL2ToMany(old_centroid, centroids_.data(), clusters_.size(), padded_, distances_.data());
    std::vector<std::pair<float, size_t>> by_distance;
    for (size_t c = 0; c < clusters_.size(); ++c) {
      if (c == a || c == b || !clusters_[c].alive) continue;
      by_distance.emplace_back(distances_[c], c);
    }
    const size_t count = std::min<size_t>(ivf_limits::kSplitReassignNeighbors, by_distance.size());
    if (count == 0) return;
    std::partial_sort(by_distance.begin(), by_distance.begin() + count, by_distance.end());
    std::vector<size_t> neighbours;
    for (size_t i = 0; i < count; ++i) neighbours.push_back(by_distance[i].second);
    std::vector<size_t> candidates = neighbours;

    // Split rows (all read) to a nearer neighbour.
    for (size_t half : {a, b}) {
      std::vector<Entry>& rows = clusters_[half].rows;
      candidates.push_back(half);
      size_t kept = 0;
      for (const Entry& e : rows) {
        const size_t target = Nearest(Vector(e.vector), &candidates);
        if (target == half) {
          rows[kept++] = e;
        } else {
          clusters_[target].rows.push_back(e);
        }
      }
      rows.resize(kept);
      candidates.pop_back();
    }
    // Neighbour rows to a nearer half.
    const std::vector<size_t> halves = {a, b};
    for (size_t m : neighbours) {
      std::vector<Entry>& rows = clusters_[m].rows;
      std::vector<uint32_t> wanted;
      for (const Entry& e : rows) {
        if (e.vector == kNone) wanted.push_back(e.slot);
      }
      vectors_.Prefetch(wanted.data(), wanted.size());
      size_t kept = 0;
      for (Entry e : rows) {
        const bool was_read = e.vector != kNone;
        if (!was_read) e.vector = ReadRotated(e.slot);
        if (e.vector != kNone) {
          const float* v = Vector(e.vector);
          const size_t half = Nearest(v, &halves);
          if (half != kNoCluster && L2Squared(v, Centroid(half), padded_) < L2Squared(v, Centroid(m), padded_)) {
            e.old_row = kNone;
            clusters_[half].rows.push_back(e);
            continue;
          }
          if (!was_read) {
            // Not moving: keep its code and give back the store space (it is the last vector).
            FATHOM_DCHECK(size_t{e.vector + 1} * padded_ == store_.size());
            store_.resize(store_.size() - padded_);
            e.vector = kNone;
          }
        }
        rows[kept++] = e;
      }
      rows.resize(kept);
    }
    for (size_t c : {a, b}) {
      if (clusters_[c].rows.empty()) Kill(c);
    }
    for (size_t c : neighbours) {
      if (clusters_[c].rows.empty()) Kill(c);
    }
  }

  const RabitqQuantizer& quantizer_;
  const DistanceSpace space_;
  const uint32_t dim_;
  const uint32_t padded_;
  const float max_norm_;
  const VectorSource& vectors_;
  const uint64_t split_seed_;
  IvfUpdateStats* const stats_;
  std::vector<WorkCluster> clusters_;
  std::vector<float> centroids_;  // clusters_.size() x padded_
  std::vector<float> store_;      // rotated internal vectors, padded_ floats each
  size_t live_ = 0;               // clusters alive (all non-empty)
  size_t rows_ = 0;               // rows in live clusters
  std::vector<float> scratch_;    // dim_: Fetch's buffer
  std::vector<float> internal_;   // internal dimension: TransformRow's output
  std::vector<float> distances_;  // per cluster: Nearest's buffer
};

// Updated's checks of its arguments against `index`.
Status CheckUpdateArguments(const IvfIndex& index, const SlotFilter& keep, const std::vector<uint32_t>& added,
                            const VectorSource& vectors, const IvfUpdateOptions& options) {
  if (vectors.dim() != index.dim()) {
    return Status::InvalidArgument("IVF update: the full-precision vectors do not match the index");
  }
  if (options.threads < 1 || options.threads > ivf_limits::kBuildThreadsMax) {
    return Status::InvalidArgument("IVF update: threads out of range");
  }
  std::vector<uint32_t> sorted = added;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
    return Status::InvalidArgument("IVF update: added slots must be distinct");
  }
  if (!sorted.empty() && sorted.back() == UINT32_MAX) {
    return Status::InvalidArgument("IVF update: slot 2^32-1 is reserved");
  }
  for (uint32_t slot : added) {
    if (index.Contains(slot) && keep.Allows(slot)) {
      return Status::InvalidArgument("IVF update: added slot " + std::to_string(slot) + " is already a kept row");
    }
  }
  return Status::Ok();
}

// The new index's clusters and rows (IvfIndex's members of the same names).
struct AssembledRows {
  std::vector<float> centroids;
  std::vector<uint32_t> offsets;
  std::vector<uint32_t> slots;
  std::vector<uint64_t, AlignedAllocator<uint64_t>> codes;
  std::vector<float> add, rescale, error;
};

// The live clusters of `work` in order (split-off clusters after the source's), kept
// codes copied from `source`, every other row encoded against its final centroid (in
// parallel on `threads`).
AssembledRows AssembleRows(const UpdateWork& work, const SourceRows& source, const RabitqQuantizer& quantizer,
                           int threads) {
  const uint32_t padded = quantizer.padded_dim();
  const uint32_t words = quantizer.code_words();
  const size_t rows = work.rows();
  AssembledRows out;
  out.offsets.push_back(0);
  out.slots.reserve(rows);
  out.codes.resize(rows * words);
  out.add.resize(rows);
  out.rescale.resize(rows);
  out.error.resize(rows);
  struct Pending {
    uint32_t row;      // position in the new index
    uint32_t vector;   // in the store
    uint32_t cluster;  // in the new index
  };
  std::vector<Pending> pending;
  const std::vector<WorkCluster>& clusters = work.clusters();
  for (size_t c = 0; c < clusters.size(); ++c) {
    if (!clusters[c].alive) continue;
    FATHOM_DCHECK(!clusters[c].rows.empty());
    const uint32_t cluster = static_cast<uint32_t>(out.offsets.size() - 1);
    out.centroids.insert(out.centroids.end(), work.Centroid(c), work.Centroid(c) + padded);
    for (const Entry& e : clusters[c].rows) {
      const uint32_t p = static_cast<uint32_t>(out.slots.size());
      out.slots.push_back(e.slot);
      if (e.old_row != kNone) {
        std::copy_n(source.codes + size_t{e.old_row} * words, words, out.codes.begin() + size_t{p} * words);
        out.add[p] = source.add[e.old_row];
        out.rescale[p] = source.rescale[e.old_row];
        out.error[p] = source.error[e.old_row];
      } else {
        FATHOM_CHECK(e.vector != kNone);
        pending.push_back(Pending{p, e.vector, cluster});
      }
    }
    out.offsets.push_back(static_cast<uint32_t>(out.slots.size()));
  }
  FATHOM_CHECK(out.slots.size() == rows);
  FATHOM_CHECK(out.offsets.size() - 1 <= ivf_limits::kClustersMax);
  ParallelForChunks(pending.size(), ivf_limits::kParallelChunkRows, threads, [&](size_t begin, size_t end) {
    std::vector<float> residual(padded);
    for (size_t i = begin; i < end; ++i) {
      const Pending& row = pending[i];
      const float* vector = work.Vector(row.vector);
      const float* centroid = out.centroids.data() + size_t{row.cluster} * padded;
      for (uint32_t d = 0; d < padded; ++d) residual[d] = vector[d] - centroid[d];
      quantizer.Encode(residual.data(), out.codes.data() + size_t{row.row} * words, &out.add[row.row],
                       &out.rescale[row.row], &out.error[row.row]);
    }
  });
  return out;
}

}  // namespace

Result<IvfIndex> IvfIndex::Updated(const SlotFilter& keep, const std::vector<uint32_t>& added,
                                   const VectorSource& vectors, const IvfUpdateOptions& options,
                                   IvfUpdateStats* stats) const {
  IvfUpdateStats local_stats;
  if (stats == nullptr) stats = &local_stats;
  *stats = IvfUpdateStats{};
  FATHOM_RETURN_IF_ERROR(CheckUpdateArguments(*this, keep, added, vectors, options));

  // The kept rows and the added ones in their clusters, then the merges and splits.
  const SourceRows source{clusters(), offsets_.data(), slots_.data(),  codes_.data(),
                          add_.data(), rescale_.data(), error_.data()};
  UpdateWork work(*quantizer_, space_, dim_, ip_max_norm_, centroids_, vectors, options.seed, stats);
  FATHOM_ASSIGN_OR_RETURN(const AddedRows read, work.ReadAdded(added, options.threads));
  work.Fill(source, keep, added, read);
  if (work.rows() == 0) return Status::InvalidArgument("IVF update: no row left");
  if (work.rows() > ivf_limits::kRowsMax) return Status::InvalidArgument("IVF update: too many rows");
  work.MergeSmall();
  work.SplitLarge();

  IvfIndex out = EmptyWithSameShape();
  AssembledRows rows = AssembleRows(work, source, *quantizer_, options.threads);
  out.rows_ = work.rows();
  out.centroids_ = std::move(rows.centroids);
  out.offsets_ = std::move(rows.offsets);
  out.slots_ = std::move(rows.slots);
  out.codes_ = std::move(rows.codes);
  out.add_ = std::move(rows.add);
  out.rescale_ = std::move(rows.rescale);
  out.error_ = std::move(rows.error);
  if (out.rows_ == 0) return Status::InvalidArgument("IVF update: no row left");
  if (!out.IndexMembers()) return Status::InvalidArgument("IVF update: slots must be distinct");
  out.BuildRouting();
  return out;
}

}  // namespace fathom
