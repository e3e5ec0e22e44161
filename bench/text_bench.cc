// text_bench: BM25 top-k OR queries over short documents, fathom's inverted index against
// the engines people use for full text today, on the same documents and the same tokens,
// measured in one run (issue 14's bar: fathom's mean latency <= 0.7x Lucene's at top-10 and
// <= Lucene's at top-100):
//
//   fathom   index/text InvertedIndex: BulkInsert per document, Seal, Search (in memory)
//   Lucene   8.x (Debian liblucene8-java) through bench/lucene/LuceneBench.java, compiled
//            with javac and run in a JVM: MMapDirectory on --tmp, BM25Similarity(1.2, 0.75),
//            force-merged to one segment, timed in process with System.nanoTime
//   Xapian   glass database on --tmp, BM25Weight(k1=1.2, k2=0, k3=1, b=0.75, min_normlen=0),
//            compacted; in process
//   FTS5     SQLite FTS5 contentless table on --tmp, tokenize='unicode61', optimized,
//            ORDER BY rank (= bm25(), k1=1.2, b=0.75) LIMIT k; in process
//
// Corpora (bench/text_corpus.h): a seeded synthetic one (Zipfian terms, log-normal lengths)
// and every paragraph of this Debian machine's copyright files, changelogs and man pages.
// Each document is tokenized once; Lucene gets the tokens joined by spaces
// (WhitespaceAnalyzer), FTS5 the same text (unicode61 splits it back into the same tokens:
// checked through fts5vocab), Xapian add_term per distinct token with its count, fathom the
// token vector. Queries: OR of 1-5 and of 10-20 distinct terms, each term a random term of
// a random document (so terms come in about as often as their document frequency), the
// same queries for every engine; every engine answers each query at k=10 and k=100 after
// one untimed warm-up pass over all of them (Lucene: --lucene-warmup passes, 10 by default, as
// its JIT needs many thousands of searches: with 1 pass its times at 50k documents were 7x
// those with 30;
// FTS5, which takes seconds per query at 1M documents: over its first two queries, and it
// answers only the first --fts5-queries of each class).
// Single thread; a query's time is the querying thread's CPU time (--timer cpu, the default,
// for a shared machine) or wall-clock time (--timer wall). Top-10 agreement with fathom (or Lucene without fathom) is reported:
// scores differ slightly between engines (Lucene stores document lengths in one lossy byte;
// Xapian's and FTS5's idf is the Robertson-Sparck Jones ln((N-n+0.5)/(n+0.5)) (Xapian then
// softens it below 2, FTS5 floors it at 1e-6) where Lucene and fathom use ln(1+(N-n+0.5)/(n+0.5)),
// so very common terms weigh differently), and ties break differently.
//
// Prints tables; not a test. Usage:
//   text_bench                                  (1M synthetic docs + the Debian corpus: ~40 min on
//                                               the shared 2-core VM at load 5, Xapian half of it)
//   text_bench --quick                          (100k docs each, 200 queries per class)
//   text_bench --corpus synthetic --docs 1000000 --engines fathom,lucene
#include <sqlite3.h>
#include <unistd.h>
#include <xapian.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>
#include <unordered_set>
#include <vector>

#include "bench_util.h"
#include "text_corpus.h"

#if __has_include("index/text/inverted_index.h")
#include "index/text/inverted_index.h"
#define TEXT_BENCH_HAVE_FATHOM 1
#else
#define TEXT_BENCH_HAVE_FATHOM 0
#endif
#if __has_include("index/text/analyzer.h")
#include "index/text/analyzer.h"
#define TEXT_BENCH_HAVE_ANALYZER 1
#else
#define TEXT_BENCH_HAVE_ANALYZER 0
#endif

