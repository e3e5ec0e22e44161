// http_load: a load client for fathom's (or any Chroma-compatible) HTTP API on loopback.
//
//   http_load --fathom build/release/fathom          # starts `fathom run` on a temp dir
//   http_load --url http://127.0.0.1:8000            # uses a server already running
//   http_load --fathom build/release/fathom --fvecs /work/zoo-data/doc_384.fvecs --queries 1000
//   http_load --url http://127.0.0.1:8765 --server-pid 1234 --label chroma --fvecs ...   # a peer
//
// Phases, each with concurrent clients over keep-alive connections:
//   1. ingest: N records of D dimensions in batches of B, embeddings as base64 float32
//      (what the Chroma clients send); records/s and per-batch latency.
//   2. query: Q nearest-neighbour queries (n_results 10) against those N records, with
//      one client (Chroma's figures are sequential) and with C clients; queries/s, p50, p99.
//      The data are the project's synthetic clustered set (index/vector/synthetic_data.h)
//      or uniform noise (--data uniform); recall@k of the answers is measured against
//      exact ground truth computed here. With --ef-search 50,100,200 the query phases run
//      once per hnsw.ef_search value (set through PUT new_configuration), which is how a
//      Chroma user trades speed for recall (fathom maps it to its probe budget).
//   3. overhead: heartbeat and a query on a 10-record collection, one client and C
//      clients: the server's own per-request cost (parse, dispatch, serialise).
// With --fathom the server is started on a free port with a fresh temporary directory and
// stopped by PID afterwards; between ingest and queries it is stopped, `fathom compact`
// builds the vector index, and it is started again (the index is then loaded at open),
// unless --no-compact. With --url the benchmark's collections are deleted at the end.
//
// Real embeddings: --fvecs PATH loads an .fvecs file (int32 dim LE, then dim float32, per
// vector) through data_zoo.h's MakeFromFvecs: a seeded sample of --queries rows is held out
// as queries (never base rows), up to --max-rows of the others are the base (zero rows are
// dropped for cosine). --space (cosine by default with --fvecs, l2 otherwise) is the
// collection's hnsw space (sent as {"configuration":{"hnsw":{"space":...}}} and checked in
// the answer) and the distance of the brute-force ground truth. With --fvecs the query
// phases leave hnsw.ef_search at the server's default (no PUT) unless --ef-search is given
// (--ef-search 0 means the same in any mode). Recall@k is printed twice: by id (the exact
// top-k ids) and tie-aware (a returned row counts when its exact distance is within the
// k-th true distance, so rows at equal distance, e.g. duplicate documents, are
// interchangeable).
//
// Server CPU: utime + stime of the server process (/proc/<pid>/stat fields 14 and 15, all
// threads, in clock ticks) are read right before and after every phase and printed per
// request, next to the client's own CPU (getrusage). The PID is known with --fathom; give
// --server-pid for a --url server (the process that owns the listening port: `ss -ltnp`).
// A summary table at the end gives the figures to compare servers by (--label names the row).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "index/vector/data_zoo.h"
#include "index/vector/synthetic_data.h"
#include "server/base64.h"

namespace {

using Clock = std::chrono::steady_clock;

// One keep-alive HTTP/1.1 connection. Reconnects once if the server closed it.
class Connection {
 public:
  Connection(std::string host, uint16_t port) : host_(std::move(host)), port_(port) {}
  ~Connection() { Close(); }

