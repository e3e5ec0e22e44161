// The benchmarks' synthetic data settings (index/vector/synthetic_data.h), shared so
// vector_bench and collection_bench measure the same data.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "index/vector/synthetic_data.h"

namespace bench {

// Calibrated to the vector-index issue's bar, "hnswlib M=16 should need ef of about 80
// for recall@10 0.99": flatter (spectrum decay 1) and less overlapping (spread 0.5)
// clusters than the generator's defaults, of 1000 rows on average, with a narrower spread
// of cluster scales (log-sigma 0.2). On these hnswlib reaches 0.99 at ef 60-80 at both
// 1M x 128 and 200k x 768; the generator's defaults needed ef of about 240 at 200k x 128,
// and the earlier bench data (2000 rows per cluster, log-sigma 0.5) about 320 at 1M x 128
// (docs/design/vector-index.md, "Data calibration").
inline fathom::SyntheticOptions BenchDataOptions() {
  fathom::SyntheticOptions options;
  options.noise = 0.35f;
  options.clusters = 0;
  options.spectrum_decay = 1.0f;
  options.cluster_spread = 0.5f;
  options.scale_log_sigma = 0.2f;
  options.rows_per_cluster = 1000;
  return options;
}

// The data-shape flags, the same in every bench that generates synthetic data.
inline void AddDataOptions(CLI::App& app, fathom::SyntheticOptions* options) {
  app.add_option("--noise", options->noise, "synthetic: isotropic noise (difficulty)");
  app.add_option("--data-clusters", options->clusters, "synthetic: clusters (0 = rows / rows-per-cluster)");
  app.add_option("--rows-per-cluster", options->rows_per_cluster, "synthetic: mean cluster size when clusters is 0");
  app.add_option("--rank", options->rank, "synthetic: rank of each cluster's subspace (0 = default)");
  app.add_option("--spectrum-decay", options->spectrum_decay, "synthetic: subspace spectrum decay");
  app.add_option("--cluster-spread", options->cluster_spread, "synthetic: cluster spread / centre spread");
  app.add_option("--scale-log-sigma", options->scale_log_sigma, "synthetic: log-normal sigma of cluster scales");
}

// One "# data: ..." line naming the shape, so a printed table says what it measured.
inline void PrintDataOptions(const fathom::SyntheticOptions& o) {
  std::printf("# data: noise=%.2f data-clusters=%u rows-per-cluster=%zu rank=%u spectrum-decay=%.2f "
              "cluster-spread=%.2f scale-log-sigma=%.2f\n",
              o.noise, o.clusters, o.rows_per_cluster, o.rank, o.spectrum_decay, o.cluster_spread,
              o.scale_log_sigma);
}

// The vector-index issue's sizes: "1m128" (1M x 128) and "200k768" (200k x 768). An
// empty preset leaves rows and dim alone; an unknown one returns false.
inline bool ApplyPreset(const std::string& preset, size_t* rows, uint32_t* dim) {
  if (preset == "1m128") {
    *rows = 1000000;
    *dim = 128;
  } else if (preset == "200k768") {
    *rows = 200000;
    *dim = 768;
  } else if (!preset.empty()) {
    return false;
  }
  return true;
}

}  // namespace bench
