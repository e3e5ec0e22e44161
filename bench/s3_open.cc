// s3_open: what a node restarted on an s3:// store pays before its first answer, with and
// without the local-disk cache (`--cache-dir`, io/cache_store.h), at the RGW's own
// latency and with an injected per-request latency that models S3 in a region.
//
// One collection of synthetic vectors (bench_data.h) with short documents and metadata is
// written to the bucket through the engine and compacted (segments, vector index, cold
// parts). Then, for each latency, a fresh Database opens it in three ways and answers one
// query: straight from the store; through an empty cache (which it fills); through that
// cache again (a restart). Reported separately for the open (Database::Open and the
// collection lookup) and for the first query after it: time, store requests, sequential
// store rounds and bytes fetched from the bucket; then the warm query latency (the median
// of the queries after the first). A "round" is one request, or one batch of ranged reads
// sent together (ObjectStore::GetRanges): the dependent round trips a caller waits for in
// sequence, which is what an injected per-request latency multiplies. The "one by one"
// mode is "no cache" with every batch sent one read after another (as before batched
// reads): the same-run peer of the batched modes. The "shared" mode is "no cache" on a
// store opened as several nodes' (DatabaseOptions::sharing kShared) with every query a
// collection lookup and a query, as an HTTP query is: the catalog check and the
// strong-read check are in its rounds ("rounds" after "warm p50": per warm query, every
// thread's requests taken together, after the open's background work is over). The database runs its background thread (as
// `fathom run` does; `--background 0` for an embedder's open without one): the open's
// work that no answer waits for runs there, and its requests ("bg reqs", counted after
// the warm queries and WaitIdle) are counted apart from the open's and the queries'.
// Settings from the environment as the tests' (FATHOM_S3_ENDPOINT, AWS_*,
// FATHOM_S3_BUCKET; `scripts/with-s3.sh` provides them). Prints a table; not a test.
//   s3_open [--rows 100000] [--dim 384] [--latency-ms 0,50] [--background 1] [--trace]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "bench_data.h"
#include "bench_util.h"
#include "common/random.h"
#include "fathom/db.h"
#include "io/cache_store.h"
#include "io/fault_store.h"
#include "io/forwarding_store.h"
#include "io/s3_store.h"
#include "s3_bench_store.h"
#include "storage/manifest.h"

namespace {

using fathom::bench::Check;
using fathom::bench::Clock;
using fathom::bench::CountingStore;
using fathom::bench::OpenBucket;
using fathom::bench::Seconds;
using fathom::bench::StoreRequests;

// Sends a batch's reads one after another (the ObjectStore default), as every read went
// before batched reads existed: the peer the batched modes are measured against.
class OneByOneStore final : public fathom::ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  fathom::Result<std::vector<std::string>> GetRanges(const std::vector<fathom::RangedRead>& reads) override {
    return ObjectStore::GetRanges(reads);  // calls this->Get per read
  }
};

