#include "server/router.h"

#include <array>
#include <charconv>
#include <optional>
#include <vector>

#include <fmt/format.h>

namespace fathom::server {

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding; `plus_is_space` for query strings (form encoding).
std::string PercentDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%' && i + 2 < s.size()) {
      const int hi = HexValue(s[i + 1]);
      const int lo = HexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && c == '+' ? ' ' : c);
  }
  return out;
}

// A path pattern: literal segments, or a capture into one RouteMatch field.
enum class Capture { kNone, kTenant, kDatabase, kCollection, kName };

struct Segment {
  std::string_view literal;  // empty for a capture
  Capture capture = Capture::kNone;
};

struct Route {
  const char* method;
  RouteId id;
  std::vector<Segment> segments;  // after "/api/v2"
};

Segment L(std::string_view s) { return Segment{s, Capture::kNone}; }
const Segment kT{"", Capture::kTenant};
const Segment kD{"", Capture::kDatabase};
const Segment kC{"", Capture::kCollection};
const Segment kN{"", Capture::kName};

const std::vector<Route>& Routes() {
  // Order matters only where a literal and a capture compete (by-id before {c}).
  static const std::vector<Route> routes = [] {
    const std::vector<Segment> d = {L("tenants"), kT, L("databases"), kD};
    auto under_d = [&d](std::initializer_list<Segment> rest) {
      std::vector<Segment> s = d;
      s.insert(s.end(), rest);
      return s;
    };
    std::vector<Route> r = {
        {"GET", RouteId::kHeartbeat, {}},
        {"GET", RouteId::kHeartbeat, {L("heartbeat")}},
        {"GET", RouteId::kHealthcheck, {L("healthcheck")}},
        {"GET", RouteId::kVersion, {L("version")}},
        {"GET", RouteId::kPreflightChecks, {L("pre-flight-checks")}},
        {"GET", RouteId::kIdentity, {L("auth"), L("identity")}},
        {"POST", RouteId::kReset, {L("reset")}},
        {"POST", RouteId::kCreateTenant, {L("tenants")}},
        {"GET", RouteId::kGetTenant, {L("tenants"), kT}},
        {"PATCH", RouteId::kUpdateTenant, {L("tenants"), kT}},
        {"GET", RouteId::kListDatabases, {L("tenants"), kT, L("databases")}},
        {"POST", RouteId::kCreateDatabase, {L("tenants"), kT, L("databases")}},
        {"GET", RouteId::kGetDatabase, d},
        {"DELETE", RouteId::kDeleteDatabase, d},
        {"GET", RouteId::kListCollections, under_d({L("collections")})},
        {"POST", RouteId::kCreateCollection, under_d({L("collections")})},
        {"GET", RouteId::kCountCollections, under_d({L("collections_count")})},
        {"GET", RouteId::kGetCollectionById, under_d({L("collections"), L("by-id"), kC})},
        {"GET", RouteId::kGetCollection, under_d({L("collections"), kC})},
        {"PUT", RouteId::kUpdateCollection, under_d({L("collections"), kC})},
        {"DELETE", RouteId::kDeleteCollection, under_d({L("collections"), kC})},
        {"POST", RouteId::kAdd, under_d({L("collections"), kC, L("add")})},
        {"POST", RouteId::kUpdate, under_d({L("collections"), kC, L("update")})},
        {"POST", RouteId::kUpsert, under_d({L("collections"), kC, L("upsert")})},
        {"POST", RouteId::kDeleteRecords, under_d({L("collections"), kC, L("delete")})},
        {"GET", RouteId::kCount, under_d({L("collections"), kC, L("count")})},
        {"POST", RouteId::kGet, under_d({L("collections"), kC, L("get")})},
        {"POST", RouteId::kQuery, under_d({L("collections"), kC, L("query")})},
        {"POST", RouteId::kSearch, under_d({L("collections"), kC, L("search")})},
        {"POST", RouteId::kFork, under_d({L("collections"), kC, L("fork")})},
        {"GET", RouteId::kForkCount, under_d({L("collections"), kC, L("fork_count")})},
        {"GET", RouteId::kIndexingStatus, under_d({L("collections"), kC, L("indexing_status")})},
        {"POST", RouteId::kAttachFunction, under_d({L("collections"), kC, L("functions"), L("attach")})},
        {"GET", RouteId::kGetAttachedFunction, under_d({L("collections"), kC, L("functions"), kN})},
        {"POST", RouteId::kDetachFunction,
         under_d({L("collections"), kC, L("attached_functions"), kN, L("detach")})},
        {"GET", RouteId::kGetCollectionByCrn, {L("collections"), kC}},
    };
    return r;
  }();
  return routes;
}

// fathom's own routes, after "/fathom/v1".
const std::vector<Route>& FathomRoutes() {
  static const std::vector<Route> routes = {
      {"GET", RouteId::kVectorIndexStats,
       {L("tenants"), kT, L("databases"), kD, L("collections"), kC, L("vector_index")}},
  };
  return routes;
}

// The percent-decoded segments of `path` after `prefix` when it starts with it (whole
// segments only).
std::optional<std::vector<std::string>> SegmentsAfter(std::string_view path, std::string_view prefix) {
  if (path.substr(0, prefix.size()) != prefix || (path.size() > prefix.size() && path[prefix.size()] != '/')) {
    return std::nullopt;
  }
  std::vector<std::string> parts;
  std::string_view rest = path.substr(prefix.size());
  while (!rest.empty()) {
    rest.remove_prefix(1);  // the '/'
    const size_t slash = rest.find('/');
    parts.push_back(PercentDecode(rest.substr(0, slash), false));
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  }
  return parts;
}

