// row_memory_bench: what a collection's rows keep resident, and what reading their
// documents costs (docs/design/documents-on-demand.md). Uses the public API only, so the
// same file builds at any commit and two commits can be compared back to back.
//
//   write  creates a collection of --rows records (--dim floats, documents of --doc-bytes
//          bytes of text, one small metadata value) under --dir and compacts it.
//   read   in a fresh process: the resident set before and after opening the collection
//          (Database::Open + the first Count, which recovers it), after malloc_trim, per
//          row; then the latency of: get of 100 random ids with documents (each a cold
//          block the first time), the same 100 again (warm), get of 100 ids without
//          documents, query k=10 with documents, and a where_document $contains get
//          (limit 10). Medians over --rounds rounds. Also the open's process CPU time and
//          the peak resident set (VmHWM) at the end of the open.
//   text-index-version  rewrites the collection's text index object as format version
//          --version (1: without the trigram section, so the open builds the trigram index
//          from the documents, as every open did before version 2; 2: the object as
//          compaction wrote it, kept in <dir>.tix-v2/), so that `read` compares
//          both in separate processes, back to back. Uses fathom's internals.
// Prints the machine's load beside the figures. Not a test.
// Usage: row_memory_bench write|read|text-index-version [--dir /tmp/row_memory_bench]
//        [--rows 100000] [--dim 8] [--doc-bytes 1024] [--rounds 50] [--memory-budget-mib N
//        (read; documents are read on demand only under a budget)] [--version 1|2]
#include <malloc.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "bench_util.h"
#include "fathom/db.h"
#include "index/text/text_index_format.h"

