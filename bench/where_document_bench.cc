// where_document_bench: `get` with where_document $contains / $regex on a collection of
// short documents, answered by fathom (trigram candidates, then each verified) against
// the scan it replaces (every document tested: what fathom did before the trigram index,
// measured here as the same test over the same strings in memory) and SQLite FTS5's
// trigram tokenizer (case_sensitive 1, GLOB '*p*' for a substring), same process, same
// documents. Issue 14: "where_document $contains at 1M documents: report latency against
// the scan it replaces". Prints a table; see docs/design/text-bench.md.
//
//   build/release/where_document_bench [--docs 1000000] [--corpus synthetic|debian]
#include <re2/re2.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "bench_util.h"
#include "fathom/db.h"
#include "text_corpus.h"

namespace fathom::bench {
namespace {

struct Query {
  std::string cls;
  std::string pattern;
  bool regex = false;
};

// Query classes drawn from the documents: substrings of a random document of 4, 8 and 16
// bytes, a whole common word, a two-word regex "a.*b" from one document, and a string no
// document holds.
std::vector<Query> MakeQueries(const std::vector<std::string>& docs, size_t per_class, uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  std::vector<Query> out;
  for (size_t len : {4, 8, 16}) {
    for (size_t i = 0; i < per_class;) {
      const std::string& d = docs[pick(docs.size())];
      if (d.size() < len) continue;
      out.push_back({"substring " + std::to_string(len), d.substr(pick(d.size() - len + 1), len)});
      ++i;
    }
  }
  for (size_t i = 0; i < per_class;) {
    const std::string& d = docs[pick(docs.size())];
    const size_t space = d.find(' ');
    if (space == std::string::npos || space < 3) continue;
    out.push_back({"first word", d.substr(0, space)});
    ++i;
  }
  for (size_t i = 0; i < per_class;) {
    const std::string& d = docs[pick(docs.size())];
    const size_t a = d.find(' '), b = d.rfind(' ');
    if (a == std::string::npos || b == a || a < 3 || d.size() - b - 1 < 3) continue;
    out.push_back({"regex a.*b", RE2::QuoteMeta(d.substr(0, a)) + ".*" + RE2::QuoteMeta(d.substr(b + 1)), true});
    ++i;
  }
  for (size_t i = 0; i < per_class; ++i) out.push_back({"absent", "zq" + std::to_string(pick(1000000)) + "xj"});
  return out;
}

class Fts5Trigram {
 public:
  explicit Fts5Trigram(const std::vector<std::string>& docs) {
    if (sqlite3_open(":memory:", &db_) != SQLITE_OK) Die("sqlite3_open");
    Exec("CREATE VIRTUAL TABLE t USING fts5(doc, tokenize='trigram case_sensitive 1', detail=none)");
    Exec("BEGIN");
    sqlite3_stmt* insert = nullptr;
    sqlite3_prepare_v2(db_, "INSERT INTO t(rowid, doc) VALUES(?, ?)", -1, &insert, nullptr);
    for (size_t i = 0; i < docs.size(); ++i) {
      sqlite3_bind_int64(insert, 1, static_cast<int64_t>(i));
      sqlite3_bind_text(insert, 2, docs[i].data(), static_cast<int>(docs[i].size()), SQLITE_STATIC);
      if (sqlite3_step(insert) != SQLITE_DONE) Die(sqlite3_errmsg(db_));
      sqlite3_reset(insert);
    }
    sqlite3_finalize(insert);
    Exec("COMMIT");
    sqlite3_prepare_v2(db_, "SELECT rowid FROM t WHERE doc GLOB ?", -1, &glob_, nullptr);
  }
  ~Fts5Trigram() {
    sqlite3_finalize(glob_);
    sqlite3_close(db_);
  }
  // Rows whose document contains `pattern` (no GLOB specials in it).
  size_t Contains(const std::string& pattern) {
    const std::string glob = "*" + pattern + "*";
    sqlite3_bind_text(glob_, 1, glob.data(), static_cast<int>(glob.size()), SQLITE_TRANSIENT);
    size_t n = 0;
    while (sqlite3_step(glob_) == SQLITE_ROW) ++n;
    sqlite3_reset(glob_);
    return n;
  }

 private:
  void Exec(const char* sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) Die(std::string(sql) + ": " + error);
  }
  sqlite3* db_ = nullptr;
  sqlite3_stmt* glob_ = nullptr;
};

bool HasGlobSpecial(const std::string& s) { return s.find_first_of("*?[]") != std::string::npos; }

struct Row {
  double fathom_us = 0, scan_us = 0, fts5_us = 0;
  size_t queries = 0, fts5_queries = 0, matches = 0, mismatches = 0;
};

int Main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress lines show as they come
  size_t docs_wanted = 1000000, per_class = 30;
  std::string corpus_name = "synthetic", parent = "/tmp";
  uint64_t seed = 42;
  bool fts5 = true;
  CLI::App app{"where_document $contains/$regex: trigram candidates vs a scan vs SQLite FTS5 trigram"};
  app.add_option("--docs", docs_wanted, "documents (synthetic; the Debian corpus is capped at this)");
  app.add_option("--corpus", corpus_name, "synthetic | debian");
  app.add_option("--queries", per_class, "queries per class");
  app.add_option("--seed", seed, "corpus and query seed");
  app.add_option("--tmp", parent, "parent directory of the fathom data directory");
  app.add_flag("!--no-fts5", fts5, "skip SQLite FTS5");
  CLI11_PARSE(app, argc, argv);