namespace {

namespace fs = std::filesystem;
using fathom::bench::Clock;
using fathom::bench::Corpus;
using fathom::bench::Die;
using fathom::bench::Mib;
using fathom::bench::Seconds;

constexpr double kK1 = 1.2;
constexpr double kB = 0.75;
constexpr uint32_t kKs[] = {10, 100};

// ---------------------------------------------------------------- queries

struct QueryClass {
  std::string name;  // "1-5", "10-20"
  std::vector<std::vector<std::string>> queries;
};

// Each term: a random distinct term of a random document.
std::vector<QueryClass> MakeQueries(const Corpus& c, size_t per_class, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<QueryClass> classes = {{"1-5", {}}, {"10-20", {}}};
  const std::pair<size_t, size_t> sizes[] = {{1, 5}, {10, 20}};
  for (size_t ci = 0; ci < classes.size(); ++ci) {
    for (size_t q = 0; q < per_class; ++q) {
      const size_t n = std::uniform_int_distribution<size_t>(sizes[ci].first, sizes[ci].second)(rng);
      std::vector<std::string> terms;
      std::unordered_set<uint32_t> seen;
      while (terms.size() < n) {
        const size_t d = std::uniform_int_distribution<size_t>(0, c.docs() - 1)(rng);
        const uint32_t term = c.Begin(d)[std::uniform_int_distribution<size_t>(0, c.Length(d) - 1)(rng)];
        if (seen.insert(term).second) terms.push_back(c.vocab[term]);
      }
      classes[ci].queries.push_back(std::move(terms));
    }
  }
  return classes;
}

// ---------------------------------------------------------------- results

// One engine on one corpus: build figures and, per query class and k, the latency of each
// query and its first ten documents (document = index into the corpus).
struct EngineRun {
  std::string engine;
  bool ran = false;
  std::string note;  // why it did not run, or what its figures mean
  double build_s = 0;
  double build_extra_s = -1;  // merge / optimize / compact after the build, -1: none
  std::string extra_name;
  double bytes = 0;
  double bytes_before_extra = -1;
  std::string size_kind;  // "disk", "memory"
  // [class][k index][query]
  std::vector<std::vector<std::vector<double>>> us;
  std::vector<std::vector<std::vector<std::vector<uint32_t>>>> top;
};

void InitShape(EngineRun* run, const std::vector<QueryClass>& classes, size_t limit) {
  run->us.assign(classes.size(), std::vector<std::vector<double>>(std::size(kKs)));
  run->top.assign(classes.size(), std::vector<std::vector<std::vector<uint32_t>>>(std::size(kKs)));
  for (size_t c = 0; c < classes.size(); ++c) {
    for (size_t k = 0; k < std::size(kKs); ++k) {
      const size_t n = std::min(limit, classes[c].queries.size());
      run->us[c][k].resize(n);
      run->top[c][k].resize(n);
    }
  }
}

// Runs `search(terms, k, &docs)` over the first `limit` queries of each class: an untimed
// pass over the first `warmup` of them at every k, then the timed pass.
//
// What a query's time is: the querying thread's CPU time by default (--timer cpu), so that
// engines measured one after another on a shared machine are compared at whatever load
// each met; or wall-clock time (--timer wall). Lucene's harness measures the same way
// (ThreadMXBean's thread CPU time: its JIT and GC threads are not counted, which favours
// Lucene). Set once in main, before any engine runs.
bool g_cpu_timer = true;
double QueryClockSeconds() { return g_cpu_timer ? fathom::bench::ThreadCpuSeconds() : fathom::bench::Seconds(Clock::time_point()); }

template <typename Search>
void TimeQueries(const std::vector<QueryClass>& classes, size_t limit, EngineRun* run, Search&& search,
                 size_t warmup = SIZE_MAX) {
  InitShape(run, classes, limit);
  std::vector<uint32_t> docs;
  for (size_t c = 0; c < classes.size(); ++c) {
    for (uint32_t k : kKs) {
      for (size_t q = 0; q < std::min(warmup, run->us[c][0].size()); ++q) search(classes[c].queries[q], k, &docs);
    }
  }
  for (size_t c = 0; c < classes.size(); ++c) {
    for (size_t ki = 0; ki < std::size(kKs); ++ki) {
      for (size_t q = 0; q < run->us[c][ki].size(); ++q) {
        const double start = QueryClockSeconds();
        search(classes[c].queries[q], kKs[ki], &docs);
        run->us[c][ki][q] = (QueryClockSeconds() - start) * 1e6;
        if (docs.size() > 10) docs.resize(10);
        run->top[c][ki][q] = docs;
      }
    }
  }
}

uint64_t DirBytes(const fs::path& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec)) total += it->file_size(ec);
  }
  return total;
}

// ---------------------------------------------------------------- fathom

#if TEXT_BENCH_HAVE_FATHOM
// Calls a member that may return void, Status or Result<T>, failing on an error.
template <typename F>
void Must(F&& call, const char* what) {
  if constexpr (std::is_void_v<decltype(call())>) {
    call();
  } else {
    auto s = call();
    if (!s.ok()) Die(std::string(what) + ": " + s.status().ToString());
  }
}

