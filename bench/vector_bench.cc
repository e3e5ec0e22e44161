// vector_bench: recall@k / single-threaded QPS / build time / resident memory of fathom's
// IVF + RaBitQ index (src/index/vector/ivf_index.h) against hnswlib (M=16,
// ef_construction=200, ef swept) and FAISS IVF-Flat (nprobe swept) on the synthetic
// data of synthetic_data.h, plus fathom's filtered recall at 10% and 1% selectivity.
// Prints tables; not a test. The sizes: `--preset 1m128`, `--preset 200k768`.
//
// fathom is measured twice: re-ranking from a VectorFile (vector_file.h: the full
// vectors in a file in a temporary directory, read with pread through a bounded
// BlockCache), which is how a collection larger than RAM runs, and from the vectors in
// RAM (MatrixSource).
//
// Memory counts what each system keeps resident in the process:
//   fathom (file)  IvfIndex::MemoryBytes() (centroids, rotation, codes, factors, slots)
//                  + the block cache's capacity;
//   fathom (RAM)   the same index + the f32 vectors;
//   hnswlib        its level-0 block (which embeds a copy of every vector), upper-level
//                  links and label map;
//   FAISS          its inverted lists (full vectors as codes + 8-byte ids) + centroids.
// The operating system's page cache may also hold pages of fathom's vector file; the
// kernel owns and reclaims those, and they are not counted (the table says so).
//
// Every build uses the same number of threads (--threads); every search runs on one
// thread, one query at a time; the best of --repeat timed passes counts.
#include <hnswlib/hnswlib.h>
#include <stdlib.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_data.h"
#include "bench_util.h"
#include "hnsw_peer.h"
#include "index/vector/distance.h"
#include "index/vector/int8_matrix.h"
#include "index/vector/ivf_index.h"
#include "index/vector/synthetic_data.h"
#include "index/vector/vector_file.h"
#include "storage/block_cache.h"

#ifdef FATHOM_HAVE_FAISS
#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/invlists/InvertedLists.h>
#include <omp.h>
#endif

namespace {

using fathom::bench::Clock;
using fathom::bench::Die;
using fathom::bench::Mib;
using fathom::bench::Seconds;

using fathom::DistanceSpace;

std::vector<uint32_t> ParseList(const std::string& text) {
  std::vector<uint32_t> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(static_cast<uint32_t>(std::stoul(item)));
  }
  return out;
}

// One point of a recall/QPS curve.
struct Point {
  std::string setting;  // probes/rerank factor, ef or nprobe
  double recall = 0;
  double qps = 0;
};

// One system's results for the summary.
struct System {
  std::string name;
  std::string knob;
  std::vector<Point> curve;
  double build_s = 0;
  double memory_bytes = 0;
};

// Timed passes over the queries; the best pass counts (the machine is shared, so the
// fastest pass is the least disturbed one). Returns the found slots of the last pass.
int g_repeat = 3;

// `before_pass` runs untimed before each pass (fathom's file-backed runs use it to
// re-warm the block cache with other queries, so a pass never finds the blocks its own
// queries loaded in the previous pass).
template <typename SearchOne, typename BeforePass>
std::pair<double, std::vector<std::vector<uint32_t>>> TimeQueries(size_t queries, SearchOne&& search_one,
                                                                  BeforePass&& before_pass) {
  double best_qps = 0;
  std::vector<std::vector<uint32_t>> found;
  for (int pass = 0; pass < g_repeat; ++pass) {
    before_pass();
    found.assign(queries, {});
    auto start = Clock::now();
    for (size_t q = 0; q < queries; ++q) search_one(q, &found[q]);
    best_qps = std::max(best_qps, queries / Seconds(start));
  }
  return {best_qps, std::move(found)};
}

template <typename SearchOne>
std::pair<double, std::vector<std::vector<uint32_t>>> TimeQueries(size_t queries, SearchOne&& search_one) {
  return TimeQueries(queries, std::forward<SearchOne>(search_one), [] {});
}

// Queries that warm fathom's block cache between timed passes: drawn from the same
// distribution as the measured queries but disjoint from them, taken round-robin. Before
// each pass at least `per_pass` of them run, and more until the cache has read as
// many blocks as it holds (so the blocks the previous pass of the same queries loaded
// are gone unless other queries use them too, as in a stream that never repeats); at
// most the whole pool per pass.
struct WarmUp {
  const fathom::Dataset* pool = nullptr;
  size_t per_pass = 0;
  size_t next = 0;
  const fathom::BlockCache* cache = nullptr;
  // Block lookups and block reads (cache inserts: a miss, or a block read ahead by
  // Prefetch) the warm-up made since the caller last reset them, so the timed queries'
  // hit rate can be told apart.
  uint64_t lookups = 0;
  uint64_t reads = 0;
  // The fraction of the timed lookups between two snapshots of the cache's stats that
  // needed no block read (1 - reads / lookups), less the warm-up's. Counting reads rather
  // than misses keeps a block read ahead and then found from counting as a hit.
  double TimedHitRate(const fathom::BlockCache::Stats& before, const fathom::BlockCache::Stats& after) const {
    const double timed = double(after.hits + after.misses - before.hits - before.misses - lookups);
    const double timed_reads = double(after.inserts - before.inserts - reads);
    return timed > 0 ? 1.0 - timed_reads / timed : 0.0;
  }
};

