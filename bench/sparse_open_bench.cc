// sparse_open_bench: what the persisted sparse index (docs/format/sparse-index.md) saves
// when a collection opens. A collection of SPLADE-like sparse vectors (sparse_data.h:
// Zipfian dimensions out of --dims, Poisson(--nnz) nonzeros, log-normal weights; one float
// as the embedding; no documents) is written to a local directory and compacted (which
// writes the sparse index object), then opened again and again, alternating in one
// process:
//   rebuild  the object moved aside: recovery bulk-builds the index from every row's
//            vector (what every open did before the object existed)
//   load     the object in place: recovery decodes, checks and adopts it
// Open = Database::Open + the collection's first Count (recovery runs on first use): wall
// time and the process's CPU time (every thread). Then the index alone, single-threaded,
// thread CPU time: BulkAdd + Seal against decode + LoadImage. Checks that sparse $knn
// answers the same after every open. Prints tables and the machine's load; not a test.
// Usage: sparse_open_bench [--docs 200000] [--nnz 64] [--dims 30000] [--dir DIR] [--rounds 3]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "bench_util.h"
#include "fathom/db.h"
#include "fathom/search.h"
#include "index/sparse/sparse_index.h"
#include "index/sparse/sparse_index_format.h"
#include "sparse_data.h"

namespace {

using fathom::bench::Check;
using fathom::bench::Clock;
using fathom::bench::Die;
using fathom::bench::Median;
using fathom::bench::Mib;
using fathom::bench::ProcessCpuSeconds;
using fathom::bench::Seconds;
using fathom::bench::ThreadCpuSeconds;

constexpr const char* kKey = "sp";

std::shared_ptr<fathom::Collection> OpenCollection(fathom::Database& db) {
  auto col = db.CreateCollection(fathom::Database::kDefaultTenant, fathom::Database::kDefaultDatabase,
                                 {.name = "sparse", .get_or_create = true, .sparse_key = std::string(kKey)});
  Check(col.status(), "collection");
  return *col;
}

std::vector<std::string> Top(fathom::Collection& col, const fathom::SparseVector& query) {
  fathom::RankExpr knn;
  knn.kind = fathom::RankExpr::Kind::kKnn;
  knn.search.query = query;
  knn.search.key = kKey;
  knn.search.limit = 10;
  return fathom::bench::RankedIds(col, knn);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"open time of a sparse vector collection with and without its persisted sparse index"};
  uint32_t docs = 200000, nnz = 64, dims = 30000;
  std::string dir = "/tmp/sparse_open_bench";
  int rounds = 3;
  size_t batch = 5000;
  uint64_t seed = 1;
  app.add_option("--docs", docs, "documents");
  app.add_option("--nnz", nnz, "mean nonzeros per vector");
  app.add_option("--dims", dims, "dimensions");
  app.add_option("--dir", dir, "directory for the collection (wiped)");
  app.add_option("--rounds", rounds, "open pairs (rebuild, load)");
  app.add_option("--seed", seed, "data seed");
  CLI11_PARSE(app, argc, argv);

  std::printf("load before: %s\n", fathom::bench::LoadAverages().c_str());
  std::mt19937_64 rng(seed);
  const fathom::bench::Zipf zipf(dims);
  std::vector<fathom::SparseVector> queries;
  for (int q = 0; q < 20; ++q) queries.push_back(fathom::bench::RandomSparseVector(zipf, 20, rng));

  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::vector<std::vector<std::string>> expected;
  uint64_t postings = 0;
  double ingest_s = 0, compact_s = 0;
  {
    auto db = fathom::bench::OpenLocalDatabase(dir);
    auto col = OpenCollection(*db);
    auto started = Clock::now();
    for (uint32_t begin = 0; begin < docs; begin += batch) {
      std::vector<fathom::WriteRecord> records;
      for (uint32_t d = begin; d < std::min<uint64_t>(docs, begin + batch); ++d) {
        fathom::WriteRecord w;
        w.id = "doc" + std::to_string(d);
        w.embedding = std::vector<float>{1.0f};
        fathom::SparseVector v = fathom::bench::RandomSparseVector(zipf, nnz, rng);
        postings += v.indices.size();
        w.metadata = fathom::MetadataPatch{{kKey, fathom::MetadataValue(std::move(v))}};
        records.push_back(std::move(w));
      }
      Check(col->Add(std::move(records)), "add");
    }
    ingest_s = Seconds(started);
    started = Clock::now();
    Check(col->Compact(), "compact");
    compact_s = Seconds(started);
    for (const auto& q : queries) expected.push_back(Top(*col, q));
  }
  const std::filesystem::path object = fathom::bench::FindFileWithExtension(dir, ".six");
  const uint64_t object_bytes = std::filesystem::file_size(object);
  std::printf("%u docs, %.1f nonzeros each on average (%lu postings); ingest %.1f s, compaction %.1f s\n", docs,
              static_cast<double>(postings) / docs, static_cast<unsigned long>(postings), ingest_s, compact_s);
  std::printf("sparse index object: %.1f MiB\n", Mib(static_cast<double>(object_bytes)));

