// Seeded synthetic vector data for tests and benchmarks, with exact ground truth.
//
// The data are meant to be hard in the ways real embeddings are: many overlapping
// gaussian clusters, each stretched along its own random low-rank subspace with a
// heavy-tailed per-cluster scale and a per-cluster isotropic noise floor. Points are not
// separable by cluster (the spread inside a cluster matches the distance between
// centres), and the noise floor keeps the intrinsic dimension high, so graph and
// clustering indexes both need real work to reach recall 0.99.
//
// Every row is generated from MixSeed(seed, row) alone, so generation runs in parallel
// and the same seed yields the same numbers on any machine and thread count.
//
// Ownership: Dataset owns its values. Thread-safety: the functions are reentrant.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "fathom/status.h"
#include "fathom/types.h"
#include "index/vector/kmeans.h"

namespace fathom {

struct Dataset {
  size_t rows = 0;
  uint32_t dim = 0;
  std::vector<float> values;  // rows x dim
  MatrixView view() const { return MatrixView{values.data(), rows, dim}; }
  const float* Row(size_t i) const { return values.data() + i * dim; }
};

struct SyntheticOptions {
  size_t rows = 10000;
  size_t queries = 100;
  uint32_t dim = 128;
  uint64_t seed = 1;
  // 0 = rows / rows_per_cluster clamped to [8, 1000].
  uint32_t clusters = 0;
  // Mean cluster size when `clusters` is 0 (0 = 2000). Fewer rows per cluster make the
  // data easier for a graph index (its search covers a larger share of the query's
  // cluster at a given ef) and barely change an IVF index's work.
  size_t rows_per_cluster = 0;
  // Rank of each cluster's stretched subspace; 0 = min(dim, 16).
  uint32_t rank = 0;
  // Per-coordinate standard deviation of the isotropic noise, relative to that of the
  // cluster centres (1.0).
  float noise = 0.35f;
  // The stretched subspace's standard deviations decay as (i + 1)^-spectrum_decay: 0 is
  // a round gaussian in the subspace, larger values a flatter (lower intrinsic
  // dimension, easier) one.
  float spectrum_decay = 0.5f;
  // Sigma of the log-normal per-cluster scale: a few clusters much wider than the rest.
  float scale_log_sigma = 0.5f;
  // Spread of a cluster (square root of its subspace variance) relative to the spread of
  // the centres: at 1.0 neighbouring clusters overlap, below 1 they separate.
  float cluster_spread = 1.0f;
  int threads = 1;
};

struct SyntheticData {
  Dataset base;
  Dataset queries;  // drawn from the same distribution, disjoint streams from `base`
};

Result<SyntheticData> GenerateSynthetic(const SyntheticOptions& options);

// A bitset of `rows` bits with each bit set with probability `fraction` (seeded), as the
// metadata index would hand the vector index for a `where` clause. Returns the number
// of bits set in *allowed_count.
std::vector<uint64_t> RandomAllowedSlots(size_t rows, double fraction, uint64_t seed, size_t* allowed_count);

inline bool BitsetContains(const uint64_t* words, uint32_t slot) { return (words[slot >> 6] >> (slot & 63)) & 1; }

// The exact k nearest rows of `base` for each query in Chroma's distance for `space`,
// nearest first (ties on the smaller row). When `allowed` is not null only rows whose
// bit is set count.
std::vector<std::vector<uint32_t>> ExactTopK(const Dataset& base, const Dataset& queries, size_t k,
                                             DistanceSpace space, const uint64_t* allowed, int threads);

// Mean over queries of |found[q][:k] ∩ truth[q][:k]| / min(k, |truth[q]|).
double RecallAtK(const std::vector<std::vector<uint32_t>>& truth, const std::vector<std::vector<uint32_t>>& found,
                 size_t k);

}  // namespace fathom