fathom::QueryRequest QueryFor(const float* v, uint32_t dim) {
  fathom::QueryRequest r;
  r.query_embeddings = {std::vector<float>(v, v + dim)};
  r.n_results = 10;
  r.include = fathom::Include{.embeddings = false, .documents = true, .metadatas = false, .uris = false,
                              .distances = true};
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"s3_open: time to first answer on an s3:// store, with and without the local cache"};
  size_t rows = 100000;
  uint32_t dim = 384;
  std::string latencies_text = "0,50";
  std::string cache_root = "/tmp/fathom-s3-open-cache";
  bool trace = false;
  bool background = true;
  app.add_option("--rows", rows)->capture_default_str();
  app.add_option("--dim", dim)->capture_default_str();
  app.add_option("--latency-ms", latencies_text, "Injected latency per store request, ms (list)")
      ->capture_default_str();
  app.add_option("--cache-root", cache_root, "Where the cache directories go (emptied first)")
      ->capture_default_str();
  app.add_flag("--trace", trace, "Print every store round of the opens and first queries to stderr");
  app.add_option("--background", background, "Open with a background thread (DatabaseOptions::background_compaction)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  fathom::SyntheticOptions data_options = bench::BenchDataOptions();
  data_options.rows = rows;
  data_options.dim = dim;
  data_options.queries = 100;
  auto data = fathom::GenerateSynthetic(data_options);
  Check(data.status(), "generate");
  const std::string prefix = "bench/s3_open/" + fathom::NewUuidV4();
  std::printf("# s3_open: %zu rows x %u, bucket prefix %s, load %s\n", rows, dim, prefix.c_str(),
              fathom::bench::LoadAverages().c_str());

  {
    auto start = Clock::now();
    auto db = fathom::Database::Open({.store = OpenBucket(prefix), .background_compaction = false});
    Check(db.status(), "open for writing");
    auto col = (*db)->CreateCollection(fathom::Database::kDefaultTenant, fathom::Database::kDefaultDatabase,
                                       {.name = "bench"});
    Check(col.status(), "create");
    for (size_t first = 0; first < rows; first += 2000) {
      std::vector<fathom::WriteRecord> batch;
      for (size_t i = first; i < std::min(rows, first + 2000); ++i) {
        fathom::WriteRecord r;
        r.id = std::to_string(i);
        r.embedding = std::vector<float>(data->base.Row(i), data->base.Row(i) + dim);
        r.document = "document number " + std::to_string(i) + " of the s3_open benchmark";
        r.metadata = fathom::MetadataPatch{{"n", fathom::MetadataValue(static_cast<int64_t>(i))}};
        batch.push_back(std::move(r));
      }
      Check((*col)->Add(std::move(batch)), "add");
    }
    Check((*col)->Compact(), "compact");
    std::printf("# written and compacted in %.1f s\n", Seconds(start));
  }

  std::printf("%-8s %-11s | %9s %5s %6s %7s | %9s %5s %6s %7s | %9s %6s | %7s\n", "latency", "mode", "open s",
              "reqs", "rounds", "MiB", "query ms", "reqs", "rounds", "MiB", "warm p50", "rounds", "bg reqs");
  for (double latency_ms : fathom::bench::ParseDoubles(latencies_text)) {
    const std::string cache_dir = cache_root + "/latency-" + std::to_string(static_cast<int>(latency_ms));
    std::filesystem::remove_all(cache_dir);
    for (const std::string mode : {"one by one", "no cache", "shared", "cache cold", "cache warm"}) {
      auto counting = std::make_shared<CountingStore>(OpenBucket(prefix), trace, /*split_background=*/true);
      if (trace) std::fprintf(stderr, "%.0f ms, %s: open\n", latency_ms, mode.c_str());
      fathom::FaultOptions fault;
      fault.latency = std::chrono::microseconds(static_cast<int64_t>(latency_ms * 1000));
      std::shared_ptr<fathom::ObjectStore> store = std::make_shared<fathom::FaultStore>(counting, fault);
      if (mode == "one by one") store = std::make_shared<OneByOneStore>(store);
      if (mode == "cache cold" || mode == "cache warm") {
        auto cache = fathom::CacheStore::Open(
            store, {.dir = cache_dir, .cacheable = [](const std::string& key) { return fathom::IsCollectionDataKey(key); }});
        Check(cache.status(), "open cache");
        store = *cache;
      }
      const bool shared = mode == "shared";
      auto start = Clock::now();
      auto db = fathom::Database::Open(
          {.store = store,
           .sharing = shared ? fathom::DatabaseOptions::Sharing::kShared : fathom::DatabaseOptions::Sharing::kAuto,
           .background_compaction = background});
      Check(db.status(), "open");
      auto found = (*db)->GetCollection(fathom::Database::kDefaultTenant, fathom::Database::kDefaultDatabase, "bench");
      Check(found.status(), "get collection");
      std::shared_ptr<fathom::Collection> col = *found;
      const double open_s = Seconds(start);
      const StoreRequests opened = counting->Snapshot();
      if (trace) std::fprintf(stderr, "%.0f ms, %s: first query\n", latency_ms, mode.c_str());
      auto query_start = Clock::now();
      Check(col->Query(QueryFor(data->queries.Row(0), dim)).status(), "first query");
      const double query_ms = Seconds(query_start) * 1000;
      const StoreRequests first = counting->Snapshot() - opened;
      if (trace) std::fprintf(stderr, "%.0f ms, %s: warm queries (rounds counted, not traced)\n", latency_ms,
                              mode.c_str());
      counting->set_trace(false);
      // The open's background work is over before the warm queries: their rounds are
      // every thread's requests taken together (a lookup's two checks go side by side).
      (*db)->WaitIdle();
      const StoreRequests background_requests = counting->BackgroundSnapshot();
      std::vector<double> warm_ms;
      const uint64_t rounds_before_warm = counting->OverlappedRounds();
      for (size_t q = 1; q < data->queries.rows; ++q) {
        auto t = Clock::now();
        // Shared: each query looks its collection up first, as each HTTP query does
        // (by id, for a read at once: ApiService::CollectionForRecords).
        std::shared_ptr<fathom::Collection> queried = col;
        if (shared) {
          auto by_id = (*db)->GetCollectionById(fathom::Database::kDefaultTenant, fathom::Database::kDefaultDatabase,
                                                col->id(), {.read_at_once = true});
          Check(by_id.status(), "get collection by id");
          queried = *by_id;
        }
        Check(queried->Query(QueryFor(data->queries.Row(q), dim)).status(), "query");
        warm_ms.push_back(Seconds(t) * 1000);
      }
      const double warm_rounds = static_cast<double>(counting->OverlappedRounds() - rounds_before_warm) /
                                 static_cast<double>(warm_ms.size());
      std::sort(warm_ms.begin(), warm_ms.end());
      auto mib = [](uint64_t b) { return fathom::bench::Mib(static_cast<double>(b)); };
      std::printf("%-8.0f %-11s | %9.2f %5llu %6llu %7.1f | %9.1f %5llu %6llu %7.2f | %9.2f %6.2f | %7llu\n",
                  latency_ms, mode.c_str(), open_s, static_cast<unsigned long long>(opened.total()),
                  static_cast<unsigned long long>(opened.rounds), mib(opened.bytes_read), query_ms,
                  static_cast<unsigned long long>(first.total()), static_cast<unsigned long long>(first.rounds),
                  mib(first.bytes_read), warm_ms[warm_ms.size() / 2], warm_rounds,
                  static_cast<unsigned long long>(background_requests.total()));
      std::printf("#   open: %llu PUT, %llu GET, %llu HEAD, %llu LIST, %llu DELETE; background: %llu PUT, %llu GET, "
                  "%llu HEAD, %llu LIST, %llu DELETE\n",
                  static_cast<unsigned long long>(opened.puts), static_cast<unsigned long long>(opened.gets),
                  static_cast<unsigned long long>(opened.heads), static_cast<unsigned long long>(opened.lists),
                  static_cast<unsigned long long>(opened.deletes),
                  static_cast<unsigned long long>(background_requests.puts),
                  static_cast<unsigned long long>(background_requests.gets),
                  static_cast<unsigned long long>(background_requests.heads),
                  static_cast<unsigned long long>(background_requests.lists),
                  static_cast<unsigned long long>(background_requests.deletes));
      std::fflush(stdout);
    }
  }
  std::printf("# load at the end %s\n", fathom::bench::LoadAverages().c_str());
  // The bucket prefix is left for inspection; scripts/with-s3.sh wipes the server.
  return 0;
}