size_t CacheSlots(const fathom::BlockCache& cache) {
  return cache.capacity_bytes() / (cache.block_bytes() + fathom::BlockCache::kEntryOverheadBytes);
}

struct FathomRun {
  Point point;
  double codes = 0;
  double reranked = 0;
  double centroids = 0;
  double refined = 0;  // exact re-scores of a two-stage search
  bool exact = false;
};

FathomRun RunFathom(const fathom::IvfIndex& index, const fathom::Dataset& queries,
                    const std::vector<std::vector<uint32_t>>& truth, const fathom::IvfSearchOptions& options,
                    const fathom::VectorSource& source, WarmUp* warm_up = nullptr) {
  FathomRun run;
  size_t codes = 0, reranked = 0, centroids = 0, refined = 0;
  auto before_pass = [&] {
    if (warm_up == nullptr || warm_up->pool == nullptr || warm_up->pool->rows == 0) return;
    const fathom::BlockCache::Stats before =
        warm_up->cache != nullptr ? warm_up->cache->stats() : fathom::BlockCache::Stats{};
    auto evicted = [&] {
      return warm_up->cache == nullptr || warm_up->cache->stats().inserts - before.inserts >= CacheSlots(*warm_up->cache);
    };
    for (size_t i = 0; i < warm_up->pool->rows && (i < warm_up->per_pass || !evicted()); ++i) {
      const size_t q = warm_up->next++ % warm_up->pool->rows;
      auto hits = index.Search(warm_up->pool->Row(q), options, source);
      if (!hits.ok()) Die("warm-up search failed: " + hits.status().ToString());
    }
    if (warm_up->cache != nullptr) {
      const fathom::BlockCache::Stats after = warm_up->cache->stats();
      warm_up->lookups += after.hits + after.misses - before.hits - before.misses;
      warm_up->reads += after.inserts - before.inserts;
    }
  };
  auto [qps, found] = TimeQueries(queries.rows, [&](size_t q, std::vector<uint32_t>* out) {
    fathom::IvfSearchStats stats;
    auto hits = index.Search(queries.Row(q), options, source, &stats);
    if (!hits.ok()) Die("search failed: " + hits.status().ToString());
    for (const fathom::Hit& h : *hits) out->push_back(h.slot);
    codes += stats.codes_scored;
    reranked += stats.reranked;
    centroids += stats.centroids_scored;
    refined += stats.refined;
    run.exact = stats.exact_scan;
  }, before_pass);
  run.point.setting = std::to_string(options.probes) + "/" + std::to_string(options.rerank_factor);
  run.point.qps = qps;
  run.point.recall = fathom::RecallAtK(truth, found, options.k);
  run.codes = double(codes) / (queries.rows * g_repeat);
  run.reranked = double(reranked) / (queries.rows * g_repeat);
  run.centroids = double(centroids) / (queries.rows * g_repeat);
  run.refined = double(refined) / (queries.rows * g_repeat);
  return run;
}

// The best QPS among the curve's points with recall >= target (nullptr if none).
const Point* CheapestAt(const std::vector<Point>& curve, double target) {
  const Point* best = nullptr;
  for (const Point& p : curve) {
    if (p.recall >= target && (best == nullptr || p.qps > best->qps)) best = &p;
  }
  return best;
}

