// zoo_bench: default-setting recall and speed of a collection on data the vector index
// was not designed around (index/vector/data_zoo.h): uniform noise, a rotated gaussian
// with a decaying spectrum, hashed bag-of-words of real text on this machine, heavy
// duplicates, inner product with log-normal norms, the project's own clustered data, and
// external embedding files (.fvecs) when present.
//
// Per data set and size, through the public C++ API with default settings: Database::Open
// on a temp directory, CreateCollection with the set's space, Add in batches (each row has
// an int metadata field bucket = row % 100), Compact, then single-threaded queries with no
// search knobs, unfiltered and with `bucket < 10` (10%) and `bucket == 0` (1%). Recall@k
// is against exact ground truth by brute force in Chroma's distance for the space, counted
// tie-aware: a hit counts when its exact distance is within the k-th true distance, so
// equal-distance rows (exact duplicates) are interchangeable. hnswlib (M=16,
// ef_construction=200) runs on the same data with ef swept; the table gives its QPS at the
// smallest ef whose recall reaches fathom's default recall. Prints tables; not a test.
//
// Usage: zoo_bench [--datasets uniform_64,bow_256] [--sizes 10000,100000] [--queries 200]
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "bench_data.h"
#include "bench_util.h"
#include "fathom/db.h"
#include "hnsw_peer.h"
#include "zoo_sets.h"
#include "index/vector/data_zoo.h"
#include "index/vector/distance.h"
#include "index/vector/kmeans.h"
#include "index/vector/top_k.h"

