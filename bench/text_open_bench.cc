// text_open_bench: what the persisted text index (docs/format/text-index.md) saves when a
// collection opens. A collection of short documents (text_corpus.h's synthetic generator:
// Zipfian term frequencies, log-normal lengths; one float as the embedding) is written to
// a local directory and compacted (which writes the text index object), then opened
// again and again, alternating in one process:
//   rebuild  the object moved aside: recovery analyzes every compacted document and
//            bulk-builds the index, and builds the trigram index from the documents (what
//            every open did before the object existed)
//   load     the object in place: recovery decodes, checks and adopts it (since format
//            version 2 the trigram index too)
// Open = Database::Open + the collection's first Count (recovery runs on first use), wall
// time; the metadata index is built in both modes, in parallel with the document indexes. Then the text index alone, single-threaded in this process:
// analyze + BulkInsert + Seal against decode + LoadSealed of the object's bytes, and the
// object's size against the documents'; and the trigram index alone, built from the
// documents against decoded from its section. Prints tables and the machine's load; not a test.
// Usage: text_open_bench [--docs 1000000] [--dir /tmp/text_open_bench] [--rounds 3]
#include <sys/resource.h>
#include <time.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "bench_util.h"
#include "fathom/db.h"
#include "fathom/search.h"
#include "index/text/analyzer.h"
#include "index/text/inverted_index.h"
#include "index/text/text_index_format.h"
#include "index/text/trigram_index.h"
#include "index/text/trigram_section.h"
#include "text_corpus.h"

namespace {

using fathom::bench::Check;
using fathom::bench::Clock;
using fathom::bench::Die;
using fathom::bench::Mib;
using fathom::bench::ProcessCpuSeconds;
using fathom::bench::Seconds;
using fathom::bench::ThreadCpuSeconds;

std::shared_ptr<fathom::Collection> OpenCollection(fathom::Database& db) {
  auto col = db.CreateCollection(fathom::Database::kDefaultTenant, fathom::Database::kDefaultDatabase,
                                 {.name = "text", .get_or_create = true});
  Check(col.status(), "collection");
  return *col;
}

std::vector<std::string> Top(fathom::Collection& col, const std::string& query) {
  fathom::RankExpr bm25;
  bm25.kind = fathom::RankExpr::Kind::kBm25;
  bm25.search.query = query;
  bm25.search.key = std::string(fathom::kDocumentKey);
  bm25.search.limit = 10;
  return fathom::bench::RankedIds(col, bm25);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"open time of a text collection with and without its persisted text index"};
  fathom::bench::SyntheticCorpusOptions corpus_options;
  std::string dir = "/tmp/text_open_bench";
  int rounds = 3;
  size_t batch = 10000;
  bool keep = false;
  app.add_option("--docs", corpus_options.docs, "documents");
  app.add_option("--median", corpus_options.length_median, "median document length, tokens");
  app.add_option("--dir", dir, "directory for the collection (wiped)");
  app.add_option("--rounds", rounds, "open pairs (rebuild, load)");
  app.add_flag("--keep", keep, "keep the directory (a later run with the same options reuses it)");
  CLI11_PARSE(app, argc, argv);

  std::printf("load before: %s\n", fathom::bench::LoadAverages().c_str());
  auto started = Clock::now();
  const fathom::bench::Corpus corpus = fathom::bench::GenerateSyntheticCorpus(corpus_options);
  std::printf("corpus: %s; generated in %.1f s\n", corpus.description.c_str(), Seconds(started));
  std::vector<std::string> documents(corpus.docs());
  uint64_t document_bytes = 0;
  for (size_t d = 0; d < corpus.docs(); ++d) {
    documents[d] = corpus.Joined(d);
    document_bytes += documents[d].size();
  }

  const bool reuse = std::filesystem::exists(dir + "/done");
  if (!reuse) {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
  }
  double ingest_s = 0, compact_s = 0;
  std::vector<std::string> queries;
  for (size_t q = 0; q < 20; ++q) queries.push_back(corpus.Joined((q * 7919) % corpus.docs()).substr(0, 40));
  std::vector<std::vector<std::string>> expected;
  if (reuse) {
    auto db = fathom::bench::OpenLocalDatabase(dir);
    auto col = OpenCollection(*db);
    for (const std::string& q : queries) expected.push_back(Top(*col, q));
    std::printf("reusing the collection in %s\n", dir.c_str());
  } else {
    auto db = fathom::bench::OpenLocalDatabase(dir);
    auto col = OpenCollection(*db);
    started = Clock::now();
    for (size_t begin = 0; begin < documents.size(); begin += batch) {
      std::vector<fathom::WriteRecord> records;
      for (size_t d = begin; d < std::min(documents.size(), begin + batch); ++d) {
        fathom::WriteRecord w;
        w.id = "doc" + std::to_string(d);
        w.embedding = std::vector<float>{1.0f};
        w.document = documents[d];
        records.push_back(std::move(w));
      }
      Check(col->Add(std::move(records)), "add");
    }
    ingest_s = Seconds(started);
    started = Clock::now();
    Check(col->Compact(), "compact");
    compact_s = Seconds(started);
    for (const std::string& q : queries) expected.push_back(Top(*col, q));
    std::ofstream(dir + "/done") << "ingested\n";
  }
  const std::filesystem::path object = fathom::bench::FindFileWithExtension(dir, ".tix");
  const uint64_t object_bytes = std::filesystem::file_size(object);
  std::printf("ingest %.1f s, compaction (segment + text index object) %.1f s\n", ingest_s, compact_s);

