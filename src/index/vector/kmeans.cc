#include "index/vector/kmeans.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "common/assert.h"
#include "index/vector/distance.h"
#include "index/vector/rabitq.h"

namespace fathom {

namespace {

uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// Lloyd iterations on `data` (all rows), starting from `centroids`. Empty clusters are
// re-seeded by splitting the largest one, as FAISS does, so none stays wasted.
void Lloyd(MatrixView data, uint32_t clusters, int iterations, int threads, Rng* rng,
           std::vector<float>* centroids) {
  const uint32_t dim = data.dim;
  std::vector<uint32_t> assignment(data.rows);
  const size_t chunks = (data.rows + ivf_limits::kParallelChunkRows - 1) / ivf_limits::kParallelChunkRows;
  for (int it = 0; it < iterations; ++it) {
    AssignNearest(data, centroids->data(), clusters, threads, assignment.data(), nullptr);
    // Per-chunk sums in double, combined in chunk order: independent of thread count.
    std::vector<double> sums(clusters * static_cast<size_t>(dim), 0.0);
    std::vector<size_t> counts(clusters, 0);
    std::vector<std::vector<double>> chunk_sums(chunks);
    std::vector<std::vector<size_t>> chunk_counts(chunks);
    ParallelForChunks(data.rows, ivf_limits::kParallelChunkRows, threads, [&](size_t begin, size_t end) {
      size_t c = begin / ivf_limits::kParallelChunkRows;
      chunk_sums[c].assign(clusters * static_cast<size_t>(dim), 0.0);
      chunk_counts[c].assign(clusters, 0);
      for (size_t i = begin; i < end; ++i) {
        uint32_t a = assignment[i];
        double* s = chunk_sums[c].data() + static_cast<size_t>(a) * dim;
        const float* row = data.Row(i);
        for (uint32_t d = 0; d < dim; ++d) s[d] += row[d];
        ++chunk_counts[c][a];
      }
    });
    for (size_t c = 0; c < chunks; ++c) {
      for (size_t j = 0; j < sums.size(); ++j) sums[j] += chunk_sums[c][j];
      for (uint32_t j = 0; j < clusters; ++j) counts[j] += chunk_counts[c][j];
      std::vector<double>().swap(chunk_sums[c]);
    }
    for (uint32_t j = 0; j < clusters; ++j) {
      if (counts[j] == 0) continue;
      for (uint32_t d = 0; d < dim; ++d) {
        (*centroids)[static_cast<size_t>(j) * dim + d] = static_cast<float>(sums[static_cast<size_t>(j) * dim + d] / counts[j]);
      }
    }
    for (uint32_t j = 0; j < clusters; ++j) {
      if (counts[j] != 0) continue;
      uint32_t largest = static_cast<uint32_t>(std::max_element(counts.begin(), counts.end()) - counts.begin());
      if (counts[largest] < 2) break;
      float* empty = centroids->data() + static_cast<size_t>(j) * dim;
      float* big = centroids->data() + static_cast<size_t>(largest) * dim;
      // A symmetric nudge: the next assignment halves the large cluster between the two.
      constexpr float kSplitNudge = 1.0f / 1024;
      for (uint32_t d = 0; d < dim; ++d) {
        float sign = (rng->Next() & 1) ? 1.0f : -1.0f;
        float delta = kSplitNudge * (std::fabs(big[d]) + kSplitNudge) * sign;
        empty[d] = big[d] + delta;
        big[d] = big[d] - delta;
      }
      counts[j] = counts[largest] / 2;
      counts[largest] -= counts[j];
    }
  }
}

// k-means++ seeding: each next centroid is a row drawn with probability proportional to
// its squared distance from the nearest centroid chosen so far.
std::vector<float> KmeansPlusPlus(MatrixView data, uint32_t clusters, int threads, Rng* rng) {
  const uint32_t dim = data.dim;
  std::vector<float> centroids(static_cast<size_t>(clusters) * dim);
  std::vector<float> nearest(data.rows, std::numeric_limits<float>::infinity());
  size_t first = rng->Below(data.rows);
  std::copy_n(data.Row(first), dim, centroids.begin());
  for (uint32_t j = 1; j < clusters; ++j) {
    const float* last = centroids.data() + static_cast<size_t>(j - 1) * dim;
    ParallelForChunks(data.rows, ivf_limits::kParallelChunkRows, threads, [&](size_t begin, size_t end) {
      for (size_t i = begin; i < end; ++i) nearest[i] = std::min(nearest[i], L2Squared(data.Row(i), last, dim));
    });
    double total = 0.0;
    for (float d : nearest) total += d;
    size_t pick = rng->Below(data.rows);
    if (total > 0.0) {
      double target = rng->Uniform() * total;
      double acc = 0.0;
      for (size_t i = 0; i < data.rows; ++i) {
        acc += nearest[i];
        if (acc >= target && nearest[i] > 0.0f) {
          pick = i;
          break;
        }
      }
    }
    std::copy_n(data.Row(pick), dim, centroids.begin() + static_cast<size_t>(j) * dim);
  }
  return centroids;
}

// Copies the rows listed in `rows` into a dense matrix.
std::vector<float> Gather(MatrixView data, const std::vector<uint32_t>& rows) {
  std::vector<float> out(rows.size() * data.dim);
  for (size_t i = 0; i < rows.size(); ++i) std::copy_n(data.Row(rows[i]), data.dim, out.begin() + i * data.dim);
  return out;
}

// Splits the rows of one cluster in two with a few 2-means iterations. Returns false when
// they cannot be separated (all equal), leaving the outputs empty.
bool SplitInTwo(MatrixView data, const std::vector<uint32_t>& members, Rng* rng, std::vector<uint32_t>* left,
                std::vector<uint32_t>* right) {
  constexpr int kSplitIterations = 6;
  std::vector<float> local = Gather(data, members);
  MatrixView view{local.data(), members.size(), data.dim};
  std::vector<float> two = KmeansPlusPlus(view, 2, 1, rng);
  Lloyd(view, 2, kSplitIterations, 1, rng, &two);
  std::vector<uint32_t> side(members.size());
  AssignNearest(view, two.data(), 2, 1, side.data(), nullptr);
  left->clear();
  right->clear();
  for (size_t i = 0; i < members.size(); ++i) (side[i] == 0 ? left : right)->push_back(members[i]);
  return !left->empty() && !right->empty();
}

}  // namespace

Rng::Rng(uint64_t seed) {
  uint64_t state = seed;
  for (uint64_t& s : s_) s = SplitMix64(&state);
}

uint64_t Rng::Next() {
  uint64_t result = Rotl(s_[1] * 5, 7) * 9;
  uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return result;
}

double Rng::Gaussian() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u1 = 1.0 - Uniform();  // (0, 1]: log is finite
  double u2 = Uniform();
  double radius = std::sqrt(-2.0 * std::log(u1));
  constexpr double kTwoPi = 6.283185307179586;
  spare_ = radius * std::sin(kTwoPi * u2);
  has_spare_ = true;
  return radius * std::cos(kTwoPi * u2);
}

