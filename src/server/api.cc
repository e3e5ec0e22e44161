#include "server/api.h"

#include <cctype>
#include <exception>

#include <spdlog/spdlog.h>

namespace fathom::server {

namespace {

// axum's Json extractor accepts application/json and any application/*+json type,
// with parameters (charset). A request without Content-Type is taken as JSON (chroma.md
// §1.1).
bool IsJsonContentType(std::string_view value) {
  const size_t semicolon = value.find(';');
  std::string type(value.substr(0, semicolon));
  while (!type.empty() && std::isspace(static_cast<unsigned char>(type.back()))) type.pop_back();
  size_t start = 0;
  while (start < type.size() && std::isspace(static_cast<unsigned char>(type[start]))) ++start;
  type = type.substr(start);
  for (char& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (type == "application/json") return true;
  constexpr std::string_view kApplication = "application/";
  constexpr std::string_view kJsonSuffix = "+json";
  return type.size() > kApplication.size() + kJsonSuffix.size() &&
         type.compare(0, kApplication.size(), kApplication) == 0 &&
         type.compare(type.size() - kJsonSuffix.size(), kJsonSuffix.size(), kJsonSuffix) == 0;
}

HttpResponse EmptyResponse(unsigned status) {
  HttpResponse response;
  response.status = status;
  response.content_type.clear();
  return response;
}

}  // namespace

HttpResponse JsonResponse(std::string body, unsigned status) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

RequestKind ApiService::Classify(const HttpRequest& request) const {
  const RouteId id = MatchRoute(request.method, request.target).id;
  if (RouteIsCheap(id)) return RequestKind::kCheap;
  return RouteIsRead(id) ? RequestKind::kRead : RequestKind::kWrite;
}

HttpResponse ApiService::Handle(HttpRequest request) const {
  const RouteMatch route = MatchRoute(request.method, request.target);
  switch (route.id) {
    case RouteId::kNotFound:
      return EmptyResponse(404);
    case RouteId::kMethodNotAllowed: {
      HttpResponse response = EmptyResponse(405);
      response.headers.emplace_back("allow", route.allow);
      return response;
    }
    case RouteId::kV1Deprecated:
      return ApiError(410, "Unimplemented", "The v1 API is deprecated. Please use /v2 apis").ToResponse();
    default:
      break;
  }
  if (RouteTakesJsonBody(route.id) && request.content_type.has_value() &&
      !IsJsonContentType(*request.content_type)) {
    return ApiError::Chroma(415, "Expected request with `Content-Type: application/json`").ToResponse();
  }
  // Handlers report errors as values; an exception here is a bug in a library we call
  // (allocation failure, a throwing dependency). It becomes a 500, never a dead server.
  try {
    auto result = Dispatch(route, request);
    if (!result.ok()) {
      const ApiError& error = result.error();
      // Server-side failures are worth an operator's attention; client errors are not.
      if (error.http_status() >= 500 && error.http_status() != 501) {
        spdlog::warn("{} {} -> {} {}", request.method, request.target,
                     error.http_status(), error.message());
      }
      return error.ToResponse();
    }
    return std::move(result).value();
  } catch (const std::bad_alloc&) {
    return ApiError::Chroma(503, "Out of memory while handling the request; retry later or send less")
        .ToResponse();
  } catch (const std::exception& e) {
    spdlog::error("unexpected exception handling {} {}: {}", request.method, request.target, e.what());
    return ApiError::Internal(std::string("Unexpected error: ") + e.what()).ToResponse();
  }
}

ApiResult<HttpResponse> ApiService::Dispatch(const RouteMatch& route, HttpRequest& request) const {
  switch (route.id) {
    case RouteId::kHeartbeat: return Heartbeat();
    case RouteId::kHealthcheck: return Healthcheck();
    case RouteId::kVersion: return Version();
    case RouteId::kPreflightChecks: return PreflightChecks();
    case RouteId::kIdentity: return Identity();
    case RouteId::kReset: return Reset();
    case RouteId::kGetTenant: return GetTenant(route);
    case RouteId::kListDatabases: return ListDatabases(route);
    case RouteId::kGetDatabase: return GetDatabase(route);
    case RouteId::kDeleteDatabase: return DeleteDatabase(route);
    case RouteId::kListCollections: return ListCollections(route);
    case RouteId::kCountCollections: return CountCollections(route);
    case RouteId::kGetCollection: return GetCollection(route);
    case RouteId::kGetCollectionById: return GetCollectionById(route);
    case RouteId::kDeleteCollection: return DeleteCollection(route);
    case RouteId::kCount: return Count(route);
    case RouteId::kVectorIndexStats: return VectorIndexStatsRoute(route);
    case RouteId::kForkCount:
    case RouteId::kIndexingStatus:
    case RouteId::kGetAttachedFunction:
    case RouteId::kGetCollectionByCrn:
      return Unsupported(route);
    default:
      break;
  }
  // The remaining routes read a JSON body.
  auto body = JsonBody::ParseRequest(request.body);
  if (!body.ok()) return body.error();
  const JsonElement root = body->root();
  switch (route.id) {
    case RouteId::kCreateTenant: return CreateTenant(root);
    case RouteId::kUpdateTenant: return UpdateTenant(route, root);
    case RouteId::kCreateDatabase: return CreateDatabase(route, root);
    case RouteId::kCreateCollection: return CreateCollection(route, root);
    case RouteId::kUpdateCollection: return UpdateCollection(route, root);
    case RouteId::kAdd: return Write(route, root, WriteKind::kAdd);
    case RouteId::kUpsert: return Write(route, root, WriteKind::kUpsert);
    case RouteId::kUpdate: return Write(route, root, WriteKind::kUpdate);
    case RouteId::kDeleteRecords: return DeleteRecords(route, root);
    case RouteId::kGet: return Get(route, root);
    case RouteId::kQuery: return Query(route, root);
    case RouteId::kSearch: return Search(route, root);
    case RouteId::kFork:
    case RouteId::kAttachFunction:
    case RouteId::kDetachFunction:
      return Unsupported(route);
    default:
      return ApiError::Internal("internal error: route without a handler");
  }
}

}  // namespace fathom::server