  // Collection open, alternating rebuild and load.
  std::vector<double> rebuild_s, load_s, rebuild_cpu_s, load_cpu_s;
  // Outside the store's directory: inside, the open's garbage collection would delete it.
  const std::filesystem::path aside = dir + ".aside.tix";
  for (int round = 0; round < rounds; ++round) {
    for (bool load : {false, true}) {
      if (!load) std::filesystem::rename(object, aside);
      started = Clock::now();
      const double cpu_started = ProcessCpuSeconds();
      auto db = fathom::bench::OpenLocalDatabase(dir);
      auto col = OpenCollection(*db);
      Check(col->Count().status(), "count");
      const double seconds = Seconds(started);
      (load ? load_s : rebuild_s).push_back(seconds);
      (load ? load_cpu_s : rebuild_cpu_s).push_back(ProcessCpuSeconds() - cpu_started);
      for (size_t q = 0; q < queries.size(); ++q) {
        if (Top(*col, queries[q]) != expected[q]) Die("answers differ after open (" + std::string(load ? "load" : "rebuild") + ")");
      }
      col.reset();
      db.reset();
      if (!load) std::filesystem::rename(aside, object);
    }
  }
  std::sort(rebuild_s.begin(), rebuild_s.end());
  std::sort(load_s.begin(), load_s.end());
  std::sort(rebuild_cpu_s.begin(), rebuild_cpu_s.end());
  std::sort(load_cpu_s.begin(), load_cpu_s.end());

