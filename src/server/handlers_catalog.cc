// Catalog routes: tenants, databases and collections (chroma.md §1.3, §1.5).
#include <fmt/format.h>

#include "common/limits.h"
#include "server/api.h"
#include "server/collection_config.h"
#include "server/json_writer.h"
#include "server/names.h"

namespace fathom::server {

namespace {

HttpResponse EmptyObject() { return JsonResponse("{}"); }

void WriteDatabase(JsonWriter& w, const DatabaseInfo& info) {
  w.StartObject();
  w.Key("id");
  w.String(info.id);
  w.Key("name");
  w.String(info.name);
  w.Key("tenant");
  w.String(info.tenant);
  w.EndObject();
}

ApiResult<HttpResponse> CollectionResponse(const Collection& collection) {
  CollectionInfo info;
  FATHOM_API_ASSIGN_OR_RETURN_STATUS(info, collection.Info());
  JsonWriter w;
  WriteCollection(w, info);
  return JsonResponse(w.Take());
}

// Collection metadata: scalar values only (arrays crashed local Chroma's worker, so no
// client relies on them), keys like record metadata, `{}` refused. With
// `null_resets` (PUT), a null value anywhere resets the metadata to null, as observed on
// Chroma; the result is then nullopt.
ApiResult<std::optional<Metadata>> ReadCollectionMetadata(JsonElement value, std::string_view field,
                                                         bool null_resets) {
  MetadataPatch patch;
  FATHOM_API_ASSIGN_OR_RETURN(patch, ReadMetadataMap(value, field, null_resets ? MetadataMode::kPatch
                                                                               : MetadataMode::kAdd));
  JsonObject object = value.get_object().value_unsafe();
  if (object.size() == 0) return ApiError::Validation("metadata", "Metadata cannot be empty");
  if (!MetadataKeysValid(patch)) {
    return ApiError::Validation("metadata", "Invalid metadata: keys must be non-empty and must not start "
                                            "with '#' or '$'");
  }
  bool reset = false;
  for (const auto& [key, v] : patch) {
    if (!v.has_value()) {
      reset = true;
      continue;
    }
    if (v->index() >= 4) {  // the array and sparse vector alternatives of MetadataValue
      return ApiError::Validation("metadata", fmt::format("Collection metadata values must be a string, "
                                                          "number or boolean; '{}' is {}", key,
                                                          std::holds_alternative<SparseVector>(*v)
                                                              ? "a sparse vector"
                                                              : "a list"));
    }
  }
  if (reset) return std::optional<Metadata>();
  return std::optional<Metadata>(PatchToMetadata(std::move(patch)));
}

// The catalog stores a collection's configuration (the client's schema included) in a
// field of at most limits::kCatalogConfigurationBytesMax; refuse a larger one before the
// engine is asked (its catalog encoder would refuse it too).
ApiStatus CheckConfigurationBytes(const std::string& configuration_json) {
  if (configuration_json.size() > limits::kCatalogConfigurationBytesMax) {
    return ApiError::InvalidArgument(fmt::format(
        "the collection's configuration and schema take {} bytes as JSON; at most {} "
        "(limits::kCatalogConfigurationBytesMax) can be stored",
        configuration_json.size(), limits::kCatalogConfigurationBytesMax));
  }
  return ApiStatus::Ok();
}

ApiResult<std::string> ReadNameField(JsonElement body, std::string_view struct_name) {
  JsonObject object;
  FATHOM_API_ASSIGN_OR_RETURN(object, RequireObject(body, "", struct_name));
  JsonElement name;
  FATHOM_API_ASSIGN_OR_RETURN(name, RequiredField(object, "name", ""));
  return ReadString(name, "name");
}

// Chroma's update payload has no schema, and ignores what it does not know. A schema
// there can only be an attempt to change the indexes, the full-text analyzer options
// among them, which are fixed at creation like the distance space: that is refused
// rather than silently ignored.
ApiStatus RefuseSchemaChange(JsonElement new_configuration) {
  JsonObject object;
  if (new_configuration.get_object().get(object) != simdjson::SUCCESS) return ApiStatus::Ok();  // answered later
  auto schema = OptionalField(object, "schema");
  if (!schema.has_value() || schema->is_null()) return ApiStatus::Ok();
  return ApiError::InvalidArgument(
      "a collection's schema, including the full-text analyzer options (stemmer, stop_words, "
      "remove_diacritics), is fixed when the collection is created; create a new collection to change it");
}

}  // namespace

// ---- tenants ----------------------------------------------------------------------------

ApiResult<HttpResponse> ApiService::CreateTenant(JsonElement body) const {
  std::string name;
  FATHOM_API_ASSIGN_OR_RETURN(name, ReadNameField(body, "struct CreateTenantPayload"));
  FATHOM_API_RETURN_IF_ERROR(ValidateTenantName(name));
  FATHOM_API_RETURN_IF_ERROR(ToApiStatus(db_->CreateTenant(name)));
  return EmptyObject();
}

ApiResult<HttpResponse> ApiService::GetTenant(const RouteMatch& route) const {
  TenantInfo info;
  FATHOM_API_ASSIGN_OR_RETURN_STATUS(info, db_->GetTenant(route.tenant));
  JsonWriter w;
  w.StartObject();
  w.Key("name");
  w.String(info.name);
  w.Key("resource_name");
  w.Null();
  w.EndObject();
  return JsonResponse(w.Take());
}

ApiResult<HttpResponse> ApiService::UpdateTenant(const RouteMatch& route, JsonElement body) const {
  JsonObject object;
  FATHOM_API_ASSIGN_OR_RETURN(object, RequireObject(body, "", "struct UpdateTenantPayload"));
  JsonElement resource_name;
  FATHOM_API_ASSIGN_OR_RETURN(resource_name, RequiredField(object, "resource_name", ""));
  FATHOM_API_RETURN_IF_ERROR(ReadString(resource_name, "resource_name").status());
  // Resource names are a Cloud feature; local Chroma accepts the call and changes nothing.
  FATHOM_API_RETURN_IF_ERROR(ToApiStatus(db_->GetTenant(route.tenant).status()));
  return EmptyObject();
}

// ---- databases --------------------------------------------------------------------------

ApiResult<HttpResponse> ApiService::ListDatabases(const RouteMatch& route) const {
  std::optional<uint32_t> limit, offset;
  FATHOM_API_ASSIGN_OR_RETURN(limit, QueryParamU32(route.query, "limit"));
  FATHOM_API_ASSIGN_OR_RETURN(offset, QueryParamU32(route.query, "offset"));
  std::vector<DatabaseInfo> databases;
  FATHOM_API_ASSIGN_OR_RETURN_STATUS(databases, db_->ListDatabases(route.tenant, limit, offset.value_or(0)));
  JsonWriter w;
  w.StartArray();
  for (const auto& info : databases) WriteDatabase(w, info);
  w.EndArray();
  return JsonResponse(w.Take());
}

ApiResult<HttpResponse> ApiService::CreateDatabase(const RouteMatch& route, JsonElement body) const {
  std::string name;
  FATHOM_API_ASSIGN_OR_RETURN(name, ReadNameField(body, "struct CreateDatabasePayload"));
  FATHOM_API_RETURN_IF_ERROR(ValidateName(name));
  // Local Chroma does not check that the tenant exists (clients rely on it: the JS suite
  // creates databases under a tenant it never created). Create the tenant on demand.
  auto tenant = db_->GetTenant(route.tenant);
  if (!tenant.ok()) {
    if (!tenant.status().IsNotFound()) return ApiError::FromStatus(tenant.status());
    FATHOM_API_RETURN_IF_ERROR(ValidateTenantName(route.tenant));
    Status created = db_->CreateTenant(route.tenant);
    if (!created.ok() && !created.IsAlreadyExists()) return ApiError::FromStatus(created);
  }
  FATHOM_API_RETURN_IF_ERROR(ToApiStatus(db_->CreateDatabase(route.tenant, name)));
  return EmptyObject();
}

ApiResult<HttpResponse> ApiService::GetDatabase(const RouteMatch& route) const {
  DatabaseInfo info;
  FATHOM_API_ASSIGN_OR_RETURN_STATUS(info, db_->GetDatabase(route.tenant, route.database));
  JsonWriter w;
  WriteDatabase(w, info);
  return JsonResponse(w.Take());
}

ApiResult<HttpResponse> ApiService::DeleteDatabase(const RouteMatch& route) const {
  FATHOM_API_RETURN_IF_ERROR(ToApiStatus(db_->DeleteDatabase(route.tenant, route.database)));
  return EmptyObject();
}

// ---- collections ------------------------------------------------------------------------

ApiResult<HttpResponse> ApiService::ListCollections(const RouteMatch& route) const {
  std::optional<uint32_t> limit, offset;
  FATHOM_API_ASSIGN_OR_RETURN(limit, QueryParamU32(route.query, "limit"));
  FATHOM_API_ASSIGN_OR_RETURN(offset, QueryParamU32(route.query, "offset"));
  std::vector<CollectionInfo> collections;
  FATHOM_API_ASSIGN_OR_RETURN_STATUS(
      collections, db_->ListCollections(route.tenant, route.database, limit, offset.value_or(0)));
  JsonWriter w;
  w.StartArray();
  for (const auto& info : collections) WriteCollection(w, info);
  w.EndArray();
  return JsonResponse(w.Take());
}

ApiResult<HttpResponse> ApiService::CreateCollection(const RouteMatch& route, JsonElement body) const {
  JsonObject object;
  FATHOM_API_ASSIGN_OR_RETURN(object, RequireObject(body, "", "struct CreateCollectionPayload"));
  JsonElement name_value;
  FATHOM_API_ASSIGN_OR_RETURN(name_value, RequiredField(object, "name", ""));
  CreateCollectionRequest request;
  FATHOM_API_ASSIGN_OR_RETURN(request.name, ReadString(name_value, "name"));
  if (auto metadata = OptionalField(object, "metadata")) {
    FATHOM_API_ASSIGN_OR_RETURN(request.metadata, ReadCollectionMetadata(*metadata, "metadata", false));
  }
  if (auto get_or_create = OptionalField(object, "get_or_create")) {
    FATHOM_API_ASSIGN_OR_RETURN(request.get_or_create, ReadBool(*get_or_create, "get_or_create"));
  }
  FATHOM_API_RETURN_IF_ERROR(ValidateName(request.name));
  CollectionConfig config;
  FATHOM_API_ASSIGN_OR_RETURN(config, ConfigForCreate(OptionalField(object, "configuration"),
                                                      OptionalField(object, "schema"), request.metadata));
  request.space = config.hnsw.space;
  // fathom's analyzer options in the schema's full-text configs (checked by ReadSchema).
  if (config.schema.has_value()) {
    request.text_analyzer = config.schema->TextAnalyzer();
    request.sparse_key = config.schema->SparseKey();
  }
  request.configuration_json = SerializeConfig(config);
  FATHOM_API_RETURN_IF_ERROR(CheckConfigurationBytes(request.configuration_json));
  std::shared_ptr<Collection> collection;
  FATHOM_API_ASSIGN_OR_RETURN_STATUS(collection,
                                     db_->CreateCollection(route.tenant, route.database, request));
  return CollectionResponse(*collection);
}

ApiResult<HttpResponse> ApiService::CountCollections(const RouteMatch& route) const {
  uint64_t count = 0;
  FATHOM_API_ASSIGN_OR_RETURN_STATUS(count, db_->CountCollections(route.tenant, route.database));
  return JsonResponse(std::to_string(count));
}

ApiResult<HttpResponse> ApiService::GetCollection(const RouteMatch& route) const {
  std::shared_ptr<Collection> collection;
  FATHOM_API_ASSIGN_OR_RETURN_STATUS(collection,
                                     db_->GetCollection(route.tenant, route.database, route.collection));
  return CollectionResponse(*collection);
}

ApiResult<HttpResponse> ApiService::GetCollectionById(const RouteMatch& route) const {
  auto id = NormalizeUuid(route.collection);
  if (!id.has_value()) {
    return ApiError::Validation("collection_id", "Invalid collection ID format, expected UUID");
  }
  std::shared_ptr<Collection> collection;
  FATHOM_API_ASSIGN_OR_RETURN_STATUS(collection, db_->GetCollectionById(route.tenant, route.database, *id));
  return CollectionResponse(*collection);
}

ApiResult<HttpResponse> ApiService::UpdateCollection(const RouteMatch& route, JsonElement body) const {
  auto id = NormalizeUuid(route.collection);
  if (!id.has_value()) return ApiError::InvalidArgument("Collection ID is not a valid UUIDv4");
  JsonObject object;
  FATHOM_API_ASSIGN_OR_RETURN(object, RequireObject(body, "", "struct UpdateCollectionPayload"));
  ModifyCollectionRequest request;
  if (auto new_name = OptionalField(object, "new_name")) {
    std::string name;
    FATHOM_API_ASSIGN_OR_RETURN(name, ReadString(*new_name, "new_name"));
    FATHOM_API_RETURN_IF_ERROR(ValidateName(name));
    request.new_name = std::move(name);
  }
  if (auto new_metadata = OptionalField(object, "new_metadata")) {
    std::optional<Metadata> metadata;
    FATHOM_API_ASSIGN_OR_RETURN(metadata, ReadCollectionMetadata(*new_metadata, "new_metadata", true));
    request.new_metadata = std::move(metadata);
  }
  std::shared_ptr<Collection> collection;
  FATHOM_API_ASSIGN_OR_RETURN_STATUS(collection, db_->GetCollectionById(route.tenant, route.database, *id));
  if (auto new_configuration = OptionalField(object, "new_configuration")) {
    FATHOM_API_RETURN_IF_ERROR(RefuseSchemaChange(*new_configuration));
    CollectionInfo info;
    FATHOM_API_ASSIGN_OR_RETURN_STATUS(info, collection->Info());
    CollectionConfig config = LoadConfig(info);
    FATHOM_API_RETURN_IF_ERROR(ApplyConfigUpdate(config, *new_configuration));
    request.new_configuration_json = SerializeConfig(config);
    FATHOM_API_RETURN_IF_ERROR(CheckConfigurationBytes(*request.new_configuration_json));
  }
  if (!request.new_name && !request.new_metadata && !request.new_configuration_json) return EmptyObject();
  FATHOM_API_RETURN_IF_ERROR(ToApiStatus(db_->ModifyCollection(route.tenant, route.database, *id, request)));
  return EmptyObject();
}

ApiResult<HttpResponse> ApiService::DeleteCollection(const RouteMatch& route) const {
  FATHOM_API_RETURN_IF_ERROR(ToApiStatus(db_->DeleteCollection(route.tenant, route.database, route.collection)));
  return EmptyObject();
}

}  // namespace fathom::server
