#include "cli/run_command.h"

#include <csignal>
#include <cstdio>
#include <pthread.h>

#include <spdlog/spdlog.h>

#include "fathom/db.h"
#include "server/api.h"
#include "server/http_server.h"

namespace fathom::cli {

int Run(const RunOptions& options) {
  // Block the shutdown signals before any thread starts, so every thread inherits the mask
  // and this thread alone receives them, synchronously, through sigwait.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const std::string& where = options.path.empty() ? options.store_url : options.path;
  auto db = Database::Open({.path = options.path,
                            .store_url = options.store_url,
                            .store_endpoint = options.store_endpoint,
                            .store_cache_dir = options.cache_dir,
                            .store_cache_bytes = options.cache_size_mib << 20,
                            .compaction_trigger_ops = options.compaction_trigger_ops,
                            .vector_index_min_rows = options.vector_index_min_rows,
                            .vector_recall_target = options.recall_target,
                            .vector_cache_bytes = options.vector_cache_mib << 20,
                            .memory_budget_bytes = options.memory_budget_mib << 20,
                            .cold_spill_min_rows = options.cold_spill_min_rows,
                            .cold_vectors = !options.keep_vectors_in_ram});
  if (!db.ok()) {
    std::fprintf(stderr, "fathom: cannot open %s: %s\n", where.c_str(), db.status().ToString().c_str());
    return 1;
  }
  server::ApiService api(db->get(), server::ApiOptions{.allow_reset = options.allow_reset});
  server::HttpServer http(&api, server::ServerOptions{.host = options.host,
                                                       .port = options.port,
                                                       .io_threads = options.io_threads,
                                                       .worker_threads = options.worker_threads});
  Status started = http.Start();
  if (!started.ok()) {
    std::fprintf(stderr, "fathom: %s\n", started.ToString().c_str());
    return 1;
  }
  std::printf("fathom: serving %s at http://%s:%u\n", where.c_str(), options.host.c_str(),
              static_cast<unsigned>(http.port()));
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  spdlog::info("received {}, shutting down", signal_number == SIGINT ? "SIGINT" : "SIGTERM");
  http.Stop();
  // Every acknowledged write is already durable; closing waits for background work.
  db->reset();
  spdlog::info("stopped");
  return 0;
}

}  // namespace fathom::cli