bool MatchSegments(const Route& route, const std::vector<std::string>& parts, RouteMatch* match) {
  if (route.segments.size() != parts.size()) return false;
  for (size_t i = 0; i < parts.size(); ++i) {
    const Segment& seg = route.segments[i];
    if (seg.capture == Capture::kNone) {
      if (parts[i] != seg.literal) return false;
    } else if (parts[i].empty()) {
      return false;
    }
  }
  for (size_t i = 0; i < parts.size(); ++i) {
    switch (route.segments[i].capture) {
      case Capture::kNone: break;
      case Capture::kTenant: match->tenant = parts[i]; break;
      case Capture::kDatabase: match->database = parts[i]; break;
      case Capture::kCollection: match->collection = parts[i]; break;
      case Capture::kName: match->name = parts[i]; break;
    }
  }
  return true;
}

}  // namespace

RouteMatch MatchRoute(std::string_view method, std::string_view target) {
  RouteMatch match;
  std::string_view path = target;
  const size_t q = target.find('?');
  if (q != std::string_view::npos) {
    path = target.substr(0, q);
    match.query = std::string(target.substr(q + 1));
  }
  constexpr std::string_view kV1 = "/api/v1";
  if (path.substr(0, kV1.size()) == kV1 && (path.size() == kV1.size() || path[kV1.size()] == '/')) {
    match.id = RouteId::kV1Deprecated;
    return match;
  }
  const std::vector<Route>* table = &Routes();
  std::optional<std::vector<std::string>> segments = SegmentsAfter(path, "/api/v2");
  if (!segments) {
    segments = SegmentsAfter(path, "/fathom/v1");
    table = &FathomRoutes();
  }
  if (!segments) return match;  // kNotFound
  const std::vector<std::string>& parts = *segments;
  std::string allow;
  for (const Route& route : *table) {
    RouteMatch candidate;
    if (!MatchSegments(route, parts, &candidate)) continue;
    if (method == route.method) {
      candidate.id = route.id;
      candidate.query = std::move(match.query);
      return candidate;
    }
    if (allow.find(route.method) == std::string::npos) {
      if (!allow.empty()) allow += ", ";
      allow += route.method;
    }
  }
  if (!allow.empty()) {
    match.id = RouteId::kMethodNotAllowed;
    match.allow = std::move(allow);
  }
  return match;
}

bool RouteTakesJsonBody(RouteId id) {
  switch (id) {
    case RouteId::kCreateTenant:
    case RouteId::kUpdateTenant:
    case RouteId::kCreateDatabase:
    case RouteId::kCreateCollection:
    case RouteId::kUpdateCollection:
    case RouteId::kAdd:
    case RouteId::kUpdate:
    case RouteId::kUpsert:
    case RouteId::kDeleteRecords:
    case RouteId::kGet:
    case RouteId::kQuery:
    case RouteId::kSearch:
    case RouteId::kFork:
    case RouteId::kAttachFunction:
    case RouteId::kDetachFunction:
      return true;
    default:
      return false;
  }
}

bool RouteIsCheap(RouteId id) {
  switch (id) {
    case RouteId::kHeartbeat:
    case RouteId::kHealthcheck:
    case RouteId::kVersion:
    case RouteId::kPreflightChecks:
    case RouteId::kIdentity:
    case RouteId::kV1Deprecated:
    case RouteId::kMethodNotAllowed:
    case RouteId::kNotFound:
      return true;
    default:
      return false;
  }
}

bool RouteIsRead(RouteId id) {
  switch (id) {
    case RouteId::kGetTenant:
    case RouteId::kListDatabases:
    case RouteId::kGetDatabase:
    case RouteId::kListCollections:
    case RouteId::kCountCollections:
    case RouteId::kGetCollection:
    case RouteId::kGetCollectionById:
    case RouteId::kCount:
    case RouteId::kGet:
    case RouteId::kQuery:
    case RouteId::kSearch:
    case RouteId::kVectorIndexStats:
      return true;
    default:
      return false;
  }
}

std::optional<std::string> QueryParam(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const size_t eq = pair.find('=');
    const std::string key = PercentDecode(pair.substr(0, eq), true);
    if (key != name) continue;
    if (eq == std::string_view::npos) return std::string();
    return PercentDecode(pair.substr(eq + 1), true);
  }
  return std::nullopt;
}

ApiResult<std::optional<uint32_t>> QueryParamU32(std::string_view query, std::string_view name) {
  auto value = QueryParam(query, name);
  if (!value.has_value()) return std::optional<uint32_t>();
  auto fail = [&](std::string_view why) {
    return ApiError::InvalidArgument(fmt::format("Failed to deserialize query string: {}: {}", name, why));
  };
  if (value->empty()) return fail("cannot parse integer from empty string");
  const char* begin = value->data();
  if (*begin == '+') ++begin;  // Rust's integer parser accepts a leading '+'
  uint32_t n = 0;
  auto [end, ec] = std::from_chars(begin, value->data() + value->size(), n);
  if (ec == std::errc::result_out_of_range) return fail("number too large to fit in target type");
  if (ec != std::errc() || end != value->data() + value->size() || begin == end) {
    return fail("invalid digit found in string");
  }
  return std::optional<uint32_t>(n);
}

}  // namespace fathom::server
