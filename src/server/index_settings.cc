#include "server/index_settings.h"

#include <thread>
#include <vector>

#include <fmt/format.h>

namespace fathom::server {

namespace {

std::string ExpectedList(const std::vector<std::string_view>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ", ";
    out += fmt::format("`{}`", names[i]);
  }
  return out;
}

// The keys each kind of `hnsw` object accepts, in the order Chroma's error lists them.
const std::vector<std::string_view> kHnswCreateKeys = {
    "space", "ef_construction", "ef_search", "max_neighbors", "num_threads", "resize_factor",
    "sync_threshold", "batch_size"};
const std::vector<std::string_view> kHnswUpdateKeys = {
    "ef_search", "max_neighbors", "num_threads", "resize_factor", "sync_threshold", "batch_size"};
const std::vector<std::string_view> kHnswSchemaKeys = {
    "ef_construction", "max_neighbors", "ef_search", "num_threads", "batch_size", "sync_threshold",
    "resize_factor"};

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

}  // namespace

HnswFields HnswFields::From(const HnswParams& p) {
  HnswFields f;
  f.ef_construction = p.ef_construction;
  f.max_neighbors = p.max_neighbors;
  f.ef_search = p.ef_search;
  f.num_threads = p.num_threads;
  f.batch_size = p.batch_size;
  f.sync_threshold = p.sync_threshold;
  f.resize_factor = p.resize_factor;
  return f;
}

void HnswFields::ApplyTo(HnswParams& p) const {
  p.ef_construction = ef_construction.value_or(p.ef_construction);
  p.max_neighbors = max_neighbors.value_or(p.max_neighbors);
  p.ef_search = ef_search.value_or(p.ef_search);
  p.num_threads = num_threads.value_or(p.num_threads);
  p.batch_size = batch_size.value_or(p.batch_size);
  p.sync_threshold = sync_threshold.value_or(p.sync_threshold);
  p.resize_factor = resize_factor.value_or(p.resize_factor);
}

HnswFields HnswFields::Over(const HnswFields& base) const {
  HnswFields f;
  f.ef_construction = ef_construction ? ef_construction : base.ef_construction;
  f.max_neighbors = max_neighbors ? max_neighbors : base.max_neighbors;
  f.ef_search = ef_search ? ef_search : base.ef_search;
  f.num_threads = num_threads ? num_threads : base.num_threads;
  f.batch_size = batch_size ? batch_size : base.batch_size;
  f.sync_threshold = sync_threshold ? sync_threshold : base.sync_threshold;
  f.resize_factor = resize_factor ? resize_factor : base.resize_factor;
  return f;
}

ApiResult<DistanceSpace> ReadDistanceSpace(JsonElement value, std::string_view path) {
  std::string_view s;
  if (value.get(s)) return ApiError::Deserialize(path, InvalidTypeText(value, "a string"));
  auto space = ParseDistanceSpace(std::string(s));
  if (!space.has_value()) {
    return ApiError::Deserialize(path, fmt::format("unknown variant `{}`, expected one of `l2`, `cosine`, `ip`", s));
  }
  return *space;
}

