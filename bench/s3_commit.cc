// s3_commit: what writes and strong reads cost on an s3:// store (issue 15's commit bar
// and the cost model in docs/design/object-storage.md, "What a request costs").
//
// For each injected per-request latency (FaultStore, modelling S3 in a region) and each
// sharing mode (one node, or a store other nodes may write to):
//   1. commit latency: one-record adds, one after another, each followed by a raw
//      create-only PUT of as many bytes as the add's WAL object, on the same store
//      stack: p50/p99 of both and their ratio (the bar: commit ≤ 1.3x a raw PUT);
//   2. ingest with group commit: W writer threads adding one record at a time: writes/s,
//      WAL objects (PUTs) per 1k writes, commit p50/p99;
//   3. store requests per 1k writes and per 1k searches ($knn, k = 10) at the default read
//      level and at index_only, by request type, and what they cost at S3 Standard's
//      request prices.
// Settings from the environment as the tests' (FATHOM_S3_ENDPOINT, AWS_*,
// FATHOM_S3_BUCKET; `scripts/with-s3.sh` provides them). Prints tables; not a test.
//   s3_commit [--dim 384] [--writes 200] [--writers 1,8,32] [--writer-writes 40]
//             [--queries 200] [--latency-ms 0,50]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "bench_data.h"
#include "bench_util.h"
#include "common/random.h"
#include "fathom/db.h"
#include "fathom/search.h"
#include "io/fault_store.h"
#include "s3_bench_store.h"

