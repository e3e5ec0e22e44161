// engine_bench: the embedded engine on a local directory, measured beside peers in the
// same run (machines here are shared and noisy, so ratios are what to read):
//   ingest  fathom Collection::Add (durable WAL group commits)  vs  SQLite (WAL mode,
//           synchronous=FULL, one transaction per batch: what Chroma's local server does)
//   query   fathom exact scan (runtime-dispatched SIMD)          vs  hnswlib BruteforceSearch
//   reopen  fathom Database::Open + first read, after compaction and with a WAL tail
// Usage: engine_bench [--n 100000] [--dim 128] [--batch 1000] [--queries 200] [--k 10]
//                     [--writers 1] [--dir PATH]
#include <hnswlib/hnswlib.h>
#include <sqlite3.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>
#include <filesystem>
#include <random>
#include <thread>

#include "bench_util.h"
#include "fathom/db.h"
#include "index/vector/distance.h"

namespace {

using Clock = std::chrono::steady_clock;
using fathom::bench::Percentile;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

struct Data {
  size_t n, dim;
  std::vector<float> vectors;
  std::vector<float> queries;
};

Data MakeData(size_t n, size_t dim, size_t queries, uint64_t seed) {
  // Clustered data: 100 gaussian blobs, so nearest neighbours are meaningful.
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> centers(100 * dim);
  for (float& c : centers) c = normal(rng) * 4;
  Data d{n, dim, std::vector<float>(n * dim), std::vector<float>(queries * dim)};
  auto fill = [&](float* out) {
    size_t c = rng() % 100;
    for (size_t j = 0; j < dim; ++j) out[j] = centers[c * dim + j] + normal(rng);
  };
  for (size_t i = 0; i < n; ++i) fill(&d.vectors[i * dim]);
  for (size_t i = 0; i < queries; ++i) fill(&d.queries[i * dim]);
  return d;
}

void Die(const fathom::Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
}

double FathomIngest(fathom::Collection& col, const Data& d, size_t batch, size_t writers) {
  auto start = Clock::now();
  std::vector<std::thread> threads;
  for (size_t w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      for (size_t b = w * batch; b < d.n; b += batch * writers) {
        std::vector<fathom::WriteRecord> records;
        for (size_t i = b; i < std::min(d.n, b + batch); ++i) {
          fathom::WriteRecord r;
          r.id = "id" + std::to_string(i);
          r.embedding = std::vector<float>(&d.vectors[i * d.dim], &d.vectors[(i + 1) * d.dim]);
          r.document = "document number " + std::to_string(i);
          r.metadata = fathom::MetadataPatch{{"i", fathom::MetadataValue(static_cast<int64_t>(i))}};
          records.push_back(std::move(r));
        }
        Die(col.Add(std::move(records)), "add");
      }
    });
  }
  for (auto& t : threads) t.join();
  return d.n / Seconds(start);
}