EngineRun RunFathom(const Corpus& corpus, const std::vector<QueryClass>& classes, size_t limit) {
  EngineRun run;
  run.engine = "fathom";
  run.size_kind = "memory";
  auto index = std::make_unique<fathom::InvertedIndex>();
  std::vector<std::string> tokens;
  const Clock::time_point start = Clock::now();
  for (size_t d = 0; d < corpus.docs(); ++d) {
    corpus.Strings(d, &tokens);
    Must([&] { return index->BulkInsert(static_cast<uint32_t>(d), tokens); }, "fathom BulkInsert");
  }
  Must([&] { return index->Seal(); }, "fathom Seal");
  run.build_s = Seconds(start);
  run.bytes = static_cast<double>(index->MemoryBytes());
  fathom::Bm25Params params;
  params.k1 = static_cast<float>(kK1);
  params.b = static_cast<float>(kB);
  TimeQueries(classes, limit, &run, [&](const std::vector<std::string>& terms, uint32_t k, std::vector<uint32_t>* docs) {
    docs->clear();
    for (const fathom::ScoredSlot& s : index->Search(terms, k, nullptr, params)) docs->push_back(s.slot);
  });
  run.ran = true;
  run.note = "in memory (MemoryBytes), BulkInsert + Seal";
  return run;
}
#endif

// ---------------------------------------------------------------- Xapian

EngineRun RunXapian(const Corpus& corpus, const std::vector<QueryClass>& classes, size_t limit, const fs::path& tmp) {
  EngineRun run;
  run.engine = "xapian";
  run.size_kind = "disk";
  const fs::path built = tmp / "xapian";
  const fs::path compacted = tmp / "xapian-compact";
  try {
    // Flush every 1M documents instead of Xapian's default 10k: the bulk load a user would do.
    setenv("XAPIAN_FLUSH_THRESHOLD", "1000000", 1);
    Clock::time_point start = Clock::now();
    {
      Xapian::WritableDatabase db(built.string(), Xapian::DB_CREATE_OR_OVERWRITE | Xapian::DB_BACKEND_GLASS);
      std::map<std::string_view, uint32_t> wdf;
      for (size_t d = 0; d < corpus.docs(); ++d) {
        wdf.clear();
        for (const uint32_t* t = corpus.Begin(d); t != corpus.Begin(d) + corpus.Length(d); ++t) ++wdf[corpus.vocab[*t]];
        Xapian::Document doc;
        for (const auto& [term, count] : wdf) doc.add_term(std::string(term), count);
        db.replace_document(static_cast<Xapian::docid>(d + 1), doc);
      }
      db.commit();
    }
    run.build_s = Seconds(start);
    run.bytes_before_extra = static_cast<double>(DirBytes(built));
    start = Clock::now();
    {
      Xapian::Database db(built.string());
      db.compact(compacted.string());
    }
    run.build_extra_s = Seconds(start);
    run.extra_name = "compact";
    run.bytes = static_cast<double>(DirBytes(compacted));
    fs::remove_all(built);

    Xapian::Database db(compacted.string());
    Xapian::Enquire enquire(db);
    enquire.set_weighting_scheme(Xapian::BM25Weight(kK1, 0, 1, kB, 0));
    TimeQueries(classes, limit, &run, [&](const std::vector<std::string>& terms, uint32_t k, std::vector<uint32_t>* docs) {
      enquire.set_query(Xapian::Query(Xapian::Query::OP_OR, terms.begin(), terms.end()));
      const Xapian::MSet mset = enquire.get_mset(0, k);
      docs->clear();
      for (Xapian::MSetIterator it = mset.begin(); it != mset.end(); ++it) docs->push_back(*it - 1);
    });
  } catch (const Xapian::Error& e) {
    Die("xapian: " + e.get_description());
  }
  fs::remove_all(compacted);
  run.ran = true;
  run.note = "glass on --tmp, compacted";
  return run;
}

// ---------------------------------------------------------------- SQLite FTS5

void Exec(sqlite3* db, const std::string& sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    Die("sqlite: " + sql + ": " + (error ? error : "?"));
  }
}
int64_t ScalarInt(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) Die("sqlite: " + sql + ": " + sqlite3_errmsg(db));
  const int64_t value = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : -1;
  sqlite3_finalize(stmt);
  return value;
}

// "a" OR "b" OR "c": the terms quoted so that none is read as an FTS5 keyword.
std::string Fts5Match(const std::vector<std::string>& terms) {
  std::string match;
  for (const std::string& t : terms) match += (match.empty() ? "\"" : " OR \"") + t + "\"";
  return match;
}