  // Returns the status code (0 on a transport error); the body goes to `body`.
  int Request(const std::string& method, const std::string& target, const std::string& payload,
              std::string* body) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (fd_ < 0 && !Connect()) return 0;
      std::string head = fmt::format("{} {} HTTP/1.1\r\nHost: {}\r\n", method, target, host_);
      if (!payload.empty()) {
        head += fmt::format("Content-Type: application/json\r\nContent-Length: {}\r\n", payload.size());
      }
      head += "\r\n";
      if (SendAll(head) && (payload.empty() || SendAll(payload))) {
        const int status = ReadResponse(body);
        if (status != 0) return status;
      }
      Close();
    }
    return 0;
  }

 private:
  bool Connect() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) return false;
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port_);
    ::inet_pton(AF_INET, host_.c_str(), &addr.sin_addr);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      Close();
      return false;
    }
    buffer_.clear();
    return true;
  }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  bool SendAll(const std::string& data) {
    size_t sent = 0;
    while (sent < data.size()) {
      const ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }
  bool Fill() {
    char chunk[65536];
    const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }
  int ReadResponse(std::string* body) {
    size_t header_end;
    while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return 0;
    }
    const int status = buffer_.size() > 12 ? std::atoi(buffer_.c_str() + 9) : 0;
    size_t length = 0;
    bool close = false;
    size_t pos = 0;
    while (pos < header_end) {
      const size_t eol = buffer_.find("\r\n", pos);
      const std::string line = buffer_.substr(pos, eol - pos);
      pos = eol + 2;
      if (strncasecmp(line.c_str(), "content-length:", 15) == 0) length = std::stoul(line.substr(15));
      if (strncasecmp(line.c_str(), "connection:", 11) == 0 && line.find("close") != std::string::npos) close = true;
    }
    const size_t total = header_end + 4 + length;
    while (buffer_.size() < total) {
      if (!Fill()) return 0;
    }
    if (body != nullptr) body->assign(buffer_, header_end + 4, length);
    buffer_.erase(0, total);
    if (close) Close();
    return status;
  }

  std::string host_;
  uint16_t port_;
  int fd_ = -1;
  std::string buffer_;
};

struct Stats {
  double seconds = 0;
  size_t requests = 0;
  size_t failures = 0;
  std::vector<double> latencies_ms;

  double Percentile(double p) const {
    if (latencies_ms.empty()) return 0;
    std::vector<double> v = latencies_ms;
    const size_t k = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
    std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
    return v[k];
  }
};

