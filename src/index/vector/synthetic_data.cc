#include "index/vector/synthetic_data.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

#include "index/vector/distance.h"
#include "index/vector/top_k.h"

namespace fathom {

namespace {

constexpr uint32_t kRankDefault = 16;
constexpr size_t kRowsPerClusterDefault = 2000;
constexpr uint32_t kClustersMin = 8;
constexpr uint32_t kClustersMax = 1000;
// Streams of MixSeed: cluster shapes, base rows and query rows never share one.
constexpr uint64_t kShapeStream = 1ull << 62;
constexpr uint64_t kQueryStream = 1ull << 61;

struct ClusterShape {
  std::vector<float> center;  // dim
  std::vector<float> basis;   // rank x dim, scaled by the spectrum
  float noise = 0.0f;
};

ClusterShape MakeShape(const SyntheticOptions& o, uint32_t rank, uint32_t cluster) {
  Rng rng(MixSeed(o.seed, kShapeStream + cluster));
  ClusterShape shape;
  shape.center.resize(o.dim);
  for (float& c : shape.center) c = static_cast<float>(rng.Gaussian());
  // Per-cluster scale is log-normal: a few clusters are much wider than the rest, as
  // topic clusters of real embeddings are.
  double scale = o.cluster_spread * std::exp(o.scale_log_sigma * rng.Gaussian());
  // Total variance along the subspace is cluster_spread^2 times that of the centres
  // (dim), so at 1 clusters overlap their neighbours. The spectrum decays as
  // (i + 1)^-spectrum_decay: anisotropic.
  double spectrum_norm = 0.0;
  for (uint32_t i = 0; i < rank; ++i) spectrum_norm += std::pow(i + 1.0, -2.0 * o.spectrum_decay);
  shape.basis.resize(static_cast<size_t>(rank) * o.dim);
  for (uint32_t i = 0; i < rank; ++i) {
    // Random gaussian directions of norm ~1 (nearly orthogonal in high dimension).
    double sigma = scale * std::pow(i + 1.0, -double{o.spectrum_decay}) * std::sqrt(1.0 / spectrum_norm);
    for (uint32_t d = 0; d < o.dim; ++d) shape.basis[static_cast<size_t>(i) * o.dim + d] = static_cast<float>(sigma * rng.Gaussian());
  }
  shape.noise = static_cast<float>(o.noise * std::exp(o.scale_log_sigma * 0.5 * rng.Gaussian()));
  return shape;
}

void FillRows(const SyntheticOptions& o, const std::vector<ClusterShape>& shapes, uint32_t rank, uint64_t stream,
              Dataset* out) {
  ParallelForChunks(out->rows, ivf_limits::kParallelChunkRows, o.threads, [&](size_t begin, size_t end) {
    std::vector<float> z(rank);
    for (size_t i = begin; i < end; ++i) {
      Rng rng(MixSeed(o.seed, stream + i));
      const ClusterShape& s = shapes[rng.Below(shapes.size())];
      float* row = out->values.data() + i * o.dim;
      std::copy(s.center.begin(), s.center.end(), row);
      for (uint32_t r = 0; r < rank; ++r) z[r] = static_cast<float>(rng.Gaussian());
      for (uint32_t r = 0; r < rank; ++r) {
        const float* b = s.basis.data() + static_cast<size_t>(r) * o.dim;
        for (uint32_t d = 0; d < o.dim; ++d) row[d] += z[r] * b[d];
      }
      for (uint32_t d = 0; d < o.dim; ++d) row[d] += s.noise * static_cast<float>(rng.Gaussian());
    }
  });
}

}  // namespace

Result<SyntheticData> GenerateSynthetic(const SyntheticOptions& o) {
  if (o.dim == 0 || o.dim > ivf_limits::kDimensionMax) return Status::InvalidArgument("synthetic: bad dimension");
  if (o.rows == 0 || o.rows > ivf_limits::kRowsMax || o.queries > ivf_limits::kRowsMax) {
    return Status::InvalidArgument("synthetic: bad row count");
  }
  uint32_t clusters = o.clusters;
  if (clusters == 0) {
    const size_t per_cluster = o.rows_per_cluster == 0 ? kRowsPerClusterDefault : o.rows_per_cluster;
    clusters = static_cast<uint32_t>(std::clamp<size_t>(o.rows / per_cluster, kClustersMin, kClustersMax));
  }
  uint32_t rank = o.rank == 0 ? std::min(o.dim, kRankDefault) : std::min(o.rank, o.dim);
  std::vector<ClusterShape> shapes;
  shapes.reserve(clusters);
  for (uint32_t c = 0; c < clusters; ++c) shapes.push_back(MakeShape(o, rank, c));
  SyntheticData data;
  data.base.rows = o.rows;
  data.base.dim = o.dim;
  data.base.values.resize(o.rows * o.dim);
  FillRows(o, shapes, rank, 0, &data.base);
  data.queries.rows = o.queries;
  data.queries.dim = o.dim;
  data.queries.values.resize(o.queries * o.dim);
  FillRows(o, shapes, rank, kQueryStream, &data.queries);
  return data;
}

std::vector<uint64_t> RandomAllowedSlots(size_t rows, double fraction, uint64_t seed, size_t* allowed_count) {
  std::vector<uint64_t> words((rows + 63) / 64, 0);
  Rng rng(seed);
  size_t count = 0;
  for (size_t i = 0; i < rows; ++i) {
    if (rng.Uniform() < fraction) {
      words[i >> 6] |= 1ull << (i & 63);
      ++count;
    }
  }
  if (allowed_count != nullptr) *allowed_count = count;
  return words;
}

std::vector<std::vector<uint32_t>> ExactTopK(const Dataset& base, const Dataset& queries, size_t k,
                                             DistanceSpace space, const uint64_t* allowed, int threads) {
  std::vector<float> norms(base.rows);
  for (size_t i = 0; i < base.rows; ++i) norms[i] = std::sqrt(DotProduct(base.Row(i), base.Row(i), base.dim));
  std::vector<std::vector<uint32_t>> out(queries.rows);
  constexpr size_t kQueriesPerChunk = 1;
  ParallelForChunks(queries.rows, kQueriesPerChunk, threads, [&](size_t begin, size_t end) {
    for (size_t q = begin; q < end; ++q) {
      const float* query = queries.Row(q);
      float query_norm = std::sqrt(DotProduct(query, query, queries.dim));
      TopK top(k);
      for (size_t i = 0; i < base.rows; ++i) {
        if (allowed != nullptr && !BitsetContains(allowed, static_cast<uint32_t>(i))) continue;
        top.Push(SpaceDistance(space, query, query_norm, base.Row(i), norms[i], base.dim), static_cast<uint32_t>(i));
      }
      for (const Hit& h : top.Take()) out[q].push_back(h.slot);
    }
  });
  return out;
}

double RecallAtK(const std::vector<std::vector<uint32_t>>& truth, const std::vector<std::vector<uint32_t>>& found,
                 size_t k) {
  if (truth.empty()) return 1.0;
  double total = 0.0;
  for (size_t q = 0; q < truth.size(); ++q) {
    size_t want = std::min(k, truth[q].size());
    if (want == 0) {
      total += 1.0;
      continue;
    }
    std::unordered_set<uint32_t> expected(truth[q].begin(), truth[q].begin() + want);
    size_t hits = 0;
    if (q < found.size()) {
      for (size_t i = 0; i < std::min(k, found[q].size()); ++i) hits += expected.count(found[q][i]);
    }
    total += static_cast<double>(hits) / want;
  }
  return total / truth.size();
}

}  // namespace fathom
