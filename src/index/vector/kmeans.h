// Balanced k-means for the IVF index, and the small shared pieces of index/vector that
// sit beneath it: a read-only matrix view, a seeded PRNG, a chunked parallel loop.
//
// BalancedKmeans trains Lloyd iterations on a sample (k-means++ init on a sub-sample),
// assigns every row to its nearest centroid, then splits any cluster larger than
// `size_cap_factor` times the mean with 2-means until none is, drops empty clusters and
// recomputes every centroid as the mean of its rows. Results depend only on the input
// and the seed, not on the thread count: parallel sums are taken per fixed-size chunk
// and combined in chunk order, in double precision.
//
// Ownership: MatrixView borrows; KmeansResult owns its arrays. Thread-safety: the
// functions are reentrant; Rng is a plain value, not shareable between threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "fathom/status.h"
#include "index/vector/ivf_limits.h"
#include "io/executor.h"

namespace fathom {

// Row-major f32 matrix owned by someone else.
struct MatrixView {
  const float* data = nullptr;
  size_t rows = 0;
  uint32_t dim = 0;
  const float* Row(size_t i) const { return data + i * dim; }
};

// xoshiro256** seeded through splitmix64: fast, and identical on every platform (the
// std distributions are not), so a seed reproduces a build or a data set anywhere.
class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t Next();
  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // Uniform in [0, n); n > 0.
  uint64_t Below(uint64_t n) { return static_cast<uint64_t>(Uniform() * static_cast<double>(n)) % n; }
  // Standard normal (Box-Muller; the second value of each pair is kept for the next call).
  double Gaussian();

 private:
  uint64_t s_[4];
  bool has_spare_ = false;
  double spare_ = 0.0;
};

// Mixes a seed with a stream number, for per-row generators that run in parallel.
uint64_t MixSeed(uint64_t seed, uint64_t stream);

// Calls fn(begin, end) for consecutive chunks of [0, rows) of `chunk_rows` rows each, on
// up to `threads` threads (the calling thread included; the others are jobs of `executor`,
// null = DefaultExecutor()). Chunk boundaries depend only on rows and chunk_rows; which
// thread runs which chunk is unspecified.
void ParallelForChunks(size_t rows, size_t chunk_rows, int threads,
                       const std::function<void(size_t begin, size_t end)>& fn, Executor* executor = nullptr);

// For each row of `data`, the index of its nearest centroid (squared L2) and, when
// `distances` is not null, that squared distance.
void AssignNearest(MatrixView data, const float* centroids, uint32_t clusters, int threads,
                   uint32_t* assignment, float* distances);

struct KmeansOptions {
  uint32_t clusters = 1;
  int iterations = ivf_limits::kKmeansIterationsDefault;
  size_t train_rows_per_cluster = ivf_limits::kTrainRowsPerCluster;
  // 0 disables splitting (plain k-means).
  double size_cap_factor = ivf_limits::kClusterSizeCapFactor;
  uint64_t seed = 1;
  int threads = 1;
};

struct KmeansResult {
  uint32_t dim = 0;
  std::vector<float> centroids;      // clusters() x dim, row-major
  std::vector<uint32_t> assignment;  // per input row, its cluster
  uint32_t clusters() const { return dim == 0 ? 0 : static_cast<uint32_t>(centroids.size() / dim); }
};

// The number of clusters may differ from options.clusters: fewer when there are fewer
// distinct rows, more when oversized clusters were split. Never returns empty clusters.
Result<KmeansResult> BalancedKmeans(MatrixView data, const KmeansOptions& options);

}  // namespace fathom
