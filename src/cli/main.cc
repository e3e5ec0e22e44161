// The fathom command line.
//
//   fathom run --path DIR [--host 127.0.0.1] [--port 8000] [--allow-reset]
//   fathom compact --path DIR
//   fathom version
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/compact_command.h"
#include "cli/run_command.h"

namespace {

constexpr const char* kFathomVersion = "0.1.0";

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fathom: a search database that speaks Chroma's HTTP API v2"};
  app.require_subcommand(1);

  fathom::cli::RunOptions run_options;
  CLI::App* run = app.add_subcommand("run", "Serve the store at DIR over Chroma's HTTP API v2");
  run->add_option("--path", run_options.path, "Data directory (created if missing)")->required();
  run->add_option("--host", run_options.host, "Address to listen on")->capture_default_str();
  run->add_option("--port", run_options.port, "Port to listen on (0 = any free port)")->capture_default_str();
  run->add_flag("--allow-reset", run_options.allow_reset, "Enable POST /api/v2/reset (wipes all data)");
  run->add_option("--workers", run_options.worker_threads,
                  "Request worker threads (0 = number of CPUs, at least 2)")->capture_default_str();

  std::string compact_path;
  CLI::App* compact = app.add_subcommand(
      "compact", "Compact every collection at DIR now (build vector indexes, fold the WAL) and exit");
  compact->add_option("--path", compact_path, "Data directory")->required();

  app.add_subcommand("version", "Print the version");

  CLI11_PARSE(app, argc, argv);

  if (app.got_subcommand("version")) {
    std::printf("fathom %s (Chroma HTTP API v2 compatible)\n", kFathomVersion);
    return 0;
  }
  if (app.got_subcommand("compact")) return fathom::cli::Compact(compact_path);
  return fathom::cli::Run(run_options);
}