  // The text index alone, in this process, single-threaded.
  std::string bytes;
  {
    std::ifstream in(object, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const auto analyzer = fathom::Analyzer::Default();
  // Thread CPU seconds (single-threaded work).
  double analyze_build_s = 0, decode_s = 0, adopt_s = 0, moved_s = 0, copy_s = 0, encode_s = 0, renumber_s = 0;
  size_t rebuilt_memory = 0, loaded_memory = 0;
  {
    double cpu = ThreadCpuSeconds();
    fathom::InvertedIndex index;
    std::vector<std::string> tokens;
    for (size_t d = 0; d < documents.size(); ++d) {
      tokens.clear();
      analyzer->Tokenize(documents[d], &tokens);
      index.BulkInsert(static_cast<uint32_t>(d), tokens);
    }
    index.Seal();
    analyze_build_s = ThreadCpuSeconds() - cpu;
    rebuilt_memory = index.MemoryBytes();
    // Compaction's side: the copy made under the table's lock, then (without it) the
    // image and its encoding. Sealed and dense here, so no renumbering.
    cpu = ThreadCpuSeconds();
    fathom::InvertedIndex copy = index;
    copy_s = ThreadCpuSeconds() - cpu;
    cpu = ThreadCpuSeconds();
    fathom::TextIndexObject text_object;
    text_object.image = copy.TakeSealed(static_cast<uint32_t>(documents.size()));
    auto encoded = fathom::EncodeTextIndexObject(text_object);
    Check(encoded.status(), "encode");
    encode_s = ThreadCpuSeconds() - cpu;
    std::vector<uint32_t> identity(documents.size());
    for (size_t d = 0; d < identity.size(); ++d) identity[d] = static_cast<uint32_t>(d);
    copy = index;
    cpu = ThreadCpuSeconds();
    copy.Renumber(identity);
    renumber_s = ThreadCpuSeconds() - cpu;
  }
  // The trigram index alone (format version 2): built from the documents (BulkAdd + Seal)
  // against decoding its section (every check) and adopting the postings.
  double trigram_build_s = 0, trigram_load_s = 0;
  size_t trigram_memory = 0;
  {
    std::vector<std::optional<std::string>> texts(documents.begin(), documents.end());
    const std::string id;
    const std::optional<fathom::Metadata> metadata;
    double cpu = ThreadCpuSeconds();
    fathom::TrigramIndex built;
    for (size_t d = 0; d < texts.size(); ++d) built.BulkAdd(static_cast<uint32_t>(d), {id, texts[d], metadata});
    built.Seal();
    trigram_build_s = ThreadCpuSeconds() - cpu;
    trigram_memory = built.MemoryBytes();
    uint64_t section_at = 0;
    for (int b = 7; b >= 0; --b) section_at = section_at << 8 | static_cast<uint8_t>(bytes[72 + 7 * 24 + b]);
    std::vector<uint8_t> has_document(documents.size(), 1);
    cpu = ThreadCpuSeconds();
    fathom::TrigramIndex::SortedPostings postings;
    Check(fathom::DecodeTrigramSection(std::string_view(bytes).substr(section_at), has_document, &postings),
          "trigram section");
    fathom::TrigramIndex loaded;
    loaded.LoadSealed(std::move(postings));
    trigram_load_s = ThreadCpuSeconds() - cpu;
    if (!loaded.SamePostings(built)) Die("the trigram section differs from the index built from the documents");
  }
  {
    double cpu = ThreadCpuSeconds();
    auto decoded = fathom::DecodeTextIndexObject(bytes);
    Check(decoded.status(), "decode");
    decode_s = ThreadCpuSeconds() - cpu;
    cpu = ThreadCpuSeconds();
    fathom::InvertedIndex moved_index;
    {
      // Recovery with dead slots between the live rows (segments holding deletes): every
      // block re-encoded with its slots moved. Here every other slot is dead.
      fathom::InvertedIndex::SealedImage image = decoded->image;
      std::vector<uint32_t> slot_of(image.slot_count);
      for (size_t r = 0; r < slot_of.size(); ++r) slot_of[r] = static_cast<uint32_t>(2 * r + 1);
      cpu = ThreadCpuSeconds();
      moved_index.LoadSealed(std::move(image), &slot_of);
      moved_s = ThreadCpuSeconds() - cpu;
    }
    cpu = ThreadCpuSeconds();
    fathom::InvertedIndex index;
    index.LoadSealed(std::move(decoded->image), nullptr);
    adopt_s = ThreadCpuSeconds() - cpu;
    loaded_memory = index.MemoryBytes();
  }

  std::printf("\n%zu documents, %.1f MiB of document text (%.1f tokens per document)\n", corpus.docs(),
              Mib(static_cast<double>(document_bytes)), static_cast<double>(corpus.tokens.size()) / corpus.docs());
  std::printf("text index object: %.1f MiB (%.2fx the document text)\n\n", Mib(static_cast<double>(object_bytes)),
              static_cast<double>(object_bytes) / static_cast<double>(document_bytes));
  {
    // Section sizes, from the header's section table (docs/format/text-index.md).
    static const char* kNames[] = {"analyzer", "dictionary", "term texts", "block table", "documents",
                                   "per-document term ids", "postings", "trigrams"};
    std::printf("| section | MiB |\n| --- | --- |\n");
    for (size_t i = 0; i < fathom::kTextIndexSections && bytes.size() >= fathom::kTextIndexHeaderBytes; ++i) {
      uint64_t size = 0;
      for (int b = 7; b >= 0; --b) size = size << 8 | static_cast<uint8_t>(bytes[72 + i * 24 + 8 + b]);
      std::printf("| %s | %.1f |\n", kNames[i], Mib(static_cast<double>(size)));
    }
    std::printf("\n");
  }
  std::printf("| collection open (Database::Open + first Count), wall | min s | median s | max s |\n");
  std::printf("| --- | --- | --- | --- |\n");
  auto row = [](const char* name, const std::vector<double>& v) {
    std::printf("| %s | %.2f | %.2f | %.2f |\n", name, v.front(), v[v.size() / 2], v.back());
  };
  row("rebuild (object moved aside): wall", rebuild_s);
  row("load (object in place): wall", load_s);
  row("rebuild: process CPU (all threads)", rebuild_cpu_s);
  row("load: process CPU (all threads)", load_cpu_s);
  std::printf("| load / rebuild, medians: wall %.2fx, CPU %.2fx | | | |\n\n",
              load_s[load_s.size() / 2] / rebuild_s[rebuild_s.size() / 2],
              load_cpu_s[load_cpu_s.size() / 2] / rebuild_cpu_s[rebuild_cpu_s.size() / 2]);
  std::printf("| text index alone, one thread | CPU s | memory MiB |\n| --- | --- | --- |\n");
  std::printf("| analyze + BulkInsert + Seal | %.2f | %.1f |\n", analyze_build_s, Mib(static_cast<double>(rebuilt_memory)));
  std::printf("| decode (all checks; includes the trigram section's, below) | %.2f | |\n", decode_s);
  std::printf("| LoadSealed (adopt) | %.2f | %.1f |\n", adopt_s, Mib(static_cast<double>(loaded_memory)));
  std::printf("| LoadSealed with moved slots (dead slots between rows) | %.2f | |\n", moved_s);
  std::printf("| decode + load / rebuild | %.2fx | |\n", (decode_s + adopt_s) / analyze_build_s);
  std::printf("\n| trigram index alone, one thread | CPU s | memory MiB |\n| --- | --- | --- |\n");
  std::printf("| BulkAdd + Seal from the documents | %.2f | %.1f |\n", trigram_build_s,
              Mib(static_cast<double>(trigram_memory)));
  std::printf("| decode its section (all checks) + LoadSealed | %.2f | |\n", trigram_load_s);
  std::printf("\n| compaction's side, one thread | CPU s |\n| --- | --- |\n");
  std::printf("| copy of the index (under the table's lock) | %.2f |\n", copy_s);
  std::printf("| renumber to ranks (when slots are not dense) | %.2f |\n", renumber_s);
  std::printf("| image + encode | %.2f |\n", encode_s);
  std::printf("\nload after: %s\n", fathom::bench::LoadAverages().c_str());
  if (!keep) std::filesystem::remove_all(dir);
  return 0;
}