EngineRun RunFts5(const Corpus& corpus, const std::vector<QueryClass>& classes, size_t limit, const fs::path& tmp,
                  std::string* vocab_check) {
  EngineRun run;
  run.engine = "fts5";
  run.size_kind = "disk";
  const fs::path path = tmp / "fts5.db";
  fs::remove(path);
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) Die("sqlite: cannot open " + path.string());
  Exec(db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-1048576;");
  // Contentless: FTS5 keeps its index and document sizes (all bm25() needs), not the text.
  Exec(db, "CREATE VIRTUAL TABLE docs USING fts5(body, content='', tokenize='unicode61')");
  Clock::time_point start = Clock::now();
  Exec(db, "BEGIN");
  sqlite3_stmt* insert = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO docs(rowid, body) VALUES (?1, ?2)", -1, &insert, nullptr);
  for (size_t d = 0; d < corpus.docs(); ++d) {
    const std::string text = corpus.Joined(d);
    sqlite3_bind_int64(insert, 1, static_cast<int64_t>(d));
    sqlite3_bind_text(insert, 2, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
    if (sqlite3_step(insert) != SQLITE_DONE) Die(std::string("sqlite insert: ") + sqlite3_errmsg(db));
    sqlite3_reset(insert);
  }
  sqlite3_finalize(insert);
  Exec(db, "COMMIT");
  run.build_s = Seconds(start);
  run.bytes_before_extra = static_cast<double>(fs::file_size(path));
  start = Clock::now();
  Exec(db, "INSERT INTO docs(docs) VALUES('optimize')");
  run.build_extra_s = Seconds(start);
  run.extra_name = "optimize";
  Exec(db, "VACUUM");
  run.bytes = static_cast<double>(fs::file_size(path));

  // Same tokens: FTS5's vocabulary of the space-joined tokens is the corpus's vocabulary.
  Exec(db, "CREATE VIRTUAL TABLE vocab USING fts5vocab(docs, 'row')");
  size_t ours = 0;
  for (uint32_t df : corpus.df) ours += df != 0;
  const int64_t theirs = ScalarInt(db, "SELECT count(*) FROM vocab");
  *vocab_check = "FTS5 vocabulary " + std::to_string(theirs) + " terms, the corpus's " + std::to_string(ours) +
                 (theirs == static_cast<int64_t>(ours) ? " (same)" : " (DIFFERENT: the engines see different tokens)");

  sqlite3_stmt* query = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT rowid FROM docs WHERE docs MATCH ?1 ORDER BY rank LIMIT ?2", -1, &query,
                         nullptr) != SQLITE_OK) {
    Die(std::string("sqlite prepare: ") + sqlite3_errmsg(db));
  }
  TimeQueries(classes, limit, &run, [&](const std::vector<std::string>& terms, uint32_t k, std::vector<uint32_t>* docs) {
    const std::string match = Fts5Match(terms);
    sqlite3_bind_text(query, 1, match.data(), static_cast<int>(match.size()), SQLITE_STATIC);
    sqlite3_bind_int(query, 2, static_cast<int>(k));
    docs->clear();
    int rc;
    while ((rc = sqlite3_step(query)) == SQLITE_ROW) docs->push_back(static_cast<uint32_t>(sqlite3_column_int64(query, 0)));
    if (rc != SQLITE_DONE) Die(std::string("sqlite query: ") + sqlite3_errmsg(db));
    sqlite3_reset(query);
  }, /*warmup=*/2);  // its index is in the page cache already; a query takes seconds at 1M docs
  sqlite3_finalize(query);
  sqlite3_close(db);
  fs::remove(path);
  run.ran = true;
  run.note = "contentless, detail=full, optimized; sorts every match (no top-k pruning)";
  return run;
}

// ---------------------------------------------------------------- Lucene

struct LuceneSetup {
  std::string java = "java";
  std::string javac = "javac";
  std::string jars;      // classpath of lucene-core and lucene-analyzers-common
  std::string source;    // LuceneBench.java
  std::string classes;   // where javac puts LuceneBench.class
  std::string heap = "4g";
  int warmup = 10;  // untimed passes: see the file comment
};

std::string FindJar(const std::string& prefix) {
  std::vector<std::string> found;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator("/usr/share/java", ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) == 0 && name.size() > 4 && name.substr(name.size() - 4) == ".jar") found.push_back(e.path());
  }
  std::sort(found.begin(), found.end());
  return found.empty() ? "" : found.back();
}

// bench/lucene/LuceneBench.java, found from this source file's path as compiled (absolute, or
// relative to the build directory when ccache rewrote it), then from the working directory.
std::string DefaultLuceneSource() {
  const fs::path here = fs::path(__FILE__).parent_path() / "lucene" / "LuceneBench.java";
  std::error_code ec;
  const fs::path exe_dir = fs::read_symlink("/proc/self/exe", ec).parent_path();
  for (const fs::path& p : {here, exe_dir / here, fs::path("bench/lucene/LuceneBench.java")}) {
    if (fs::exists(p, ec)) return fs::absolute(p, ec).string();
  }
  return here.string();
}

std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char ch : s) q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return q + "'";
}

