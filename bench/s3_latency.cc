// s3_latency: request latency of S3Store's Put / Get / Head / List against an S3 server
// (the local Ceph RGW of ../shared/s3), next to the curl command line doing the same
// requests on the same objects, so the client's own overhead is visible.
//
// curl runs once per operation kind with every URL of that kind on one command line, so
// it reuses one keep-alive connection as S3Store does; its per-request time is curl's own
// %{time_total} (process start excluded). Settings from the environment, as the tests'
// (FATHOM_S3_ENDPOINT, AWS_*, FATHOM_S3_BUCKET). Prints a table; not a test.
//   s3_latency [--ops 300] [--size 4096]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "bench_util.h"
#include "common/random.h"
#include "io/s3_store.h"

namespace {

using Clock = std::chrono::steady_clock;
using fathom::bench::Percentile;

struct Row {
  std::string name;
  std::vector<double> fathom_ms;
  std::vector<double> curl_ms;
};

template <typename Fn>
std::vector<double> Time(int ops, Fn fn) {
  std::vector<double> ms;
  ms.reserve(ops);
  for (int i = 0; i < ops; ++i) {
    auto start = Clock::now();
    if (!fn(i)) {
      std::fprintf(stderr, "s3_latency: operation %d failed\n", i);
      std::exit(1);
    }
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  return ms;
}

// Runs curl once with `arguments` (which hold every URL) and returns each transfer's
// time_total in ms.
std::vector<double> Curl(const std::string& arguments) {
  const char* key = std::getenv("AWS_ACCESS_KEY_ID");
  const char* secret = std::getenv("AWS_SECRET_ACCESS_KEY");
  const char* region = std::getenv("AWS_REGION");
  std::string command = std::string("curl -s -w '%{http_code} %{time_total}\\n' --aws-sigv4 'aws:amz:") +
                        (region ? region : "us-east-1") + ":s3' --user '" + (key ? key : "") + ":" +
                        (secret ? secret : "") + "' -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' " + arguments;
  std::vector<double> ms;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return ms;
  char line[64];
  while (std::fgets(line, sizeof(line), pipe) != nullptr) {
    // "<http code> <seconds>"; a failed request would make curl look fast, so it stops the run.
    int code = std::atoi(line);
    const char* space = std::strchr(line, ' ');
    if (code < 200 || code > 299 || space == nullptr) {
      std::fprintf(stderr, "s3_latency: curl request failed: %s", line);
      std::exit(1);
    }
    ms.push_back(std::atof(space + 1) * 1000.0);
  }
  ::pclose(pipe);
  return ms;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"S3Store request latency vs curl on the same objects"};
  int ops = 300;
  size_t size = 4096;
  app.add_option("--ops", ops, "Requests per operation kind")->capture_default_str();
  app.add_option("--size", size, "Object size in bytes")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (ops < 10 || ops > 90000) {
    std::fprintf(stderr, "s3_latency: --ops must be in [10, 90000]\n");
    return 1;
  }

  fathom::S3StoreOptions options;
  const char* bucket = std::getenv("FATHOM_S3_BUCKET");
  options.bucket = bucket ? bucket : "";
  options.prefix = "bench/" + fathom::NewUuidV4();
  auto opened = fathom::S3Store::Open(options);
  if (!opened.ok()) {
    std::fprintf(stderr, "s3_latency: %s (set FATHOM_S3_BUCKET and the S3 environment)\n",
                 opened.status().ToString().c_str());
    return 1;
  }
  fathom::S3Store& store = **opened;
  const fathom::S3StoreOptions& resolved = store.options();
  const std::string base = resolved.endpoint + "/" + resolved.bucket + "/" + resolved.prefix + "/";
  std::string bytes(size, 'x');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>('a' + i % 26);
  auto key = [](int i) { return "obj/" + std::to_string(100000 + i); };
  // LIST asks for "obj/10000" .. : each such prefix holds 10 of the keys above.
  const int groups = std::max(1, ops / 10);
  // A warm-up request opens the connection, as curl's first transfer does below.
  (void)store.Put("warmup", bytes, fathom::PutMode::kOverwrite);

  std::vector<Row> rows;
  rows.push_back({"PUT create-only", Time(ops, [&](int i) {
                    return store.Put(key(i), bytes, fathom::PutMode::kCreateOnly).ok();
                  }), {}});
  rows.push_back({"GET", Time(ops, [&](int i) { return store.Get(key(i), std::nullopt).ok(); }), {}});
  rows.push_back({"GET range 512 B", Time(ops, [&](int i) {
                    return store.Get(key(i), fathom::ByteRange{size / 2, 512}).ok();
                  }), {}});
  rows.push_back({"HEAD", Time(ops, [&](int i) { return store.Head(key(i)).ok(); }), {}});
  rows.push_back({"LIST 10 keys", Time(ops, [&](int i) {
                    auto listed = store.List("obj/" + std::to_string(10000 + (i % groups)), "", 0);
                    return listed.ok() && listed->size() == 10;
                  }), {}});

  // The same requests with curl, on the objects S3Store wrote (PUT to fresh keys).
  const std::string file = "/tmp/s3_latency_body." + std::to_string(::getpid());
  std::ofstream(file, std::ios::binary) << bytes;
  std::string puts, gets, ranges, heads, lists;
  for (int i = 0; i < ops; ++i) {
    // -o per URL: curl applies each -o to one URL.
    puts += " -o /dev/null -T " + file + " '" + base + "curl/" + std::to_string(100000 + i) + "'";
    gets += " -o /dev/null '" + base + key(i) + "'";
    ranges += " -o /dev/null -r " + std::to_string(size / 2) + "-" + std::to_string(size / 2 + 511) + " '" + base + key(i) + "'";
    heads += " -o /dev/null -I '" + base + key(i) + "'";
    lists += " -o /dev/null '" + resolved.endpoint + "/" + resolved.bucket + "?list-type=2&prefix=" +
             fathom::S3PercentEncode(resolved.prefix + "/obj/" + std::to_string(10000 + (i % groups)), false) + "'";
  }
  rows[0].curl_ms = Curl("-H 'If-None-Match: *'" + puts);  // -H holds for every URL
  rows[1].curl_ms = Curl(gets);
  rows[2].curl_ms = Curl(ranges);
  rows[3].curl_ms = Curl(heads);
  rows[4].curl_ms = Curl(lists);
  std::remove(file.c_str());

  std::printf("S3 latency, %d requests per row, %zu-byte objects, %s (ms)\n", ops, size, resolved.endpoint.c_str());
  std::printf("%-18s %10s %10s %10s %10s %8s\n", "request", "fathom p50", "fathom p99", "curl p50", "curl p99",
              "curl n");
  for (const Row& row : rows) {
    std::printf("%-18s %10.2f %10.2f %10.2f %10.2f %8zu\n", row.name.c_str(), Percentile(row.fathom_ms, 0.5),
                Percentile(row.fathom_ms, 0.99), Percentile(row.curl_ms, 0.5), Percentile(row.curl_ms, 0.99),
                row.curl_ms.size());
  }
  // A batch of 16 ranged reads (a query's probed clusters, say): one at a time, then
  // through GetMany (curl multi), per batch.
  constexpr int kBatch = 16;
  const int batches = std::max(1, ops / kBatch);
  std::vector<fathom::S3RangedRead> batch_reads;
  auto fill = [&](int b) {
    batch_reads.clear();
    for (int j = 0; j < kBatch; ++j) {
      batch_reads.push_back({key((b * kBatch + j) % ops), fathom::ByteRange{size / 4, 1024}});
    }
  };
  std::vector<double> one_by_one = Time(batches, [&](int b) {
    fill(b);
    for (const auto& read : batch_reads) {
      if (!store.Get(read.key, read.range).ok()) return false;
    }
    return true;
  });
  std::vector<double> parallel = Time(batches, [&](int b) {
    fill(b);
    return store.GetMany(batch_reads, kBatch).ok();
  });
  std::printf("%d ranged GETs of 1 KiB, per batch (%d batches): one by one p50 %.2f p99 %.2f, GetMany p50 %.2f p99 %.2f\n",
              kBatch, batches, Percentile(one_by_one, 0.5), Percentile(one_by_one, 0.99), Percentile(parallel, 0.5),
              Percentile(parallel, 0.99));

  const fathom::S3StoreStats stats = store.stats();
  std::printf("S3Store: %llu requests, %llu retries, %llu unknown outcomes\n",
              static_cast<unsigned long long>(stats.requests), static_cast<unsigned long long>(stats.retries),
              static_cast<unsigned long long>(stats.unknown_outcomes));
  // Leave the bucket as found.
  auto left = store.List("", "", 0);
  if (left.ok()) {
    for (const auto& object : *left) (void)store.Delete(object.key);
  }
  for (int i = 0; i < ops; ++i) (void)store.Delete("curl/" + std::to_string(100000 + i));
  return 0;
}