// A temporary directory removed (with its contents) when the bench exits normally.
struct TempDir {
  std::string path;
  explicit TempDir(const std::string& parent) {
    std::string pattern = parent + "/fathom_vector_bench.XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) Die("mkdtemp under " + parent + " failed");
    path = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

// The order in which fathom's vector file stores rows (order[position] = row): cluster
// by cluster, as compaction would write them, and inside a cluster in kd-tree leaf order
// (median splits on the widest coordinate down to one block of rows). The rows a query
// re-ranks are close to each other, so this puts several of them in one block and a
// block read serves more than one.
void KdOrder(fathom::MatrixView base, uint32_t leaf_rows, uint32_t* begin, uint32_t* end) {
  const size_t count = static_cast<size_t>(end - begin);
  if (count <= leaf_rows) return;
  const uint32_t dim = base.dim;
  std::vector<double> sum(dim, 0.0), sum_squares(dim, 0.0);
  for (uint32_t* r = begin; r != end; ++r) {
    const float* row = base.Row(*r);
    for (uint32_t d = 0; d < dim; ++d) {
      sum[d] += row[d];
      sum_squares[d] += double(row[d]) * row[d];
    }
  }
  uint32_t widest = 0;
  double widest_variance = -1;
  for (uint32_t d = 0; d < dim; ++d) {
    const double variance = sum_squares[d] - sum[d] * sum[d] / count;
    if (variance > widest_variance) {
      widest_variance = variance;
      widest = d;
    }
  }
  // Split at a multiple of leaf_rows so leaves line up with the file's blocks.
  const size_t half = std::max<size_t>(leaf_rows, (count / 2 + leaf_rows / 2) / leaf_rows * leaf_rows);
  std::nth_element(begin, begin + half, end,
                   [&](uint32_t a, uint32_t b) { return base.Row(a)[widest] < base.Row(b)[widest]; });
  KdOrder(base, leaf_rows, begin, begin + half);
  KdOrder(base, leaf_rows, begin + half, end);
}

std::vector<uint32_t> FileOrder(const fathom::IvfIndex& index, fathom::MatrixView base, uint32_t rows_per_block) {
  std::vector<uint32_t> order;
  order.reserve(index.rows());
  index.ForEachSlot([&](uint32_t slot) { order.push_back(slot); });
  size_t begin = 0;
  for (uint32_t c = 0; c < index.clusters(); ++c) {
    const size_t end = begin + index.ClusterRows(c);
    // Leaves start at block boundaries only if clusters do; they need not (a leaf that
    // straddles two blocks still keeps its rows together).
    KdOrder(base, rows_per_block, order.data() + begin, order.data() + end);
    begin = end;
  }
  return order;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fathom IVF-RaBitQ vs hnswlib and FAISS IVF-Flat on synthetic data"};
  size_t rows = 200000, queries = 1000;
  uint32_t dim = 128, k = 10, rerank_factor = fathom::ivf_limits::kRerankFactorDefault, clusters = 0;
  uint64_t seed = 42;
  int threads = 2;
  std::string preset;
  std::string space_name = "l2";
  std::string probes_text = "2,3,4,6,8,12,16,24";
  std::string ef_text = "10,20,30,40,50,60,80,100,120,160,240";
  std::string nprobe_text = "1,2,4,6,8,12,16,24,32,48,64";
  std::string filtered_probes_text = "8,16";
  std::string rerank_text = "10,20";
  size_t warm_up_queries = 2000;
  size_t warm_up_pool = 30000;
  size_t fresh_queries = 1000;
  double two_stage_cache_fraction = 0.2;
  uint32_t refine_factor = fathom::ivf_limits::kRefineFactorDefault;
  std::string systems_text = "fathom,hnswlib,faiss";
  std::string temp_parent = "/tmp";
  double cache_fraction = 0.4;
  size_t block_bytes = fathom::vector_file_limits::kBlockBytesDefault;
  uint32_t faiss_nlist = 0;
  fathom::SyntheticOptions data_options = bench::BenchDataOptions();
  app.add_option("--preset", preset, "1m128 (1M x 128, l2) | 200k768 (200k x 768, l2): the issue's sizes");
  app.add_option("--rows,--n", rows, "base vectors");
  app.add_option("--dim", dim, "dimension");
  app.add_option("--queries", queries, "queries (ground truth is exact for each)");
  app.add_option("--k", k, "neighbours per query");
  app.add_option("--seed", seed, "data and index seed");
  app.add_option("--space", space_name, "l2 | cosine | ip");
  app.add_option("--threads", threads, "build and ground-truth threads, the same for every system (search: 1)");
  app.add_option("--systems", systems_text, "comma-separated: fathom, hnswlib, faiss");
  app.add_option("--probes", probes_text, "fathom probe counts to sweep");
  app.add_option("--filtered-probes", filtered_probes_text, "fathom probe counts for the filtered runs");
  app.add_option("--rerank-factor", rerank_factor, "fathom candidates kept = k * this, for the filtered runs");
  app.add_option("--rerank-factors", rerank_text, "fathom rerank factors to sweep (with every probe count)");
  app.add_option("--warm-up-queries", warm_up_queries,
                 "other queries run through fathom's file-backed index before each timed pass (0 = none)");
  app.add_option("--refine-factor", refine_factor,
                 "two-stage row: the best k * this of the int8 re-rank get exact f32 distances from the file")
      ->capture_default_str();
  app.add_option("--two-stage-cache-fraction", two_stage_cache_fraction,
                 "block cache of the two-stage row (int8 in RAM, f32 from the file), as a fraction of the vector "
                 "bytes; negative = skip that row");
  app.add_option("--warm-up-pool", warm_up_pool,
                 "distinct warm-up queries, taken round-robin (a pass warms until the cache has turned over)");
  app.add_option("--fresh-queries", fresh_queries,
                 "never-seen queries timed once through fathom's file-backed index at the settings the summary "
                 "picks (their cache hits come only from other queries)");
  app.add_option("--clusters", clusters, "fathom clusters (0 = auto)");
  app.add_option("--cache-fraction", cache_fraction, "fathom block cache capacity as a fraction of the vector bytes");
  app.add_option("--block-bytes", block_bytes, "fathom vector file block size target");
  app.add_option("--temp-dir", temp_parent, "where fathom's vector file is written (removed at exit)");
  app.add_option("--ef", ef_text, "hnswlib ef values to sweep");
  app.add_option("--nprobe", nprobe_text, "FAISS nprobe values to sweep");
  app.add_option("--faiss-nlist", faiss_nlist, "FAISS lists (0 = 4 sqrt(rows))");
  bench::AddDataOptions(app, &data_options);
  app.add_option("--repeat", g_repeat, "timed passes per configuration (best counts)");
  CLI11_PARSE(app, argc, argv);
  if (!bench::ApplyPreset(preset, &rows, &dim)) Die("unknown preset " + preset);
  // Parsed here rather than with fathom::ParseDistanceSpace, which lives in the database
  // layer: the bench links only the index.
  std::optional<DistanceSpace> space;
  if (space_name == "l2") space = DistanceSpace::kL2;
  if (space_name == "cosine") space = DistanceSpace::kCosine;
  if (space_name == "ip") space = DistanceSpace::kInnerProduct;
  if (!space) Die("unknown space " + space_name);
  auto wants = [&](const char* name) { return systems_text.find(name) != std::string::npos; };

  std::printf("# vector_bench: n=%zu dim=%u queries=%zu k=%u space=%s seed=%lu; simd=%s; build threads=%d (all systems), "
              "search threads=1\n",
              rows, dim, queries, k, space_name.c_str(), static_cast<unsigned long>(seed),
              fathom::SimdLevelName(fathom::ActiveSimdLevel()), threads);
  data_options.rows = rows;
  if (warm_up_queries == 0) warm_up_pool = 0;
  warm_up_pool = std::max(warm_up_pool, warm_up_queries);
  data_options.queries = queries + warm_up_pool + fresh_queries;
  data_options.dim = dim;
  data_options.seed = seed;
  data_options.threads = threads;
  bench::PrintDataOptions(data_options);
  auto start = Clock::now();
  auto generated = fathom::GenerateSynthetic(data_options);
  if (!generated.ok()) Die(generated.status().ToString());
  fathom::SyntheticData& data = *generated;
  fathom::Dataset warm_pool, fresh;
  warm_pool.rows = warm_up_pool;
  warm_pool.dim = dim;
  warm_pool.values.assign(data.queries.values.begin() + queries * dim,
                          data.queries.values.begin() + (queries + warm_up_pool) * dim);
  fresh.rows = fresh_queries;
  fresh.dim = dim;
  fresh.values.assign(data.queries.values.begin() + (queries + warm_up_pool) * dim, data.queries.values.end());
  data.queries.rows = queries;
  data.queries.values.resize(queries * dim);
  auto truth = fathom::ExactTopK(data.base, data.queries, k, *space, nullptr, threads);
  std::printf("# generated + exact ground truth (%zu queries, brute force) in %.1f s\n", queries, Seconds(start));
  std::fflush(stdout);
  const double vector_bytes = double(rows) * dim * sizeof(float);
  std::vector<System> systems;

  // ---- fathom ----
  if (wants("fathom")) {
    fathom::IvfBuildOptions build;
    build.space = *space;
    build.seed = seed;
    build.threads = threads;
    build.clusters = clusters;
    start = Clock::now();
    auto index = fathom::IvfIndex::Build(data.base.view(), build);
    if (!index.ok()) Die(index.status().ToString());
    const double build_s = Seconds(start);
    const double index_bytes = index->MemoryBytes();

    // The file-backed index: slots renumbered to file positions (FileOrder), the rows
    // written in that order. Results are mapped back to rows for recall.
    TempDir temp(temp_parent);
    const std::string path = temp.path + "/vectors";
    start = Clock::now();
    const uint32_t rows_per_block =
        static_cast<uint32_t>(fathom::VectorFile::BlockBytesFor(dim, block_bytes) / (size_t{dim} * sizeof(float)));
    std::vector<uint32_t> row_of_position = FileOrder(*index, data.base.view(), rows_per_block);
    std::vector<uint32_t> position_of_row(rows);
    for (size_t p = 0; p < rows; ++p) position_of_row[row_of_position[p]] = static_cast<uint32_t>(p);
    auto file_index = index->Remapped([&](uint32_t row) -> std::optional<uint32_t> { return position_of_row[row]; });
    if (!file_index.ok()) Die(file_index.status().ToString());
    {
      std::vector<float> ordered(rows * dim);
      for (size_t p = 0; p < rows; ++p) std::copy_n(data.base.Row(row_of_position[p]), dim, ordered.data() + p * dim);
      fathom::Status written = fathom::VectorFile::Write(path, fathom::MatrixView{ordered.data(), rows, dim}, block_bytes);
      if (!written.ok()) Die(written.ToString());
    }
    const double write_s = Seconds(start);
    // Truth in file positions, so recall compares like with like.
    auto to_positions = [&](const std::vector<std::vector<uint32_t>>& by_row) {
      std::vector<std::vector<uint32_t>> out(by_row.size());
      for (size_t q = 0; q < by_row.size(); ++q) {
        for (uint32_t row : by_row[q]) out[q].push_back(position_of_row[row]);
      }
      return out;
    };
    const auto truth_positions = to_positions(truth);
    const size_t cache_bytes = static_cast<size_t>(cache_fraction * vector_bytes);
    fathom::BlockCache cache(cache_bytes, fathom::VectorFile::BlockBytesFor(dim, block_bytes));
    auto file = fathom::VectorFile::Open(path, &cache);
    if (!file.ok()) Die(file.status().ToString());
    std::printf("\n## fathom IVF-RaBitQ: %u clusters, build %.1f s (+ %.1f s ordering and writing the vector file), index %.1f MiB; "
                "block cache %.1f MiB (%.0f%% of the %.1f MiB of vectors), %u rows per block\n",
                index->clusters(), build_s, write_s, Mib(index_bytes), Mib(cache_bytes), 100 * cache_fraction,
                Mib(vector_bytes), (*file)->rows_per_block());
    System on_file{"fathom (file)", "p/r", {}, build_s, index_bytes + cache_bytes};
    System in_ram{"fathom (RAM)", "p/r", {}, build_s, index_bytes + vector_bytes};
    std::printf("# file-backed passes each follow at least %zu other queries (warm-up), and more until the block "
                "cache has turned over; hit rate of the timed queries\n",
                warm_up_queries);
    std::printf("%-14s %10s %10s %10s %10s %12s %10s %12s\n", "probes/rerank", "recall@k", "QPS file", "hit rate",
                "QPS RAM", "codes/q", "reranked/q", "centroids/q");
    fathom::MatrixSource matrix(data.base.view());
    WarmUp warm_up{&warm_pool, warm_up_queries, 0, &cache};
    for (uint32_t factor : ParseList(rerank_text)) {
      for (uint32_t probes : ParseList(probes_text)) {
        fathom::IvfSearchOptions options;
        options.k = k;
        options.probes = probes;
        options.rerank_factor = factor;
        warm_up.lookups = warm_up.reads = 0;
        const auto before = cache.stats();
        FathomRun file_run = RunFathom(*file_index, data.queries, truth_positions, options, **file, &warm_up);
        const auto after = cache.stats();
        FathomRun ram_run = RunFathom(*index, data.queries, truth, options, matrix);
        std::printf("%-14s %10.4f %10.0f %10.3f %10.0f %12.0f %10.1f %12.0f\n", file_run.point.setting.c_str(),
                    file_run.point.recall, file_run.point.qps, warm_up.TimedHitRate(before, after), ram_run.point.qps,
                    file_run.codes, file_run.reranked, file_run.centroids);
        std::fflush(stdout);
        on_file.curve.push_back(file_run.point);
        in_ram.curve.push_back(ram_run.point);
      }
    }
    // Never-seen queries at the cheapest file-backed settings for 0.95 and 0.99 (recall
    // as measured on the main queries): one pass each, so every cache hit they get comes
    // from blocks other queries loaded.
    System on_file_fresh{"fathom (file, fresh q)", "p/r", {}, build_s, index_bytes + cache_bytes};
    if (fresh.rows > 0) {
      std::printf("# fresh queries (%zu never-seen queries, one pass, after the sweep above):\n", fresh.rows);
      size_t fresh_next = 0;
      for (double target : {0.90, 0.95, 0.99}) {
        const Point* p = CheapestAt(on_file.curve, target);
        if (p == nullptr) continue;
        fathom::IvfSearchOptions options;
        options.k = k;
        options.probes = static_cast<uint32_t>(std::stoul(p->setting.substr(0, p->setting.find('/'))));
        options.rerank_factor = static_cast<uint32_t>(std::stoul(p->setting.substr(p->setting.find('/') + 1)));
        const size_t count = std::max<size_t>(1, fresh.rows / 3);
        const auto before = (*file)->stats();
        auto t0 = Clock::now();
        for (size_t i = 0; i < count; ++i) {
          auto hits = file_index->Search(fresh.Row(fresh_next++ % fresh.rows), options, **file);
          if (!hits.ok()) Die(hits.status().ToString());
        }
        const double qps = count / Seconds(t0);
        const auto after = (*file)->stats();
        const double fetches = double(after.hits + after.misses - before.hits - before.misses);
        const double reads = double(after.misses + after.prefetched - before.misses - before.prefetched);
        std::printf("#   recall>=%.2f setting %s: %zu fresh queries, QPS %.0f, hit rate %.3f\n", target,
                    p->setting.c_str(), count, qps, fetches > 0 ? 1.0 - reads / fetches : 0.0);
        Point fresh_point = *p;
        fresh_point.qps = qps;
        on_file_fresh.curve.push_back(fresh_point);
      }
    }
    // Two-stage re-rank (IvfSearchOptions::exact): int8 copies in RAM rank the
    // candidates, the best k * refine_factor are re-scored from the file through a
    // smaller cache of its own.
    System two_stage{"fathom (int8 + file)", "p/r", {}, build_s, index_bytes};
    if (two_stage_cache_fraction >= 0) {
      std::vector<float> ordered(rows * dim);
      for (size_t p = 0; p < rows; ++p) std::copy_n(data.base.Row(row_of_position[p]), dim, ordered.data() + p * dim);
      start = Clock::now();
      auto int8 = fathom::Int8Matrix::Quantize(fathom::MatrixView{ordered.data(), rows, dim});
      if (!int8.ok()) Die(int8.status().ToString());
      const double quantize_s = Seconds(start);
      ordered.clear();
      ordered.shrink_to_fit();
      const size_t small_cache_bytes = static_cast<size_t>(two_stage_cache_fraction * vector_bytes);
      fathom::BlockCache small_cache(small_cache_bytes, fathom::VectorFile::BlockBytesFor(dim, block_bytes));
      auto small_file = fathom::VectorFile::Open(path, &small_cache);
      if (!small_file.ok()) Die(small_file.status().ToString());
      fathom::Int8MatrixSource int8_source(*int8);
      two_stage.build_s += quantize_s;
      two_stage.memory_bytes = index_bytes + int8->MemoryBytes() + small_cache_bytes;
      std::printf("\n## fathom two-stage: int8 in RAM %.1f MiB (quantized in %.1f s) + block cache %.1f MiB "
                  "(%.0f%% of the vectors); memory %.1f MiB\n",
                  Mib(int8->MemoryBytes()), quantize_s, Mib(small_cache_bytes), 100 * two_stage_cache_fraction,
                  Mib(two_stage.memory_bytes));
      std::printf("%-14s %10s %10s %10s %12s %10s\n", "probes/rerank", "recall@k", "QPS", "hit rate", "int8/q",
                  "f32/q");
      WarmUp two_stage_warm_up{&warm_pool, warm_up_queries, 0, &small_cache};
      for (uint32_t factor : ParseList(rerank_text)) {
        for (uint32_t probes : ParseList(probes_text)) {
          fathom::IvfSearchOptions options;
          options.k = k;
          options.probes = probes;
          options.rerank_factor = factor;
          options.exact = small_file->get();
          options.refine_factor = refine_factor;
          two_stage_warm_up.lookups = two_stage_warm_up.reads = 0;
          const auto before = small_cache.stats();
          FathomRun run = RunFathom(*file_index, data.queries, truth_positions, options, int8_source,
                                    &two_stage_warm_up);
          const auto after = small_cache.stats();
          std::printf("%-14s %10.4f %10.0f %10.3f %12.1f %10.1f\n", run.point.setting.c_str(), run.point.recall,
                      run.point.qps, two_stage_warm_up.TimedHitRate(before, after), run.reranked, run.refined);
          std::fflush(stdout);
          two_stage.curve.push_back(run.point);
        }
      }
    }
    const auto file_stats = (*file)->stats();
    std::printf("# vector file: %lu hits, %lu misses, %lu blocks prefetched, %lu read errors, %lu corrupt blocks; "
                "cache charged %.1f MiB\n",
                static_cast<unsigned long>(file_stats.hits), static_cast<unsigned long>(file_stats.misses),
                static_cast<unsigned long>(file_stats.prefetched),
                static_cast<unsigned long>(file_stats.read_errors), static_cast<unsigned long>(file_stats.corruptions),
                Mib(cache.charged_bytes()));
    systems.push_back(on_file);
    if (!on_file_fresh.curve.empty()) systems.push_back(on_file_fresh);
    if (!two_stage.curve.empty()) systems.push_back(two_stage);
    systems.push_back(in_ram);

    // ---- filtered ----
    std::printf("\n## fathom filtered, re-ranking from the vector file (ground truth: exact among allowed rows; "
                "no warm-up between passes)\n");
    std::printf("%-9s %-8s %-6s %10s %10s %12s %8s\n", "allowed", "probes", "plan", "recall@k", "QPS", "codes/q",
                "exact");
    for (double fraction : {0.1, 0.01}) {
      size_t allowed = 0;
      std::vector<uint64_t> bits = fathom::RandomAllowedSlots(rows, fraction, seed + 7, &allowed);
      const auto filtered_truth = to_positions(fathom::ExactTopK(data.base, data.queries, k, *space, bits.data(), threads));
      std::vector<uint64_t> position_bits(bits.size(), 0);
      for (size_t row = 0; row < rows; ++row) {
        if (fathom::BitsetContains(bits.data(), static_cast<uint32_t>(row))) {
          position_bits[position_of_row[row] >> 6] |= 1ull << (position_of_row[row] & 63);
        }
      }
      fathom::SlotFilter filter = fathom::SlotFilter::Bitset(position_bits.data(), rows, allowed);
      for (uint32_t probes : ParseList(filtered_probes_text)) {
        for (auto strategy : {fathom::FilterStrategy::kAuto, fathom::FilterStrategy::kIvfScan}) {
          fathom::IvfSearchOptions options;
          options.k = k;
          options.probes = probes;
          options.rerank_factor = rerank_factor;
          options.filter = &filter;
          options.filter_strategy = strategy;
          FathomRun run = RunFathom(*file_index, data.queries, filtered_truth, options, **file);
          std::printf("%-9.2f %-8u %-6s %10.4f %10.0f %12.0f %8s\n", fraction, probes,
                      strategy == fathom::FilterStrategy::kAuto ? "auto" : "ivf", run.point.recall, run.point.qps,
                      run.codes, run.exact ? "yes" : "no");
        }
      }
    }
    std::fflush(stdout);
  }

  // cosine: the peers search inner product on normalized copies (what Chroma does with
  // hnswlib); ip: inner product as is.
  std::vector<float> peer_base_values;
  const float* peer_base = data.base.values.data();
  std::vector<float> peer_queries = data.queries.values;
  if (*space == DistanceSpace::kCosine) {
    peer_base_values = data.base.values;
    auto normalize = [dim](float* v) {
      float n = std::sqrt(fathom::DotProduct(v, v, dim));
      if (n > 0) {
        for (uint32_t d = 0; d < dim; ++d) v[d] /= n;
      }
    };
    for (size_t i = 0; i < rows; ++i) normalize(peer_base_values.data() + i * dim);
    for (size_t q = 0; q < queries; ++q) normalize(peer_queries.data() + q * dim);
    peer_base = peer_base_values.data();
  }

  // ---- hnswlib ----
  if (wants("hnswlib")) {
    start = Clock::now();
    bench::HnswPeer peer = bench::BuildHnsw(peer_base, rows, dim, *space, threads, seed);
    auto& hnsw = peer.index;
    System system{"hnswlib", "ef", {}, Seconds(start), 0};
    const size_t bytes = peer.MemoryBytes();
    system.memory_bytes = bytes;
    std::printf("\n## hnswlib M=16 ef_construction=200: build %.1f s, %.1f MiB (of which %.1f MiB f32 vectors)\n",
                system.build_s, Mib(bytes), Mib(vector_bytes));
    std::printf("%-8s %10s %10s\n", "ef", "recall@k", "QPS");
    for (uint32_t ef : ParseList(ef_text)) {
      hnsw->setEf(std::max(ef, k));
      auto [qps, found] = TimeQueries(queries, [&](size_t q, std::vector<uint32_t>* out) {
        for (const auto& [distance, label] : hnsw->searchKnnCloserFirst(peer_queries.data() + q * dim, k)) {
          out->push_back(static_cast<uint32_t>(label));
        }
      });
      Point p{std::to_string(ef), fathom::RecallAtK(truth, found, k), qps};
      std::printf("%-8u %10.4f %10.0f\n", ef, p.recall, p.qps);
      system.curve.push_back(p);
    }
    systems.push_back(system);
    std::fflush(stdout);
  }

  // ---- FAISS IVF-Flat ----
  if (wants("faiss")) {
#ifdef FATHOM_HAVE_FAISS
    const uint32_t nlist =
        faiss_nlist != 0 ? faiss_nlist : static_cast<uint32_t>(std::lround(4 * std::sqrt(double(rows))));
    const faiss::MetricType metric = *space == DistanceSpace::kL2 ? faiss::METRIC_L2 : faiss::METRIC_INNER_PRODUCT;
    // Training sample: FAISS's k-means takes at most 256 rows per list; 64 per list
    // keeps the build within reach while staying above its 39-per-list warning.
    constexpr size_t kFaissTrainRowsPerList = 64;
    const size_t train_rows = std::min(rows, size_t{nlist} * kFaissTrainRowsPerList);
    std::vector<float> train(train_rows * dim);
    {
      fathom::Rng rng(fathom::MixSeed(seed, 99));
      std::vector<uint32_t> order(rows);
      for (size_t i = 0; i < rows; ++i) order[i] = static_cast<uint32_t>(i);
      for (size_t i = 0; i < train_rows; ++i) {
        std::swap(order[i], order[i + rng.Below(rows - i)]);
        std::copy_n(peer_base + size_t{order[i]} * dim, dim, train.data() + i * dim);
      }
    }
    omp_set_num_threads(threads);
    start = Clock::now();
    std::unique_ptr<faiss::IndexFlat> quantizer;
    if (metric == faiss::METRIC_L2) {
      quantizer = std::make_unique<faiss::IndexFlatL2>(dim);
    } else {
      quantizer = std::make_unique<faiss::IndexFlatIP>(dim);
    }
    auto ivf = std::make_unique<faiss::IndexIVFFlat>(quantizer.get(), dim, nlist, metric);
    ivf->cp.niter = fathom::ivf_limits::kKmeansIterationsDefault;  // fathom's k-means iterations
    ivf->cp.seed = static_cast<int>(seed);
    ivf->verbose = false;
    ivf->train(train_rows, train.data());
    ivf->add(rows, peer_base);
    System system{"FAISS IVF-Flat", "nprobe", {}, Seconds(start), 0};
    train.clear();
    train.shrink_to_fit();
    double bytes = double(nlist) * dim * sizeof(float);  // centroids
    for (size_t list = 0; list < nlist; ++list) {
      bytes += ivf->invlists->list_size(list) * (ivf->code_size + sizeof(faiss::Index::idx_t));
    }
    bytes += nlist * 2 * sizeof(std::vector<uint8_t>);  // the per-list vectors' headers
    system.memory_bytes = bytes;
    std::printf("\n## FAISS IVF-Flat: nlist %u (k-means on %zu rows, %d iterations), build %.1f s, %.1f MiB\n",
                nlist, train_rows, ivf->cp.niter, system.build_s, Mib(bytes));
    omp_set_num_threads(1);
    std::printf("%-8s %10s %10s\n", "nprobe", "recall@k", "QPS");
    std::vector<float> distances(k);
    std::vector<faiss::Index::idx_t> labels(k);
    for (uint32_t nprobe : ParseList(nprobe_text)) {
      ivf->nprobe = nprobe;
      auto [qps, found] = TimeQueries(queries, [&](size_t q, std::vector<uint32_t>* out) {
        ivf->search(1, peer_queries.data() + q * dim, k, distances.data(), labels.data());
        for (faiss::Index::idx_t label : labels) {
          if (label >= 0) out->push_back(static_cast<uint32_t>(label));
        }
      });
      Point p{std::to_string(nprobe), fathom::RecallAtK(truth, found, k), qps};
      std::printf("%-8u %10.4f %10.0f\n", nprobe, p.recall, p.qps);
      system.curve.push_back(p);
    }
    systems.push_back(system);
    std::fflush(stdout);
#else
    std::printf("\n## FAISS IVF-Flat: not built (libfaiss-dev not found when configuring)\n");
#endif
  }

  // ---- summary ----
  const System* hnsw = nullptr;
  for (const System& s : systems) {
    if (s.name == "hnswlib") hnsw = &s;
  }
  std::printf("\n## summary: n=%zu dim=%u %s, k=%u; QPS single-threaded at the cheapest swept setting reaching the "
              "recall\n",
              rows, dim, space_name.c_str(), k);
  std::printf("%-22s %-20s %-20s %-20s %10s %10s %9s\n", "system", "recall>=0.90", "recall>=0.95", "recall>=0.99",
              "memory MiB", "mem/hnsw", "build s");
  for (const System& s : systems) {
    std::printf("%-22s", s.name.c_str());
    for (double target : {0.90, 0.95, 0.99}) {
      const Point* p = CheapestAt(s.curve, target);
      char cell[64];
      if (p == nullptr) {
        std::snprintf(cell, sizeof(cell), "-");
      } else {
        std::snprintf(cell, sizeof(cell), "%.0f (%s %s)", p->qps, s.knob.c_str(), p->setting.c_str());
      }
      std::printf(" %-20s", cell);
    }
    std::printf(" %10.1f %10s %9.1f\n", Mib(s.memory_bytes),
                hnsw != nullptr ? std::to_string(s.memory_bytes / hnsw->memory_bytes).substr(0, 5).c_str() : "-",
                s.build_s);
  }
  if (hnsw != nullptr) {
    std::printf("QPS / hnswlib at the same recall:\n");
    for (const System& s : systems) {
      if (&s == hnsw) continue;
      std::printf("%-22s", s.name.c_str());
      for (double target : {0.90, 0.95, 0.99}) {
        const Point* p = CheapestAt(s.curve, target);
        const Point* h = CheapestAt(hnsw->curve, target);
        if (p != nullptr && h != nullptr) {
          std::printf(" %-20.2f", p->qps / h->qps);
        } else {
          std::printf(" %-20s", "-");
        }
      }
      std::printf(" build time / hnswlib %.2f\n", s.build_s / hnsw->build_s);
    }
  }
  std::printf("# memory: fathom (file) = index + block cache capacity; fathom (RAM) = index + f32 vectors; hnswlib =\n"
              "# graph + embedded vectors + labels; FAISS = inverted lists (vectors + ids) + centroids. Pages of\n"
              "# fathom's vector file may also sit in the OS page cache (kernel-owned, reclaimable, not counted).\n");
  return 0;
}