EngineRun RunLucene(const Corpus& corpus, const std::vector<QueryClass>& classes, size_t limit, const fs::path& tmp,
                    const LuceneSetup& setup) {
  EngineRun run;
  run.engine = "lucene";
  run.size_kind = "disk";
  if (setup.jars.empty()) {
    run.note = "not run: no lucene-core / lucene-analyzers-common jar in /usr/share/java";
    return run;
  }
  fs::create_directories(setup.classes);
  const std::string compile = setup.javac + " -nowarn -d " + Quote(setup.classes) + " -cp " + Quote(setup.jars) + " " +
                              Quote(setup.source);
  if (std::system(compile.c_str()) != 0) Die("javac failed: " + compile);

  const fs::path docs_file = tmp / "lucene-docs.txt";
  const fs::path queries_file = tmp / "lucene-queries.txt";
  const fs::path out_file = tmp / "lucene-out.txt";
  const fs::path index_dir = tmp / "lucene-index";
  {
    std::ofstream docs(docs_file);
    for (size_t d = 0; d < corpus.docs(); ++d) docs << corpus.Joined(d) << '\n';
    std::ofstream queries(queries_file);
    for (const QueryClass& c : classes) {
      for (size_t q = 0; q < std::min(limit, c.queries.size()); ++q) {
        queries << c.name << '\t';
        for (size_t i = 0; i < c.queries[q].size(); ++i) queries << (i ? " " : "") << c.queries[q][i];
        queries << '\n';
      }
    }
  }
  fs::remove_all(index_dir);
  std::string command = setup.java + " -Xms" + setup.heap + " -Xmx" + setup.heap +
                        (g_cpu_timer ? " -Dtimer=cpu" : " -Dtimer=wall") + " -cp " +
                        Quote(setup.jars + ":" + setup.classes) + " LuceneBench " + Quote(docs_file) + " " +
                        Quote(queries_file) + " " + Quote(index_dir) + " " + Quote(out_file) + " " +
                        std::to_string(setup.warmup);
  for (uint32_t k : kKs) command += " " + std::to_string(k);
  if (std::system(command.c_str()) != 0) Die("Lucene run failed: " + command);

  InitShape(&run, classes, limit);
  std::ifstream out(out_file);
  std::string line;
  while (std::getline(out, line)) {
    std::istringstream in(line);
    std::string key;
    in >> key;
    if (key == "build_s") in >> run.build_s;
    else if (key == "merge_s") in >> run.build_extra_s;
    else if (key == "bytes_unmerged") in >> run.bytes_before_extra;
    else if (key == "bytes") in >> run.bytes;
    else if (key == "r") {
      uint32_t k;
      size_t query, hits;
      long long nanos;
      in >> k >> query >> nanos >> hits;
      const size_t ki = k == kKs[0] ? 0 : 1;
      // The query file holds every class in order: find the class of this query number.
      size_t c = 0;
      while (c + 1 < classes.size() && query >= run.us[c][ki].size()) query -= run.us[c++][ki].size();
      run.us[c][ki][query] = nanos / 1e3;
      uint32_t doc;
      while (in >> doc) run.top[c][ki][query].push_back(doc);
    }
  }
  run.extra_name = "forceMerge(1)";
  fs::remove_all(index_dir);
  fs::remove(docs_file);
  fs::remove(queries_file);
  fs::remove(out_file);
  run.ran = true;
  run.note = "MMapDirectory on --tmp, DOCS_AND_FREQS, one segment; JVM -Xmx" + setup.heap;
  return run;
}

// ---------------------------------------------------------------- tables

struct Stats {
  double mean = 0, p50 = 0, p99 = 0;
};
Stats Summarize(std::vector<double> us) {
  Stats s;
  if (us.empty()) return s;
  s.mean = std::accumulate(us.begin(), us.end(), 0.0) / us.size();
  std::sort(us.begin(), us.end());
  s.p50 = us[us.size() / 2];
  s.p99 = us[std::min(us.size() - 1, static_cast<size_t>(us.size() * 0.99))];
  return s;
}

// Mean share of the reference's top 10 that the engine also returned (over the queries both ran).
double Overlap(const std::vector<std::vector<uint32_t>>& engine, const std::vector<std::vector<uint32_t>>& reference) {
  double sum = 0;
  size_t n = 0;
  for (size_t q = 0; q < std::min(engine.size(), reference.size()); ++q) {
    const std::set<uint32_t> ref(reference[q].begin(), reference[q].end());
    const size_t denominator = std::max(ref.size(), engine[q].size());
    if (denominator == 0) continue;
    size_t common = 0;
    for (uint32_t d : engine[q]) common += ref.count(d);
    sum += static_cast<double>(common) / denominator;
    ++n;
  }
  return n ? sum / n : 0;
}

