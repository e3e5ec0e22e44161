// The fathom command line.
//
//   fathom run (--path DIR | --store URL [--endpoint URL] [--cache-dir DIR [--cache-size-mib N]])
//              [--host 127.0.0.1] [--port 8000] [--allow-reset]
//              [--vector-cache-mib N] [--keep-vectors-in-ram] [--recall-target R]
//              [--compaction-trigger-ops N] [--vector-index-min-rows N] [--cold-spill-min-rows N]
//   fathom compact (--path DIR | --store URL [--endpoint URL] [--cache-dir DIR [--cache-size-mib N]])
//                  [--recall-target R]
//   fathom version
// URL: file://DIR (the same as --path DIR), mem:// or s3://BUCKET/PREFIX (docs/design/io.md,
// docs/design/object-storage.md).
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "cli/compact_command.h"
#include "cli/run_command.h"

namespace {

constexpr const char* kFathomVersion = "0.1.0";

// Where the data lives: exactly one of --path DIR and --store URL (io/store_factory.h
// reads both, through DatabaseOptions).
void AddStoreOptions(CLI::App* command, std::string* path, std::string* store_url, std::string* endpoint,
                     std::string* cache_dir, uint64_t* cache_size_mib) {
  CLI::Option_group* where = command->add_option_group("store", "Where the data lives (one of)");
  where->add_option("--path", *path, "Data directory (created if missing)");
  where->add_option("--store", *store_url,
                    "Store URL: file://DIR (as --path DIR), mem:// (in memory, gone on exit) or "
                    "s3://BUCKET/PREFIX (S3-compatible object storage; credentials and region from "
                    "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION)");
  where->require_option(1);
  command->add_option("--endpoint", *endpoint,
                      "S3 server for --store s3://..., http(s)://host[:port] (default: FATHOM_S3_ENDPOINT, "
                      "else AWS_ENDPOINT_URL, else AWS S3 in AWS_REGION)");
  command->add_option("--cache-dir", *cache_dir,
                      "For --store s3://...: a local directory caching the store's objects across restarts "
                      "(one process per directory)");
  command->add_option("--cache-size-mib", *cache_size_mib, "Most the --cache-dir may hold, MiB (0 = 4096)")
      ->check(CLI::Range(uint64_t{0}, uint64_t{1} << 30));
}

}  // namespace

int main(int argc, char** argv) {
  // spdlog's registry (which holds the default logger) is a function-local static made by
  // the first thread that logs. Made here, before any thread starts, every thread's first
  // use is ordered after it by the thread's creation. Otherwise the order comes from the
  // static's guard inside libspdlog, which ThreadSanitizer cannot see (an uninstrumented
  // library), and it reports the main thread's first log line after a worker's as a race
  // (docs/design/thread-safety.md).
  spdlog::default_logger_raw();
  CLI::App app{"fathom: a search database that speaks Chroma's HTTP API v2"};
  app.require_subcommand(1);

  fathom::cli::RunOptions run_options;
  CLI::App* run = app.add_subcommand("run", "Serve the store at DIR over Chroma's HTTP API v2");
  AddStoreOptions(run, &run_options.path, &run_options.store_url, &run_options.store_endpoint,
                  &run_options.cache_dir, &run_options.cache_size_mib);
  run->add_option("--host", run_options.host, "Address to listen on")->capture_default_str();
  run->add_option("--port", run_options.port, "Port to listen on (0 = any free port)")->capture_default_str();
  run->add_flag("--allow-reset", run_options.allow_reset, "Enable POST /api/v2/reset (wipes all data)");
  run->add_option("--workers", run_options.worker_threads,
                  "Request worker threads (0 = number of CPUs, at least 2)")->capture_default_str();
  run->add_option("--io-threads", run_options.io_threads,
                  "Network threads, each serving its share of the connections and their fast reads "
                  "(0 = number of CPUs, at least 2)")->capture_default_str();
  run->add_option("--vector-cache-mib", run_options.vector_cache_mib,
                  "Block cache for full vectors read from cold parts, MiB (0 = 128)")
      ->check(CLI::Range(uint64_t{0}, uint64_t{1} << 24));
  run->add_option("--memory-budget-mib", run_options.memory_budget_mib,
                  "Memory budget of the node, MiB (0 = none; at least 64): sizes the vector block cache (a "
                  "quarter), keeps cold vectors without RAM copies and bounds the hot ones "
                  "(docs/design/memory-budget.md)")
      ->check(CLI::Range(uint64_t{0}, uint64_t{1} << 30));
  run->add_flag("--keep-vectors-in-ram", run_options.keep_vectors_in_ram,
                "Keep every full vector in RAM instead of spilling indexed ones to cold parts "
                "(faster queries, about 3.5x the vector memory)");
  run->add_option("--recall-target", run_options.recall_target,
                  "Recall@10 the default vector search is calibrated to reach on each collection's own "
                  "data (0 = 0.95; higher probes more, up to an exact scan)")
      ->check(CLI::Range(0.0, 1.0));
  run->add_option("--compaction-trigger-ops", run_options.compaction_trigger_ops,
                  "Fold a collection's write-ahead log into a segment once it holds this many operations "
                  "(0 = 50,000; tests lower it so compaction runs often)")
      ->check(CLI::Range(uint64_t{0}, uint64_t{1} << 32));
  run->add_option("--vector-index-min-rows", run_options.vector_index_min_rows,
                  "Build a collection's vector index once it has this many live rows (0 = 10,000; tests "
                  "lower it)")
      ->check(CLI::Range(uint64_t{0}, uint64_t{1} << 32));
  run->add_option("--cold-spill-min-rows", run_options.cold_spill_min_rows,
                  "Spill indexed vectors to cold parts once this many are in RAM (0 = 64 MiB worth; tests "
                  "lower it)")
      ->check(CLI::Range(uint64_t{0}, uint64_t{1} << 32));

  fathom::cli::CompactOptions compact_options;
  CLI::App* compact = app.add_subcommand(
      "compact", "Compact every collection at DIR now (build vector indexes, fold the WAL) and exit");
  AddStoreOptions(compact, &compact_options.path, &compact_options.store_url, &compact_options.store_endpoint,
                  &compact_options.cache_dir, &compact_options.cache_size_mib);
  compact->add_option("--recall-target", compact_options.recall_target,
                      "Recall@10 target of the vector indexes it builds (as fathom run's; 0 = 0.95)")
      ->check(CLI::Range(0.0, 1.0));

  app.add_subcommand("version", "Print the version");

  CLI11_PARSE(app, argc, argv);

  if (app.got_subcommand("version")) {
    std::printf("fathom %s (Chroma HTTP API v2 compatible)\n", kFathomVersion);
    return 0;
  }
  if (app.got_subcommand("compact")) return fathom::cli::Compact(compact_options);
  return fathom::cli::Run(run_options);
}