namespace {

using fathom::bench::Check;
using fathom::bench::Die;
using fathom::bench::Mib;
using fathom::bench::Seconds;
using namespace fathom;

constexpr const char* kWords[] = {"kernel", "package", "manual", "daemon", "socket", "option", "config",
                                  "library", "service", "network", "volume", "driver", "syntax", "value"};

std::string Document(std::mt19937_64& rng, size_t bytes, size_t i) {
  std::string out = "record " + std::to_string(i);
  while (out.size() < bytes) {
    out += ' ';
    out += kWords[rng() % std::size(kWords)];
  }
  out.resize(bytes);
  return out;
}

std::shared_ptr<Collection> OpenCollection(Database& db) {
  auto col = db.CreateCollection(Database::kDefaultTenant, Database::kDefaultDatabase,
                                 {.name = "rows", .get_or_create = true});
  if (!col.ok()) Die("collection: " + col.status().ToString());
  return *col;
}

using fathom::bench::ProcessCpuSeconds;

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The text-index-version mode: every text index object under `dir` as format `version`.
void SetTextIndexVersion(const std::string& dir, uint32_t version) {
  size_t objects = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    const std::filesystem::path path = entry.path();
    if (path.extension() != ".tix") continue;
    // Outside the store, whose garbage collection would delete an object it does not know.
    const std::filesystem::path saved = std::filesystem::path(dir + ".tix-v2") / path.filename();
    std::filesystem::create_directories(saved.parent_path());
    if (!std::filesystem::exists(saved)) std::filesystem::copy_file(path, saved);
    auto object = DecodeTextIndexObject(ReadFile(saved));
    if (!object.ok()) Die(path.string() + ": " + object.status().ToString());
    if (version == 1) object->trigrams.reset();
    auto bytes = EncodeTextIndexObject(*object);
    if (!bytes.ok()) Die(bytes.status().ToString());
    std::ofstream(path, std::ios::binary | std::ios::trunc) << *bytes;
    std::printf("%s: version %u, %.1f MiB\n", path.c_str(), version, Mib(static_cast<double>(bytes->size())));
    ++objects;
  }
  if (objects == 0) Die("no text index object under " + dir);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"row_memory_bench"};
  std::string mode, dir = "/tmp/row_memory_bench";
  size_t rows = 100000, dim = 8, doc_bytes = 1024, rounds = 50;
  uint32_t version = 2;
  app.add_option("mode", mode, "write | read | text-index-version")->required();
  app.add_option("--dir", dir);
  app.add_option("--rows", rows);
  app.add_option("--dim", dim);
  app.add_option("--doc-bytes", doc_bytes);
  app.add_option("--rounds", rounds);
  app.add_option("--version", version, "text-index-version: the object's format version, 1 or 2");
  uint64_t budget_mib = 0;
  app.add_option("--memory-budget-mib", budget_mib,
                 "read: open with this memory budget (documents are read on demand only under one)");
  CLI11_PARSE(app, argc, argv);
  std::mt19937_64 rng(42);

  if (mode == "write") {
    std::filesystem::remove_all(dir);
    auto db = Database::Open({.path = dir, .background_compaction = false});
    if (!db.ok()) Die(db.status().ToString());
    auto col = OpenCollection(**db);
    const fathom::bench::Clock::time_point start = fathom::bench::Clock::now();
    for (size_t first = 0; first < rows; first += 1000) {
      std::vector<WriteRecord> batch;
      for (size_t i = first; i < std::min(rows, first + 1000); ++i) {
        WriteRecord w;
        w.id = "id" + std::to_string(i);
        std::vector<float> v(dim);
        for (float& x : v) x = static_cast<float>(rng() % 1000) / 1000.0f;
        w.embedding = std::move(v);
        w.document = Document(rng, doc_bytes, i);
        w.metadata = MetadataPatch{{"n", MetadataValue(static_cast<int64_t>(i % 100))}};
        batch.push_back(std::move(w));
      }
      Check(col->Add(std::move(batch)), "add");
    }
    Check(col->Compact(), "compact");
    std::printf("wrote %zu rows (dim %zu, documents %zu B) in %.1f s\n", rows, dim, doc_bytes, Seconds(start));
    return 0;
  }
  if (mode == "text-index-version") {
    if (version != 1 && version != 2) Die("--version must be 1 or 2");
    SetTextIndexVersion(dir, version);
    return 0;
  }
  if (mode != "read") Die("mode must be write, read or text-index-version");

  malloc_trim(0);
  const size_t rss_before = fathom::bench::RssBytes();
  const double cpu_before = ProcessCpuSeconds();
  const fathom::bench::Clock::time_point start = fathom::bench::Clock::now();
  auto db = Database::Open({.path = dir, .memory_budget_bytes = budget_mib << 20, .background_compaction = false});
  if (!db.ok()) Die(db.status().ToString());
  auto col = OpenCollection(**db);
  auto count = col->Count();
  if (!count.ok()) Die(count.status().ToString());
  const double open_seconds = Seconds(start);
  const double open_cpu_seconds = ProcessCpuSeconds() - cpu_before;
  const size_t peak_rss = fathom::bench::PeakRssBytes();
  malloc_trim(0);
  const size_t rss_after = fathom::bench::RssBytes();
  std::printf("load %s\n", fathom::bench::LoadAverages().c_str());
  std::printf("open: %llu rows in %.2f s; resident set %+.1f MiB = %.0f B/row\n",
              static_cast<unsigned long long>(*count), open_seconds, Mib(double(rss_after) - double(rss_before)),
              (double(rss_after) - double(rss_before)) / double(*count));
  std::printf("open: process CPU %.2f s; peak resident set at the end of the open %.1f MiB = %+.0f B/row over "
              "the start\n",
              open_cpu_seconds, Mib(double(peak_rss)), (double(peak_rss) - double(rss_before)) / double(*count));

  auto random_ids = [&](size_t n) {
    std::set<uint64_t> picked;
    while (picked.size() < n) picked.insert(rng() % *count);
    std::vector<std::string> ids;
    for (uint64_t i : picked) ids.push_back("id" + std::to_string(i));
    std::shuffle(ids.begin(), ids.end(), rng);
    return ids;
  };
  auto time_get = [&](const std::vector<std::string>& ids, bool documents) {
    GetRequest get;
    get.ids = ids;
    get.include.documents = documents;
    get.include.metadatas = false;
    const fathom::bench::Clock::time_point t = fathom::bench::Clock::now();
    auto got = col->Get(get);
    if (!got.ok()) Die(got.status().ToString());
    if (documents && (got->documents.size() != ids.size() || !got->documents[0])) Die("documents missing");
    return Seconds(t) * 1e3;
  };
  std::vector<double> cold, warm, bare, query, contains;
  for (size_t round = 0; round < rounds; ++round) {
    const std::vector<std::string> ids = random_ids(100);
    cold.push_back(time_get(ids, true));
    warm.push_back(time_get(ids, true));
    bare.push_back(time_get(ids, false));
    QueryRequest q;
    std::vector<float> v(dim);
    for (float& x : v) x = static_cast<float>(rng() % 1000) / 1000.0f;
    q.query_embeddings = {v};
    q.n_results = 10;
    q.include.documents = true;
    fathom::bench::Clock::time_point t = fathom::bench::Clock::now();
    auto qr = col->Query(q);
    if (!qr.ok()) Die(qr.status().ToString());
    query.push_back(Seconds(t) * 1e3);
    GetRequest filtered;
    WhereDocument wd;
    wd.kind = WhereDocument::Kind::kContains;
    wd.pattern = "record " + std::to_string(rng() % *count) + " ";
    filtered.where_document = wd;
    filtered.limit = 10;
    filtered.include.documents = true;
    t = fathom::bench::Clock::now();
    auto fr = col->Get(filtered);
    if (!fr.ok()) Die(fr.status().ToString());
    contains.push_back(Seconds(t) * 1e3);
  }
  std::printf("median ms over %zu rounds: get 100 ids with documents cold %.3f, warm %.3f; without documents %.3f; "
              "query k=10 with documents %.3f; where_document $contains limit 10 %.3f\n",
              rounds, Median(cold), Median(warm), Median(bare), Median(query), Median(contains));
  std::printf("load %s\n", fathom::bench::LoadAverages().c_str());
  return 0;
}
