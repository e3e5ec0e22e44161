// Maps a method and request target onto one of Chroma's API v2 routes (chroma.md §1.3),
// or one of fathom's own under /fathom/v1 (outside Chroma's paths, so no Chroma client
// can collide with them), capturing the path parameters. Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "server/errors.h"

namespace fathom::server {

enum class RouteId {
  // system
  kHeartbeat, kHealthcheck, kVersion, kPreflightChecks, kIdentity, kReset,
  // tenants and databases
  kCreateTenant, kGetTenant, kUpdateTenant,
  kListDatabases, kCreateDatabase, kGetDatabase, kDeleteDatabase,
  // collections
  kListCollections, kCreateCollection, kCountCollections, kGetCollection, kGetCollectionById,
  kUpdateCollection, kDeleteCollection, kGetCollectionByCrn,
  // records
  kAdd, kUpdate, kUpsert, kDeleteRecords, kCount, kGet, kQuery,
  // answered like local Chroma: not supported on a single node
  kSearch, kFork, kForkCount, kIndexingStatus, kAttachFunction, kGetAttachedFunction,
  kDetachFunction,
  // fathom's own, under /fathom/v1 (docs/design/http-api.md, "fathom's routes")
  kVectorIndexStats,
  // not a route
  kV1Deprecated,      // any /api/v1/... path: 410
  kMethodNotAllowed,  // known path, other method: 405
  kNotFound,          // unknown path: 404 with an empty body
};

struct RouteMatch {
  RouteId id = RouteId::kNotFound;
  std::string tenant;
  std::string database;
  std::string collection;  // name or id, as the route defines
  std::string name;        // attached function name
  std::string query;       // raw query string, without '?'
  std::string allow;       // for kMethodNotAllowed: the Allow header value
};

RouteMatch MatchRoute(std::string_view method, std::string_view target);

// Whether a route reads a JSON body (and so checks Content-Type).
bool RouteTakesJsonBody(RouteId id);
// Whether a route touches no engine state and can be answered on the network thread.
bool RouteIsCheap(RouteId id);
// Whether a route only reads engine state (records or catalog) and writes nothing: such
// requests may run on the network thread while they stay fast (http_server.h).
bool RouteIsRead(RouteId id);

// Looks up `name` in a query string ("a=1&b=2"); values are percent-decoded.
std::optional<std::string> QueryParam(std::string_view query, std::string_view name);
// An optional u32 query parameter; malformed values are 400 with serde's wording
// ("Failed to deserialize query string: limit: invalid digit found in string").
ApiResult<std::optional<uint32_t>> QueryParamU32(std::string_view query, std::string_view name);

}  // namespace fathom::server