// Runs `count` requests over `clients` connections; `make(i)` gives request i.
Stats RunConcurrent(const std::string& host, uint16_t port, size_t clients, size_t count,
                    const std::function<void(size_t, std::string*, std::string*, std::string*)>& make) {
  std::atomic<size_t> next{0};
  std::atomic<size_t> failures{0};
  std::vector<std::vector<double>> latencies(clients);
  std::string first_error;
  std::mutex error_mu;
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (size_t c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      Connection conn(host, port);
      std::string method, target, payload, body;
      for (size_t i = next.fetch_add(1); i < count; i = next.fetch_add(1)) {
        make(i, &method, &target, &payload);
        const auto t0 = Clock::now();
        const int status = conn.Request(method, target, payload, &body);
        latencies[c].push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        if (status < 200 || status >= 300) {
          failures.fetch_add(1);
          std::lock_guard<std::mutex> lock(error_mu);
          if (first_error.empty()) first_error = fmt::format("HTTP {}: {}", status, body.substr(0, 300));
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  Stats stats;
  stats.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  stats.requests = count;
  stats.failures = failures.load();
  for (auto& l : latencies) stats.latencies_ms.insert(stats.latencies_ms.end(), l.begin(), l.end());
  if (!first_error.empty()) std::fprintf(stderr, "http_load: first failure: %s\n", first_error.c_str());
  return stats;
}

std::string FloatsJson(const float* v, size_t dim) {
  std::string out = "[";
  for (size_t i = 0; i < dim; ++i) {
    if (i) out += ',';
    out += fmt::format("{}", v[i]);
  }
  out += ']';
  return out;
}

uint16_t FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string ExtractId(const std::string& collection_json) {
  const std::string key = "\"id\":\"";
  const size_t p = collection_json.find(key);
  if (p == std::string::npos) return "";
  const size_t q = collection_json.find('"', p + key.size());
  return collection_json.substr(p + key.size(), q - p - key.size());
}

// The ids of the first result list of a query response ("r<i>" -> i).
std::vector<uint32_t> ParseResultIds(const std::string& body) {
  std::vector<uint32_t> out;
  const size_t start = body.find("\"ids\":[[");
  if (start == std::string::npos) return out;
  const size_t end = body.find(']', start);
  for (size_t p = body.find("\"r", start); p != std::string::npos && p < end; p = body.find("\"r", p + 1)) {
    out.push_back(static_cast<uint32_t>(std::strtoul(body.c_str() + p + 2, nullptr, 10)));
  }
  return out;
}

pid_t StartServer(const std::string& binary, const std::string& data, uint16_t port,
                  const std::vector<std::string>& extra_args) {
  const std::string port_text = std::to_string(port);
  std::vector<std::string> args = {binary, "run", "--path", data, "--host", "127.0.0.1", "--port", port_text};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execv(binary.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

bool WaitForHeartbeat(const std::string& host, uint16_t port) {
  Connection probe(host, port);
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  while (probe.Request("GET", "/api/v2/heartbeat", "", nullptr) != 200) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

void StopServer(pid_t pid) {
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
}

// Runs `binary compact --path data [--recall-target R]`; returns its wall time in seconds,
// or -1 on failure.
double RunCompact(const std::string& binary, const std::string& data, const std::string& recall_target) {
  const auto start = Clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (recall_target.empty()) {
      ::execl(binary.c_str(), binary.c_str(), "compact", "--path", data.c_str(), static_cast<char*>(nullptr));
    } else {
      ::execl(binary.c_str(), binary.c_str(), "compact", "--path", data.c_str(), "--recall-target",
              recall_target.c_str(), static_cast<char*>(nullptr));
    }
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// utime + stime of process `pid` (all its threads) in seconds, from /proc/<pid>/stat
// fields 14 and 15 (clock ticks); -1 when unreadable.
double ProcessCpuSeconds(pid_t pid) {
  if (pid <= 0) return -1;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return -1;
  const size_t paren = line.rfind(')');  // the command name may contain spaces and parentheses
  if (paren == std::string::npos) return -1;
  std::vector<std::string> fields;  // fields[0] is field 3 (state)
  size_t pos = paren + 1;
  while (pos < line.size() && fields.size() < 13) {
    while (pos < line.size() && line[pos] == ' ') ++pos;
    const size_t end = std::min(line.find(' ', pos), line.size());
    if (end > pos) fields.push_back(line.substr(pos, end - pos));
    pos = end;
  }
  if (fields.size() < 13) return -1;
  const double ticks = std::strtod(fields[11].c_str(), nullptr) + std::strtod(fields[12].c_str(), nullptr);
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// This process' own CPU (user + system, all threads) in seconds.
double SelfCpuSeconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

// CPU spent by the server and by this client across one phase.
struct CpuMeter {
  pid_t server_pid;
  double server0, client0;
  explicit CpuMeter(pid_t pid) : server_pid(pid), server0(ProcessCpuSeconds(pid)), client0(SelfCpuSeconds()) {}
  // Seconds since construction; server < 0 when the server's CPU is unknown.
  std::pair<double, double> Elapsed() const {
    const double s1 = ProcessCpuSeconds(server_pid);
    return {server0 < 0 || s1 < 0 ? -1.0 : s1 - server0, SelfCpuSeconds() - client0};
  }
};

// Chroma's distance for `space` (l2 is squared).
float ChromaDistance(const float* a, const float* b, size_t dim, fathom::DistanceSpace space) {
  double dot = 0, aa = 0, bb = 0, l2 = 0;
  for (size_t i = 0; i < dim; ++i) {
    dot += static_cast<double>(a[i]) * b[i];
    aa += static_cast<double>(a[i]) * a[i];
    bb += static_cast<double>(b[i]) * b[i];
    const double d = static_cast<double>(a[i]) - b[i];
    l2 += d * d;
  }
  switch (space) {
    case fathom::DistanceSpace::kL2: return static_cast<float>(l2);
    case fathom::DistanceSpace::kInnerProduct: return static_cast<float>(1.0 - dot);
    case fathom::DistanceSpace::kCosine:
    default: return static_cast<float>(aa == 0 || bb == 0 ? 1.0 : 1.0 - dot / std::sqrt(aa * bb));
  }
}

// Mean over queries of (distinct returned rows whose exact distance is within the k-th true
// distance) / min(k, |truth|): rows at equal distance count as equally right.
double TieAwareRecall(const std::vector<float>& base, const std::vector<float>& queries, size_t dim,
                      fathom::DistanceSpace space, const std::vector<std::vector<uint32_t>>& truth,
                      const std::vector<std::vector<uint32_t>>& found, size_t k) {
  if (truth.empty()) return 1.0;
  const size_t rows = base.size() / dim;
  double total = 0;
  for (size_t q = 0; q < truth.size(); ++q) {
    const size_t want = std::min(k, truth[q].size());
    if (want == 0) {
      total += 1.0;
      continue;
    }
    const float* query = &queries[q * dim];
    const float kth = ChromaDistance(query, &base[truth[q][want - 1] * dim], dim, space);
    const float limit = kth + 1e-5f * std::max(1.0f, std::fabs(kth));
    std::vector<uint32_t> seen;
    size_t hits = 0;
    for (size_t i = 0; q < found.size() && i < std::min(k, found[q].size()); ++i) {
      const uint32_t row = found[q][i];
      if (row >= rows || std::find(seen.begin(), seen.end(), row) != seen.end()) continue;
      seen.push_back(row);
      if (ChromaDistance(query, &base[row * dim], dim, space) <= limit) ++hits;
    }
    total += static_cast<double>(std::min(hits, want)) / static_cast<double>(want);
  }
  return total / static_cast<double>(truth.size());
}

std::string CpuCell(double seconds, size_t requests) {
  if (seconds < 0 || requests == 0) return "-";
  return fmt::format("{:.3f}", seconds * 1000.0 / static_cast<double>(requests));
}

void PrintRow(const char* phase, size_t clients, const Stats& s, double units_per_request, const char* unit,
              std::pair<double, double> cpu = {-1.0, -1.0}) {
  std::printf("| %-50s | %7zu | %9zu | %12.0f %-9s | %8.2f | %8.2f | %8zu | %10s | %10s |\n", phase, clients,
              s.requests, static_cast<double>(s.requests) * units_per_request / s.seconds, unit,
              s.Percentile(0.50), s.Percentile(0.99), s.failures, CpuCell(cpu.first, s.requests).c_str(),
              CpuCell(cpu.second, s.requests).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Load test for fathom's Chroma-compatible HTTP API"};
  std::string url = "http://127.0.0.1:8000";
  std::string fathom_binary;
  std::vector<std::string> fathom_run_args;
  size_t clients = std::max(2u, std::thread::hardware_concurrency());
  size_t records = 100000, dim = 128, batch = 1000, queries = 2000, tiny_requests = 20000;
  uint32_t n_results = 10;
  app.add_option("--url", url, "Server to load (ignored with --fathom)")->capture_default_str();
  app.add_option("--fathom", fathom_binary, "Start this fathom binary on a temporary directory");
  std::string recall_target;
  app.add_option("--recall-target", recall_target,
                 "With --fathom: the recall target of `fathom compact` and `fathom run` (default: theirs)");
  app.add_option("--fathom-run-arg", fathom_run_args,
                 "Extra argument for `fathom run` (repeatable), e.g. --fathom-run-arg=--keep-vectors-in-ram");
  app.add_option("--clients", clients, "Concurrent connections")->capture_default_str();
  app.add_option("--records", records, "Records to ingest")->capture_default_str();
  app.add_option("--dim", dim, "Embedding dimension")->capture_default_str();
  app.add_option("--batch", batch, "Records per add request")->capture_default_str();
  app.add_option("--queries", queries, "Queries per query phase")->capture_default_str();
  app.add_option("--n-results", n_results, "n_results of each query")->capture_default_str();
  app.add_option("--tiny-requests", tiny_requests, "Requests per overhead phase")->capture_default_str();
  std::string data_kind = "synthetic";
  app.add_option("--data", data_kind, "synthetic (clustered, index/vector/synthetic_data.h) or uniform")
      ->check(CLI::IsMember({"synthetic", "uniform"}))
      ->capture_default_str();
  std::vector<uint64_t> ef_search_values = {100};
  app.add_option("--ef-search", ef_search_values, "hnsw.ef_search values to run the query phases with (0: no PUT, the server's default; the default with --fvecs)")
      ->delimiter(',')
      ->capture_default_str();
  size_t recall_queries = 500;
  app.add_option("--recall-queries", recall_queries, "Queries whose recall is measured")->capture_default_str();
  bool no_compact = false;
  app.add_flag("--no-compact", no_compact, "With --fathom: query without stopping to build the index first");
  std::string fvecs_path;
  app.add_option("--fvecs", fvecs_path,
                 "Load base vectors from this .fvecs file; --queries rows (seeded sample) are held out as queries");
  size_t max_rows = 100000;
  app.add_option("--max-rows", max_rows, "With --fvecs: base rows to use")->capture_default_str();
  std::string space_name;
  app.add_option("--space", space_name, "Collection space and ground-truth distance (default: cosine with --fvecs, else l2)")
      ->check(CLI::IsMember({"cosine", "l2", "ip"}));
  int server_pid_option = -1;
  app.add_option("--server-pid", server_pid_option,
                 "With --url: PID of the serving process, for server CPU per request (/proc/<pid>/stat)");
  std::string server_label;
  app.add_option("--label", server_label, "Name of the server in the summary table (default: fathom or the URL)");
  uint64_t seed = 42;
  app.add_option("--seed", seed, "Seed of the --fvecs query sample and base order")->capture_default_str();
  std::vector<std::string> also_fathom;
  app.add_option("--also-fathom", also_fathom,
                 "With --fathom: after its query and overhead phases, serve the same data directory (same "
                 "index) with this binary and run them again (repeatable; for before/after comparisons)");
  bool tiny_only = false;
  app.add_flag("--tiny-only", tiny_only,
               "Only the per-request overhead phases (heartbeat, query of a 10-record collection): no ingest, "
               "no large query passes; --dim sets the tiny query's dimension");
  std::string tiny_kinds = "all";
  app.add_option("--tiny-kinds", tiny_kinds, "Overhead phases to run: all, heartbeat or query")
      ->check(CLI::IsMember({"all", "heartbeat", "query"}))
      ->capture_default_str();
  auto* ef_option = app.get_option("--ef-search");
  CLI11_PARSE(app, argc, argv);
  if (tiny_only) {
    // Ten random rows are all the tiny phases need.
    fvecs_path.clear();
    data_kind = "uniform";
    records = 10;
    queries = 1;
    recall_queries = 1;
  }
  if (!recall_target.empty()) {
    fathom_run_args.push_back("--recall-target");
    fathom_run_args.push_back(recall_target);
  }
  const bool use_fvecs = !fvecs_path.empty();
  if (space_name.empty()) space_name = use_fvecs ? "cosine" : "l2";
  const fathom::DistanceSpace space = *fathom::ParseDistanceSpace(space_name);
  if (use_fvecs && ef_option->count() == 0) ef_search_values = {0};  // the server's default
  if (server_label.empty()) server_label = fathom_binary.empty() ? url : "fathom";

  std::string host = "127.0.0.1";
  uint16_t port = 8000;
  pid_t server_pid = -1;
  std::filesystem::path temp_dir;
  std::string data_dir;
  if (!fathom_binary.empty()) {
    temp_dir = std::filesystem::temp_directory_path() / fmt::format("fathom-http-load-{}", ::getpid());
    std::filesystem::create_directories(temp_dir);
    port = FreePort();
    data_dir = (temp_dir / "data").string();
    server_pid = StartServer(fathom_binary, data_dir, port, fathom_run_args);
    if (!WaitForHeartbeat(host, port)) {
      std::fprintf(stderr, "http_load: %s did not start\n", fathom_binary.c_str());
      return 1;
    }
  } else {
    server_pid = server_pid_option;
    const std::string prefix = "http://";
    std::string rest = url.rfind(prefix, 0) == 0 ? url.substr(prefix.size()) : url;
    const size_t colon = rest.find(':');
    host = rest.substr(0, colon);
    if (colon != std::string::npos) port = static_cast<uint16_t>(std::stoi(rest.substr(colon + 1)));
  }

  const std::string collections = "/api/v2/tenants/default_tenant/databases/default_database/collections";
  const std::string suffix = fmt::format("{}_{}", ::getpid(), Clock::now().time_since_epoch().count() % 1000000);
  Connection admin(host, port);
  std::string body;
  if (admin.Request("POST", collections,
                    fmt::format(R"({{"name":"bench_{}","configuration":{{"hnsw":{{"space":"{}"}}}}}})", suffix,
                                space_name),
                    &body) != 200) {
    std::fprintf(stderr, "http_load: cannot create a collection: %s\n", body.c_str());
    return 1;
  }
  if (body.find(fmt::format(R"("space":"{}")", space_name)) == std::string::npos) {
    std::fprintf(stderr, "http_load: the collection was not created with space %s: %s\n", space_name.c_str(),
                 body.substr(0, 500).c_str());
    return 1;
  }
  const std::string big = collections + "/" + ExtractId(body);
  admin.Request("POST", collections, fmt::format(R"({{"name":"bench_tiny_{}"}})", suffix), &body);
  const std::string tiny = collections + "/" + ExtractId(body);

  // Data and queries, fixed seeds; exact ground truth in the collection's space.
  std::vector<float> vectors;
  std::vector<float> query_vectors;
  std::string data_note = data_kind;
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  if (use_fvecs) {
    fathom::ZooOptions options;
    options.rows = max_rows;
    options.queries = queries;
    options.seed = seed;
    options.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    auto loaded = fathom::MakeFromFvecs(std::filesystem::path(fvecs_path).stem().string(), fvecs_path, space, options);
    if (!loaded.ok()) {
      std::fprintf(stderr, "http_load: %s\n", loaded.status().ToString().c_str());
      return 1;
    }
    records = loaded->rows;
    dim = loaded->dim;
    vectors = std::move(loaded->base);
    query_vectors = std::move(loaded->queries);
    data_note = loaded->note;
  } else if (data_kind == "uniform") {
    vectors.resize(records * dim);
    query_vectors.resize(queries * dim);
    for (float& f : vectors) f = uniform(rng);
    for (float& f : query_vectors) f = uniform(rng);
  } else {
    fathom::SyntheticOptions options;
    options.rows = records;
    options.queries = queries;
    options.dim = static_cast<uint32_t>(dim);
    options.seed = 42;
    options.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    auto generated = fathom::GenerateSynthetic(options);
    if (!generated.ok()) {
      std::fprintf(stderr, "http_load: %s\n", generated.status().ToString().c_str());
      return 1;
    }
    vectors = std::move(generated->base.values);
    query_vectors = std::move(generated->queries.values);
  }
  recall_queries = std::min(recall_queries, queries);
  std::vector<std::vector<uint32_t>> truth;
  {
    fathom::Dataset base{records, static_cast<uint32_t>(dim), vectors};
    fathom::Dataset measured{recall_queries, static_cast<uint32_t>(dim),
                             std::vector<float>(query_vectors.begin(), query_vectors.begin() + recall_queries * dim)};
    truth = fathom::ExactTopK(base, measured, n_results, space, nullptr,
                              static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  }
  const size_t batches = (records + batch - 1) / batch;
  std::vector<std::string> add_bodies(batches);
  for (size_t b = 0; b < batches; ++b) {
    const size_t lo = b * batch, hi = std::min(records, lo + batch);
    std::string ids, embeddings;
    for (size_t i = lo; i < hi; ++i) {
      if (i > lo) {
        ids += ',';
        embeddings += ',';
      }
      ids += fmt::format("\"r{}\"", i);
      embeddings += '"' + fathom::server::Base64Encode(&vectors[i * dim], dim * sizeof(float)) + '"';
    }
    add_bodies[b] = fmt::format(R"({{"ids":[{}],"embeddings":[{}]}})", ids, embeddings);
  }
  std::vector<std::string> query_bodies(queries);
  for (size_t i = 0; i < queries; ++i) {
    query_bodies[i] = fmt::format(R"({{"query_embeddings":[{}],"n_results":{},"include":["distances"]}})",
                                  FloatsJson(&query_vectors[i * dim], dim), n_results);
  }
  {
    std::string ids, embeddings;
    for (size_t i = 0; i < 10; ++i) {
      ids += fmt::format("{}\"t{}\"", i ? "," : "", i);
      embeddings += fmt::format("{}\"{}\"", i ? "," : "",
                                fathom::server::Base64Encode(&vectors[i * dim], dim * sizeof(float)));
    }
    admin.Request("POST", tiny + "/add", fmt::format(R"({{"ids":[{}],"embeddings":[{}]}})", ids, embeddings), &body);
  }

  std::printf("http_load: %s (%s:%u, server pid %d), %zu records x %zu dims (%s), space %s, batches of %zu, "
              "%zu clients, n_results %u\n",
              server_label.c_str(), host.c_str(), port, static_cast<int>(server_pid), records, dim, data_note.c_str(),
              space_name.c_str(), batch, clients, n_results);
  std::printf("CPU columns: ms of CPU per request (an add request carries %zu records), server = utime+stime of "
              "the server process, client = this process\n\n",
              batch);
  std::printf("| %-50s | %7s | %9s | %22s | %8s | %8s | %8s | %10s | %10s |\n", "phase", "clients", "requests",
              "throughput", "p50 ms", "p99 ms", "failed", "server CPU", "client CPU");
  std::printf("|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n", std::string(52, '-').c_str(), std::string(9, '-').c_str(),
              std::string(11, '-').c_str(), std::string(24, '-').c_str(), std::string(10, '-').c_str(),
              std::string(10, '-').c_str(), std::string(10, '-').c_str(), std::string(12, '-').c_str(),
              std::string(12, '-').c_str());

  auto tiny_phase = [&](size_t c, const char* label, const char* method, const std::string& target,
                        const std::string& payload) {
    if (tiny_requests == 0) return;
    CpuMeter cpu(server_pid);
    Stats s = RunConcurrent(host, port, c, tiny_requests, [&](size_t, std::string* m, std::string* t, std::string* p) {
      *m = method;
      *t = target;
      *p = payload;
    });
    PrintRow(label, c, s, 1.0, "req/s", cpu.Elapsed());
  };
  const std::string tiny_query =
      fmt::format(R"({{"query_embeddings":[{}],"n_results":10}})", FloatsJson(vectors.data(), dim));
  auto tiny_phases = [&] {
    if (tiny_kinds != "query") {
      tiny_phase(1, "heartbeat", "GET", "/api/v2/heartbeat", "");
      tiny_phase(clients, "heartbeat", "GET", "/api/v2/heartbeat", "");
    }
    if (tiny_kinds != "heartbeat") {
      tiny_phase(1, "query 10-record collection", "POST", tiny + "/query", tiny_query);
      tiny_phase(clients, "query 10-record collection", "POST", tiny + "/query", tiny_query);
    }
  };
  const bool own_server = !fathom_binary.empty();
  auto clean_up = [&] {
    admin.Request("DELETE", collections + fmt::format("/bench_{}", suffix), "", nullptr);
    admin.Request("DELETE", collections + fmt::format("/bench_tiny_{}", suffix), "", nullptr);
    if (own_server) {
      StopServer(server_pid);
      std::error_code ec;
      std::filesystem::remove_all(temp_dir, ec);
    }
  };
  if (tiny_only) {
    tiny_phases();
    std::fflush(stdout);
    clean_up();
    return 0;
  }

  CpuMeter ingest_cpu(server_pid);
  Stats ingest = RunConcurrent(host, port, clients, batches, [&](size_t i, std::string* m, std::string* t, std::string* p) {
    *m = "POST";
    *t = big + "/add";
    *p = add_bodies[i];
  });
  PrintRow(fmt::format("add {}x{}-d base64", batch, dim).c_str(), clients, ingest,
           static_cast<double>(records) / static_cast<double>(batches), "records/s", ingest_cpu.Elapsed());
  // A server that indexes behind its acknowledgements would show a short count here: wait
  // (up to 10 minutes) until every record is counted before any query is timed.
  {
    const auto deadline = Clock::now() + std::chrono::minutes(10);
    const auto start = Clock::now();
    while (admin.Request("GET", big + "/count", "", &body) == 200 && body != std::to_string(records) &&
           Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    if (body != std::to_string(records)) {
      std::fprintf(stderr, "http_load: count is %s, expected %zu\n", body.c_str(), records);
    } else if (Clock::now() - start > std::chrono::seconds(1)) {
      std::fprintf(stderr, "http_load: count reached %zu after %.1f s\n", records,
                   std::chrono::duration<double>(Clock::now() - start).count());
    }
  }

  if (own_server && !no_compact) {
    // Stop, build the index with `fathom compact`, start again: the index is loaded at open.
    StopServer(server_pid);
    const double seconds = RunCompact(fathom_binary, data_dir, recall_target);
    if (seconds < 0) {
      std::fprintf(stderr, "http_load: fathom compact failed\n");
      return 1;
    }
    std::printf("| %-50s | %7d | %9d | %12.2f %-9s | %8s | %8s | %8d | %10s | %10s |\n",
                "fathom compact (index build, own process)", 1, 1, seconds, "s", "", "", 0, "-", "-");
    server_pid = StartServer(fathom_binary, data_dir, port, fathom_run_args);
    if (!WaitForHeartbeat(host, port)) {
      std::fprintf(stderr, "http_load: %s did not restart\n", fathom_binary.c_str());
      return 1;
    }
  }

  struct QueryFigures {
    std::string label;
    std::string ef;
    double recall = 0, tie_recall = 0;
    Stats sequential;
    std::pair<double, double> cpu;
  };
  std::vector<QueryFigures> figures;
  auto query_phases = [&](const std::string& label) -> bool {
    for (uint64_t ef_search : ef_search_values) {
      if (ef_search != 0) {
        const std::string config = fmt::format(R"({{"new_configuration":{{"hnsw":{{"ef_search":{}}}}}}})", ef_search);
        if (admin.Request("PUT", big, config, &body) != 200) {
          std::fprintf(stderr, "http_load: cannot set ef_search %llu: %s\n", static_cast<unsigned long long>(ef_search),
                       body.c_str());
          return false;
        }
      }
      // The recall pass is also the timed passes' warm-up (same queries, same order).
      std::vector<std::vector<uint32_t>> found(recall_queries);
      for (size_t i = 0; i < recall_queries; ++i) {
        admin.Request("POST", big + "/query", query_bodies[i], &body);
        found[i] = ParseResultIds(body);
      }
      QueryFigures f;
      f.label = label;
      f.ef = ef_search == 0 ? "default" : std::to_string(ef_search);
      f.recall = fathom::RecallAtK(truth, found, n_results);
      f.tie_recall = TieAwareRecall(vectors, query_vectors, dim, space, truth, found, n_results);
      const std::string phase_label =
          fmt::format("query ef_search {} (recall@{} {:.3f}/{:.3f})", f.ef, n_results, f.recall, f.tie_recall);
      for (size_t c : {size_t{1}, clients}) {
        CpuMeter cpu(server_pid);
        Stats s = RunConcurrent(host, port, c, queries, [&](size_t i, std::string* m, std::string* t, std::string* p) {
          *m = "POST";
          *t = big + "/query";
          *p = query_bodies[i];
        });
        const auto used = cpu.Elapsed();
        PrintRow(phase_label.c_str(), c, s, 1.0, "queries/s", used);
        if (c == 1) {
          f.sequential = s;
          f.cpu = used;
        }
      }
      figures.push_back(std::move(f));
    }
    tiny_phases();
    return true;
  };
  if (!query_phases(server_label)) return 1;
  for (const std::string& binary : also_fathom) {
    if (!own_server) break;
    // Same data directory, same index: only the serving binary changes.
    StopServer(server_pid);
    server_pid = StartServer(binary, data_dir, port, fathom_run_args);
    if (!WaitForHeartbeat(host, port)) {
      std::fprintf(stderr, "http_load: %s did not start\n", binary.c_str());
      return 1;
    }
    const std::string label = std::filesystem::path(binary).filename().string();
    std::printf("| %-50s | %7s | %9s | %22s | %8s | %8s | %8s | %10s | %10s |\n",
                ("now serving: " + label).c_str(), "", "", "", "", "", "", "", "");
    if (!query_phases(label)) return 1;
  }

  // Summary: what servers are compared by (one row per ef_search setting).
  std::printf("\nrecall@%u by id / tie-aware over %zu queries; queries/s, p50, p99 and CPU of the sequential (1 "
              "client) pass of %zu queries; CPU in ms per query\n\n",
              n_results, recall_queries, queries);
  std::printf("| %-24s | %-7s | %12s | %9s | %10s | %9s | %7s | %7s | %10s | %10s |\n", "server", "ef", "ingest rec/s",
              "recall id", "recall tie", "queries/s", "p50 ms", "p99 ms", "server CPU", "client CPU");
  std::printf("|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n", std::string(26, '-').c_str(), std::string(9, '-').c_str(),
              std::string(14, '-').c_str(), std::string(11, '-').c_str(), std::string(12, '-').c_str(),
              std::string(11, '-').c_str(), std::string(9, '-').c_str(), std::string(9, '-').c_str(),
              std::string(12, '-').c_str(), std::string(12, '-').c_str());
  for (const QueryFigures& f : figures) {
    std::printf("| %-24s | %-7s | %12.0f | %9.4f | %10.4f | %9.1f | %7.2f | %7.2f | %10s | %10s |\n", f.label.c_str(),
                f.ef.c_str(), static_cast<double>(records) / ingest.seconds, f.recall, f.tie_recall,
                static_cast<double>(f.sequential.requests) / f.sequential.seconds, f.sequential.Percentile(0.50),
                f.sequential.Percentile(0.99), CpuCell(f.cpu.first, f.sequential.requests).c_str(),
                CpuCell(f.cpu.second, f.sequential.requests).c_str());
  }
  std::fflush(stdout);

  clean_up();
  return ingest.failures == 0 ? 0 : 1;
}