namespace {

using fathom::bench::Check;
using fathom::bench::Clock;
using fathom::bench::CountingStore;
using fathom::bench::Seconds;
using fathom::bench::StoreRequests;

// S3 Standard request prices (us-east-1, per 1,000 requests, as published in 2026):
// PUT/COPY/POST/LIST $0.005; GET/HEAD and the rest $0.0004. DELETE is free.
constexpr double kPutListPer1k = 0.005;
constexpr double kGetHeadPer1k = 0.0004;

double Dollars(const StoreRequests& r) {
  return (static_cast<double>(r.puts + r.lists) * kPutListPer1k + static_cast<double>(r.gets + r.heads) * kGetHeadPer1k) /
         1000.0;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

fathom::WriteRecord Record(const std::string& id, const float* v, uint32_t dim) {
  fathom::WriteRecord r;
  r.id = id;
  r.embedding = std::vector<float>(v, v + dim);
  r.document = "record " + id + " of the s3_commit benchmark";
  r.metadata = fathom::MetadataPatch{{"n", fathom::MetadataValue(static_cast<int64_t>(id.size()))}};
  return r;
}

struct Node {
  std::shared_ptr<CountingStore> counting;
  std::shared_ptr<fathom::ObjectStore> store;  // what the engine writes through
  std::unique_ptr<fathom::Database> db;
  std::shared_ptr<fathom::Collection> col;
};

Node OpenNode(const std::string& prefix, double latency_ms, fathom::DatabaseOptions::Sharing sharing) {
  Node n;
  n.counting = std::make_shared<CountingStore>(fathom::bench::OpenBucket(prefix));
  fathom::FaultOptions fault;
  fault.latency = std::chrono::microseconds(static_cast<int64_t>(latency_ms * 1000));
  n.store = std::make_shared<fathom::FaultStore>(n.counting, fault);
  fathom::DatabaseOptions options;
  options.store = n.store;
  options.background_compaction = false;
  options.sharing = sharing;
  auto db = fathom::Database::Open(options);
  Check(db.status(), "open");
  n.db = std::move(*db);
  auto col = n.db->CreateCollection(fathom::Database::kDefaultTenant, fathom::Database::kDefaultDatabase,
                                    {.name = "bench", .get_or_create = true});
  Check(col.status(), "create");
  n.col = *col;
  return n;
}

void PrintRequests(const char* what, const StoreRequests& r, double per) {
  const double scale = 1000.0 / per;
  std::printf("  %-26s %8.0f %8.0f %8.0f %8.0f %10.4f\n", what, static_cast<double>(r.puts) * scale,
              static_cast<double>(r.gets) * scale, static_cast<double>(r.heads) * scale,
              static_cast<double>(r.lists) * scale, Dollars(r) * scale);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"s3_commit: commit latency vs a raw PUT, group-commit ingest, requests per 1k writes and queries"};
  uint32_t dim = 384;
  size_t writes = 200, writer_writes = 40, queries = 200;
  std::string writers_text = "1,8,32";
  std::string latencies_text = "0,50";
  app.add_option("--dim", dim)->capture_default_str();
  app.add_option("--writes", writes, "Sequential one-record adds (and as many raw PUTs) per mode")
      ->capture_default_str();
  app.add_option("--writers", writers_text, "Concurrent writer threads for the ingest table (list)")
      ->capture_default_str();
  app.add_option("--writer-writes", writer_writes, "Adds per writer thread")->capture_default_str();
  app.add_option("--queries", queries, "Queries per read level")->capture_default_str();
  app.add_option("--latency-ms", latencies_text, "Injected latency per store request, ms (list)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  const std::vector<double> writer_counts = fathom::bench::ParseDoubles(writers_text);
  size_t rows_needed = writes + 16;
  for (double w : writer_counts) rows_needed += static_cast<size_t>(w) * writer_writes;
  fathom::SyntheticOptions data_options = bench::BenchDataOptions();
  data_options.rows = rows_needed;
  data_options.dim = dim;
  data_options.queries = std::max<size_t>(queries, 1);
  auto data = fathom::GenerateSynthetic(data_options);
  Check(data.status(), "generate");
  std::printf("# s3_commit: dim %u, load %s\n", dim, fathom::bench::LoadAverages().c_str());

  using Sharing = fathom::DatabaseOptions::Sharing;
  for (double latency_ms : fathom::bench::ParseDoubles(latencies_text)) {
    for (Sharing sharing : {Sharing::kSingleNode, Sharing::kShared}) {
      const char* mode = sharing == Sharing::kShared ? "shared" : "one node";
      const std::string prefix = "bench/s3_commit/" + fathom::NewUuidV4();
      Node node = OpenNode(prefix, latency_ms, sharing);
      size_t next_row = 0;
      auto next_record = [&] {
        const size_t row = next_row++;
        return Record("r" + std::to_string(row), data->base.Row(row), dim);
      };
      for (int i = 0; i < 8; ++i) Check(node.col->Add({next_record()}), "warm-up add");

      // 1. Commit latency against a raw create-only PUT of the same size, interleaved so
      //    that both see the same machine and server load.
      std::vector<double> commit_ms, put_ms;
      StoreRequests write_requests;
      for (size_t i = 0; i < writes; ++i) {
        const StoreRequests before_add = node.counting->Snapshot();
        auto t = Clock::now();
        Check(node.col->Add({next_record()}), "add");
        commit_ms.push_back(Seconds(t) * 1000);
        write_requests += node.counting->Snapshot() - before_add;
        const std::string bytes(node.counting->last_put_bytes.load(), 'x');
        t = Clock::now();
        Check(node.store->Put(prefix + "/raw/" + std::to_string(i), bytes, fathom::PutMode::kCreateOnly), "raw put");
        put_ms.push_back(Seconds(t) * 1000);
      }
      const double c50 = Percentile(commit_ms, 0.5), c99 = Percentile(commit_ms, 0.99);
      const double p50 = Percentile(put_ms, 0.5), p99 = Percentile(put_ms, 0.99);
      std::printf("\n## latency %.0f ms per request, %s\n", latency_ms, mode);
      std::printf("commit (one-record add) p50 %.2f ms p99 %.2f ms | raw create-only PUT (%zu B) p50 %.2f ms p99 "
                  "%.2f ms | ratio p50 %.2fx p99 %.2fx\n",
                  c50, c99, node.counting->last_put_bytes.load(), p50, p99, c50 / p50, c99 / p99);

      // 2. Ingest with group commit.
      std::printf("%-8s %12s %14s %12s %12s\n", "writers", "writes/s", "PUTs/1k wr", "commit p50", "commit p99");
      for (double wc : writer_counts) {
        const size_t w = static_cast<size_t>(wc);
        std::vector<std::vector<fathom::WriteRecord>> batches(w);
        for (size_t t = 0; t < w; ++t) {
          for (size_t i = 0; i < writer_writes; ++i) batches[t].push_back(next_record());
        }
        std::vector<std::vector<double>> lat(w);
        const StoreRequests before = node.counting->Snapshot();
        auto start = Clock::now();
        std::vector<std::thread> threads;
        for (size_t t = 0; t < w; ++t) {
          threads.emplace_back([&, t] {
            for (auto& r : batches[t]) {
              auto s = Clock::now();
              Check(node.col->Add({std::move(r)}), "ingest add");
              lat[t].push_back(Seconds(s) * 1000);
            }
          });
        }
        for (auto& th : threads) th.join();
        const double secs = Seconds(start);
        const StoreRequests used = node.counting->Snapshot() - before;
        std::vector<double> all;
        for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
        const double total = static_cast<double>(w * writer_writes);
        std::printf("%-8zu %12.0f %14.0f %10.2f ms %10.2f ms\n", w, total / secs,
                    static_cast<double>(used.puts) * 1000.0 / total, Percentile(all, 0.5), Percentile(all, 0.99));
      }

      // What the folds those writes make due cost (a background job in production): one
      // Compact() of everything written so far.
      {
        const StoreRequests before = node.counting->Snapshot();
        auto t = Clock::now();
        Check(node.col->Compact(), "compact");
        const StoreRequests used = node.counting->Snapshot() - before;
        std::printf("compaction of %zu rows: %.2f s, %llu PUT %llu GET %llu HEAD %llu LIST %llu DELETE\n", next_row,
                    Seconds(t), static_cast<unsigned long long>(used.puts), static_cast<unsigned long long>(used.gets),
                    static_cast<unsigned long long>(used.heads), static_cast<unsigned long long>(used.lists),
                    static_cast<unsigned long long>(used.deletes));
      }

      // 3. Requests per 1k writes (from table 1) and per 1k queries.
      std::printf("requests per 1k %-14s %8s %8s %8s %8s %10s\n", "", "PUT", "GET", "HEAD", "LIST", "$ (S3 Std)");
      PrintRequests("one-record writes", write_requests, static_cast<double>(writes));
      for (fathom::ReadLevel level : {fathom::ReadLevel::kIndexAndWal, fathom::ReadLevel::kIndexOnly}) {
        const StoreRequests before = node.counting->Snapshot();
        for (size_t q = 0; q < queries; ++q) {
          const float* v = data->queries.Row(q % data->queries.rows);
          fathom::SearchPayload payload;
          payload.rank = fathom::RankExpr{.kind = fathom::RankExpr::Kind::kKnn,
                                          .search = {.query = std::vector<float>(v, v + dim), .key = std::string(fathom::kEmbeddingKey), .limit = 10}};
          payload.limit = 10;
          payload.select.score = true;
          Check(node.col->Search({.searches = {std::move(payload)}, .read_level = level}).status(), "search");
        }
        PrintRequests(level == fathom::ReadLevel::kIndexOnly ? "k-NN searches, index_only" : "k-NN searches, default",
                      node.counting->Snapshot() - before, static_cast<double>(queries));
      }
      std::fflush(stdout);
    }
  }
  // The bucket prefixes are left for inspection; scripts/with-s3.sh wipes the server.
  return 0;
}