ApiResult<HnswFields> ReadHnswFields(JsonElement value, std::string_view path, HnswKeys keys,
                                     std::optional<DistanceSpace>* space) {
  JsonObject object;
  FATHOM_API_ASSIGN_OR_RETURN(object, RequireObject(value, path, keys == HnswKeys::kSchema
                                                                     ? "struct HnswIndexConfig"
                                                                     : "struct HnswConfiguration"));
  const auto& allowed = keys == HnswKeys::kConfigurationCreate   ? kHnswCreateKeys
                        : keys == HnswKeys::kConfigurationUpdate ? kHnswUpdateKeys
                                                                 : kHnswSchemaKeys;
  HnswFields fields;
  for (auto field : object) {
    const std::string_view key = field.key;
    bool known = false;
    for (auto k : allowed) known = known || k == key;
    if (!known) {
      return ApiError::Deserialize(FieldPath(path, key), fmt::format("unknown field `{}`, expected one of {}", key,
                                                                    ExpectedList(allowed)));
    }
    JsonElement v = field.value;
    if (v.is_null()) continue;
    const std::string field_path = FieldPath(path, key);
    if (key == "space") {
      DistanceSpace s = DistanceSpace::kL2;
      FATHOM_API_ASSIGN_OR_RETURN(s, ReadDistanceSpace(v, field_path));
      if (space != nullptr) *space = s;
    } else if (key == "resize_factor") {
      double d = 0;
      FATHOM_API_ASSIGN_OR_RETURN(d, ReadF64(v, field_path));
      fields.resize_factor = d;
    } else {
      uint64_t n = 0;
      FATHOM_API_ASSIGN_OR_RETURN(n, ReadUsize(v, field_path));
      if (key == "ef_construction") fields.ef_construction = n;
      if (key == "ef_search") fields.ef_search = n;
      if (key == "max_neighbors") fields.max_neighbors = n;
      if (key == "num_threads") fields.num_threads = n;
      if (key == "sync_threshold") fields.sync_threshold = n;
      if (key == "batch_size") fields.batch_size = n;
    }
  }
  return fields;
}

ApiStatus ReadSpann(JsonElement value, std::string_view path, SpannMode mode,
                    std::optional<DistanceSpace>* space) {
  JsonObject object;
  FATHOM_API_ASSIGN_OR_RETURN(object, RequireObject(value, path, mode == SpannMode::kSchema
                                                                     ? "struct SpannIndexConfig"
                                                                     : "struct SpannConfiguration"));
  const auto& keys = mode == SpannMode::kUpdate ? kSpannUpdateKeys : kSpannCreateKeys;
  const bool space_allowed = mode == SpannMode::kCreate;
  for (auto field : object) {
    const std::string_view key = field.key;
    JsonElement v = field.value;
    const std::string field_path = FieldPath(path, key);
    if (key == "space" && space_allowed) {
      if (!v.is_null()) {
        DistanceSpace s = DistanceSpace::kL2;
        FATHOM_API_ASSIGN_OR_RETURN(s, ReadDistanceSpace(v, field_path));
        if (space != nullptr) *space = s;
      }
      continue;
    }
    const SpannKey* spec = nullptr;
    for (const auto& k : keys) {
      if (k.name == key) spec = &k;
    }
    if (spec == nullptr) {
      std::vector<std::string_view> names;
      if (space_allowed) names.push_back("space");
      for (const auto& k : keys) names.push_back(k.name);
      return ApiError::Deserialize(FieldPath(path, key), fmt::format("unknown field `{}`, expected one of {}", key,
                                                                    ExpectedList(names)));
    }
    if (v.is_null()) continue;
    switch (spec->kind) {
      case SpannKey::Kind::kUsize: {
        uint64_t n = 0;
        FATHOM_API_ASSIGN_OR_RETURN(n, ReadUsize(v, field_path));
        // Local Chroma checks the bounds of a configuration's SPANN values, not of those
        // inside a schema (it drops them there for HNSW without validating).
        if (mode != SpannMode::kSchema && (n < spec->min || (spec->max != 0 && n > spec->max))) {
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

uint64_t EffectiveThreads(uint64_t num_threads) {
  if (num_threads != 0) return num_threads;
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

void WriteHnswFields(JsonWriter& w, const HnswFields& f, bool resolve_threads) {
  auto number = [&](std::string_view key, const std::optional<uint64_t>& v) {
    if (!v.has_value()) return;
    w.Key(key);
    w.Uint64(*v);
  };
  w.StartObject();
  number("ef_construction", f.ef_construction);
  number("max_neighbors", f.max_neighbors);
  number("ef_search", f.ef_search);
  if (f.num_threads.has_value()) {
    number("num_threads", resolve_threads ? EffectiveThreads(*f.num_threads) : *f.num_threads);
  }
  number("batch_size", f.batch_size);
  number("sync_threshold", f.sync_threshold);
  if (f.resize_factor.has_value()) {
    w.Key("resize_factor");
    w.Double(*f.resize_factor);
  }
  w.EndObject();
}

}  // namespace fathom::server