namespace {

using fathom::bench::Check;
using fathom::bench::Clock;
using fathom::bench::Die;
using fathom::bench::Seconds;
using fathom::bench::ThreadCpuSeconds;
using fathom::bench::LoadAverage;

std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

constexpr int64_t kBuckets = 100;

// A metadata filter and the same predicate on row numbers, for the ground truth.
struct Filter {
  const char* name;
  std::optional<fathom::Where> where;
  std::function<bool(size_t row)> allowed;
};

std::vector<Filter> Filters() {
  auto field = [](fathom::CompareOp op, int64_t value) {
    fathom::Where w;
    w.kind = fathom::Where::Kind::kField;
    w.key = "bucket";
    w.op = op;
    w.operands = {fathom::Scalar{value}};
    return w;
  };
  return {{"all", std::nullopt, [](size_t) { return true; }},
          {"10%", field(fathom::CompareOp::kLt, 10), [](size_t i) { return int64_t(i % kBuckets) < 10; }},
          {"1%", field(fathom::CompareOp::kEq, 0), [](size_t i) { return i % kBuckets == 0; }}};
}
constexpr size_t kFilters = 3;

struct Config {
  size_t queries = 200;
  uint32_t k = 10;
  uint64_t seed = 1;
  int threads = 2;
  size_t batch = 5000;
  int repeat = 2;
  int filter_repeat = -1;  // timed passes of the filtered queries (-1: repeat)
  uint64_t memory_budget_mib = 0;  // DatabaseOptions::memory_budget_bytes in MiB (0 = none)
  std::vector<size_t> efs = {10, 20, 40, 80, 160, 320, 640};
  std::string dir;
  bool hnsw = true;
};

// Exact neighbours of each query, nearest first, and the distance of the k-th.
struct Truth {
  std::vector<std::vector<uint32_t>> ids;
  std::vector<float> kth;
};

struct Prepared {
  const fathom::ZooDataset* data;
  std::vector<float> base_norms, query_norms;
  float Distance(size_t q, size_t row) const {
    return fathom::SpaceDistance(data->space, data->QueryRow(q), query_norms[q], data->BaseRow(row), base_norms[row],
                                 data->dim);
  }
};

float Norm(const float* v, uint32_t dim) { return std::sqrt(fathom::DotProduct(v, v, dim)); }

Truth ExactTruth(const Prepared& p, const Filter& filter, const Config& c) {
  const fathom::ZooDataset& d = *p.data;
  Truth t;
  t.ids.resize(d.query_count);
  t.kth.resize(d.query_count, 0.0f);
  fathom::ParallelForChunks(d.query_count, 1, c.threads, [&](size_t begin, size_t end) {
    for (size_t q = begin; q < end; ++q) {
      fathom::TopK top(c.k);
      for (size_t i = 0; i < d.rows; ++i) {
        if (filter.allowed(i)) top.Push(p.Distance(q, i), static_cast<uint32_t>(i));
      }
      for (const fathom::Hit& h : top.Take()) {
        t.ids[q].push_back(h.slot);
        t.kth[q] = h.distance;
      }
    }
  });
  return t;
}

// Mean over queries of (found rows passing the filter whose exact distance is within the
// k-th true distance) / min(k, |truth|).
double TieAwareRecall(const Prepared& p, const Filter& filter, const Truth& t,
                      const std::vector<std::vector<uint32_t>>& found, uint32_t k) {
  if (t.ids.empty()) return 1.0;
  double total = 0.0;
  for (size_t q = 0; q < t.ids.size(); ++q) {
    const size_t want = std::min<size_t>(k, t.ids[q].size());
    if (want == 0) {
      total += 1.0;
      continue;
    }
    const float limit = t.kth[q] + 1e-5f * std::max(1.0f, std::fabs(t.kth[q]));
    std::vector<uint32_t> seen;
    size_t hits = 0;
    for (size_t i = 0; i < std::min<size_t>(k, found[q].size()); ++i) {
      const uint32_t row = found[q][i];
      if (row >= p.data->rows || !filter.allowed(row)) continue;
      if (std::find(seen.begin(), seen.end(), row) != seen.end()) continue;
      seen.push_back(row);
      if (p.Distance(q, row) <= limit) ++hits;
    }
    total += static_cast<double>(std::min(hits, want)) / want;
  }
  return total / t.ids.size();
}

struct FathomRun {
  double ingest_s = 0, compact_s = 0;
  fathom::VectorIndexStats stats;
  double recall[kFilters] = {};
  double qps[kFilters] = {};      // queries per CPU-second of the querying thread (best pass)
  double wall_qps[kFilters] = {};  // queries per second of wall time (best pass)
};

// Best rates over `repeat` passes of `pass()`, which answers `queries` queries on this thread.
template <typename Pass>
std::pair<double, double> BestRates(int repeat, size_t queries, Pass&& pass) {
  double cpu_best = 0, wall_best = 0;
  for (int i = 0; i < repeat; ++i) {
    const auto wall = Clock::now();
    const double cpu = ThreadCpuSeconds();
    pass();
    cpu_best = std::max(cpu_best, queries / std::max(ThreadCpuSeconds() - cpu, 1e-9));
    wall_best = std::max(wall_best, queries / Seconds(wall));
  }
  return {cpu_best, wall_best};
}

FathomRun RunFathom(const Prepared& p, const std::vector<Filter>& filters, const std::vector<Truth>& truths,
                    const std::string& dir, const Config& c) {
  const fathom::ZooDataset& d = *p.data;
  FathomRun run;
  fathom::DatabaseOptions options;
  options.path = dir;
  options.memory_budget_bytes = c.memory_budget_mib << 20;
  auto db = fathom::Database::Open(options);
  Check(db.status(), "open");
  auto col = (*db)->CreateCollection(fathom::Database::kDefaultTenant, fathom::Database::kDefaultDatabase,
                                     {.name = "zoo", .space = d.space});
  Check(col.status(), "create collection");
  auto start = Clock::now();
  for (size_t first = 0; first < d.rows; first += c.batch) {
    std::vector<fathom::WriteRecord> batch;
    for (size_t i = first; i < std::min(d.rows, first + c.batch); ++i) {
      fathom::WriteRecord r;
      r.id = std::to_string(i);
      r.embedding = std::vector<float>(d.BaseRow(i), d.BaseRow(i) + d.dim);
      r.metadata = fathom::MetadataPatch{{"bucket", fathom::MetadataValue{int64_t(i % kBuckets)}}};
      batch.push_back(std::move(r));
    }
    Check((*col)->Add(std::move(batch)), "add");
  }
  run.ingest_s = Seconds(start);
  start = Clock::now();
  // Compact until the index covers every row (a background pass may be mid-way).
  for (int pass = 0; pass < 3; ++pass) {
    Check((*col)->Compact(), "compact");
    (*db)->WaitIdle();
    auto stats = (*col)->IndexStats();
    Check(stats.status(), "index stats");
    run.stats = *stats;
    if (run.stats.pending_rows == 0) break;
  }
  run.compact_s = Seconds(start);
  for (size_t f = 0; f < filters.size(); ++f) {
    std::vector<std::vector<uint32_t>> found(d.query_count);
    const int passes = f == 0 || c.filter_repeat < 0 ? c.repeat : std::max(1, c.filter_repeat);
    std::tie(run.qps[f], run.wall_qps[f]) = BestRates(passes, d.query_count, [&] {
      for (size_t q = 0; q < d.query_count; ++q) {
        fathom::QueryRequest r;
        r.query_embeddings = {std::vector<float>(d.QueryRow(q), d.QueryRow(q) + d.dim)};
        r.n_results = c.k;
        r.where = filters[f].where;
        r.include = fathom::Include{.embeddings = false, .documents = false, .metadatas = false, .uris = false,
                                    .distances = true};
        auto res = (*col)->Query(r);
        Check(res.status(), "query");
        found[q].clear();
        for (const std::string& id : res->rows[0].ids) found[q].push_back(static_cast<uint32_t>(std::stoul(id)));
      }
    });
    run.recall[f] = TieAwareRecall(p, filters[f], truths[f], found, c.k);
  }
  auto after = (*col)->IndexStats();  // the fallbacks counted while the queries ran
  Check(after.status(), "index stats");
  run.stats.scan_copy_fallbacks = after->scan_copy_fallbacks;
  return run;
}

struct HnswRun {
  double build_s = 0;
  std::vector<std::pair<double, double>> recall_qps;  // per ef in Config::efs: recall, CPU QPS
  std::vector<double> wall_qps;                        // per ef
};

HnswRun RunHnsw(const Prepared& p, const Filter& all, const Truth& truth, const Config& c) {
  const fathom::ZooDataset& d = *p.data;
  // Cosine runs on normalised copies in hnswlib's inner-product space.
  std::vector<float> base, queries;
  const float* base_data = d.base.data();
  const float* query_data = d.queries.data();
  if (d.space == fathom::DistanceSpace::kCosine) {
    base = d.base;
    queries = d.queries;
    for (size_t i = 0; i < d.rows; ++i) {
      for (uint32_t j = 0; j < d.dim; ++j) base[i * d.dim + j] /= std::max(p.base_norms[i], 1e-30f);
    }
    for (size_t q = 0; q < d.query_count; ++q) {
      for (uint32_t j = 0; j < d.dim; ++j) queries[q * d.dim + j] /= std::max(p.query_norms[q], 1e-30f);
    }
    base_data = base.data();
    query_data = queries.data();
  }
  HnswRun run;
  auto start = Clock::now();
  bench::HnswPeer peer = bench::BuildHnsw(base_data, d.rows, d.dim,
                                          d.space == fathom::DistanceSpace::kL2 ? fathom::DistanceSpace::kL2
                                                                                : fathom::DistanceSpace::kInnerProduct,
                                          c.threads, c.seed);
  run.build_s = Seconds(start);
  for (size_t ef : c.efs) {
    peer.index->setEf(std::max<size_t>(ef, c.k));
    std::vector<std::vector<uint32_t>> found(d.query_count);
    const auto [cpu_qps, wall_qps] = BestRates(c.repeat, d.query_count, [&] {
      for (size_t q = 0; q < d.query_count; ++q) {
        found[q].clear();
        for (const auto& [distance, label] : peer.index->searchKnnCloserFirst(query_data + q * d.dim, c.k)) {
          found[q].push_back(static_cast<uint32_t>(label));
        }
      }
    });
    run.recall_qps.emplace_back(TieAwareRecall(p, all, truth, found, c.k), cpu_qps);
    run.wall_qps.push_back(wall_qps);
  }
  return run;
}

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"zoo_bench"};
  const std::vector<std::string>& all_names = fathom::bench::ZooSetNames();
  std::string datasets_flag, sizes_flag = "10000,100000", fvecs_dir = "/work/zoo-data", parent_dir, efs_flag;
  Config c;
  app.add_option("--datasets", datasets_flag, "comma-separated data set names (default: all)");
  app.add_option("--sizes", sizes_flag, "comma-separated base row counts (e.g. 10000,100000,1000000)");
  app.add_option("--queries", c.queries, "queries per data set (held out of the base rows)");
  app.add_option("--seed", c.seed, "data seed");
  app.add_option("--k", c.k, "n_results");
  app.add_option("--threads", c.threads, "threads for data generation, ground truth and the hnswlib build");
  app.add_option("--batch", c.batch, "records per Add");
  app.add_option("--memory-budget-mib", c.memory_budget_mib,
                 "DatabaseOptions::memory_budget_bytes in MiB (0 = none; 64 keeps 8 MiB of vectors hot, the rest "
                 "cold without int8 copies)");
  app.add_option("--repeat", c.repeat, "timed passes per setting (the best counts)");
  app.add_option("--filter-repeat", c.filter_repeat,
                 "timed passes of the filtered queries (default: --repeat; 1 with a large --repeat profiles the "
                 "unfiltered path)");
  app.add_option("--ef", efs_flag, "hnswlib ef values (comma-separated; default 10,20,40,80,160,320,640)");
  app.add_option("--fvecs-dir", fvecs_dir, "directory of <name>.fvecs embedding files (doc_384, man_384)");
  app.add_option("--dir", parent_dir, "where to make the temp data directory (default /tmp); removed after");
  app.add_flag("!--no-hnsw", c.hnsw, "skip hnswlib (fathom's recall and QPS only)");
  CLI11_PARSE(app, argc, argv);
  if (!c.hnsw) c.efs.clear();
  std::vector<std::string> names = datasets_flag.empty() ? all_names : SplitList(datasets_flag);
  for (const std::string& n : names) {
    if (std::find(all_names.begin(), all_names.end(), n) == all_names.end()) Die("unknown data set " + n);
  }
  std::vector<size_t> sizes;
  for (const std::string& s : SplitList(sizes_flag)) sizes.push_back(std::stoull(s));
  if (!efs_flag.empty()) {
    c.efs.clear();
    for (const std::string& s : SplitList(efs_flag)) c.efs.push_back(std::stoull(s));
  }

  if (parent_dir.empty()) parent_dir = "/tmp";
  std::filesystem::create_directories(parent_dir);
  std::string tmpl_text = parent_dir + "/zoo_bench.XXXXXX";
  std::vector<char> tmpl(tmpl_text.begin(), tmpl_text.end());
  tmpl.push_back('\0');
  if (mkdtemp(tmpl.data()) == nullptr) Die("mkdtemp failed in " + parent_dir);
  c.dir = tmpl.data();

  std::printf("# zoo_bench: seed=%llu queries=%zu k=%u sizes=%s datasets=%s\n",
              static_cast<unsigned long long>(c.seed), c.queries, c.k, sizes_flag.c_str(),
              datasets_flag.empty() ? "all" : datasets_flag.c_str());
  std::printf("# fathom: default DatabaseOptions and search settings; Add in batches of %zu, Compact, then "
              "1-thread queries returning ids + distances; QPS = queries per CPU-second of the querying thread (both "
              "engines), best of %d passes\n",
              c.batch, c.repeat);
  std::printf("# recall@%u tie-aware vs brute force; filters: bucket < 10 (10%%), bucket == 0 (1%%), bucket = row %% "
              "100\n",
              c.k);
  std::printf("# hnswlib: M=16 ef_construction=200, %d build threads, 1-thread queries, unfiltered\n", c.threads);
  std::printf("# memory budget %llu MiB (0 = none)\n", static_cast<unsigned long long>(c.memory_budget_mib));
  std::printf("# %u cores; load average at the start %.2f\n", std::thread::hardware_concurrency(), LoadAverage());
  std::fflush(stdout);

  std::optional<fathom::TextCorpus> corpus;
  const auto filters = Filters();
  std::vector<std::string> table, skipped;
  const auto total_start = Clock::now();

  for (const std::string& name : names) {
    std::string why;
    const std::optional<fathom::bench::ZooMaker> make = fathom::bench::ZooSet(name, fvecs_dir, &corpus, &why);
    if (!make) {
      std::printf("\n## %s: skipped, %s\n", name.c_str(), why.c_str());
      skipped.push_back(name + " (" + why + ")");
      continue;
    }
    size_t last_rows = 0;
    for (size_t size : sizes) {
      auto start = Clock::now();
      auto made = (*make)({.rows = size, .queries = c.queries, .seed = c.seed, .threads = c.threads});
      Check(made.status(), name.c_str());
      const fathom::ZooDataset& d = *made;
      if (d.rows == last_rows) {
        std::printf("\n## %s at %zu: skipped, the source has only %zu rows (already measured)\n", name.c_str(), size,
                    d.rows);
        continue;
      }
      last_rows = d.rows;
      Prepared p{&d, std::vector<float>(d.rows), std::vector<float>(d.query_count)};
      for (size_t i = 0; i < d.rows; ++i) p.base_norms[i] = Norm(d.BaseRow(i), d.dim);
      for (size_t q = 0; q < d.query_count; ++q) p.query_norms[q] = Norm(d.QueryRow(q), d.dim);
      std::vector<Truth> truths;
      for (const Filter& f : filters) truths.push_back(ExactTruth(p, f, c));
      std::printf("\n## %s (%s, %u-d) rows=%zu queries=%zu: %s\n", d.name.c_str(),
                  fathom::DistanceSpaceName(d.space), d.dim, d.rows, d.query_count, d.note.c_str());
      std::printf("# data + ground truth %.1f s; load average %.2f\n", Seconds(start), LoadAverage());
      std::fflush(stdout);

      const std::string run_dir = c.dir + "/" + name + "_" + std::to_string(d.rows);
      FathomRun f = RunFathom(p, filters, truths, run_dir, c);
      std::filesystem::remove_all(run_dir);
      std::printf("# fathom: ingest %.1f s, compact %.1f s; index active=%d indexed=%llu pending=%llu clusters=%u "
                  "default_probes=%u rerank=x%u calibrated_recall=%.4f; vectors hot=%llu cold=%llu (int8 copies: %s); "
                  "int8 scan rows=%llu fallbacks=%llu\n",
                  f.ingest_s, f.compact_s, f.stats.active ? 1 : 0,
                  static_cast<unsigned long long>(f.stats.indexed_rows),
                  static_cast<unsigned long long>(f.stats.pending_rows), f.stats.clusters, f.stats.default_probes,
                  f.stats.default_rerank_factor, f.stats.calibrated_recall,
                  static_cast<unsigned long long>(f.stats.hot_vectors),
                  static_cast<unsigned long long>(f.stats.cold_vectors), f.stats.cold_vector_copies ? "yes" : "no",
                  static_cast<unsigned long long>(f.stats.scan_copy_rows),
                  static_cast<unsigned long long>(f.stats.scan_copy_fallbacks));
      for (size_t i = 0; i < kFilters; ++i) {
        std::printf("# fathom %-4s recall@%u %.4f  QPS %.0f per CPU-second, %.0f wall\n", filters[i].name, c.k,
                    f.recall[i], f.qps[i], f.wall_qps[i]);
      }
      std::fflush(stdout);

      HnswRun h = c.hnsw ? RunHnsw(p, filters[0], truths[0], c) : HnswRun{};
      std::printf("# hnswlib build %.1f s; ef:recall/QPS per CPU-second/QPS wall", h.build_s);
      size_t match = h.recall_qps.size();
      for (size_t i = 0; i < c.efs.size(); ++i) {
        std::printf(" %zu:%.4f/%.0f/%.0f", c.efs[i], h.recall_qps[i].first, h.recall_qps[i].second, h.wall_qps[i]);
        if (match == h.recall_qps.size() && h.recall_qps[i].first >= f.recall[0] - 1e-9) match = i;
      }
      std::printf("\n");
      std::fflush(stdout);

      std::string ef = "n/a", hnsw_qps = "n/a", ratio = "n/a";
      if (match < h.recall_qps.size()) {
        ef = std::to_string(c.efs[match]) + " (" + Fixed(h.recall_qps[match].first, 3) + ")";
        hnsw_qps = Fixed(h.recall_qps[match].second, 0);
        ratio = Fixed(f.qps[0] / h.recall_qps[match].second, 2);
      }
      table.push_back("| " + d.name + " | " + fathom::DistanceSpaceName(d.space) + " | " + std::to_string(d.dim) +
                      " | " + std::to_string(d.rows) + " | " + Fixed(f.recall[0], 3) + " / " + Fixed(f.recall[1], 3) +
                      " / " + Fixed(f.recall[2], 3) + " | " + Fixed(f.qps[0], 0) + " | " + Fixed(f.qps[1], 0) + " / " +
                      Fixed(f.qps[2], 0) + " | " + std::to_string(f.stats.clusters) + " / " +
                      std::to_string(f.stats.default_probes) + " | " + ef + " | " + hnsw_qps + " | " + ratio + " | " +
                      Fixed(f.ingest_s + f.compact_s, 1) + " / " + Fixed(h.build_s, 1) + " |");
    }
  }
  std::filesystem::remove_all(c.dir);

  std::printf("\n## Summary (seed %llu, %zu queries, recall@%u tie-aware; ratio = fathom QPS / hnswlib QPS at the "
              "same recall; QPS per CPU-second of the querying thread)\n\n",
              static_cast<unsigned long long>(c.seed), c.queries, c.k);
  std::printf("| dataset | space | dim | rows | fathom recall (all / 10%% / 1%%) | fathom QPS all | fathom QPS 10%% / "
              "1%% | clusters / default probes | hnswlib ef @ same recall (its recall) | hnswlib QPS | ratio | fathom "
              "ingest+compact s / hnswlib build s |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const std::string& row : table) std::printf("%s\n", row.c_str());
  for (const std::string& s : skipped) std::printf("\nskipped: %s\n", s.c_str());
  std::printf("\n# total %.0f s; load average at the end %.2f\n", Seconds(total_start), LoadAverage());
  return 0;
}
