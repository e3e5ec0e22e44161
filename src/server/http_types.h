// Transport-neutral HTTP request and response values.
//
// The API layer (router, handlers) works on these plain structs so that it can be tested
// and benchmarked without sockets; only http_server.cc knows about Boost.Beast.
// Thread-safety: plain values.
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

}  // namespace fathom::server
