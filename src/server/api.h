// ApiService: Chroma's HTTP API v2 over a fathom::Database, independent of the transport.
//
// Handle() takes one request and returns its response: it routes (router.h), checks the
// content type, parses and validates the body (json_reader.h, where_parser.h,
// collection_config.h), calls the engine and writes the JSON answer (json_writer.h).
// Every failure becomes a Chroma error response (errors.h); nothing throws out of it.
//
// Route handlers live in handlers_system.cc, handlers_catalog.cc and
// handlers_records.cc. Thread-safety: Handle() may be called from many threads at once;
// the Database is thread-safe, and the only state the service keeps is a cache of typed
// collection configurations (config_cache.h), safe for concurrent use.
// The Database must outlive the service.
#pragma once

#include <memory>
#include <string>

#include "fathom/db.h"
#include "server/config_cache.h"
#include "server/errors.h"
#include "server/http_types.h"
#include "server/json_reader.h"
#include "server/router.h"

namespace fathom::server {

struct ApiOptions {
  // POST /api/v2/reset wipes everything; off unless asked for (`--allow-reset`).
  bool allow_reset = false;
};

class ApiService final : public RequestHandler {
 public:
  ApiService(Database* db, ApiOptions options)
      : db_(db), options_(options), config_cache_(std::make_unique<ConfigCache>()) {}

  HttpResponse Handle(HttpRequest request) const override;

  // From the route alone (router.h): RouteIsCheap, RouteIsRead, else a write.
  RequestKind Classify(const HttpRequest& request) const override;

 private:
  ApiResult<HttpResponse> Dispatch(const RouteMatch& route, HttpRequest& request) const;

  // handlers_system.cc
  HttpResponse Heartbeat() const;
  HttpResponse Healthcheck() const;
  HttpResponse Version() const;
  HttpResponse PreflightChecks() const;
  HttpResponse Identity() const;
  ApiResult<HttpResponse> Reset() const;

  // handlers_catalog.cc
  ApiResult<HttpResponse> CreateTenant(JsonElement body) const;
  ApiResult<HttpResponse> GetTenant(const RouteMatch& route) const;
  ApiResult<HttpResponse> UpdateTenant(const RouteMatch& route, JsonElement body) const;
  ApiResult<HttpResponse> ListDatabases(const RouteMatch& route) const;
  ApiResult<HttpResponse> CreateDatabase(const RouteMatch& route, JsonElement body) const;
  ApiResult<HttpResponse> GetDatabase(const RouteMatch& route) const;
  ApiResult<HttpResponse> DeleteDatabase(const RouteMatch& route) const;
  ApiResult<HttpResponse> ListCollections(const RouteMatch& route) const;
  ApiResult<HttpResponse> CreateCollection(const RouteMatch& route, JsonElement body) const;
  ApiResult<HttpResponse> CountCollections(const RouteMatch& route) const;
  ApiResult<HttpResponse> GetCollection(const RouteMatch& route) const;
  ApiResult<HttpResponse> GetCollectionById(const RouteMatch& route) const;
  ApiResult<HttpResponse> UpdateCollection(const RouteMatch& route, JsonElement body) const;
  ApiResult<HttpResponse> DeleteCollection(const RouteMatch& route) const;

  // handlers_records.cc
  enum class WriteKind { kAdd, kUpsert, kUpdate };
  // `read_at_once`: the handler reads at the default read level right after
  // (CollectionLookup::read_at_once: on a shared store the read's check goes out with the
  // lookup's).
  ApiResult<std::shared_ptr<Collection>> CollectionForRecords(const RouteMatch& route,
                                                              bool read_at_once = false) const;
  // The collection's configuration, typed (cached: no JSON is parsed while it is unchanged).
  ApiResult<std::shared_ptr<const CollectionConfig>> ConfigOf(const Collection& collection) const;
  // The schema gate (schema_gate.h) for a request's filters; no engine call without filters.
  ApiStatus CheckFilters(const Collection& collection, const std::optional<Where>& where,
                         const std::optional<WhereDocument>& where_document) const;
  ApiResult<HttpResponse> Write(const RouteMatch& route, JsonElement body, WriteKind kind) const;
  ApiResult<HttpResponse> DeleteRecords(const RouteMatch& route, JsonElement body) const;
  ApiResult<HttpResponse> Count(const RouteMatch& route) const;
  // GET /fathom/v1/.../collections/{id}/vector_index: Collection::IndexStats as JSON.
  ApiResult<HttpResponse> VectorIndexStatsRoute(const RouteMatch& route) const;
  ApiResult<HttpResponse> Get(const RouteMatch& route, JsonElement body) const;
  ApiResult<HttpResponse> Query(const RouteMatch& route, JsonElement body) const;
  ApiResult<HttpResponse> Search(const RouteMatch& route, JsonElement body) const;
  ApiResult<HttpResponse> Unsupported(const RouteMatch& route) const;

  Database* db_;
  ApiOptions options_;
  std::unique_ptr<ConfigCache> config_cache_;
};

// A 200 (or other) JSON response with the given body.
HttpResponse JsonResponse(std::string body, unsigned status = 200);

}  // namespace fathom::server