uint64_t MixSeed(uint64_t seed, uint64_t stream) {
  uint64_t state = seed ^ (stream * 0xd1342543de82ef95ull);
  return SplitMix64(&state);
}

void ParallelForChunks(size_t rows, size_t chunk_rows, int threads,
                       const std::function<void(size_t, size_t)>& fn, Executor* executor) {
  FATHOM_CHECK(chunk_rows > 0);
  const size_t chunks = (rows + chunk_rows - 1) / chunk_rows;
  auto run = [&](size_t c) { fn(c * chunk_rows, std::min(rows, (c + 1) * chunk_rows)); };
  if (threads <= 1 || chunks <= 1) {
    // No pool for single-threaded work (the engine's background builds): none is started.
    for (size_t c = 0; c < chunks; ++c) run(c);
    return;
  }
  Executor& runner = executor != nullptr ? *executor : DefaultExecutor();
  runner.ParallelFor(chunks, static_cast<size_t>(threads), run);
}

void AssignNearest(MatrixView data, const float* centroids, uint32_t clusters, int threads,
                   uint32_t* assignment, float* distances) {
  ParallelForChunks(data.rows, ivf_limits::kParallelChunkRows, threads, [&](size_t begin, size_t end) {
    std::vector<float> distances_to_all(clusters);
    for (size_t i = begin; i < end; ++i) {
      SquaredL2ToMany(data.Row(i), centroids, clusters, data.dim, distances_to_all.data());
      float best = std::numeric_limits<float>::infinity();
      uint32_t best_j = 0;
      for (uint32_t j = 0; j < clusters; ++j) {
        if (distances_to_all[j] < best) {
          best = distances_to_all[j];
          best_j = j;
        }
      }
      assignment[i] = best_j;
      if (distances != nullptr) distances[i] = best;
    }
  });
}

