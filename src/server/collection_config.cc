#include "server/collection_config.h"

#include <algorithm>
#include <string_view>
#include <variant>

#include <fmt/format.h>

#include "common/limits.h"

namespace fathom::server {

namespace {

constexpr int kConfigFormat = 1;

// Legacy `hnsw:*` collection metadata (chroma.md §3.1).
ApiStatus ApplyLegacyMetadata(const Metadata& metadata, HnswParams& params) {
  auto number = [&](const char* key, uint64_t* out) -> ApiStatus {
    auto it = metadata.find(key);
    if (it == metadata.end()) return ApiStatus::Ok();
    const auto* v = std::get_if<int64_t>(&it->second);
    if (v == nullptr || *v < 0) {
      return ApiError::InvalidArgument(fmt::format("Invalid value for metadata key '{}': expected a non-negative "
                                                   "integer", key));
    }
    *out = static_cast<uint64_t>(*v);
    return ApiStatus::Ok();
  };
  auto it = metadata.find("hnsw:space");
  if (it != metadata.end()) {
    const auto* s = std::get_if<std::string>(&it->second);
    auto space = s != nullptr ? ParseDistanceSpace(*s) : std::nullopt;
    if (!space.has_value()) {
      return ApiError::InvalidArgument("Invalid value for metadata key 'hnsw:space': expected one of 'l2', "
                                       "'cosine', 'ip'");
    }
    params.space = *space;
  }
  FATHOM_API_RETURN_IF_ERROR(number("hnsw:construction_ef", &params.ef_construction));
  FATHOM_API_RETURN_IF_ERROR(number("hnsw:search_ef", &params.ef_search));
  FATHOM_API_RETURN_IF_ERROR(number("hnsw:M", &params.max_neighbors));
  FATHOM_API_RETURN_IF_ERROR(number("hnsw:num_threads", &params.num_threads));
  FATHOM_API_RETURN_IF_ERROR(number("hnsw:sync_threshold", &params.sync_threshold));
  FATHOM_API_RETURN_IF_ERROR(number("hnsw:batch_size", &params.batch_size));
  auto rf = metadata.find("hnsw:resize_factor");
  if (rf != metadata.end()) {
    if (const auto* d = std::get_if<double>(&rf->second)) {
      params.resize_factor = *d;
    } else if (const auto* i = std::get_if<int64_t>(&rf->second)) {
      params.resize_factor = static_cast<double>(*i);
    } else {
      return ApiError::InvalidArgument("Invalid value for metadata key 'hnsw:resize_factor': expected a number");
    }
  }
  return ApiStatus::Ok();
}

std::optional<JsonElement> Child(JsonElement parent, std::string_view key) {
  JsonObject object;
  JsonElement value;
  if (parent.get(object) || object.at_key(key).get(value) || value.is_null()) return std::nullopt;
  return value;
}

// The vector index settings the schema's two vector indexes carry for a configuration.
VectorIndexConfig VectorConfigOf(const CollectionConfig& config) {
  VectorIndexConfig vector;
  vector.space = config.hnsw.space;
  vector.embedding_function_json = config.embedding_function_json;
  vector.hnsw = HnswFields::From(config.hnsw);
  return vector;
}

// Keeps the schema's `#embedding` vector index equal to the configuration, which is
// authoritative (a PUT changes both, as in Chroma).
void SyncEmbeddingVector(CollectionConfig& config) {
  if (!config.schema.has_value()) return;
  VectorIndexConfig* embedding = config.schema->EmbeddingVectorConfig();
  if (embedding == nullptr) return;
  std::optional<std::string> source_key = embedding->source_key;
  *embedding = VectorConfigOf(config);
  embedding->source_key = std::move(source_key);
}

// A client's schema: validated, reconciled with the default schema; its `#embedding`
// vector-index settings become the configuration (chroma.md §3.4).
ApiStatus ReadSchema(JsonElement value, CollectionConfig& config) {
  CollectionSchema user;
  FATHOM_API_ASSIGN_OR_RETURN(user, ParseSchema(value, "schema"));
  FATHOM_API_RETURN_IF_ERROR(ValidateSchema(user));
  CollectionSchema schema = ReconcileSchema(user);
  if (const VectorIndexConfig* vector = schema.EmbeddingVectorConfig()) {
    config.hnsw.space = vector->space.value_or(config.hnsw.space);
    if (vector->hnsw.has_value()) vector->hnsw->ApplyTo(config.hnsw);
    config.embedding_function_json = vector->embedding_function_json;
  }
  config.schema = std::move(schema);
  SyncEmbeddingVector(config);
  return ApiStatus::Ok();
}

void WriteHnswShown(JsonWriter& w, const HnswParams& p, DistanceSpace space) {
  // configuration_json shows these six (chroma.md §3.1); the schema copy adds the rest.
  w.StartObject();
  w.Key("space");
  w.String(DistanceSpaceName(space));
  w.Key("ef_construction");
  w.Uint64(p.ef_construction);
  w.Key("ef_search");
  w.Uint64(p.ef_search);
  w.Key("max_neighbors");
  w.Uint64(p.max_neighbors);
  w.Key("resize_factor");
  w.Double(p.resize_factor);
  w.Key("sync_threshold");
  w.Uint64(p.sync_threshold);
  w.EndObject();
}

}  // namespace

ApiResult<CollectionConfig> ConfigForCreate(std::optional<JsonElement> configuration,
                                            std::optional<JsonElement> schema,
                                            const std::optional<Metadata>& metadata) {
  CollectionConfig config;
  std::optional<JsonElement> hnsw, spann, ef;
  if (configuration.has_value()) {
    FATHOM_API_RETURN_IF_ERROR(RequireObject(*configuration, "configuration", "struct CollectionConfiguration").status());
    hnsw = Child(*configuration, "hnsw");
    spann = Child(*configuration, "spann");
    ef = Child(*configuration, "embedding_function");
  }
  if (schema.has_value()) {
    if (hnsw.has_value() || spann.has_value() || ef.has_value()) {
      return ApiError::InvalidArgument(
          "Failed to reconcile schema: Cannot set both collection config and schema simultaneously");
    }
    FATHOM_API_RETURN_IF_ERROR(ReadSchema(*schema, config));
    return config;
  }
  if (hnsw.has_value() && spann.has_value()) {
    return ApiError::InvalidArgument("Multiple vector index configurations provided");
  }
  std::optional<DistanceSpace> space;
  if (hnsw.has_value()) {
    HnswFields fields;
    FATHOM_API_ASSIGN_OR_RETURN(fields, ReadHnswFields(*hnsw, "configuration.hnsw", HnswKeys::kConfigurationCreate,
                                                       &space));
    fields.ApplyTo(config.hnsw);
  } else if (spann.has_value()) {
    FATHOM_API_RETURN_IF_ERROR(ReadSpann(*spann, "configuration.spann", SpannMode::kCreate, &space));
  } else if (metadata.has_value()) {
    FATHOM_API_RETURN_IF_ERROR(ApplyLegacyMetadata(*metadata, config.hnsw));
  }
  if (space.has_value()) config.hnsw.space = *space;
  if (ef.has_value()) {
    FATHOM_API_ASSIGN_OR_RETURN(config.embedding_function_json,
                                ReadEmbeddingFunction(*ef, "configuration.embedding_function"));
  }
  return config;
}

ApiStatus ApplyConfigUpdate(CollectionConfig& config, JsonElement new_configuration) {
  FATHOM_API_RETURN_IF_ERROR(
      RequireObject(new_configuration, "new_configuration", "struct UpdateCollectionConfiguration").status());
  auto hnsw = Child(new_configuration, "hnsw");
  auto spann = Child(new_configuration, "spann");
  if (hnsw.has_value() && spann.has_value()) {
    return ApiError::InvalidArgument("Multiple vector index configurations provided");
  }
  HnswFields update;
  if (hnsw.has_value()) {
    FATHOM_API_ASSIGN_OR_RETURN(update,
                                ReadHnswFields(*hnsw, "new_configuration.hnsw", HnswKeys::kConfigurationUpdate));
  }
  if (spann.has_value()) {
    // Validated, then ignored: a local collection has no SPANN index to tune.
    FATHOM_API_RETURN_IF_ERROR(ReadSpann(*spann, "new_configuration.spann", SpannMode::kUpdate, nullptr));
  }
  auto ef_value = Child(new_configuration, "embedding_function");
  std::optional<std::string> ef = config.embedding_function_json;
  if (ef_value.has_value()) {
    FATHOM_API_ASSIGN_OR_RETURN(ef, ReadEmbeddingFunction(*ef_value, "new_configuration.embedding_function"));
  }
  update.ApplyTo(config.hnsw);
  config.embedding_function_json = ef;
  // Chroma changes both vector indexes of the schema: the defaults' by the named fields,
  // `#embedding`'s to mirror the configuration.
  VectorIndexConfig* defaults = config.schema.has_value() ? config.schema->DefaultsVectorConfig() : nullptr;
  if (defaults != nullptr) {
    if (update != HnswFields{}) defaults->hnsw = defaults->hnsw ? update.Over(*defaults->hnsw) : update;
    if (ef_value.has_value()) defaults->embedding_function_json = std::move(ef);
  }
  SyncEmbeddingVector(config);
  return ApiStatus::Ok();
}

std::string SerializeConfig(const CollectionConfig& config) {
  JsonWriter w;
  const HnswParams& p = config.hnsw;
  w.StartObject();
  w.Key("format");
  w.Int64(kConfigFormat);
  w.Key("hnsw");
  w.StartObject();
  w.Key("space");
  w.String(DistanceSpaceName(p.space));
  w.Key("ef_construction");
  w.Uint64(p.ef_construction);
  w.Key("ef_search");
  w.Uint64(p.ef_search);
  w.Key("max_neighbors");
  w.Uint64(p.max_neighbors);
  w.Key("num_threads");
  w.Uint64(p.num_threads);
  w.Key("resize_factor");
  w.Double(p.resize_factor);
  w.Key("sync_threshold");
  w.Uint64(p.sync_threshold);
  w.Key("batch_size");
  w.Uint64(p.batch_size);
  w.EndObject();
  w.Key("embedding_function");
  if (config.embedding_function_json.has_value()) w.RawJson(*config.embedding_function_json); else w.Null();
  w.Key("schema");
  if (config.schema.has_value()) WriteSchema(w, *config.schema, SchemaOutput::kStored); else w.Null();
  w.EndObject();
  return w.Take();
}

CollectionConfig LoadConfig(const CollectionInfo& info) {
  CollectionConfig config;
  config.hnsw.space = info.space;
  if (info.configuration_json.empty()) return config;
  auto parsed = JsonBody::ParseOwned(info.configuration_json);
  if (!parsed.ok()) return config;
  JsonElement root = parsed->root();
  if (auto hnsw = Child(root, "hnsw")) {
    auto fields = ReadHnswFields(*hnsw, "", HnswKeys::kConfigurationCreate);
    if (fields.ok()) fields->ApplyTo(config.hnsw);
  }
  if (auto ef = Child(root, "embedding_function")) {
    JsonWriter w;
    w.Element(*ef);
    config.embedding_function_json = w.Take();
  }
  if (auto schema = Child(root, "schema")) {
    // Reconciling a reconciled schema changes nothing; one stored verbatim by an older
    // version is completed here.
    auto parsed = ParseSchema(*schema, "schema");
    if (parsed.ok()) config.schema = ReconcileSchema(*parsed);
  }
  // The engine's space is authoritative: it is what queries are ranked by.
  config.hnsw.space = info.space;
  SyncEmbeddingVector(config);
  return config;
}

void WriteCollection(JsonWriter& w, const CollectionInfo& info) {
  const CollectionConfig config = LoadConfig(info);
  w.StartObject();
  w.Key("id");
  w.String(info.id);
  w.Key("name");
  w.String(info.name);
  w.Key("configuration_json");
  w.StartObject();
  w.Key("hnsw");
  WriteHnswShown(w, config.hnsw, info.space);
  w.Key("spann");
  w.Null();
  w.Key("embedding_function");
  if (config.embedding_function_json.has_value()) w.RawJson(*config.embedding_function_json); else w.Null();
  w.EndObject();
  w.Key("schema");
  if (config.schema.has_value()) {
    WriteSchema(w, *config.schema, SchemaOutput::kShown);
  } else {
    WriteSchema(w, DefaultSchema(VectorConfigOf(config)), SchemaOutput::kShown);
  }
  w.Key("metadata");
  w.OptionalMetadata(info.metadata);
  w.Key("dimension");
  if (info.dimension.has_value()) w.Uint64(*info.dimension); else w.Null();
  w.Key("tenant");
  w.String(info.tenant);
  w.Key("database");
  w.String(info.database);
  w.Key("log_position");
  w.Int64(0);
  w.Key("version");
  w.Int64(0);
  w.EndObject();
}

double SearchEffortForEfSearch(uint64_t ef_search) {
  constexpr double kChromaDefaultEfSearch = 100.0;
  const double effort = static_cast<double>(ef_search) / kChromaDefaultEfSearch;
  return std::clamp(effort, 0.01, fathom::limits::kSearchEffortMax);
}

}  // namespace fathom::server