double SqliteIngest(const std::string& path, const Data& d, size_t batch) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) return 0;
  sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", nullptr, nullptr, nullptr);
  sqlite3_exec(db,
               "CREATE TABLE r (id TEXT PRIMARY KEY, embedding BLOB, document TEXT, i INTEGER);"
               "CREATE INDEX ri ON r(i);",
               nullptr, nullptr, nullptr);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO r VALUES (?, ?, ?, ?)", -1, &stmt, nullptr);
  auto start = Clock::now();
  for (size_t b = 0; b < d.n; b += batch) {
    sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    for (size_t i = b; i < std::min(d.n, b + batch); ++i) {
      std::string id = "id" + std::to_string(i), doc = "document number " + std::to_string(i);
      sqlite3_bind_text(stmt, 1, id.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_blob(stmt, 2, &d.vectors[i * d.dim], static_cast<int>(d.dim * 4), SQLITE_TRANSIENT);
      sqlite3_bind_text(stmt, 3, doc.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64(stmt, 4, static_cast<int64_t>(i));
      sqlite3_step(stmt);
      sqlite3_reset(stmt);
    }
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  }
  double rate = d.n / Seconds(start);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return rate;
}

struct Latency {
  double qps, p50_ms, p99_ms;
};

template <typename Fn>
Latency Measure(size_t queries, Fn&& run_one) {
  std::vector<double> ms;
  auto start = Clock::now();
  for (size_t q = 0; q < queries; ++q) {
    auto t = Clock::now();
    run_one(q);
    ms.push_back(Seconds(t) * 1000);
  }
  return {queries / Seconds(start), Percentile(ms, 0.5), Percentile(ms, 0.99)};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fathom engine benchmark"};
  size_t n = 100000, dim = 128, batch = 1000, queries = 200, k = 10, writers = 1;
  std::string dir;
  app.add_option("--n", n, "records");
  app.add_option("--dim", dim, "dimension");
  app.add_option("--batch", batch, "records per add");
  app.add_option("--queries", queries, "queries to time");
  app.add_option("--k", k, "n_results");
  app.add_option("--writers", writers, "concurrent writer threads");
  app.add_option("--dir", dir, "working directory (default: a new temp dir, removed after)");
  CLI11_PARSE(app, argc, argv);
  bool own_dir = dir.empty();
  if (own_dir) dir = std::filesystem::temp_directory_path() / ("fathom-bench-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);

  std::printf("engine_bench: n=%zu dim=%zu batch=%zu writers=%zu queries=%zu k=%zu simd=%s dir=%s\n", n, dim, batch,
              writers, queries, k, fathom::SimdLevelName(fathom::ActiveSimdLevel()), dir.c_str());
  Data d = MakeData(n, dim, queries, 42);

  // ---- ingest ----
  double fathom_rate, sqlite_rate;
  std::string collection_id;
  {
    auto db = fathom::Database::Open({.path = dir + "/fathom"});
    Die(db.status(), "open");
    auto col = (*db)->CreateCollection("default_tenant", "default_database", {.name = "bench"});
    Die(col.status(), "create");
    fathom_rate = FathomIngest(**col, d, batch, writers);
    collection_id = (*col)->id();
    (*db)->WaitIdle();
  }
  sqlite_rate = SqliteIngest(dir + "/peer.sqlite3", d, batch);

  // ---- reopen (after background compaction) ----
  // No vector index on this open: the query phase measures the exact-scan path against
  // hnswlib's brute force (vector_bench and http_load measure the index).
  auto start = Clock::now();
  auto db = fathom::Database::Open(
      {.path = dir + "/fathom", .vector_index_min_rows = std::numeric_limits<uint64_t>::max()});
  Die(db.status(), "reopen");
  auto col = (*db)->GetCollection("default_tenant", "default_database", "bench");
  Die(col.status(), "get");
  double reopen_s = Seconds(start);
  uint64_t count = *(*col)->Count();

  // ---- exact query ----
  fathom::QueryRequest request;
  request.n_results = static_cast<uint32_t>(k);
  request.include = fathom::Include{.documents = false, .metadatas = false, .distances = true};
  request.query_embeddings.resize(1);
  Latency fathom_q = Measure(queries, [&](size_t q) {
    request.query_embeddings[0].assign(&d.queries[q * dim], &d.queries[(q + 1) * dim]);
    auto r = (*col)->Query(request);
    Die(r.status(), "query");
  });
  hnswlib::L2Space space(dim);
  hnswlib::BruteforceSearch<float> brute(&space, n);
  for (size_t i = 0; i < n; ++i) brute.addPoint(&d.vectors[i * dim], i);
  Latency peer_q = Measure(queries, [&](size_t q) { (void)brute.searchKnn(&d.queries[q * dim], k); });

  // Check the answers agree with the peer on a few queries.
  size_t agree = 0, total = 0;
  for (size_t q = 0; q < std::min<size_t>(queries, 20); ++q) {
    request.query_embeddings[0].assign(&d.queries[q * dim], &d.queries[(q + 1) * dim]);
    auto ours = (*col)->Query(request);
    auto theirs = brute.searchKnn(&d.queries[q * dim], k);
    std::vector<std::string> want;
    while (!theirs.empty()) {
      want.push_back("id" + std::to_string(theirs.top().second));
      theirs.pop();
    }
    for (const auto& id : ours->rows[0].ids) {
      agree += std::find(want.begin(), want.end(), id) != want.end();
      ++total;
    }
  }

  // ---- reopen with a WAL tail (no compaction) ----
  col->reset();
  db->reset();
  double tail_reopen_s;
  {
    auto tail_db = fathom::Database::Open({.path = dir + "/tail", .background_compaction = false});
    auto tail_col = (*tail_db)->CreateCollection("default_tenant", "default_database", {.name = "bench"});
    FathomIngest(**tail_col, d, batch, 1);
  }
  start = Clock::now();
  {
    auto tail_db = fathom::Database::Open({.path = dir + "/tail"});
    auto tail_col = (*tail_db)->GetCollection("default_tenant", "default_database", "bench");
    Die(tail_col.status(), "tail reopen");
    tail_reopen_s = Seconds(start);
  }

  std::printf("\n%-34s %14s %14s %8s\n", "metric", "fathom", "peer", "ratio");
  std::printf("%-34s %14.0f %14.0f %7.2fx  (peer: SQLite WAL, synchronous=FULL)\n", "ingest records/s (durable)",
              fathom_rate, sqlite_rate, fathom_rate / sqlite_rate);
  std::printf("%-34s %14.1f %14.1f %7.2fx  (peer: hnswlib BruteforceSearch)\n", "exact query/s (1 thread)",
              fathom_q.qps, peer_q.qps, fathom_q.qps / peer_q.qps);
  std::printf("%-34s %14.2f %14.2f\n", "exact query p50 ms", fathom_q.p50_ms, peer_q.p50_ms);
  std::printf("%-34s %14.2f %14.2f\n", "exact query p99 ms", fathom_q.p99_ms, peer_q.p99_ms);
  std::printf("%-34s %14.3f\n", "reopen s (compacted segments)", reopen_s);
  std::printf("%-34s %14.3f\n", "reopen s (all in WAL, no segment)", tail_reopen_s);
  std::printf("%-34s %14llu\n", "records after reopen", static_cast<unsigned long long>(count));
  std::printf("%-34s %13.1f%%\n", "top-k agreement with peer", total ? 100.0 * agree / total : 0.0);
  if (own_dir) std::filesystem::remove_all(dir);
  return count == n ? 0 : 1;
}