  std::printf("# where_document_bench: get with where_document, single thread; load average %s (2 cores)\n",
              LoadAverages().c_str());
  Corpus corpus;
  if (corpus_name == "debian") {
    size_t counts[3] = {0, 0, 0};
    corpus = LoadDebianCorpus({.max_docs = docs_wanted}, AsciiTokenize, counts);
  } else {
    SyntheticCorpusOptions o;
    o.docs = docs_wanted;
    o.seed = seed;
    corpus = GenerateSyntheticCorpus(o);
  }
  std::vector<std::string> docs;
  docs.reserve(corpus.docs());
  for (size_t d = 0; d < corpus.docs(); ++d) docs.push_back(corpus.Joined(d));
  size_t bytes = 0;
  for (const std::string& d : docs) bytes += d.size();
  std::printf("# corpus %s: %zu documents, %.1f MiB of text (tokens joined by spaces)\n", corpus_name.c_str(),
              docs.size(), Mib(static_cast<double>(bytes)));

  std::string dir = parent + "/where_document_bench.XXXXXX";
  if (mkdtemp(dir.data()) == nullptr) Die("mkdtemp under " + parent);
  const size_t rss_before = RssBytes();
  auto start = Clock::now();
  auto db = Database::Open({.path = dir, .background_compaction = false});
  Check(db.status(), "open");
  auto col = (*db)->CreateCollection(Database::kDefaultTenant, Database::kDefaultDatabase, {.name = "docs"});
  Check(col.status(), "create");
  for (size_t begin = 0; begin < docs.size(); begin += 5000) {
    std::vector<WriteRecord> batch;
    for (size_t i = begin; i < std::min(docs.size(), begin + 5000); ++i) {
      batch.push_back({.id = std::to_string(i), .embedding = std::vector<float>{1.0f}, .document = docs[i]});
    }
    Check((*col)->Add(std::move(batch)), "add");
  }
  std::printf("# fathom: %zu documents added in %.1f s; RSS grew %.0f MiB (rows, WAL tail and every index)\n",
              docs.size(), Seconds(start), Mib(static_cast<double>(RssBytes() - rss_before)));
  // Reopen from segments: rows decoded, then the row indexes (metadata, trigram, BM25)
  // bulk-built from them.
  start = Clock::now();
  Check((*col)->Compact(), "compact");
  std::printf("# fathom: compacted in %.1f s\n", Seconds(start));
  col->reset();
  db->reset();
  start = Clock::now();
  db = Database::Open({.path = dir, .background_compaction = false});
  Check(db.status(), "reopen");
  col = (*db)->GetCollection(Database::kDefaultTenant, Database::kDefaultDatabase, "docs");
  Check(col.status(), "get collection");
  Check((*col)->Count().status(), "count");
  std::printf("# fathom: reopened (segments loaded, indexes built) in %.1f s\n", Seconds(start));
  std::unique_ptr<Fts5Trigram> sqlite;
  if (fts5) {
    start = Clock::now();
    sqlite = std::make_unique<Fts5Trigram>(docs);
    std::printf("# fts5: trigram index (case_sensitive 1, detail=none) built in %.1f s\n", Seconds(start));
  }

  const std::vector<Query> queries = MakeQueries(docs, per_class, seed + 1);
  std::vector<std::string> order;
  std::map<std::string, Row> rows;
  for (const Query& q : queries) {
    if (!rows.contains(q.cls)) order.push_back(q.cls);
    Row& row = rows[q.cls];
    GetRequest get;
    get.include = Include{.embeddings = false, .documents = false, .metadatas = false};
    WhereDocument w;
    w.kind = q.regex ? WhereDocument::Kind::kRegex : WhereDocument::Kind::kContains;
    w.pattern = q.pattern;
    get.where_document = w;
    start = Clock::now();
    auto got = (*col)->Get(get);
    row.fathom_us += Seconds(start) * 1e6;
    Check(got.status(), "get");
    // The scan: every document tested, as fathom's row-by-row evaluator did.
    RE2 re(q.pattern);
    start = Clock::now();
    size_t scanned = 0;
    for (const std::string& d : docs) {
      scanned += q.regex ? RE2::PartialMatch(d, re) : d.find(q.pattern) != std::string::npos;
    }
    row.scan_us += Seconds(start) * 1e6;
    ++row.queries;
    row.matches += scanned;
    if (scanned != got->ids.size()) ++row.mismatches;
    if (sqlite && !q.regex && !HasGlobSpecial(q.pattern) && q.pattern.size() >= 3) {
      start = Clock::now();
      const size_t n = sqlite->Contains(q.pattern);
      row.fts5_us += Seconds(start) * 1e6;
      ++row.fts5_queries;
      if (n != scanned) ++row.mismatches;
    }
  }
  std::printf("\nclass           queries  mean_matches  fathom_us    scan_us  x_scan    fts5_us  x_fts5  mismatches\n");
  for (const std::string& cls : order) {
    const Row& r = rows[cls];
    const double fathom = r.fathom_us / r.queries, scan = r.scan_us / r.queries;
    const double fts = r.fts5_queries ? r.fts5_us / r.fts5_queries : 0;
    std::printf("%-15s %7zu %13.1f %10.0f %10.0f %7.3f %10.0f %7s %11zu\n", cls.c_str(), r.queries,
                static_cast<double>(r.matches) / r.queries, fathom, scan, fathom / scan, fts,
                r.fts5_queries ? std::to_string(fathom / fts).substr(0, 5).c_str() : "-", r.mismatches);
  }
  std::printf("# x_scan = fathom / scan (lower is better); mismatches = queries whose match count differs from "
              "the scan's (must be 0)\n");
  col->reset();
  db->reset();
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace fathom::bench

int main(int argc, char** argv) { return fathom::bench::Main(argc, argv); }