void PrintTables(const Corpus& corpus, const std::vector<QueryClass>& classes, const std::vector<EngineRun>& runs) {
  std::printf("\n## %s: build and index size\n", corpus.name.c_str());
  std::printf("%-8s %10s %-15s %10s %10s %-8s %s\n", "engine", "build_s", "then", "extra_s", "index_MiB", "where",
              "notes");
  for (const EngineRun& r : runs) {
    if (!r.ran) {
      std::printf("%-8s %s\n", r.engine.c_str(), r.note.c_str());
      continue;
    }
    char sizes[64];
    if (r.bytes_before_extra >= 0) std::snprintf(sizes, sizeof(sizes), "%.1f (%.1f before)", Mib(r.bytes), Mib(r.bytes_before_extra));
    else std::snprintf(sizes, sizeof(sizes), "%.1f", Mib(r.bytes));
    std::printf("%-8s %10.1f %-15s %10.1f %10s %-8s %s\n", r.engine.c_str(), r.build_s,
                r.extra_name.empty() ? "-" : r.extra_name.c_str(), r.build_extra_s < 0 ? 0.0 : r.build_extra_s, sizes,
                r.size_kind.c_str(), r.note.c_str());
  }
  const EngineRun* lucene = nullptr;
  const EngineRun* reference = nullptr;
  for (const EngineRun& r : runs) {
    if (r.ran && r.engine == "lucene") lucene = &r;
    if (r.ran && r.engine == "fathom") reference = &r;
  }
  if (reference == nullptr) reference = lucene;
  std::printf("\n## %s: OR queries, single thread, latency in microseconds (%s); x_lucene = mean / Lucene's mean; "
              "top10 = mean share of %s's top 10 also returned\n",
              corpus.name.c_str(), g_cpu_timer ? "the querying thread's CPU time" : "wall-clock",
              reference ? reference->engine.c_str() : "-");
  std::printf("%-6s %4s %-8s %8s %10s %10s %10s %8s %7s\n", "terms", "k", "engine", "queries", "mean_us", "p50_us",
              "p99_us", "x_lucene", "top10");
  for (size_t c = 0; c < classes.size(); ++c) {
    for (size_t ki = 0; ki < std::size(kKs); ++ki) {
      const double lucene_mean = lucene ? Summarize(lucene->us[c][ki]).mean : 0;
      for (const EngineRun& r : runs) {
        if (!r.ran) continue;
        const Stats s = Summarize(r.us[c][ki]);
        char ratio[16] = "-", overlap[16] = "-";
        if (lucene_mean > 0) std::snprintf(ratio, sizeof(ratio), "%.2f", s.mean / lucene_mean);
        if (reference != nullptr && reference != &r) {
          std::snprintf(overlap, sizeof(overlap), "%.3f", Overlap(r.top[c][ki], reference->top[c][ki]));
        }
        std::printf("%-6s %4u %-8s %8zu %10.1f %10.1f %10.1f %8s %7s\n", classes[c].name.c_str(), kKs[ki],
                    r.engine.c_str(), r.us[c][ki].size(), s.mean, s.p50, s.p99, ratio, overlap);
      }
    }
  }
  if (lucene != nullptr) {
    for (const EngineRun& r : runs) {
      if (!r.ran || r.engine != "fathom") continue;
      std::printf("# bar (fathom mean <= 0.7x Lucene's at k=10, <= 1x at k=100):");
      for (size_t c = 0; c < classes.size(); ++c) {
        for (size_t ki = 0; ki < std::size(kKs); ++ki) {
          const double x = Summarize(r.us[c][ki]).mean / Summarize(lucene->us[c][ki]).mean;
          const bool met = x <= (kKs[ki] == 10 ? 0.7 : 1.0);
          std::printf(" %s/k%u %.2fx %s;", classes[c].name.c_str(), kKs[ki], x, met ? "met" : "MISSED");
        }
      }
      std::printf("\n");
    }
  }
  std::fflush(stdout);
}

// ---------------------------------------------------------------- driver

struct Options {
  std::string corpus = "both";
  fathom::bench::SyntheticCorpusOptions synthetic;
  size_t debian_max_docs = 0;
  size_t queries = 1000;
  size_t fts5_queries = 20;
  std::vector<std::string> engines = {"fathom", "lucene", "xapian", "fts5"};
  std::string tmp;
  uint64_t query_seed = 7;
  LuceneSetup lucene;
};

