// HttpServer: HTTP/1.1 on Boost.Beast + Asio in front of a RequestHandler (http_types.h;
// ApiService in production).
//
// Network I/O runs on a set of I/O threads (one per CPU, at least two, by default), each
// with an io_context of its own; a connection stays on the thread that accepted it (round
// robin). Cheap routes (heartbeat, version, ...) are answered there. An engine read runs
// there too while it stays fast (a connection whose last read took over 2 ms, and any
// body over 256 KiB, go to the workers), saving the two thread wake-ups of a hand-off;
// writes and slow reads run on a bounded worker pool. A slow read thus stalls the other
// connections on its thread once, and its connection's reads then go to the workers
// until one of them is fast again. The trade-off is in docs/design/http-api.md, "Threads".
// Keep-alive, `Expect: 100-continue`, a 40 MiB body limit (413 "Payload too large", plain
// text, as Chroma) and a cap on open connections.
//
// Stop() shuts down gracefully: it stops accepting, closes idle connections, lets
// requests in flight finish and answer (with `Connection: close`), then joins every
// thread. Thread-safety: Start/Stop/port from one controlling thread; the RequestHandler
// must be safe for concurrent use and outlive the server.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "fathom/status.h"
#include "server/http_types.h"
#include "server/server_limits.h"

namespace fathom::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8000;  // 0 picks a free port (see HttpServer::port())
  size_t io_threads = 0;      // 0 = hardware concurrency, at least 2
  size_t worker_threads = 0;  // 0 = hardware concurrency, at least 2
  // Fast engine reads run on the I/O thread (false: every engine request goes to a worker).
  bool inline_reads = true;
  // A connection whose last read took longer sends its next read to a worker.
  std::chrono::microseconds inline_read_duration_max = http_limits::kInlineReadDurationMax;
};

class HttpServer {
 public:
  HttpServer(const RequestHandler* handler, ServerOptions options);
  ~HttpServer();  // stops if still running

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds, listens and starts the threads. IOError when the address cannot be bound.
  Status Start();
  // The port actually bound (meaningful after Start).
  uint16_t port() const;
  // Graceful shutdown; idempotent.
  void Stop();

  struct Impl;  // defined in http_server.cc (shared with its connection sessions)

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace fathom::server
