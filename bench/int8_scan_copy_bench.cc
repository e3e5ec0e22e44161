// int8_scan_copy_bench: the cost of Int8ScanCopy::Set, which a collection on the exact
// plan calls for every row it copies (all of them when the plan becomes the scan) and
// for every row a write changes (src/index/vector/int8_scan_copy.h). Per dimension: a
// fresh copy filled slot by slot (Reset, then Set of every row, growing), and every row
// set again (a changed row: no growth). Nanoseconds per Set on the calling thread's CPU
// time, the median of --rounds rounds, with the machine's load beside the figures, and
// the heap allocations per Set of the second pass (operator new counted). Uses
// fathom's internals; builds at any commit that has Int8ScanCopy, so two commits can be
// compared back to back. Not a test.
// Usage: int8_scan_copy_bench [--dims 24,128,768] [--rows 20000] [--rounds 9] [--seed 1]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "bench_util.h"
#include "index/vector/int8_scan_copy.h"

// Heap allocations of the process (operator new is replaced; its memory comes from
// malloc, which GCC cannot tell when it checks that delete matches new).
std::atomic<uint64_t> g_allocations{0};

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(size_t bytes) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(bytes == 0 ? 1 : bytes)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace {

using fathom::Int8ScanCopy;
using fathom::bench::ThreadCpuSeconds;

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Int8ScanCopy::Set per row"};
  std::string dims_text = "24,128,768";
  size_t rows = 20000;
  int rounds = 9;
  uint64_t seed = 1;
  app.add_option("--dims", dims_text, "dimensions, comma-separated");
  app.add_option("--rows", rows, "rows per round");
  app.add_option("--rounds", rounds, "rounds (the median is printed)");
  app.add_option("--seed", seed, "seed of the rows");
  CLI11_PARSE(app, argc, argv);
  std::printf("int8_scan_copy_bench: rows %zu, rounds %d, seed %llu, %s\n", rows, rounds,
              static_cast<unsigned long long>(seed), ("load " + fathom::bench::LoadAverages()).c_str());
  std::printf("%6s %16s %16s %16s\n", "dim", "fill ns/row", "reset ns/row", "reset allocs/row");
  for (double dim_value : fathom::bench::ParseDoubles(dims_text)) {
    const auto dim = static_cast<uint32_t>(dim_value);
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> gaussian;
    std::vector<float> data(rows * dim);
    for (float& x : data) x = gaussian(rng);
    std::vector<double> fill, reset;
    uint64_t reset_allocations = 0;
    size_t sink = 0;
    for (int round = 0; round < rounds; ++round) {
      Int8ScanCopy copy;
      double start = ThreadCpuSeconds();
      copy.Reset(dim);
      for (size_t r = 0; r < rows; ++r) copy.Set(static_cast<uint32_t>(r), data.data() + r * dim);
      fill.push_back((ThreadCpuSeconds() - start) * 1e9 / static_cast<double>(rows));
      const uint64_t allocations_before = g_allocations.load();
      start = ThreadCpuSeconds();
      for (size_t r = 0; r < rows; ++r) copy.Set(static_cast<uint32_t>(r), data.data() + r * dim);
      reset.push_back((ThreadCpuSeconds() - start) * 1e9 / static_cast<double>(rows));
      reset_allocations += g_allocations.load() - allocations_before;
      sink += copy.rows();
    }
    std::printf("%6u %16.1f %16.1f %16.2f\n", dim, Median(fill), Median(reset),
                static_cast<double>(reset_allocations) / static_cast<double>(rows * static_cast<size_t>(rounds)));
    if (sink != rows * static_cast<size_t>(rounds)) std::printf("  (%zu rows had no copy)\n", rows * rounds - sink);
  }
  std::printf("%s\n", ("load " + fathom::bench::LoadAverages()).c_str());
  return 0;
}
