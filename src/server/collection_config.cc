#include "server/collection_config.h"

#include <algorithm>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "common/limits.h"

namespace fathom::server {

namespace {

using simdjson::dom::element_type;

constexpr int kConfigFormat = 1;

std::string ExpectedList(const std::vector<std::string_view>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ", ";
    out += fmt::format("`{}`", names[i]);
  }
  return out;
}

ApiResult<DistanceSpace> ReadSpace(JsonElement value, std::string_view path) {
  std::string_view s;
  if (value.get(s)) return ApiError::Deserialize(path, InvalidTypeText(value, "a string"));
  auto space = ParseDistanceSpace(std::string(s));
  if (!space.has_value()) {
    return ApiError::Deserialize(path, fmt::format("unknown variant `{}`, expected one of `l2`, `cosine`, `ip`", s));
  }
  return *space;
}

// Which HNSW keys a payload may carry: all of them on create, the mutable ones on PUT.
enum class HnswMode { kCreate, kUpdate };

const std::vector<std::string_view> kHnswCreateKeys = {
    "space", "ef_construction", "ef_search", "max_neighbors", "num_threads", "resize_factor",
    "sync_threshold", "batch_size"};
const std::vector<std::string_view> kHnswUpdateKeys = {
    "ef_search", "max_neighbors", "num_threads", "resize_factor", "sync_threshold", "batch_size"};

// Reads an `hnsw` object into `params`, leaving absent or null keys as they are. Unknown
// keys and negative numbers are 422, as Chroma's deny_unknown_fields structs answer.
ApiStatus ReadHnsw(JsonElement value, std::string_view path, HnswMode mode, HnswParams& params) {
  JsonObject object;
  FATHOM_API_ASSIGN_OR_RETURN(object, RequireObject(value, path, "struct HnswConfiguration"));
  const auto& allowed = mode == HnswMode::kCreate ? kHnswCreateKeys : kHnswUpdateKeys;
  for (auto field : object) {
    const std::string_view key = field.key;
    bool known = false;
    for (auto k : allowed) known = known || k == key;
    if (!known) {
      return ApiError::Deserialize(path, fmt::format("unknown field `{}`, expected one of {}", key,
                                                     ExpectedList(allowed)));
    }
    JsonElement v = field.value;
    if (v.is_null()) continue;
    const std::string field_path = FieldPath(path, key);
    if (key == "space") {
      FATHOM_API_ASSIGN_OR_RETURN(params.space, ReadSpace(v, field_path));
    } else if (key == "resize_factor") {
      FATHOM_API_ASSIGN_OR_RETURN(params.resize_factor, ReadF64(v, field_path));
    } else {
      uint64_t n = 0;
      FATHOM_API_ASSIGN_OR_RETURN(n, ReadUsize(v, field_path));
      if (key == "ef_construction") params.ef_construction = n;
      if (key == "ef_search") params.ef_search = n;
      if (key == "max_neighbors") params.max_neighbors = n;
      if (key == "num_threads") params.num_threads = n;
      if (key == "sync_threshold") params.sync_threshold = n;
      if (key == "batch_size") params.batch_size = n;
    }
  }
  return ApiStatus::Ok();
}

struct SpannKey {
  std::string_view name;
  enum class Kind { kUsize, kF64, kQuantize } kind;
  uint64_t min;
  uint64_t max;  // 0 = no bound
};

const std::vector<SpannKey> kSpannCreateKeys = {
    {"search_nprobe", SpannKey::Kind::kUsize, 0, 128},
    {"write_nprobe", SpannKey::Kind::kUsize, 0, 128},
    {"ef_construction", SpannKey::Kind::kUsize, 0, 200},
    {"ef_search", SpannKey::Kind::kUsize, 0, 200},
    {"max_neighbors", SpannKey::Kind::kUsize, 0, 64},
    {"reassign_neighbor_count", SpannKey::Kind::kUsize, 0, 64},
    {"split_threshold", SpannKey::Kind::kUsize, 25, 200},
    {"merge_threshold", SpannKey::Kind::kUsize, 12, 100},
    {"nreplica_count", SpannKey::Kind::kUsize, 0, 8},
    {"num_samples_kmeans", SpannKey::Kind::kUsize, 0, 0},
    {"num_centers_to_merge_to", SpannKey::Kind::kUsize, 0, 8},
    {"write_rng_factor", SpannKey::Kind::kF64, 0, 0},
    {"write_rng_epsilon", SpannKey::Kind::kF64, 0, 0},
    {"search_rng_factor", SpannKey::Kind::kF64, 0, 0},
    {"search_rng_epsilon", SpannKey::Kind::kF64, 0, 0},
    {"initial_lambda", SpannKey::Kind::kF64, 0, 0},
    {"center_drift_threshold", SpannKey::Kind::kF64, 0, 0},
    {"quantize", SpannKey::Kind::kQuantize, 0, 0},
};
const std::vector<SpannKey> kSpannUpdateKeys = {
    {"search_nprobe", SpannKey::Kind::kUsize, 0, 128},
    {"ef_search", SpannKey::Kind::kUsize, 0, 200},
};

// Reads and validates a `spann` object. Local Chroma keeps HNSW, so only the space is
// used; the other values are checked like Chroma does and then dropped.
ApiStatus ReadSpann(JsonElement value, std::string_view path, HnswMode mode, DistanceSpace* space) {
  JsonObject object;
  FATHOM_API_ASSIGN_OR_RETURN(object, RequireObject(value, path, "struct SpannConfiguration"));
  const auto& keys = mode == HnswMode::kCreate ? kSpannCreateKeys : kSpannUpdateKeys;
  for (auto field : object) {
    const std::string_view key = field.key;
    JsonElement v = field.value;
    const std::string field_path = FieldPath(path, key);
    if (key == "space" && mode == HnswMode::kCreate) {
      if (!v.is_null()) {
        FATHOM_API_ASSIGN_OR_RETURN(*space, ReadSpace(v, field_path));
      }
      continue;
    }
    const SpannKey* spec = nullptr;
    for (const auto& k : keys) {
      if (k.name == key) spec = &k;
    }
    if (spec == nullptr) {
      std::vector<std::string_view> names;
      if (mode == HnswMode::kCreate) names.push_back("space");
      for (const auto& k : keys) names.push_back(k.name);
      return ApiError::Deserialize(path, fmt::format("unknown field `{}`, expected one of {}", key,
                                                     ExpectedList(names)));
    }
    if (v.is_null()) continue;
    switch (spec->kind) {
      case SpannKey::Kind::kUsize: {
        uint64_t n = 0;
        FATHOM_API_ASSIGN_OR_RETURN(n, ReadUsize(v, field_path));
        if (n < spec->min || (spec->max != 0 && n > spec->max)) {
          return ApiError::Validation(field_path, fmt::format("must be between {} and {}, got {}", spec->min,
                                                              spec->max, n));
        }
        break;
      }
      case SpannKey::Kind::kF64: {
        FATHOM_API_RETURN_IF_ERROR(ReadF64(v, field_path).status());
        break;
      }
      case SpannKey::Kind::kQuantize: {
        std::string_view s;
        if (v.get(s) || (s != "none" && s != "four_bit_rabit_q_with_u_search")) {
          return ApiError::Deserialize(field_path, "unknown variant, expected one of `none`, "
                                                   "`four_bit_rabit_q_with_u_search`");
        }
        break;
      }
    }
  }
  return ApiStatus::Ok();
}

// The embedding-function descriptor is stored and echoed, never run (chroma.md §3.3).
ApiResult<std::optional<std::string>> ReadEmbeddingFunction(JsonElement value, std::string_view path) {
  if (value.is_null()) return std::optional<std::string>();
  JsonObject object;
  FATHOM_API_ASSIGN_OR_RETURN(object, RequireObject(value, path, "internally tagged enum EmbeddingFunctionConfiguration"));
  JsonElement type;
  std::string_view type_name;
  if (object.at_key("type").get(type) || type.get(type_name)) {
    return ApiError::Deserialize(path, "missing field `type`");
  }
  if (type_name != "known" && type_name != "legacy" && type_name != "unknown") {
    return ApiError::Deserialize(FieldPath(path, "type"),
                                 fmt::format("unknown variant `{}`, expected one of `legacy`, `known`, `unknown`",
                                             type_name));
  }
  JsonWriter w;
  w.Element(value);
  return std::optional<std::string>(w.Take());
}

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

// Schema rules local Chroma checks (chroma.md §3.4), and the vector-index settings it
// carries for `#embedding`: they become the collection's configuration.
ApiStatus ReadSchema(JsonElement schema, CollectionConfig& config) {
  JsonObject object;
  FATHOM_API_ASSIGN_OR_RETURN(object, RequireObject(schema, "schema", "struct Schema"));
  auto keys = Child(schema, "keys");
  if (keys.has_value()) {
    JsonObject keys_object;
    FATHOM_API_ASSIGN_OR_RETURN(keys_object, RequireObject(*keys, "schema.keys", "a map"));
    for (auto field : keys_object) {
      const std::string_view key = field.key;
      if (!key.empty() && key[0] == '#' && key != "#document" && key != "#embedding") {
        return ApiError::InvalidArgument(fmt::format(
            "Invalid schema: key '{}' may not start with '#' (reserved for #document and #embedding)", key));
      }
      if (key != "#embedding") {
        auto float_list = Child(field.value, "float_list");
        auto index = float_list.has_value() ? Child(*float_list, "vector_index") : std::nullopt;
        auto enabled = index.has_value() ? Child(*index, "enabled") : std::nullopt;
        bool on = false;
        if (enabled.has_value() && !enabled->get(on) && on) {
          return ApiError::InvalidArgument(fmt::format(
              "Invalid schema: the vector index can only be enabled on '#embedding', not '{}'", key));
        }
      }
    }
  }
  // Sparse vector indexes are a distributed feature.
  auto check_sparse = [](std::optional<JsonElement> value_types) -> ApiStatus {
    if (!value_types.has_value()) return ApiStatus::Ok();
    auto sparse = Child(*value_types, "sparse_vector");
    auto index = sparse.has_value() ? Child(*sparse, "sparse_vector_index") : std::nullopt;
    auto enabled = index.has_value() ? Child(*index, "enabled") : std::nullopt;
    bool on = false;
    if (enabled.has_value() && !enabled->get(on) && on) {
      return ApiError::InvalidArgument("Sparse vector indexing is not enabled in local");
    }
    return ApiStatus::Ok();
  };
  FATHOM_API_RETURN_IF_ERROR(check_sparse(Child(schema, "defaults")));
  if (keys.has_value()) {
    const JsonObject keys_object = keys->get_object().value_unsafe();
    for (auto field : keys_object) {
      FATHOM_API_RETURN_IF_ERROR(check_sparse(field.value));
    }
  }

  // The vector index settings: #embedding's, else the defaults'.
  std::optional<JsonElement> vector_config;
  for (auto source : {keys.has_value() ? Child(*keys, "#embedding") : std::nullopt, Child(schema, "defaults")}) {
    if (vector_config.has_value() || !source.has_value()) continue;
    auto float_list = Child(*source, "float_list");
    auto index = float_list.has_value() ? Child(*float_list, "vector_index") : std::nullopt;
    vector_config = index.has_value() ? Child(*index, "config") : std::nullopt;
  }
  if (vector_config.has_value()) {
    const std::string path = "schema.keys.#embedding.float_list.vector_index.config";
    auto hnsw = Child(*vector_config, "hnsw");
    auto spann = Child(*vector_config, "spann");
    if (hnsw.has_value() && spann.has_value()) {
      return ApiError::InvalidArgument("Multiple vector index configurations provided");
    }
    if (auto space = Child(*vector_config, "space")) {
      FATHOM_API_ASSIGN_OR_RETURN(config.hnsw.space, ReadSpace(*space, FieldPath(path, "space")));
    }
    if (hnsw.has_value()) {
      // The schema's HNSW object has no `space` (it sits beside it), but accept one.
      FATHOM_API_RETURN_IF_ERROR(ReadHnsw(*hnsw, FieldPath(path, "hnsw"), HnswMode::kCreate, config.hnsw));
    }
    if (spann.has_value()) {
      FATHOM_API_RETURN_IF_ERROR(ReadSpann(*spann, FieldPath(path, "spann"), HnswMode::kCreate, &config.hnsw.space));
    }
    if (auto ef = Child(*vector_config, "embedding_function")) {
      FATHOM_API_ASSIGN_OR_RETURN(config.embedding_function_json,
                                  ReadEmbeddingFunction(*ef, FieldPath(path, "embedding_function")));
    }
  }
  JsonWriter w;
  w.Element(schema);
  config.schema_json = w.Take();
  return ApiStatus::Ok();
}

uint64_t EffectiveThreads(uint64_t num_threads) {
  if (num_threads != 0) return num_threads;
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
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

void WriteIndex(JsonWriter& w, std::string_view name, bool enabled) {
  w.Key(name);
  w.StartObject();
  w.Key("enabled");
  w.Bool(enabled);
  w.Key("config");
  w.StartObject();
  w.EndObject();
  w.EndObject();
}

// `"type": {"index": {"enabled": ..., "config": {}}}`: one value type with one index.
void WriteValueType(JsonWriter& w, const char* type, const char* index, bool enabled) {
  w.Key(type);
  w.StartObject();
  WriteIndex(w, index, enabled);
  w.EndObject();
}

// The schema local Chroma reports for a collection created without one.
void WriteDefaultSchema(JsonWriter& w, const CollectionConfig& config, DistanceSpace space) {
  w.StartObject();
  w.Key("defaults");
  w.StartObject();
  w.Key("string");
  w.StartObject();
  WriteIndex(w, "fts_index", false);
  WriteIndex(w, "string_inverted_index", true);
  w.EndObject();
  WriteValueType(w, "float_list", "vector_index", false);
  WriteValueType(w, "sparse_vector", "sparse_vector_index", false);
  WriteValueType(w, "int", "int_inverted_index", true);
  WriteValueType(w, "float", "float_inverted_index", true);
  WriteValueType(w, "bool", "bool_inverted_index", true);
  w.EndObject();  // defaults

  w.Key("keys");
  w.StartObject();
  w.Key("#document");
  w.StartObject();
  w.Key("string");
  w.StartObject();
  WriteIndex(w, "fts_index", true);
  WriteIndex(w, "string_inverted_index", false);
  w.EndObject();
  w.EndObject();
  w.Key("#embedding");
  w.StartObject();
  w.Key("float_list");
  w.StartObject();
  w.Key("vector_index");
  w.StartObject();
  w.Key("enabled");
  w.Bool(true);
  w.Key("config");
  w.StartObject();
  w.Key("space");
  w.String(DistanceSpaceName(space));
  if (config.embedding_function_json.has_value()) {
    w.Key("embedding_function");
    w.RawJson(*config.embedding_function_json);
  }
  w.Key("source_key");
  w.String("#document");
  w.Key("hnsw");
  const HnswParams& p = config.hnsw;
  w.StartObject();
  w.Key("ef_construction");
  w.Uint64(p.ef_construction);
  w.Key("max_neighbors");
  w.Uint64(p.max_neighbors);
  w.Key("ef_search");
  w.Uint64(p.ef_search);
  w.Key("num_threads");
  w.Uint64(EffectiveThreads(p.num_threads));
  w.Key("batch_size");
  w.Uint64(p.batch_size);
  w.Key("sync_threshold");
  w.Uint64(p.sync_threshold);
  w.Key("resize_factor");
  w.Double(p.resize_factor);
  w.EndObject();  // hnsw
  w.EndObject();  // config
  w.EndObject();  // vector_index
  w.EndObject();  // float_list
  w.EndObject();  // #embedding
  w.EndObject();  // keys
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
  if (hnsw.has_value()) {
    FATHOM_API_RETURN_IF_ERROR(ReadHnsw(*hnsw, "configuration.hnsw", HnswMode::kCreate, config.hnsw));
  } else if (spann.has_value()) {
    FATHOM_API_RETURN_IF_ERROR(ReadSpann(*spann, "configuration.spann", HnswMode::kCreate, &config.hnsw.space));
  } else if (metadata.has_value()) {
    FATHOM_API_RETURN_IF_ERROR(ApplyLegacyMetadata(*metadata, config.hnsw));
  }
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
  HnswParams updated = config.hnsw;
  if (hnsw.has_value()) {
    FATHOM_API_RETURN_IF_ERROR(ReadHnsw(*hnsw, "new_configuration.hnsw", HnswMode::kUpdate, updated));
  }
  if (spann.has_value()) {
    // Validated, then ignored: a local collection has no SPANN index to tune.
    DistanceSpace unused = updated.space;
    FATHOM_API_RETURN_IF_ERROR(ReadSpann(*spann, "new_configuration.spann", HnswMode::kUpdate, &unused));
  }
  std::optional<std::string> ef = config.embedding_function_json;
  if (auto value = Child(new_configuration, "embedding_function")) {
    FATHOM_API_ASSIGN_OR_RETURN(ef, ReadEmbeddingFunction(*value, "new_configuration.embedding_function"));
  }
  config.hnsw = updated;
  config.embedding_function_json = std::move(ef);
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
  if (config.schema_json.has_value()) w.RawJson(*config.schema_json); else w.Null();
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
    HnswParams params = config.hnsw;
    if (ReadHnsw(*hnsw, "", HnswMode::kCreate, params).ok()) config.hnsw = params;
  }
  if (auto ef = Child(root, "embedding_function")) {
    JsonWriter w;
    w.Element(*ef);
    config.embedding_function_json = w.Take();
  }
  if (auto schema = Child(root, "schema")) {
    JsonWriter w;
    w.Element(*schema);
    config.schema_json = w.Take();
  }
  // The engine's space is authoritative: it is what queries are ranked by.
  config.hnsw.space = info.space;
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
  if (config.schema_json.has_value()) {
    w.RawJson(*config.schema_json);
  } else {
    WriteDefaultSchema(w, config, info.space);
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
