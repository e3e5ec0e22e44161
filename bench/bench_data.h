// The benchmarks' synthetic data settings (index/vector/synthetic_data.h), shared so
// vector_bench and collection_bench measure the same data.
#pragma once

#include <string>

#include "index/vector/synthetic_data.h"

namespace bench {

// Flatter (spectrum decay 1) and less overlapping (spread 0.5) clusters than the
// generator's defaults, which made hnswlib M=16 need ef of about 240 for recall@10 0.99
// at 200k x 128. On these, 200k x 128 needs ef of about 80; larger sets need more
// (docs/design/vector-index.md "Benchmark at issue sizes").
inline fathom::SyntheticOptions BenchDataOptions() {
  fathom::SyntheticOptions options;
  options.noise = 0.35f;
  options.clusters = 0;
  options.spectrum_decay = 1.0f;
  options.cluster_spread = 0.5f;
  options.scale_log_sigma = 0.5f;
  return options;
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
