// Record routes: add, upsert, update, delete, get, query, count (chroma.md §1.6, §1.7),
// and the collection routes local Chroma does not support (search, fork, ...).
#include <algorithm>
#include <unordered_set>

#include <fmt/format.h>

#include "common/limits.h"
#include "db/validate.h"
#include "server/collection_config.h"
#include "server/api.h"
#include "server/json_writer.h"
#include "server/names.h"
#include "server/schema_gate.h"
#include "server/search_parser.h"
#include "server/search_writer.h"
#include "server/where_parser.h"

namespace fathom::server {

namespace {

// Parallel record columns of a write payload, decoded and validated.
struct WriteColumns {
  std::vector<std::string> ids;
  std::optional<std::vector<std::optional<std::vector<float>>>> embeddings;
  std::optional<std::vector<std::optional<std::string>>> documents;
  std::optional<std::vector<std::optional<std::string>>> uris;
  std::optional<std::vector<std::optional<MetadataPatch>>> metadatas;
};

ApiResult<std::vector<std::optional<MetadataPatch>>> ReadMetadatas(JsonElement value, MetadataMode mode) {
  JsonArray array;
  if (value.get(array)) return ApiError::Deserialize("metadatas", InvalidTypeText(value, "a sequence"));
  std::vector<std::optional<MetadataPatch>> out;
  out.reserve(array.size());
  size_t i = 0;
  for (JsonElement item : array) {
    if (item.is_null()) {
      out.emplace_back(std::nullopt);
    } else {
      MetadataPatch patch;
      FATHOM_API_ASSIGN_OR_RETURN(patch, ReadMetadataMap(item, IndexPath("metadatas", i), mode));
      out.emplace_back(std::move(patch));
    }
    ++i;
  }
  return out;
}

ApiResult<WriteColumns> ReadWriteColumns(JsonElement body, bool embeddings_required, MetadataMode mode,
                                         std::string_view struct_name) {
  WriteColumns c;
  JsonObject object;
  FATHOM_API_ASSIGN_OR_RETURN(object, RequireObject(body, "", struct_name));
  JsonElement ids;
  FATHOM_API_ASSIGN_OR_RETURN(ids, RequiredField(object, "ids", ""));
  FATHOM_API_ASSIGN_OR_RETURN(c.ids, ReadStringArray(ids, "ids"));
  if (embeddings_required) {
    JsonElement embeddings;
    FATHOM_API_ASSIGN_OR_RETURN(embeddings, RequiredField(object, "embeddings", ""));
    FATHOM_API_ASSIGN_OR_RETURN(c.embeddings, ReadWriteEmbeddings(embeddings, "embeddings", false));
  } else if (auto embeddings = OptionalField(object, "embeddings")) {
    FATHOM_API_ASSIGN_OR_RETURN(c.embeddings, ReadWriteEmbeddings(*embeddings, "embeddings", true));
  }
  if (auto documents = OptionalField(object, "documents")) {
    FATHOM_API_ASSIGN_OR_RETURN(c.documents, ReadOptionalStringArray(*documents, "documents"));
  }
  if (auto uris = OptionalField(object, "uris")) {
    FATHOM_API_ASSIGN_OR_RETURN(c.uris, ReadOptionalStringArray(*uris, "uris"));
  }
  if (auto metadatas = OptionalField(object, "metadatas")) {
    FATHOM_API_ASSIGN_OR_RETURN(c.metadatas, ReadMetadatas(*metadatas, mode));
  }

  // Validation, in the order Chroma's frontend applies it.
  const size_t n = c.ids.size();
  if ((c.embeddings && c.embeddings->size() != n) || (c.documents && c.documents->size() != n) ||
      (c.uris && c.uris->size() != n) || (c.metadatas && c.metadatas->size() != n)) {
    return ApiError::InvalidArgument(fmt::format(
        "Inconsistent number of IDs, embeddings, documents, URIs and metadatas: {} ids, {} embeddings, {} "
        "documents, {} uris, {} metadatas",
        n, c.embeddings ? c.embeddings->size() : n, c.documents ? c.documents->size() : n,
        c.uris ? c.uris->size() : n, c.metadatas ? c.metadatas->size() : n));
  }
  for (size_t i = 0; i < n; ++i) {
    if (c.ids[i].empty()) {
      return ApiError::InvalidArgument(
          fmt::format("Empty ID, ID must have at least one character (ids[{}])", i));
    }
    if (c.ids[i].size() > fathom::limits::kIdLengthMax) {
      return ApiError::InvalidArgument(fmt::format("ID at index {} is {} bytes long; at most {} bytes are "
                                                   "allowed", i, c.ids[i].size(), fathom::limits::kIdLengthMax));
    }
  }
  if (c.embeddings) {
    std::optional<size_t> dimension;
    for (const auto& e : *c.embeddings) {
      if (!e) continue;
      if (e->empty()) {
        return ApiError::Validation("embeddings", "Each embedding must have at least 1 dimension");
      }
      if (dimension && *dimension != e->size()) {
        return ApiError::InvalidArgument("Inconsistent dimensions in provided embeddings");
      }
      dimension = e->size();
    }
  }
  if (c.metadatas) {
    for (size_t i = 0; i < n; ++i) {
      const auto& m = (*c.metadatas)[i];
      if (m && !MetadataKeysValid(*m)) {
        return ApiError::Validation("metadatas", fmt::format("Invalid metadata at index {}", i));
      }
    }
  }
  return c;
}

std::vector<WriteRecord> ToRecords(WriteColumns& c, bool drop_empty_metadata) {
  const size_t n = c.ids.size();
  std::vector<WriteRecord> records(n);
  for (size_t i = 0; i < n; ++i) {
    WriteRecord& r = records[i];
    r.id = std::move(c.ids[i]);
    if (c.embeddings) r.embedding = std::move((*c.embeddings)[i]);
    if (c.documents) r.document = std::move((*c.documents)[i]);
    if (c.uris) r.uri = std::move((*c.uris)[i]);
    if (c.metadatas) {
      auto& m = (*c.metadatas)[i];
      // On add, `{}` is stored as no metadata (chroma.md §1.7).
      if (m && !(drop_empty_metadata && m->empty())) r.metadata = std::move(m);
    }
  }
  return records;
}

// Optional `where` / `where_document` of get, query and delete.
struct Filters {
  std::optional<Where> where;
  std::optional<WhereDocument> where_document;
};

ApiResult<Filters> ReadFilters(JsonObject object) {
  Filters f;
  if (auto where = OptionalField(object, "where")) {
    FATHOM_API_ASSIGN_OR_RETURN(f.where, ParseWhere(*where));
  }
  if (auto where_document = OptionalField(object, "where_document")) {
    FATHOM_API_ASSIGN_OR_RETURN(f.where_document, ParseWhereDocument(*where_document));
  }
  return f;
}

ApiResult<std::optional<std::vector<std::string>>> ReadOptionalIds(JsonObject object) {
  auto ids = OptionalField(object, "ids");
  if (!ids) return std::optional<std::vector<std::string>>();
  std::vector<std::string> out;
  FATHOM_API_ASSIGN_OR_RETURN(out, ReadStringArray(*ids, "ids"));
  return std::optional<std::vector<std::string>>(std::move(out));
}

ApiResult<std::optional<uint32_t>> ReadOptionalU32(JsonObject object, std::string_view key) {
  auto value = OptionalField(object, key);
  if (!value) return std::optional<uint32_t>();
  uint32_t n = 0;
  FATHOM_API_ASSIGN_OR_RETURN(n, ReadU32(*value, key));
  return std::optional<uint32_t>(n);
}

// A rank leaf needs the index it searches: a sparse $knn its key's sparse vector index
// (local Chroma's message when it is disabled, chroma.md §1.9), $bm25 the document's
// full-text index. Dense $knn leaves search the collection's vector index, always there.
ApiStatus CheckRankIndexes(const std::optional<CollectionSchema>& schema, const RankExpr& expr) {
  if (expr.kind == RankExpr::Kind::kKnn && std::holds_alternative<SparseVector>(expr.search.query)) {
    bool enabled = false;
    if (schema) {
      auto it = schema->keys.find(expr.search.key);
      const SchemaIndex* index =
          it != schema->keys.end() ? it->second.Index(SchemaIndexKind::kSparseVector) : nullptr;
      enabled = index != nullptr && index->enabled;
    }
    if (!enabled) {
      return ApiError::InvalidArgument(fmt::format(
          "Cannot filter using metadata key '{}' with type 'SparseVector' because indexing is disabled",
          expr.search.key));
    }
  }
  if (expr.kind == RankExpr::Kind::kBm25 && schema && !schema->FtsEnabled()) {
    return ApiError::InvalidArgument("Cannot rank with $bm25 because FTS indexing is disabled");
  }
  for (const RankExpr& child : expr.children) FATHOM_API_RETURN_IF_ERROR(CheckRankIndexes(schema, child));
  return ApiStatus::Ok();
}

}  // namespace

ApiResult<std::shared_ptr<Collection>> ApiService::CollectionForRecords(const RouteMatch& route,
                                                                      bool read_at_once) const {
  auto id = NormalizeUuid(route.collection);
  if (!id.has_value()) return ApiError::InvalidArgument("Collection ID is not a valid UUIDv4");
  auto collection = db_->GetCollectionById(route.tenant, route.database, *id, {.read_at_once = read_at_once});
  if (!collection.ok()) {
    if (collection.status().IsNotFound()) {
      return ApiError::NotFound(fmt::format("Collection [{}] does not exist.", route.collection));
    }
    return ApiError::FromStatus(collection.status());
  }
  return std::move(collection).value();
}

ApiResult<std::shared_ptr<const CollectionConfig>> ApiService::ConfigOf(const Collection& collection) const {
  CollectionInfo info;
  FATHOM_API_ASSIGN_OR_RETURN_STATUS(info, collection.Info());
  return config_cache_->Get(info);
}

ApiStatus ApiService::CheckFilters(const Collection& collection, const std::optional<Where>& where,
                                   const std::optional<WhereDocument>& where_document) const {
  if (!where.has_value() && !where_document.has_value()) return ApiStatus::Ok();
  std::shared_ptr<const CollectionConfig> config;
  FATHOM_API_ASSIGN_OR_RETURN(config, ConfigOf(collection));
  return CheckFilterIndexes(config->schema, where, where_document);
}

ApiResult<HttpResponse> ApiService::VectorIndexStatsRoute(const RouteMatch& route) const {
  std::shared_ptr<Collection> collection;
  FATHOM_API_ASSIGN_OR_RETURN(collection, CollectionForRecords(route));
  VectorIndexStats stats;
  FATHOM_API_ASSIGN_OR_RETURN_STATUS(stats, collection->IndexStats());
  JsonWriter w;
  WriteVectorIndexStats(w, stats);
  return JsonResponse(w.Take());
}

ApiResult<HttpResponse> ApiService::Write(const RouteMatch& route, JsonElement body, WriteKind kind) const {
  const bool is_add = kind == WriteKind::kAdd;
  const char* struct_name = is_add                        ? "struct AddCollectionRecordsPayload"
                            : kind == WriteKind::kUpsert ? "struct UpsertCollectionRecordsPayload"
                                                         : "struct UpdateCollectionRecordsPayload";
  WriteColumns columns;
  FATHOM_API_ASSIGN_OR_RETURN(columns, ReadWriteColumns(body, kind != WriteKind::kUpdate,
                                                        is_add ? MetadataMode::kAdd : MetadataMode::kPatch,
                                                        struct_name));
  std::shared_ptr<Collection> collection;
  FATHOM_API_ASSIGN_OR_RETURN(collection, CollectionForRecords(route));
  if (columns.ids.empty()) return JsonResponse("{}", kind == WriteKind::kAdd ? 201 : 200);
  std::vector<WriteRecord> records = ToRecords(columns, kind == WriteKind::kAdd);
  Status status;
  switch (kind) {
    case WriteKind::kAdd: status = collection->Add(std::move(records)); break;
    case WriteKind::kUpsert: status = collection->Upsert(std::move(records)); break;
    case WriteKind::kUpdate: status = collection->Update(std::move(records)); break;
  }
  FATHOM_API_RETURN_IF_ERROR(ToApiStatus(status));
  return JsonResponse("{}", kind == WriteKind::kAdd ? 201 : 200);
}

ApiResult<HttpResponse> ApiService::DeleteRecords(const RouteMatch& route, JsonElement body) const {
  JsonObject object;
  FATHOM_API_ASSIGN_OR_RETURN(object, RequireObject(body, "", "struct DeleteCollectionRecordsPayload"));
  DeleteRequest request;
  FATHOM_API_ASSIGN_OR_RETURN(request.ids, ReadOptionalIds(object));
  Filters filters;
  FATHOM_API_ASSIGN_OR_RETURN(filters, ReadFilters(object));
  request.where = std::move(filters.where);
  request.where_document = std::move(filters.where_document);
  FATHOM_API_ASSIGN_OR_RETURN(request.limit, ReadOptionalU32(object, "limit"));
  FATHOM_API_RETURN_IF_ERROR(ToApiStatus(ValidateDeleteRequest(request)));
  const bool has_filter = request.where.has_value() || request.where_document.has_value();
  std::shared_ptr<Collection> collection;
  FATHOM_API_ASSIGN_OR_RETURN(collection, CollectionForRecords(route));
  if (!request.ids && !has_filter) return JsonResponse(R"({"deleted":0})");  // `{}` deletes nothing
  FATHOM_API_RETURN_IF_ERROR(CheckFilters(*collection, request.where, request.where_document));
  uint64_t deleted = 0;
  FATHOM_API_ASSIGN_OR_RETURN_STATUS(deleted, collection->Delete(request));
  JsonWriter w;
  w.StartObject();
  w.Key("deleted");
  w.Uint64(deleted);
  w.EndObject();
  return JsonResponse(w.Take());
}

ApiResult<HttpResponse> ApiService::Count(const RouteMatch& route) const {
  ReadLevel read_level = ReadLevel::kIndexAndWal;
  if (auto level = QueryParam(route.query, "read_level")) {
    if (*level == "index_only") read_level = ReadLevel::kIndexOnly;
    if (*level != "index_and_wal" && *level != "index_only" && *level != "index_and_bounded_wal") {
      return ApiError::InvalidArgument(fmt::format(
          "Failed to deserialize query string: read_level: unknown variant `{}`, expected one of "
          "`index_and_wal`, `index_only`, `index_and_bounded_wal`", *level));
    }
  }
  std::shared_ptr<Collection> collection;
  FATHOM_API_ASSIGN_OR_RETURN(collection, CollectionForRecords(route, read_level != ReadLevel::kIndexOnly));
  uint64_t count = 0;
  FATHOM_API_ASSIGN_OR_RETURN_STATUS(count, collection->Count(read_level));
  return JsonResponse(std::to_string(count));
}

ApiResult<HttpResponse> ApiService::Get(const RouteMatch& route, JsonElement body) const {
  JsonObject object;
  FATHOM_API_ASSIGN_OR_RETURN(object, RequireObject(body, "", "struct GetRequestPayload"));
  GetRequest request;
  FATHOM_API_ASSIGN_OR_RETURN(request.ids, ReadOptionalIds(object));
  Filters filters;
  FATHOM_API_ASSIGN_OR_RETURN(filters, ReadFilters(object));
  request.where = std::move(filters.where);
  request.where_document = std::move(filters.where_document);
  FATHOM_API_ASSIGN_OR_RETURN(request.limit, ReadOptionalU32(object, "limit"));
  std::optional<uint32_t> offset;
  FATHOM_API_ASSIGN_OR_RETURN(offset, ReadOptionalU32(object, "offset"));
  request.offset = offset.value_or(0);
  std::vector<std::string> include_names = {"documents", "metadatas"};
  if (auto include = OptionalField(object, "include")) {
    FATHOM_API_ASSIGN_OR_RETURN(request.include, ReadInclude(*include, "include", &include_names));
  }
  std::shared_ptr<Collection> collection;
  FATHOM_API_ASSIGN_OR_RETURN(collection, CollectionForRecords(route, /*read_at_once=*/true));
  FATHOM_API_RETURN_IF_ERROR(CheckFilters(*collection, request.where, request.where_document));
  GetResult result;
  FATHOM_API_ASSIGN_OR_RETURN_STATUS(result, collection->Get(request));
  JsonWriter w;
  WriteGetResult(w, result, request.include, include_names);
  return JsonResponse(w.Take());
}

ApiResult<HttpResponse> ApiService::Query(const RouteMatch& route, JsonElement body) const {
  JsonObject object;
  FATHOM_API_ASSIGN_OR_RETURN(object, RequireObject(body, "", "struct QueryRequestPayload"));
  QueryRequest request;
  JsonElement embeddings;
  FATHOM_API_ASSIGN_OR_RETURN(embeddings, RequiredField(object, "query_embeddings", ""));
  FATHOM_API_ASSIGN_OR_RETURN(request.query_embeddings, ReadQueryEmbeddings(embeddings, "query_embeddings"));
  FATHOM_API_ASSIGN_OR_RETURN(request.ids, ReadOptionalIds(object));
  Filters filters;
  FATHOM_API_ASSIGN_OR_RETURN(filters, ReadFilters(object));
  request.where = std::move(filters.where);
  request.where_document = std::move(filters.where_document);
  std::optional<uint32_t> n_results;
  FATHOM_API_ASSIGN_OR_RETURN(n_results, ReadOptionalU32(object, "n_results"));
  request.n_results = n_results.value_or(10);
  FATHOM_API_RETURN_IF_ERROR(ToApiStatus(ValidateQueryShape(request.query_embeddings.size(), request.n_results)));
  std::vector<std::string> include_names = {"documents", "metadatas", "distances"};
  if (auto include = OptionalField(object, "include")) {
    FATHOM_API_ASSIGN_OR_RETURN(request.include, ReadInclude(*include, "include", &include_names));
  }
  for (const auto& e : request.query_embeddings) {
    if (e.empty()) return ApiError::Validation("query_embeddings", "Each embedding must have at least 1 dimension");
  }
  std::shared_ptr<Collection> collection;
  FATHOM_API_ASSIGN_OR_RETURN(collection, CollectionForRecords(route, /*read_at_once=*/true));
  {
    std::shared_ptr<const CollectionConfig> config;
    FATHOM_API_ASSIGN_OR_RETURN(config, ConfigOf(*collection));
    FATHOM_API_RETURN_IF_ERROR(CheckFilterIndexes(config->schema, request.where, request.where_document));
    // hnsw.ef_search (100 by default; SPANN's search parameters arrive as HNSW ones)
    // scales the vector index's probe budget: docs/design/vector-index.md.
    request.search_effort = SearchEffortForEfSearch(config->hnsw.ef_search);
  }
  auto result = collection->Query(request);
  if (!result.ok()) {
    const Status& status = result.status();
    // Local Chroma fails a query whose candidate ids include one that does not exist
    // with a 500 (chroma.md §1.6), and clients test for it; keep that contract. The
    // engine checks the ids inside the query (no second engine call).
    if (status.IsNotFound() && status.message().starts_with(Collection::kMissingQueryIdMessage)) {
      const std::string_view rest =
          std::string_view(status.message()).substr(Collection::kMissingQueryIdMessage.size());
      const std::string id(rest.substr(0, rest.find(" (no such record")));
      return ApiError::Internal(fmt::format("Error executing plan: Internal error: Error finding id {}", id));
    }
    return ApiError::FromStatus(status);
  }
  JsonWriter w;
  WriteQueryResult(w, *result, request.query_embeddings.size(), request.include, include_names);
  return JsonResponse(w.Take());
}

ApiResult<HttpResponse> ApiService::Search(const RouteMatch& route, JsonElement body) const {
  SearchRequest request;
  FATHOM_API_ASSIGN_OR_RETURN(request, ParseSearchRequest(body));
  std::shared_ptr<Collection> collection;
  FATHOM_API_ASSIGN_OR_RETURN(collection, CollectionForRecords(route, request.read_level != ReadLevel::kIndexOnly));
  {
    // The schema gate, as for get and query: each filter, then each rank leaf's index.
    std::shared_ptr<const CollectionConfig> config;
    FATHOM_API_ASSIGN_OR_RETURN(config, ConfigOf(*collection));
    for (const SearchPayload& search : request.searches) {
      if (search.filter) FATHOM_API_RETURN_IF_ERROR(CheckFilterIndexes(config->schema, search.filter, std::nullopt));
      if (search.rank) FATHOM_API_RETURN_IF_ERROR(CheckRankIndexes(config->schema, *search.rank));
    }
  }
  std::vector<SearchResult> results;
  FATHOM_API_ASSIGN_OR_RETURN_STATUS(results, collection->Search(request));
  JsonWriter w;
  WriteSearchResults(w, results);
  return JsonResponse(w.Take());
}

ApiResult<HttpResponse> ApiService::Unsupported(const RouteMatch& route) const {
  if (route.id == RouteId::kGetCollectionByCrn) {
    return ApiError::Chroma(501, "Looking up a collection by CRN is only supported on Chroma Cloud; use "
                                 "/api/v2/tenants/{tenant}/databases/{database}/collections/{name}");
  }
  auto id = NormalizeUuid(route.collection);
  if (!id.has_value()) return ApiError::InvalidArgument("Collection ID is not a valid UUIDv4");
  switch (route.id) {
    case RouteId::kFork:
      return ApiError::Chroma(501, "Collection forking is unsupported for local chroma");
    case RouteId::kForkCount:
      return ApiError::Chroma(501, "Collection fork count is unsupported for local chroma");
    case RouteId::kIndexingStatus:
      // Local Chroma's answer; the route only has meaning on the distributed log service.
      return ApiError::Internal("Method scout_logs is not implemented");
    default:
      return ApiError::Chroma(501, "Attached functions are unsupported for local chroma");
  }
}

}  // namespace fathom::server