#if TEXT_BENCH_HAVE_ANALYZER
// fathom's default analyzer (FTS5 unicode61), whatever Default() hands back.
template <typename T>
const fathom::Analyzer& Deref(const T& t) {
  if constexpr (requires { *t; }) return *t;
  else return t;
}
void FathomTokenize(std::string_view text, std::vector<std::string>* out) {
  static const auto analyzer = fathom::Analyzer::Default();
  out->clear();
  Deref(analyzer).Tokenize(text, out);
}
#endif

void RunCorpus(const Corpus& corpus, const Options& o, const fs::path& tmp) {
  const size_t total_tokens = corpus.tokens.size();
  size_t max_len = 0;
  for (size_t d = 0; d < corpus.docs(); ++d) max_len = std::max(max_len, corpus.Length(d));
  std::printf("\n# corpus %s\n# %zu tokens, mean %.1f per document, longest %zu\n", corpus.description.c_str(),
              total_tokens, static_cast<double>(total_tokens) / corpus.docs(), max_len);
  const std::vector<QueryClass> classes = MakeQueries(corpus, o.queries, o.query_seed);
  double mean_terms[2] = {0, 0};
  for (size_t c = 0; c < classes.size(); ++c) {
    for (const auto& q : classes[c].queries) mean_terms[c] += q.size();
    mean_terms[c] /= classes[c].queries.size();
  }
  std::printf("# queries: %zu per class (FTS5: the first %zu), mean terms %.1f and %.1f, seed %llu\n", o.queries,
              std::min(o.fts5_queries, o.queries), mean_terms[0], mean_terms[1],
              static_cast<unsigned long long>(o.query_seed));
  std::fflush(stdout);

  std::vector<EngineRun> runs;
  std::string vocab_check;
  for (const std::string& engine : o.engines) {
    const Clock::time_point start = Clock::now();
    std::fprintf(stderr, "# %s: %s ...\n", corpus.name.c_str(), engine.c_str());
    if (engine == "fathom") {
#if TEXT_BENCH_HAVE_FATHOM
      runs.push_back(RunFathom(corpus, classes, o.queries));
#else
      EngineRun r;
      r.engine = "fathom";
      r.note = "fathom: not built (src/index/text/inverted_index.h is not in this tree)";
      runs.push_back(r);
#endif
    } else if (engine == "lucene") {
      runs.push_back(RunLucene(corpus, classes, o.queries, tmp, o.lucene));
    } else if (engine == "xapian") {
      runs.push_back(RunXapian(corpus, classes, o.queries, tmp));
    } else if (engine == "fts5") {
      runs.push_back(RunFts5(corpus, classes, o.fts5_queries, tmp, &vocab_check));
    } else {
      Die("unknown engine " + engine + " (fathom, lucene, xapian, fts5)");
    }
    std::fprintf(stderr, "# %s: %s done in %.1f s\n", corpus.name.c_str(), engine.c_str(), Seconds(start));
  }
  if (!vocab_check.empty()) std::printf("# tokens check: %s\n", vocab_check.c_str());
  PrintTables(corpus, classes, runs);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  bool quick = false;
  bool skip_lucene = false;
  std::string engines = "fathom,lucene,xapian,fts5";
  CLI::App app{"text_bench: BM25 OR queries, fathom vs Lucene 8, Xapian and SQLite FTS5"};
  app.add_option("--corpus", o.corpus, "synthetic | debian | both")->check(CLI::IsMember({"synthetic", "debian", "both"}));
  app.add_option("--docs", o.synthetic.docs, "synthetic documents");
  app.add_option("--vocab", o.synthetic.vocab, "synthetic vocabulary size");
  app.add_option("--zipf", o.synthetic.zipf_s, "synthetic Zipf exponent of term frequencies");
  app.add_option("--length-median", o.synthetic.length_median, "synthetic median document length (tokens)");
  app.add_option("--length-sigma", o.synthetic.length_sigma, "synthetic log-normal sigma of document lengths");
  app.add_option("--seed", o.synthetic.seed, "synthetic corpus seed");
  app.add_option("--debian-max-docs", o.debian_max_docs, "stop the Debian corpus after this many paragraphs (0: all)");
  app.add_option("--queries", o.queries, "queries per class (1-5 terms, 10-20 terms)");
  app.add_option("--fts5-queries", o.fts5_queries, "FTS5 answers only the first N queries of each class (it sorts every match)");
  app.add_option("--query-seed", o.query_seed, "query sampling seed");
  app.add_option("--engines", engines, "comma-separated: fathom,lucene,xapian,fts5");
  app.add_flag("--skip-lucene", skip_lucene, "no Lucene (no JVM)");
  app.add_flag("--quick", quick, "smoke test: 100k synthetic docs, 100k Debian paragraphs, 200 queries per class");
  app.add_option("--tmp", o.tmp, "where the on-disk indexes go (default /dev/shm, else the temp dir)");
  app.add_option("--java", o.lucene.java, "java binary");
  app.add_option("--javac", o.lucene.javac, "javac binary");
  app.add_option("--lucene-jars", o.lucene.jars, "classpath of lucene-core and lucene-analyzers-common (default: /usr/share/java)");
  app.add_option("--lucene-source", o.lucene.source, "LuceneBench.java");
  app.add_option("--lucene-classes", o.lucene.classes, "javac output directory (default: next to this binary)");
  app.add_option("--lucene-heap", o.lucene.heap, "JVM heap (-Xms and -Xmx)");
  app.add_option("--lucene-warmup", o.lucene.warmup, "untimed passes over the queries before Lucene's timed pass");
  std::string timer = "cpu";
  app.add_option("--timer", timer, "a query's time: cpu (the querying thread's CPU time, for a shared machine) or wall")
      ->check(CLI::IsMember({"cpu", "wall"}));
  CLI11_PARSE(app, argc, argv);
  g_cpu_timer = timer == "cpu";

  if (quick) {
    if (app.count("--docs") == 0) o.synthetic.docs = 100000;
    if (app.count("--debian-max-docs") == 0) o.debian_max_docs = 100000;
    if (app.count("--queries") == 0) o.queries = 200;
  }
  o.engines.clear();
  std::stringstream list(engines);
  for (std::string e; std::getline(list, e, ',');) {
    if (!e.empty() && !(skip_lucene && e == "lucene")) o.engines.push_back(e);
  }
  std::error_code ec;
  if (o.tmp.empty()) o.tmp = fs::is_directory("/dev/shm", ec) ? "/dev/shm" : fs::temp_directory_path(ec).string();
  const fs::path tmp = fs::path(o.tmp) / ("text_bench-" + std::to_string(getpid()));
  fs::create_directories(tmp);
  if (o.lucene.jars.empty()) {
    const std::string core = FindJar("lucene-core-8");
    const std::string analyzers = FindJar("lucene-analyzers-common-8");
    if (!core.empty() && !analyzers.empty()) o.lucene.jars = core + ":" + analyzers;
  }
  if (o.lucene.source.empty()) o.lucene.source = DefaultLuceneSource();
  if (o.lucene.classes.empty()) {
    o.lucene.classes = (fs::read_symlink("/proc/self/exe", ec).parent_path() / "lucene-classes").string();
  }

  const Clock::time_point run_start = Clock::now();
  std::printf("# text_bench: BM25 k1=%.1f b=%.2f, OR queries, k in {10, 100}, single thread; engines:", kK1, kB);
  for (const std::string& e : o.engines) std::printf(" %s", e.c_str());
  std::printf("\n# fathom index: %s; fathom analyzer: %s\n",
              TEXT_BENCH_HAVE_FATHOM ? "built" : "not built (its column is skipped)",
              TEXT_BENCH_HAVE_ANALYZER ? "built (Debian text tokenized by Analyzer::Default())"
                                       : "not built (Debian text tokenized as ASCII unicode61)");
  std::printf("# lucene: %s; tmp %s; load average at start: %s (%u cores)\n", o.lucene.jars.c_str(), tmp.c_str(),
              fathom::bench::LoadAverages().c_str(), std::thread::hardware_concurrency());
  std::fflush(stdout);

  if (o.corpus == "synthetic" || o.corpus == "both") {
    const Clock::time_point start = Clock::now();
    Corpus corpus = fathom::bench::GenerateSyntheticCorpus(o.synthetic);
    corpus.ComputeDf();
    std::printf("# synthetic corpus generated in %.1f s\n", Seconds(start));
    RunCorpus(corpus, o, tmp);
  }
  if (o.corpus == "debian" || o.corpus == "both") {
    const Clock::time_point start = Clock::now();
    fathom::bench::DebianCorpusOptions debian;
    debian.max_docs = o.debian_max_docs;
#if TEXT_BENCH_HAVE_ANALYZER
    const fathom::bench::TokenizeFn tokenize = FathomTokenize;
#else
    const fathom::bench::TokenizeFn tokenize = fathom::bench::AsciiTokenize;
#endif
    size_t counts[3];
    Corpus corpus = fathom::bench::LoadDebianCorpus(debian, tokenize, counts);
    corpus.ComputeDf();
    std::printf("# Debian corpus read and tokenized in %.1f s\n", Seconds(start));
    RunCorpus(corpus, o, tmp);
  }
  fs::remove_all(tmp, ec);
  std::printf("# total wall-clock %.1f s; load average at end: %s\n", Seconds(run_start),
              fathom::bench::LoadAverages().c_str());
  return 0;
}
