// memory_bench: the resident memory of a node serving one large collection, with and
// without a memory budget (DatabaseOptions::memory_budget_bytes, docs/design/
// memory-budget.md), in one run.
//
// The parent process generates the bench data (bench_data.h), ingests it into a local
// directory through Collection::Add, compacts (the index is built, the indexed vectors
// spilled to cold parts), writes the queries and their exact top k to files, then starts
// a fresh process (fork + exec of this program, so nothing of the parent's memory is
// counted) per setting. Each serving process opens the directory, opens the collection,
// and reports VmRSS / VmHWM (/proc/self/status) before the open, after it, and after
// the queries; resident bytes per row; recall@k against the exact answers; and queries/s
// of a first pass (the block cache empty) and of a second one (warm). The collection's
// own figures (IndexStats: index and vector-column RAM) are printed beside them.
//
// Usage: memory_bench --preset 200k768 --budget-mib 512 [--dir DIR (kept: a second run
// reuses the built collection)] [--s3-prefix P --latency-ms 50: the collection lives in
// the bucket of scripts/with-s3.sh under prefix P instead of DIR, and every store request
// of the serving processes waits that long first (FaultStore), modelling S3 in a region;
// DIR then holds only the queries and their answers]. Prints a table; not a test.
#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "bench_data.h"
#include "bench_util.h"
#include "fathom/db.h"
#include "index/vector/synthetic_data.h"
#include "io/fault_store.h"
#include "s3_bench_store.h"

namespace {

using fathom::bench::Check;
using fathom::bench::Clock;
using fathom::bench::Die;
using fathom::bench::Mib;
using fathom::bench::Seconds;

constexpr char kCollection[] = "bench";

// Where the collection lives: the directory, or (with an S3 prefix) the bucket of
// scripts/with-s3.sh behind an injected per-request latency.
struct Where {
  std::string dir;
  std::string s3_prefix;  // empty: the directory
  double latency_ms = 0;
  fathom::DatabaseOptions Options(uint64_t budget_mib) const {
    fathom::DatabaseOptions options;
    options.memory_budget_bytes = budget_mib << 20;
    if (s3_prefix.empty()) {
      options.path = dir;
      return options;
    }
    fathom::FaultOptions fault;
    fault.latency = std::chrono::microseconds(static_cast<int64_t>(latency_ms * 1000));
    options.store = std::make_shared<fathom::FaultStore>(fathom::bench::OpenBucket(s3_prefix), fault);
    return options;
  }
};

// VmRSS and VmHWM of this process, bytes.
struct Resident {
  size_t rss = 0;
  size_t hwm = 0;
};
Resident ReadResident() {
  std::ifstream status("/proc/self/status");
  std::string line;
  Resident r;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) r.rss = std::stoull(line.substr(6)) * 1024;
    if (line.rfind("VmHWM:", 0) == 0) r.hwm = std::stoull(line.substr(6)) * 1024;
  }
  return r;
}

