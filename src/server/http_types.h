// Transport-neutral HTTP request and response values, and the interface the transport
// calls with them.
//
// The API layer (router, handlers) works on these plain structs so that it can be tested
// and benchmarked without sockets; only http_server.cc knows about Boost.Beast.
// Thread-safety: plain values; a RequestHandler must be safe for concurrent use.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace fathom::server {

struct HttpRequest {
  std::string method;  // "GET", "POST", ... as sent
  std::string target;  // path and query string, e.g. "/api/v2/tenants?x=1"
  std::optional<std::string> content_type;  // nullopt when the header is absent
  std::string body;
};

struct HttpResponse {
  unsigned status = 200;
  // Empty means "no Content-Type header" (404 on unknown routes has an empty body).
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

// Where the HTTP server may run a request (docs/design/http-api.md, "Threads").
enum class RequestKind {
  kCheap,  // touches no engine state: always answered on the I/O thread
  kRead,   // an engine read: on the I/O thread while it stays fast, else on a worker
  kWrite,  // may wait for storage (commits, catalog changes): always on a worker
};

// What the HTTP server calls for each request: ApiService in production; the server's own
// tests plug in handlers that block on demand.
class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  virtual HttpResponse Handle(HttpRequest request) const = 0;
  virtual RequestKind Classify(const HttpRequest& request) const = 0;
};

}  // namespace fathom::server