  // Collection open, alternating rebuild and load.
  std::vector<double> wall[2], cpu[2];
  // Outside the store's directory: inside, the open's garbage collection would delete it.
  const std::filesystem::path aside = dir + ".aside.six";
  for (int round = 0; round < rounds; ++round) {
    for (int load : {0, 1}) {
      if (!load) std::filesystem::rename(object, aside);
      const auto started = Clock::now();
      const double cpu_started = ProcessCpuSeconds();
      auto db = fathom::bench::OpenLocalDatabase(dir);
      auto col = OpenCollection(*db);
      Check(col->Count().status(), "count");
      wall[load].push_back(Seconds(started));
      cpu[load].push_back(ProcessCpuSeconds() - cpu_started);
      for (size_t q = 0; q < queries.size(); ++q) {
        if (Top(*col, queries[q]) != expected[q]) Die(std::string("answers differ after open (") + (load ? "load" : "rebuild") + ")");
      }
      col.reset();
      db.reset();
      if (!load) std::filesystem::rename(aside, object);
    }
  }

  // The index alone, single-threaded: a bulk build from the vectors against decoding and
  // adopting the object.
  std::string bytes;
  {
    std::ifstream in(object, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::mt19937_64 again(seed);
  for (int q = 0; q < 20; ++q) (void)fathom::bench::RandomSparseVector(zipf, 20, again);
  std::vector<std::optional<fathom::Metadata>> rows(docs);
  for (uint32_t d = 0; d < docs; ++d) {
    rows[d] = fathom::Metadata{{kKey, fathom::MetadataValue(fathom::bench::RandomSparseVector(zipf, nnz, again))}};
  }
  const std::string id = "x";
  const std::optional<std::string> no_document;
  double build_cpu = ThreadCpuSeconds();
  fathom::SparseIndex built(kKey);
  for (uint32_t d = 0; d < docs; ++d) built.BulkAdd(d, fathom::RecordView{id, no_document, rows[d]});
  built.Seal();
  build_cpu = ThreadCpuSeconds() - build_cpu;
  double decode_cpu = ThreadCpuSeconds();
  auto decoded = fathom::DecodeSparseIndexObject(bytes);
  Check(decoded.status(), "decode");
  decode_cpu = ThreadCpuSeconds() - decode_cpu;
  // The loader's identity check hashes every row's vector (SparseVectorChecksum).
  double hash_cpu = ThreadCpuSeconds();
  std::vector<uint64_t> vector_checksums(docs);
  for (uint32_t d = 0; d < docs; ++d) {
    vector_checksums[d] = fathom::SparseVectorChecksum(std::get<fathom::SparseVector>(rows[d]->at(kKey)));
  }
  hash_cpu = ThreadCpuSeconds() - hash_cpu;
  std::vector<uint32_t> vector_slots(docs);
  for (uint32_t d = 0; d < docs; ++d) vector_slots[d] = d;
  double adopt_cpu = ThreadCpuSeconds();
  fathom::SparseIndex loaded(kKey);
  loaded.LoadImage(std::move(decoded->image), nullptr, vector_slots, vector_checksums, docs);
  adopt_cpu = ThreadCpuSeconds() - adopt_cpu;
  if (loaded.vector_count() != built.vector_count()) Die("loaded index differs from the built one");

  std::printf("\nload after: %s\n", fathom::bench::LoadAverages().c_str());
  std::printf("\n| collection open (median of %d) | wall s | process CPU s |\n| --- | ---: | ---: |\n", rounds);
  std::printf("| rebuild (no object) | %.2f | %.2f |\n", Median(wall[0]), Median(cpu[0]));
  std::printf("| load (object) | %.2f | %.2f |\n", Median(wall[1]), Median(cpu[1]));
  std::printf("\n| index alone, one thread | thread CPU s |\n| --- | ---: |\n");
  std::printf("| BulkAdd + Seal from the vectors | %.2f |\n", build_cpu);
  std::printf("| decode the object (checks, checksums) | %.2f |\n", decode_cpu);
  std::printf("| LoadImage | %.2f |\n", adopt_cpu);
  std::printf("| hash every row's vector (the load's identity check) | %.2f |\n", hash_cpu);
  std::filesystem::remove_all(dir);
  return 0;
}