void WriteFile(const std::string& path, const void* data, size_t bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
  if (!out) Die("cannot write " + path);
}
std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Die("cannot read " + path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Ingests `data` into `dir` (background compaction off: one index build at Compact) with
// `budget_mib`, so spills follow the budget's rule.
void Build(Where where, const fathom::SyntheticData& data, uint64_t budget_mib, size_t batch_rows) {
  const uint32_t dim = data.base.dim;
  auto start = Clock::now();
  where.latency_ms = 0;  // the build is not what is measured
  fathom::DatabaseOptions options = where.Options(budget_mib);
  options.background_compaction = false;
  auto db = fathom::Database::Open(options);
  Check(db.status(), "open");
  auto col = (*db)->CreateCollection(fathom::Database::kDefaultTenant, fathom::Database::kDefaultDatabase,
                                     {.name = kCollection});
  Check(col.status(), "create");
  fathom::bench::AddRowsInBatches(**col, data.base, dim, batch_rows);
  const double ingest_s = Seconds(start);
  start = Clock::now();
  Check((*col)->Compact(), "compact");
  auto stats = (*col)->IndexStats();
  Check(stats.status(), "stats");
  std::printf("# built: ingest %.1f s, compact %.1f s: %u clusters, default probes %u, rerank x%u, %llu hot / "
              "%llu cold vectors in %u parts\n",
              ingest_s, Seconds(start), stats->clusters, stats->default_probes, stats->default_rerank_factor,
              static_cast<unsigned long long>(stats->hot_vectors), static_cast<unsigned long long>(stats->cold_vectors),
              stats->cold_parts);
}

// One serving process: open `dir` with `budget_mib` (0: none), query, print one row.
int Serve(const Where& where, uint64_t budget_mib, uint32_t k, size_t rows) {
  const std::string& dir = where.dir;
  const std::string queries_bytes = ReadFile(dir + "/queries.f32");
  const std::string truth_bytes = ReadFile(dir + "/truth.u32");
  const size_t dim_queries = queries_bytes.size() / sizeof(float);
  const size_t queries = truth_bytes.size() / (sizeof(uint32_t) * k);
  if (queries == 0) Die("no queries");
  const size_t dim = dim_queries / queries;
  const float* query_rows = reinterpret_cast<const float*>(queries_bytes.data());
  const uint32_t* truth_ids = reinterpret_cast<const uint32_t*>(truth_bytes.data());
  std::vector<std::vector<uint32_t>> truth(queries);
  for (size_t q = 0; q < queries; ++q) truth[q].assign(truth_ids + q * k, truth_ids + (q + 1) * k);

  const Resident before = ReadResident();
  auto start = Clock::now();
  auto db = fathom::Database::Open(where.Options(budget_mib));
  Check(db.status(), "open");
  auto col = (*db)->GetCollection(fathom::Database::kDefaultTenant, fathom::Database::kDefaultDatabase, kCollection);
  Check(col.status(), "get collection");
  auto stats = (*col)->IndexStats();  // opens (recovers) the collection
  Check(stats.status(), "stats");
  const double open_s = Seconds(start);
  const Resident opened = ReadResident();
  // What the open freed but the allocator kept (scan batches, the vector index object's
  // bytes, the load's lookup tables): handed back, so the serving figure is what the node
  // holds.
  malloc_trim(0);
  const Resident trimmed = ReadResident();

  auto query = [&](const float* v) {
    fathom::QueryRequest r;
    r.query_embeddings = {std::vector<float>(v, v + dim)};
    r.n_results = k;
    r.include = fathom::Include{.embeddings = false, .documents = false, .metadatas = false, .uris = false,
                                .distances = true};
    auto res = (*col)->Query(r);
    Check(res.status(), "query");
    return std::move(res->rows[0].ids);
  };
  double qps[2] = {0, 0};
  double recall = 0;
  for (int pass = 0; pass < 2; ++pass) {
    std::vector<std::vector<uint32_t>> found(queries);
    auto t = Clock::now();
    for (size_t q = 0; q < queries; ++q) {
      for (const std::string& hit : query(query_rows + q * dim)) found[q].push_back(static_cast<uint32_t>(std::stoul(hit)));
    }
    qps[pass] = queries / Seconds(t);
    recall = fathom::RecallAtK(truth, found, k);
  }
  const Resident served = ReadResident();
  stats = (*col)->IndexStats();
  Check(stats.status(), "stats");
  const double per_row = (double(served.rss) - double(before.rss)) / double(rows);
  std::printf("%-9s %7.1f %9.0f %9.0f %9.0f %9.0f %9.0f %9.0f %8.1f %8.4f %8.0f %8.0f %8.1f %8.1f %s\n",
              budget_mib ? std::to_string(budget_mib).c_str() : "none", open_s, Mib(double(before.rss)),
              Mib(double(opened.rss)), Mib(double(opened.hwm)), Mib(double(trimmed.rss)), Mib(double(served.rss)),
              Mib(double(served.hwm)),
              per_row, recall, qps[0], qps[1], Mib(double(stats->index_memory_bytes)),
              Mib(double(stats->vector_memory_bytes)), stats->over_memory_budget ? "over" : "");
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"memory_bench"};
  std::string preset, dir, phase = "all";
  size_t rows = 200000, queries = 1000, batch_rows = 5000;
  uint32_t dim = 768, k = 10;
  uint64_t seed = 1, budget_mib = 512, serve_budget_mib = 0;
  int threads = 2;
  Where where;
  fathom::SyntheticOptions data_options = bench::BenchDataOptions();
  bench::AddDataOptions(app, &data_options);
  app.add_option("--preset", preset, "1m128 | 200k768");
  app.add_option("--n", rows, "records");
  app.add_option("--dim", dim, "dimension");
  app.add_option("--queries", queries, "queries (exact ground truth by brute force)");
  app.add_option("--k", k, "n_results");
  app.add_option("--batch", batch_rows, "records per Add");
  app.add_option("--budget-mib", budget_mib, "the memory budget measured against no budget, MiB");
  app.add_option("--seed", seed, "data seed");
  app.add_option("--threads", threads, "threads for data generation and ground truth");
  app.add_option("--dir", dir, "working directory (kept; reused when it holds a built collection)");
  app.add_option("--s3-prefix", where.s3_prefix, "keep the collection in the bucket of scripts/with-s3.sh, here");
  app.add_option("--latency-ms", where.latency_ms, "with --s3-prefix: injected latency per store request, ms");
  app.add_option("--phase", phase, "all (default) | serve (internal: one serving process)");
  app.add_option("--serve-budget-mib", serve_budget_mib, "internal: the serving process's budget (0 = none)");
  CLI11_PARSE(app, argc, argv);
  if (!bench::ApplyPreset(preset, &rows, &dim)) Die("unknown preset " + preset);
  where.dir = dir;
  if (phase == "serve") return Serve(where, serve_budget_mib, k, rows);
  if (dir.empty()) {
    char tmpl[] = "/tmp/memory_bench.XXXXXX";
    if (mkdtemp(tmpl) == nullptr) Die("mkdtemp failed");
    dir = tmpl;
  }
  where.dir = dir;
  std::printf("# memory_bench: n=%zu dim=%u queries=%zu k=%u l2 seed=%llu budget %llu MiB dir %s store %s latency %.0f "
              "ms; load %s\n",
              rows, dim, queries, k, static_cast<unsigned long long>(seed), static_cast<unsigned long long>(budget_mib),
              dir.c_str(), where.s3_prefix.empty() ? "local" : ("s3 " + where.s3_prefix).c_str(), where.latency_ms,
              fathom::bench::LoadAverages().c_str());
  if (!std::filesystem::exists(dir + "/truth.u32")) {
    data_options.rows = rows;
    data_options.queries = queries;
    data_options.dim = dim;
    data_options.seed = seed;
    data_options.threads = threads;
    bench::PrintDataOptions(data_options);
    auto start = Clock::now();
    auto generated = fathom::GenerateSynthetic(data_options);
    Check(generated.status(), "generate");
    const auto truth = fathom::ExactTopK(generated->base, generated->queries, k, fathom::DistanceSpace::kL2, nullptr,
                                         threads);
    std::printf("# data + exact ground truth in %.1f s\n", Seconds(start));
    std::fflush(stdout);
    std::filesystem::create_directories(dir);
    Build(where, *generated, budget_mib, batch_rows);
    WriteFile(dir + "/queries.f32", generated->queries.values.data(), generated->queries.values.size() * sizeof(float));
    std::vector<uint32_t> flat;
    for (const auto& ids : truth) {
      if (ids.size() != k) Die("ground truth shorter than k");
      flat.insert(flat.end(), ids.begin(), ids.end());
    }
    WriteFile(dir + "/truth.u32", flat.data(), flat.size() * sizeof(uint32_t));
  } else {
    std::printf("# reusing the collection built in %s\n", dir.c_str());
  }
  std::printf("# one fresh process per row; MiB; RSS before open (the program), after open, the open's peak (VmHWM "
              "then), RSS after malloc_trim, after 2 x %zu queries; HWM = the process's peak; B/row = (RSS after queries - before open) / rows; QPS of the first "
              "(cold cache) and second pass; index and vector RAM from IndexStats\n",
              queries);
  std::printf("%-9s %7s %9s %9s %9s %9s %9s %9s %8s %8s %8s %8s %8s %8s\n", "budget", "open s", "RSS0", "RSS open",
              "HWM open", "RSS trim", "RSS q", "HWM", "B/row", "recall", "QPS 1st", "QPS 2nd", "index", "vectors");
  std::fflush(stdout);
  for (uint64_t budget : {budget_mib, uint64_t{0}}) {
    pid_t pid = fork();
    if (pid < 0) Die("fork failed");
    if (pid == 0) {
      const std::string budget_text = std::to_string(budget);
      const std::string rows_text = std::to_string(rows);
      const std::string k_text = std::to_string(k);
      const std::string latency_text = std::to_string(where.latency_ms);
      const std::string prefix_text = where.s3_prefix.empty() ? "" : where.s3_prefix;
      if (prefix_text.empty()) {
        execl("/proc/self/exe", "memory_bench", "--phase", "serve", "--dir", dir.c_str(), "--serve-budget-mib",
              budget_text.c_str(), "--n", rows_text.c_str(), "--k", k_text.c_str(), static_cast<char*>(nullptr));
      } else {
        execl("/proc/self/exe", "memory_bench", "--phase", "serve", "--dir", dir.c_str(), "--serve-budget-mib",
              budget_text.c_str(), "--n", rows_text.c_str(), "--k", k_text.c_str(), "--s3-prefix",
              prefix_text.c_str(), "--latency-ms", latency_text.c_str(), static_cast<char*>(nullptr));
      }
      _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) Die("a serving process failed");
  }
  std::printf("# load after: %s\n", fathom::bench::LoadAverages().c_str());
  return 0;
}
