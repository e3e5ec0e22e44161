// Small helpers every benchmark program shares: timing, fatal errors, list flags, process
// memory and the machine's load (the machine is shared: figures need their load beside them).
#pragma once

#include <errno.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "fathom/db.h"
#include "fathom/search.h"
#include "fathom/status.h"

namespace fathom::bench {

using Clock = std::chrono::steady_clock;

inline double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}
inline double Mib(double bytes) { return bytes / (1 << 20); }

// The upper median (0 for none).
inline double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// CPU time of the calling thread. On a shared, loaded machine wall-clock rates measure the
// scheduler's share as much as the code; queries per CPU-second of the querying thread do not.
inline double ThreadCpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

// CPU seconds of the whole process (every thread): on a shared machine it moves much less
// with the load than wall time does.
inline double ProcessCpuSeconds() {
  rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// Prints "<program>: what" and exits 1.
[[noreturn]] inline void Die(const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", program_invocation_short_name, what.c_str());
  std::exit(1);
}
inline void Check(const Status& s, const char* what) {
  if (!s.ok()) Die(std::string(what) + ": " + s.ToString());
}

// "1,2.5,4" -> {1, 2.5, 4}.
inline std::vector<double> ParseDoubles(const std::string& text) {
  std::vector<double> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(std::stod(item));
  }
  return out;
}

// A "<field>: N kB" line of /proc/self/status, bytes (0 when absent).
inline size_t ProcStatusBytes(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field, 0) == 0) return std::stoull(line.substr(field.size())) * 1024;
  }
  return 0;
}
// Resident set size of this process, bytes.
inline size_t RssBytes() { return ProcStatusBytes("VmRSS:"); }
// The largest resident set this process has had, bytes.
inline size_t PeakRssBytes() { return ProcStatusBytes("VmHWM:"); }

// The 1-, 5- and 15-minute load averages, "1.00 0.80 0.50".
inline std::string LoadAverages() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

// The 1-minute load average (-1 when unknown).
inline double LoadAverage() {
  std::ifstream in("/proc/loadavg");
  double load = -1.0;
  if (!(in >> load)) return -1.0;
  return load;
}

// The p-quantile (0..1) of `values`, nearest rank; 0 for none.
inline double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const size_t index = static_cast<size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

// Adds rows [0, rows.rows) of a row matrix (Row(i) gives `dim` floats) to `col` as
// records with ids "0", "1", ..., `batch` records per Add: the benches' ingest.
template <typename Rows>
void AddRowsInBatches(Collection& col, const Rows& rows, size_t dim, size_t batch) {
  for (size_t first = 0; first < rows.rows; first += batch) {
    std::vector<WriteRecord> records;
    for (size_t i = first; i < std::min<size_t>(rows.rows, first + batch); ++i) {
      WriteRecord r;
      r.id = std::to_string(i);
      r.embedding = std::vector<float>(rows.Row(i), rows.Row(i) + dim);
      records.push_back(std::move(r));
    }
    Check(col.Add(std::move(records)), "add");
  }
}

// A database in local directory `dir` for the open benches: no background compaction,
// no automatic one, no vector index (the benches time other indexes).
inline std::unique_ptr<Database> OpenLocalDatabase(const std::string& dir) {
  DatabaseOptions options;
  options.path = dir;
  options.background_compaction = false;
  options.compaction_trigger_ops = uint64_t{1} << 40;
  options.vector_index_min_rows = uint64_t{1} << 40;
  auto db = Database::Open(options);
  Check(db.status(), "open");
  return std::move(*db);
}

// The ids of a search ranked by `rank` alone (its limit), best first.
inline std::vector<std::string> RankedIds(Collection& col, const RankExpr& rank) {
  SearchPayload payload;
  payload.rank = rank;
  SearchRequest request;
  request.searches.push_back(payload);
  auto got = col.Search(request);
  Check(got.status(), "search");
  return (*got)[0].ids;
}

// The first file under `dir` whose name ends in `extension` (".tix"); dies when none.
inline std::filesystem::path FindFileWithExtension(const std::string& dir, const std::string& extension) {
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.path().extension() == extension) return entry.path();
  }
  Die("no " + extension + " file under " + dir);
}

}  // namespace fathom::bench