Result<KmeansResult> BalancedKmeans(MatrixView data, const KmeansOptions& options) {
  if (data.rows == 0 || data.dim == 0) return Status::InvalidArgument("k-means needs at least one row and dimension");
  if (data.rows > ivf_limits::kRowsMax) return Status::InvalidArgument("k-means: too many rows");
  if (options.clusters == 0 || options.clusters > ivf_limits::kClustersMax) {
    return Status::InvalidArgument("k-means: clusters must be in [1, " + std::to_string(ivf_limits::kClustersMax) + "]");
  }
  if (options.iterations < 0 || options.iterations > ivf_limits::kKmeansIterationsMax) {
    return Status::InvalidArgument("k-means: iterations out of range");
  }
  if (options.threads < 1 || options.threads > ivf_limits::kBuildThreadsMax) {
    return Status::InvalidArgument("k-means: threads out of range");
  }
  const uint32_t dim = data.dim;
  const uint32_t wanted = static_cast<uint32_t>(std::min<size_t>(options.clusters, data.rows));
  Rng rng(options.seed);

  // Training sample: a seeded partial Fisher-Yates shuffle of the row numbers.
  size_t sample_rows = std::min(data.rows, std::max<size_t>(wanted, wanted * options.train_rows_per_cluster));
  std::vector<uint32_t> order(data.rows);
  std::iota(order.begin(), order.end(), 0u);
  for (size_t i = 0; i < sample_rows; ++i) std::swap(order[i], order[i + rng.Below(data.rows - i)]);
  order.resize(sample_rows);
  std::sort(order.begin(), order.end());  // sequential reads when gathering
  std::vector<float> sample = Gather(data, order);
  MatrixView sample_view{sample.data(), sample_rows, dim};

  // k-means++ on a smaller sub-sample: its cost is clusters^2 * rows_per_cluster * dim.
  constexpr size_t kSeedRowsPerCluster = 8;
  MatrixView seed_view = sample_view;
  seed_view.rows = std::min(sample_rows, std::max<size_t>(wanted, wanted * kSeedRowsPerCluster));
  std::vector<float> centroids = KmeansPlusPlus(seed_view, wanted, options.threads, &rng);
  Lloyd(sample_view, wanted, options.iterations, options.threads, &rng, &centroids);
  std::vector<float>().swap(sample);

  // Assign every row, then split clusters over the cap until none is.
  KmeansResult result;
  result.dim = dim;
  result.assignment.resize(data.rows);
  AssignNearest(data, centroids.data(), wanted, options.threads, result.assignment.data(), nullptr);
  std::vector<std::vector<uint32_t>> members(wanted);
  for (size_t i = 0; i < data.rows; ++i) members[result.assignment[i]].push_back(static_cast<uint32_t>(i));
  if (options.size_cap_factor > 0.0) {
    const size_t cap = std::max<size_t>(
        1, static_cast<size_t>(std::ceil(options.size_cap_factor * static_cast<double>(data.rows) / wanted)));
    for (size_t j = 0; j < members.size(); ++j) {
      while (members[j].size() > cap && members.size() < ivf_limits::kClustersMax) {
        std::vector<uint32_t> left, right;
        if (!SplitInTwo(data, members[j], &rng, &left, &right)) break;
        members[j] = std::move(left);
        members.push_back(std::move(right));
      }
    }
  }
  // Drop empty clusters; centroids become the means of their rows.
  members.erase(std::remove_if(members.begin(), members.end(), [](const auto& m) { return m.empty(); }),
                members.end());
  const uint32_t clusters = static_cast<uint32_t>(members.size());
  result.centroids.assign(static_cast<size_t>(clusters) * dim, 0.0f);
  std::vector<double> mean(dim);
  for (uint32_t j = 0; j < clusters; ++j) {
    std::fill(mean.begin(), mean.end(), 0.0);
    for (uint32_t i : members[j]) {
      const float* row = data.Row(i);
      for (uint32_t d = 0; d < dim; ++d) mean[d] += row[d];
      result.assignment[i] = j;
    }
    for (uint32_t d = 0; d < dim; ++d) {
      result.centroids[static_cast<size_t>(j) * dim + d] = static_cast<float>(mean[d] / members[j].size());
    }
  }
  return result;
}

}  // namespace fathom
