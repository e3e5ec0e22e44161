// copyless_reads: exact reads per query of the two ways a cold row is re-scored
// (docs/design/cold-vectors.md): without RAM copies (IvfSearchOptions::batched_reads: the
// RaBitQ candidates re-scored from their exact rows, bounded by RaBitQ's error bound),
// and with int8 copies (the candidates ranked by their int8 rows, then the best
// k * refine_factor re-scored exactly, bounded by the int8 error). Counts the exact
// reads each makes per query (the reads a cold query pays the store or the block cache
// for) and recall@10 against brute force, on the bench data (bench_data.h).
// Usage: copyless_reads [--n 50000] [--dim 768] [--probes 3]. Prints a table; not a test.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <vector>

#include "bench_data.h"
#include "bench_util.h"
#include "index/vector/int8_matrix.h"
#include "index/vector/ivf_index.h"
#include "index/vector/synthetic_data.h"

namespace {

// Full-precision rows that count their reads.
class CountingSource final : public fathom::VectorSource {
 public:
  explicit CountingSource(fathom::MatrixView matrix) : rows_(matrix) {}
  uint32_t dim() const override { return rows_.dim(); }
  const float* Fetch(uint32_t slot, float* scratch) const override {
    ++fetches;
    return rows_.Fetch(slot, scratch);
  }
  mutable size_t fetches = 0;

 private:
  fathom::MatrixSource rows_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"copyless_reads"};
  size_t rows = 50000, queries = 300;
  uint32_t dim = 768, probes = 3;
  int threads = 2;
  fathom::SyntheticOptions options = bench::BenchDataOptions();
  bench::AddDataOptions(app, &options);
  app.add_option("--n", rows, "rows");
  app.add_option("--dim", dim, "dimension");
  app.add_option("--queries", queries, "queries");
  app.add_option("--probes", probes, "clusters probed");
  app.add_option("--threads", threads, "threads for data, build and ground truth");
  CLI11_PARSE(app, argc, argv);
  options.rows = rows;
  options.queries = queries;
  options.dim = dim;
  options.threads = threads;
  auto data = fathom::GenerateSynthetic(options);
  fathom::bench::Check(data.status(), "generate");
  fathom::IvfBuildOptions build;
  build.threads = threads;
  auto index = fathom::IvfIndex::Build(data->base.view(), build);
  fathom::bench::Check(index.status(), "build");
  const auto truth = fathom::ExactTopK(data->base, data->queries, 10, fathom::DistanceSpace::kL2, nullptr, threads);
  auto int8 = fathom::Int8Matrix::Quantize(data->base.view());
  fathom::bench::Check(int8.status(), "quantize");
  const fathom::Int8MatrixSource approximate(*int8);
  std::printf("# n=%zu dim=%u queries=%zu probes=%u, %u clusters; load %s\n", rows, dim, queries, probes,
              index->clusters(), fathom::bench::LoadAverages().c_str());
  std::printf("%-8s %22s %10s %22s %10s\n", "rerank", "no copies: reads/query", "recall", "int8: exact reads/query",
              "recall");
  for (uint32_t rerank : {3u, 5u, 10u, 20u}) {
    auto run = [&](bool copies, size_t* fetches) {
      CountingSource exact(data->base.view());
      fathom::IvfSearchOptions search;
      search.k = 10;
      search.probes = probes;
      search.rerank_factor = rerank;
      search.batched_reads = !copies;
      if (copies) search.exact = &exact;
      std::vector<std::vector<uint32_t>> found;
      for (size_t q = 0; q < data->queries.rows; ++q) {
        auto hits = copies ? index->Search(data->queries.Row(q), search, approximate)
                           : index->Search(data->queries.Row(q), search, exact);
        fathom::bench::Check(hits.status(), "search");
        found.emplace_back();
        for (const fathom::Hit& h : *hits) found.back().push_back(h.slot);
      }
      *fetches = exact.fetches;
      return fathom::RecallAtK(truth, found, 10);
    };
    size_t without = 0, with = 0;
    const double recall_without = run(false, &without);
    const double recall_with = run(true, &with);
    std::printf("x%-7u %22.1f %10.4f %22.1f %10.4f\n", rerank, double(without) / queries, recall_without,
                double(with) / queries, recall_with);
  }
  return 0;
}
