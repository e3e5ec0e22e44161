// Sparse vector top-k (docs/design/sparse-vectors.md): SparseIndex::Search against an
// exact brute-force scan over the same vectors, on SPLADE-like data (Zipfian dimensions
// out of --dims, --nnz nonzeros per document on average, positive log-normal weights;
// queries of --query-nnz dimensions drawn the same way). Single thread. Prints a table
// with build time, memory, mean latency per mode and the agreement of the two top-k lists.
//
//   sparse_bench [--docs 1000000] [--dims 30000] [--nnz 100] [--query-nnz 30]
//                [--queries 50] [--k 10,100] [--seed 1]
//
// Built with the other benchmarks (FATHOM_BENCH); it needs only the sparse index, so it
// can also be built alone:
//   g++ -std=c++20 -O2 -DNDEBUG -Iinclude -Isrc bench/sparse_bench.cc
//       src/index/sparse/sparse_index.cc -lroaring -o sparse_bench
// (its SPLADE-like data: bench/sparse_data.h)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "index/sparse/sparse_index.h"
#include "sparse_data.h"

namespace {

using fathom::bench::RandomSparseVector;
using fathom::bench::Zipf;
using Clock = std::chrono::steady_clock;
double Seconds(Clock::time_point since) { return std::chrono::duration<double>(Clock::now() - since).count(); }

struct Options {
  uint32_t docs = 1000000;
  uint32_t dims = 30000;
  uint32_t nnz = 100;
  uint32_t query_nnz = 30;
  uint32_t queries = 50;
  std::vector<uint32_t> ks{10, 100};
  uint64_t seed = 1;
};

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const char* v = argv[i + 1];
    if (flag == "--docs") o.docs = static_cast<uint32_t>(std::atol(v));
    else if (flag == "--dims") o.dims = static_cast<uint32_t>(std::atol(v));
    else if (flag == "--nnz") o.nnz = static_cast<uint32_t>(std::atol(v));
    else if (flag == "--query-nnz") o.query_nnz = static_cast<uint32_t>(std::atol(v));
    else if (flag == "--queries") o.queries = static_cast<uint32_t>(std::atol(v));
    else if (flag == "--seed") o.seed = std::strtoull(v, nullptr, 10);
    else if (flag == "--k") {
      o.ks.clear();
      for (const char* p = v; *p != 0;) {
        o.ks.push_back(static_cast<uint32_t>(std::strtoul(p, const_cast<char**>(&p), 10)));
        if (*p == ',') ++p;
      }
    } else {
      std::fprintf(stderr, "sparse_bench: unknown flag %s\n", flag.c_str());
      std::exit(1);
    }
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = Parse(argc, argv);
  std::mt19937_64 rng(o.seed);
  const Zipf zipf(o.dims);

  // The documents, as one CSR matrix (the brute force scans it) and as rows for the index.
  std::vector<uint64_t> begin{0};
  std::vector<uint32_t> indices;
  std::vector<float> values;
  indices.reserve(static_cast<size_t>(o.docs) * o.nnz);
  values.reserve(indices.capacity());
  auto t = Clock::now();
  for (uint32_t d = 0; d < o.docs; ++d) {
    fathom::SparseVector v = RandomSparseVector(zipf, o.nnz, rng);
    indices.insert(indices.end(), v.indices.begin(), v.indices.end());
    values.insert(values.end(), v.values.begin(), v.values.end());
    begin.push_back(indices.size());
  }
  std::printf("generated %u docs, %.1f nonzeros each on average, in %.1f s\n", o.docs,
              static_cast<double>(indices.size()) / o.docs, Seconds(t));

  fathom::SparseIndex index("sp");
  t = Clock::now();
  {
    index.Clear();
    const std::string id;
    const std::optional<std::string> document;
    for (uint32_t d = 0; d < o.docs; ++d) {
      fathom::SparseVector v;
      v.indices.assign(indices.begin() + static_cast<ptrdiff_t>(begin[d]), indices.begin() + static_cast<ptrdiff_t>(begin[d + 1]));
      v.values.assign(values.begin() + static_cast<ptrdiff_t>(begin[d]), values.begin() + static_cast<ptrdiff_t>(begin[d + 1]));
      const std::optional<fathom::Metadata> metadata = fathom::Metadata{{"sp", fathom::MetadataValue(std::move(v))}};
      index.BulkAdd(d, fathom::RecordView{id, document, metadata});
    }
    index.Seal();
  }
  const double build_s = Seconds(t);
  std::printf("index build (BulkAdd + Seal): %.1f s, %.0f MiB\n", build_s, index.MemoryBytes() / 1048576.0);

  std::vector<fathom::SparseVector> queries;
  for (uint32_t q = 0; q < o.queries; ++q) queries.push_back(RandomSparseVector(zipf, o.query_nnz, rng));

  std::printf("\n| k | mode | mean ms | p50 ms | max ms | top-k equal |\n| --- | --- | --- | --- | --- | --- |\n");
  std::vector<float> dense(o.dims, 0.0f);
  for (uint32_t k : o.ks) {
    std::vector<double> index_ms, scan_ms;
    uint32_t equal = 0;
    for (const fathom::SparseVector& q : queries) {
      t = Clock::now();
      const std::vector<fathom::ScoredSlot> got = index.Search(q, k, nullptr);
      index_ms.push_back(Seconds(t) * 1e3);

      // Brute force: the query as a dense array, every document's dot product, a heap.
      t = Clock::now();
      for (size_t i = 0; i < q.indices.size(); ++i) dense[q.indices[i]] = q.values[i];
      std::vector<std::pair<double, uint32_t>> heap;  // (-score, slot): the worst on top
      for (uint32_t d = 0; d < o.docs; ++d) {
        double s = 0;
        bool shared = false;
        for (uint64_t p = begin[d]; p < begin[d + 1]; ++p) {
          const float w = dense[indices[p]];
          if (w != 0.0f) {
            s += static_cast<double>(w) * static_cast<double>(values[p]);
            shared = true;
          }
        }
        if (!shared) continue;
        const std::pair<double, uint32_t> c{-s, d};
        if (heap.size() < k) {
          heap.push_back(c);
          std::push_heap(heap.begin(), heap.end());
        } else if (c < heap.front()) {
          std::pop_heap(heap.begin(), heap.end());
          heap.back() = c;
          std::push_heap(heap.begin(), heap.end());
        }
      }
      std::sort(heap.begin(), heap.end());
      scan_ms.push_back(Seconds(t) * 1e3);
      for (uint32_t i : q.indices) dense[i] = 0.0f;

      bool same = got.size() == heap.size();
      for (size_t i = 0; same && i < got.size(); ++i) {
        same = std::abs(static_cast<double>(got[i].score) + heap[i].first) <= 1e-5 * std::max(1.0, -heap[i].first);
      }
      equal += same;
    }
    auto row = [&](const char* mode, std::vector<double> ms) {
      std::sort(ms.begin(), ms.end());
      double mean = 0;
      for (double m : ms) mean += m;
      mean /= static_cast<double>(ms.size());
      std::printf("| %u | %s | %.2f | %.2f | %.2f | %u/%zu |\n", k, mode, mean, ms[ms.size() / 2], ms.back(), equal,
                  queries.size());
    };
    row("SparseIndex (block-max MaxScore)", index_ms);
    row("brute-force scan", scan_ms);
  }
  return 0;
}
