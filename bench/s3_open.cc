// s3_open: what a node restarted on an s3:// store pays before its first answer, with and
// without the local-disk cache (`--cache-dir`, io/cache_store.h), at the RGW's own
// latency and with an injected per-request latency that models S3 in a region.
//
// One collection of synthetic vectors (bench_data.h) with short documents and metadata is
// written to the bucket through the engine and compacted (segments, vector index, cold
// parts). Then, for each latency, a fresh Database opens it in three ways and answers one
// query: straight from the store; through an empty cache (which it fills); through that
// cache again (a restart). Reported: time to the first answer, store requests and bytes
// fetched from the bucket, and the warm query latency afterwards (the same in every mode:
// by then the collection is in RAM). Settings from the environment as the tests'
// (FATHOM_S3_ENDPOINT, AWS_*, FATHOM_S3_BUCKET; `scripts/with-s3.sh` provides them).
// Prints a table; not a test.
//   s3_open [--rows 100000] [--dim 384] [--latency-ms 0,50]
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
#include "storage/manifest.h"

namespace {

using fathom::bench::Check;
using fathom::bench::Clock;
using fathom::bench::Die;
using fathom::bench::Seconds;

// Counts the requests and bytes that reach the bucket.
class CountingStore final : public fathom::ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  fathom::Status Put(const std::string& key, std::string_view bytes, fathom::PutMode mode) override {
    ++requests;
    return ForwardingStore::Put(key, bytes, mode);
  }
  fathom::Result<std::string> Get(const std::string& key, std::optional<fathom::ByteRange> range) override {
    ++requests;
    auto r = ForwardingStore::Get(key, range);
    if (r.ok()) bytes += r->size();
    return r;
  }
  fathom::Result<fathom::ObjectInfo> Head(const std::string& key) override {
    ++requests;
    return ForwardingStore::Head(key);
  }
  fathom::Result<std::vector<fathom::ObjectInfo>> List(const std::string& prefix, const std::string& start_after,
                                                       size_t max_keys) override {
    ++requests;
    return ForwardingStore::List(prefix, start_after, max_keys);
  }
  fathom::Status Delete(const std::string& key) override {
    ++requests;
    return ForwardingStore::Delete(key);
  }
  std::atomic<uint64_t> requests{0}, bytes{0};
};

std::shared_ptr<fathom::S3Store> OpenBucket(const std::string& prefix) {
  const char* bucket = std::getenv("FATHOM_S3_BUCKET");
  if (bucket == nullptr) Die("FATHOM_S3_BUCKET is not set: run under scripts/with-s3.sh");
  fathom::S3StoreOptions options;
  options.bucket = bucket;
  options.prefix = prefix;
  auto store = fathom::S3Store::Open(options);
  Check(store.status(), "open bucket");
  return *store;
}

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
  app.add_option("--rows", rows)->capture_default_str();
  app.add_option("--dim", dim)->capture_default_str();
  app.add_option("--latency-ms", latencies_text, "Injected latency per store request, ms (list)")
      ->capture_default_str();
  app.add_option("--cache-root", cache_root, "Where the cache directories go (emptied first)")
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

  std::printf("%-10s %-12s %14s %10s %12s %14s\n", "latency", "mode", "first answer", "requests", "MiB fetched",
              "warm p50 ms");
  for (double latency_ms : fathom::bench::ParseDoubles(latencies_text)) {
    const std::string cache_dir = cache_root + "/latency-" + std::to_string(static_cast<int>(latency_ms));
    std::filesystem::remove_all(cache_dir);
    for (const char* mode : {"no cache", "cache cold", "cache warm"}) {
      auto counting = std::make_shared<CountingStore>(OpenBucket(prefix));
      fathom::FaultOptions fault;
      fault.latency = std::chrono::microseconds(static_cast<int64_t>(latency_ms * 1000));
      std::shared_ptr<fathom::ObjectStore> store = std::make_shared<fathom::FaultStore>(counting, fault);
      if (std::string(mode) != "no cache") {
        auto cache = fathom::CacheStore::Open(
            store, {.dir = cache_dir, .cacheable = [](const std::string& key) { return fathom::IsCollectionDataKey(key); }});
        Check(cache.status(), "open cache");
        store = *cache;
      }
      auto start = Clock::now();
      auto db = fathom::Database::Open({.store = store, .background_compaction = false});
      Check(db.status(), "open");
      auto col = (*db)->GetCollection(fathom::Database::kDefaultTenant, fathom::Database::kDefaultDatabase, "bench");
      Check(col.status(), "get collection");
      Check((*col)->Query(QueryFor(data->queries.Row(0), dim)).status(), "first query");
      const double first_s = Seconds(start);
      const uint64_t requests = counting->requests;
      const uint64_t bytes = counting->bytes;
      std::vector<double> warm_ms;
      for (size_t q = 1; q < data->queries.rows; ++q) {
        auto t = Clock::now();
        Check((*col)->Query(QueryFor(data->queries.Row(q), dim)).status(), "query");
        warm_ms.push_back(Seconds(t) * 1000);
      }
      std::sort(warm_ms.begin(), warm_ms.end());
      std::printf("%-10.0f %-12s %12.2f s %10llu %12.1f %14.2f\n", latency_ms, mode, first_s,
                  static_cast<unsigned long long>(requests), fathom::bench::Mib(static_cast<double>(bytes)),
                  warm_ms[warm_ms.size() / 2]);
      std::fflush(stdout);
    }
  }
  // The bucket prefix is left for inspection; scripts/with-s3.sh wipes the server.
  return 0;
}
