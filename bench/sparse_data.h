// SPLADE-like sparse vectors for the sparse benchmarks (sparse_bench, sparse_open_bench):
// Zipfian dimensions, positive log-normal weights.
#pragma once

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "fathom/types.h"

namespace fathom::bench {

// Zipf(s = 1) over [0, n) by inverse CDF on a precomputed table.
class Zipf {
 public:
  explicit Zipf(uint32_t n) : cdf_(n) {
    double sum = 0;
    for (uint32_t i = 0; i < n; ++i) cdf_[i] = (sum += 1.0 / (i + 1.0));
    for (double& c : cdf_) c /= sum;
  }
  uint32_t operator()(std::mt19937_64& rng) const {
    const double u = std::uniform_real_distribution<double>(0, 1)(rng);
    return static_cast<uint32_t>(std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
  }

 private:
  std::vector<double> cdf_;
};

// A document or query: Poisson(mean_nnz) Zipfian dimensions (at least one; repeats merged),
// log-normal weights.
inline fathom::SparseVector RandomSparseVector(const Zipf& zipf, uint32_t mean_nnz, std::mt19937_64& rng) {
  std::poisson_distribution<uint32_t> count(mean_nnz);
  std::lognormal_distribution<float> weight(0.0f, 0.7f);
  const uint32_t n = std::max<uint32_t>(1, count(rng));
  std::vector<uint32_t> dims;
  dims.reserve(n);
  for (uint32_t i = 0; i < n; ++i) dims.push_back(zipf(rng));
  std::sort(dims.begin(), dims.end());
  dims.erase(std::unique(dims.begin(), dims.end()), dims.end());
  fathom::SparseVector v;
  v.indices = dims;
  for (size_t i = 0; i < dims.size(); ++i) v.values.push_back(weight(rng));
  return v;
}

}  // namespace fathom::bench
