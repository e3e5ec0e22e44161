#include "server/collection_schema.h"

#include <fmt/format.h>

#include "common/assert.h"
#include "index/text/analyzer.h"

namespace fathom::server {

namespace {

// The value types, in Chroma's order, with the struct names its serde errors use.
struct ValueTypeSpec {
  SchemaValueType type;
  std::string_view name;
  std::string_view struct_name;
};
constexpr ValueTypeSpec kValueTypes[kSchemaValueTypeCount] = {
    {SchemaValueType::kString, "string", "struct StringValueType"},
    {SchemaValueType::kFloatList, "float_list", "struct FloatListValueType"},
    {SchemaValueType::kSparseVector, "sparse_vector", "struct SparseVectorValueType"},
    {SchemaValueType::kInt, "int", "struct IntValueType"},
    {SchemaValueType::kFloat, "float", "struct FloatValueType"},
    {SchemaValueType::kBool, "bool", "struct BoolValueType"},
};

// The indexes, in Chroma's order (within a value type too).
struct IndexSpec {
  SchemaIndexKind kind;
  SchemaValueType type;
  std::string_view name;
  std::string_view struct_name;
  std::string_view config_struct_name;
};
constexpr IndexSpec kIndexes[kSchemaIndexKindCount] = {
    {SchemaIndexKind::kFts, SchemaValueType::kString, "fts_index", "struct FtsIndexType",
     "struct FtsIndexConfig"},
    {SchemaIndexKind::kStringInverted, SchemaValueType::kString, "string_inverted_index",
     "struct StringInvertedIndexType", "struct StringInvertedIndexConfig"},
    {SchemaIndexKind::kVector, SchemaValueType::kFloatList, "vector_index", "struct VectorIndexType",
     "struct VectorIndexConfig"},
    {SchemaIndexKind::kSparseVector, SchemaValueType::kSparseVector, "sparse_vector_index",
     "struct SparseVectorIndexType", "struct SparseVectorIndexConfig"},
    {SchemaIndexKind::kIntInverted, SchemaValueType::kInt, "int_inverted_index", "struct IntInvertedIndexType",
     "struct IntInvertedIndexConfig"},
    {SchemaIndexKind::kFloatInverted, SchemaValueType::kFloat, "float_inverted_index",
     "struct FloatInvertedIndexType", "struct FloatInvertedIndexConfig"},
    {SchemaIndexKind::kBoolInverted, SchemaValueType::kBool, "bool_inverted_index",
     "struct BoolInvertedIndexType", "struct BoolInvertedIndexConfig"},
};

size_t Slot(SchemaIndexKind kind) { return static_cast<size_t>(kind); }
size_t Slot(SchemaValueType type) { return static_cast<size_t>(type); }

// The inverted index a filter operand of `type` is answered with.
std::optional<SchemaIndexKind> InvertedIndexFor(SchemaValueType type) {
  switch (type) {
    case SchemaValueType::kString: return SchemaIndexKind::kStringInverted;
    case SchemaValueType::kInt: return SchemaIndexKind::kIntInverted;
    case SchemaValueType::kFloat: return SchemaIndexKind::kFloatInverted;
    case SchemaValueType::kBool: return SchemaIndexKind::kBoolInverted;
    default: return std::nullopt;
  }
}

// ---- reading ----------------------------------------------------------------------------

ApiError UnknownField(std::string_view path, std::string_view key, std::string_view expected) {
  return ApiError::Deserialize(FieldPath(path, key), fmt::format("unknown field `{}`, {}", key, expected));
}

// A value kept as compact JSON for display.
std::string Compact(JsonElement value) {
  JsonWriter w;
  w.Element(value);
  return w.Take();
}

ApiResult<VectorIndexConfig> ParseVectorConfig(JsonObject object, std::string_view path) {
  VectorIndexConfig config;
  for (auto field : object) {
    const std::string_view key = field.key;
    JsonElement v = field.value;
    const std::string field_path = FieldPath(path, key);
    if (key != "space" && key != "embedding_function" && key != "source_key" && key != "hnsw" && key != "spann") {
      return UnknownField(path, key, "expected one of `space`, `embedding_function`, `source_key`, `hnsw`, `spann`");
    }
    if (v.is_null()) continue;
    if (key == "space") {
      FATHOM_API_ASSIGN_OR_RETURN(config.space, ReadDistanceSpace(v, field_path));
    } else if (key == "embedding_function") {
      FATHOM_API_ASSIGN_OR_RETURN(config.embedding_function_json, ReadEmbeddingFunction(v, field_path));
    } else if (key == "source_key") {
      FATHOM_API_ASSIGN_OR_RETURN(config.source_key, ReadString(v, field_path));
    } else if (key == "hnsw") {
      FATHOM_API_ASSIGN_OR_RETURN(config.hnsw, ReadHnswFields(v, field_path, HnswKeys::kSchema));
    } else {
      FATHOM_API_RETURN_IF_ERROR(ReadSpann(v, field_path, SpannMode::kSchema, nullptr));
      config.spann_json = Compact(v);
    }
  }
  return config;
}

ApiResult<SparseVectorIndexConfig> ParseSparseConfig(JsonObject object, std::string_view path) {
  SparseVectorIndexConfig config;
  for (auto field : object) {
    const std::string_view key = field.key;
    JsonElement v = field.value;
    const std::string field_path = FieldPath(path, key);
    if (key != "embedding_function" && key != "source_key" && key != "bm25" && key != "algorithm") {
      return UnknownField(path, key, "expected one of `embedding_function`, `source_key`, `bm25`, `algorithm`");
    }
    if (v.is_null()) continue;
    if (key == "embedding_function") {
      FATHOM_API_ASSIGN_OR_RETURN(config.embedding_function_json, ReadEmbeddingFunction(v, field_path));
    } else if (key == "source_key") {
      FATHOM_API_ASSIGN_OR_RETURN(config.source_key, ReadString(v, field_path));
    } else if (key == "bm25") {
      FATHOM_API_ASSIGN_OR_RETURN(config.bm25, ReadBool(v, field_path));
    } else {
      config.algorithm_json = Compact(v);
    }
  }
  return config;
}

// fathom's extension of Chroma's empty FtsIndexConfig (docs/design/text-options.md).
ApiResult<FtsIndexConfig> ParseFtsConfig(JsonObject object, std::string_view path) {
  FtsIndexConfig config;
  for (auto field : object) {
    const std::string_view key = field.key;
    JsonElement v = field.value;
    const std::string field_path = FieldPath(path, key);
    if (key != "stemmer" && key != "stop_words" && key != "remove_diacritics") {
      return UnknownField(path, key, "expected one of `stemmer`, `stop_words`, `remove_diacritics`");
    }
    if (v.is_null()) continue;
    if (key == "stemmer") {
      FATHOM_API_ASSIGN_OR_RETURN(config.stemmer, ReadString(v, field_path));
    } else if (key == "stop_words") {
      FATHOM_API_ASSIGN_OR_RETURN(config.stop_words, ReadStringArray(v, field_path));
    } else {
      FATHOM_API_ASSIGN_OR_RETURN(config.remove_diacritics, ReadBool(v, field_path));
    }
  }
  return config;
}

// `{"enabled": bool, "config": {...}}`; members other than those two are ignored, as by
// Chroma's structs.
ApiResult<SchemaIndex> ParseIndex(JsonElement value, std::string_view path, const IndexSpec& spec) {
  JsonObject object;
  FATHOM_API_ASSIGN_OR_RETURN(object, RequireObject(value, path, spec.struct_name));
  SchemaIndex index;
  JsonElement enabled;
  FATHOM_API_ASSIGN_OR_RETURN(enabled, RequiredField(object, "enabled", path));
  FATHOM_API_ASSIGN_OR_RETURN(index.enabled, ReadBool(enabled, FieldPath(path, "enabled")));
  JsonElement config_value;
  FATHOM_API_ASSIGN_OR_RETURN(config_value, RequiredField(object, "config", path));
  const std::string config_path = FieldPath(path, "config");
  JsonObject config;
  FATHOM_API_ASSIGN_OR_RETURN(config, RequireObject(config_value, config_path, spec.config_struct_name));
  if (spec.kind == SchemaIndexKind::kVector) {
    FATHOM_API_ASSIGN_OR_RETURN(index.vector, ParseVectorConfig(config, config_path));
  } else if (spec.kind == SchemaIndexKind::kSparseVector) {
    FATHOM_API_ASSIGN_OR_RETURN(index.sparse, ParseSparseConfig(config, config_path));
  } else if (spec.kind == SchemaIndexKind::kFts) {
    FATHOM_API_ASSIGN_OR_RETURN(index.fts, ParseFtsConfig(config, config_path));
  } else if (config.size() > 0) {
    // Inverted index configs are empty structs.
    return UnknownField(config_path, (*config.begin()).key, "there are no fields");
  }
  return index;
}

ApiResult<SchemaValueTypes> ParseValueTypes(JsonElement value, std::string_view path) {
  JsonObject object;
  FATHOM_API_ASSIGN_OR_RETURN(object, RequireObject(value, path, "struct ValueTypes"));
  SchemaValueTypes out;
  for (const ValueTypeSpec& type : kValueTypes) {
    auto type_value = OptionalField(object, type.name);
    if (!type_value.has_value()) continue;
    const std::string type_path = FieldPath(path, type.name);
    JsonObject type_object;
    FATHOM_API_ASSIGN_OR_RETURN(type_object, RequireObject(*type_value, type_path, type.struct_name));
    out.types[Slot(type.type)] = true;
    for (const IndexSpec& spec : kIndexes) {
      if (spec.type != type.type) continue;
      auto index_value = OptionalField(type_object, spec.name);
      if (!index_value.has_value()) continue;
      SchemaIndex index;
      FATHOM_API_ASSIGN_OR_RETURN(index, ParseIndex(*index_value, FieldPath(type_path, spec.name), spec));
      out.indexes[Slot(spec.kind)] = std::move(index);
    }
  }
  return out;
}

// ---- reconciling ------------------------------------------------------------------------

// Chroma's `user.or(base)` for one optional field.
template <typename T>
std::optional<T> Or(const std::optional<T>& user, const std::optional<T>& base) {
  return user.has_value() ? user : base;
}

VectorIndexConfig MergeVector(const VectorIndexConfig& base, const VectorIndexConfig& user) {
  VectorIndexConfig out;
  out.space = Or(user.space, base.space);
  out.embedding_function_json = Or(user.embedding_function_json, base.embedding_function_json);
  out.source_key = Or(user.source_key, base.source_key);
  if (user.hnsw && base.hnsw) {
    out.hnsw = user.hnsw->Over(*base.hnsw);
  } else {
    out.hnsw = Or(user.hnsw, base.hnsw);
  }
  // Local Chroma's HNSW merge drops SPANN settings.
  return out;
}

SparseVectorIndexConfig MergeSparse(const SparseVectorIndexConfig& base, const SparseVectorIndexConfig& user) {
  SparseVectorIndexConfig out;
  out.embedding_function_json = Or(user.embedding_function_json, base.embedding_function_json);
  out.source_key = Or(user.source_key, base.source_key);
  out.bm25 = Or(user.bm25, base.bm25);
  out.algorithm_json = Or(user.algorithm_json, base.algorithm_json);
  return out;
}

FtsIndexConfig MergeFts(const FtsIndexConfig& base, const FtsIndexConfig& user) {
  FtsIndexConfig out;
  out.stemmer = Or(user.stemmer, base.stemmer);
  out.stop_words = Or(user.stop_words, base.stop_words);
  out.remove_diacritics = Or(user.remove_diacritics, base.remove_diacritics);
  return out;
}

// Index by index: a declared index takes the client's enabled flag; vector and sparse
// configs merge field by field.
SchemaValueTypes MergeValueTypes(const SchemaValueTypes& base, const SchemaValueTypes& user) {
  SchemaValueTypes out = base;
  for (size_t t = 0; t < kSchemaValueTypeCount; ++t) out.types[t] = base.types[t] || user.types[t];
  for (const IndexSpec& spec : kIndexes) {
    const auto& user_index = user.indexes[Slot(spec.kind)];
    if (!user_index.has_value()) continue;
    auto& merged = out.indexes[Slot(spec.kind)];
    if (!merged.has_value()) {
      merged = user_index;
      continue;
    }
    merged->enabled = user_index->enabled;
    merged->vector = MergeVector(merged->vector, user_index->vector);
    merged->sparse = MergeSparse(merged->sparse, user_index->sparse);
    merged->fts = MergeFts(merged->fts, user_index->fts);
  }
  return out;
}

// ---- writing ----------------------------------------------------------------------------

// Optional config members are left out when absent, as Chroma's serde skips them.
void OptionalJson(JsonWriter& w, std::string_view key, const std::optional<std::string>& json) {
  if (!json.has_value()) return;
  w.Key(key);
  w.RawJson(*json);
}

void OptionalString(JsonWriter& w, std::string_view key, const std::optional<std::string>& text) {
  if (!text.has_value()) return;
  w.Key(key);
  w.String(*text);
}

void WriteVectorConfig(JsonWriter& w, const VectorIndexConfig& c, SchemaOutput output) {
  w.StartObject();
  if (c.space) {
    w.Key("space");
    w.String(DistanceSpaceName(*c.space));
  }
  OptionalJson(w, "embedding_function", c.embedding_function_json);
  OptionalString(w, "source_key", c.source_key);
  if (c.hnsw) {
    w.Key("hnsw");
    WriteHnswFields(w, *c.hnsw, output == SchemaOutput::kShown);
  }
  OptionalJson(w, "spann", c.spann_json);
  w.EndObject();
}

void WriteSparseConfig(JsonWriter& w, const SparseVectorIndexConfig& c) {
  w.StartObject();
  OptionalJson(w, "embedding_function", c.embedding_function_json);
  OptionalString(w, "source_key", c.source_key);
  if (c.bm25) {
    w.Key("bm25");
    w.Bool(*c.bm25);
  }
  OptionalJson(w, "algorithm", c.algorithm_json);
  w.EndObject();
}

// No stemmer is shown as null, and stored as "" so that reading it back gives the same
// value (null reads as absent).
void WriteFtsConfig(JsonWriter& w, const FtsIndexConfig& c, SchemaOutput output) {
  w.StartObject();
  if (c.stemmer) {
    w.Key("stemmer");
    if (c.stemmer->empty() && output == SchemaOutput::kShown) {
      w.Null();
    } else {
      w.String(*c.stemmer);
    }
  }
  if (c.stop_words) {
    w.Key("stop_words");
    w.StartArray();
    for (const std::string& word : *c.stop_words) w.String(word);
    w.EndArray();
  }
  if (c.remove_diacritics) {
    w.Key("remove_diacritics");
    w.Bool(*c.remove_diacritics);
  }
  w.EndObject();
}

void WriteValueTypes(JsonWriter& w, const SchemaValueTypes& value_types, SchemaOutput output) {
  w.StartObject();
  for (const ValueTypeSpec& type : kValueTypes) {
    if (!value_types.HasType(type.type)) continue;
    w.Key(type.name);
    w.StartObject();
    for (const IndexSpec& spec : kIndexes) {
      const SchemaIndex* index = spec.type == type.type ? value_types.Index(spec.kind) : nullptr;
      if (index == nullptr) continue;
      w.Key(spec.name);
      w.StartObject();
      w.Key("enabled");
      w.Bool(index->enabled);
      w.Key("config");
      if (spec.kind == SchemaIndexKind::kVector) {
        WriteVectorConfig(w, index->vector, output);
      } else if (spec.kind == SchemaIndexKind::kSparseVector) {
        WriteSparseConfig(w, index->sparse);
      } else if (spec.kind == SchemaIndexKind::kFts) {
        WriteFtsConfig(w, index->fts, output);
      } else {
        w.StartObject();
        w.EndObject();
      }
      w.EndObject();
    }
    w.EndObject();
  }
  w.EndObject();
}

ApiError SchemaRule(std::string_view text) { return ApiError::Validation("schema", text); }

}  // namespace

// ---- SchemaValueTypes / CollectionSchema ------------------------------------------------

const SchemaIndex* SchemaValueTypes::Index(SchemaIndexKind kind) const {
  const auto& index = indexes[Slot(kind)];
  return index.has_value() ? &*index : nullptr;
}

SchemaIndex* SchemaValueTypes::MutableIndex(SchemaIndexKind kind) {
  auto& index = indexes[Slot(kind)];
  return index.has_value() ? &*index : nullptr;
}

void SchemaValueTypes::SetIndex(SchemaIndexKind kind, SchemaIndex index) {
  types[Slot(kIndexes[Slot(kind)].type)] = true;
  indexes[Slot(kind)] = std::move(index);
}

bool CollectionSchema::InvertedIndexEnabled(std::string_view key, SchemaValueType type) const {
  const auto kind = InvertedIndexFor(type);
  if (!kind.has_value()) return true;
  auto it = keys.find(key);
  if (it != keys.end() && it->second.HasType(type)) {
    if (const SchemaIndex* index = it->second.Index(*kind)) return index->enabled;
  }
  const SchemaIndex* index = defaults.Index(*kind);
  return index == nullptr || index->enabled;
}

bool CollectionSchema::FtsEnabled() const {
  auto it = keys.find(kDocumentKey);
  if (it != keys.end()) {
    if (const SchemaIndex* index = it->second.Index(SchemaIndexKind::kFts)) return index->enabled;
  }
  const SchemaIndex* index = defaults.Index(SchemaIndexKind::kFts);
  return index == nullptr || index->enabled;
}

VectorIndexConfig* CollectionSchema::EmbeddingVectorConfig() {
  auto it = keys.find(kEmbeddingKey);
  SchemaIndex* index = it == keys.end() ? nullptr : it->second.MutableIndex(SchemaIndexKind::kVector);
  return index == nullptr ? nullptr : &index->vector;
}

VectorIndexConfig* CollectionSchema::DefaultsVectorConfig() {
  SchemaIndex* index = defaults.MutableIndex(SchemaIndexKind::kVector);
  return index == nullptr ? nullptr : &index->vector;
}

std::optional<TextAnalyzerOptions> CollectionSchema::TextAnalyzer() const {
  FtsIndexConfig config;
  if (const SchemaIndex* index = defaults.Index(SchemaIndexKind::kFts)) config = index->fts;
  auto it = keys.find(kDocumentKey);
  if (it != keys.end()) {
    if (const SchemaIndex* index = it->second.Index(SchemaIndexKind::kFts)) config = MergeFts(config, index->fts);
  }
  if (config.empty()) return std::nullopt;
  TextAnalyzerOptions options;
  if (config.stemmer) options.stemmer = *config.stemmer;
  if (config.stop_words) options.stop_words = *config.stop_words;
  if (config.remove_diacritics) options.remove_diacritics = *config.remove_diacritics;
  return options;
}

std::optional<std::string> CollectionSchema::SparseKey() const {
  for (const auto& [key, value_types] : keys) {
    const SchemaIndex* index = value_types.Index(SchemaIndexKind::kSparseVector);
    if (index != nullptr && index->enabled) return key;
  }
  return std::nullopt;
}

// ---- free functions ---------------------------------------------------------------------

ApiResult<CollectionSchema> ParseSchema(JsonElement value, std::string_view path) {
  JsonObject object;
  FATHOM_API_ASSIGN_OR_RETURN(object, RequireObject(value, path, "struct Schema"));
  CollectionSchema schema;
  JsonElement defaults;
  FATHOM_API_ASSIGN_OR_RETURN(defaults, RequiredField(object, "defaults", path));
  FATHOM_API_ASSIGN_OR_RETURN(schema.defaults, ParseValueTypes(defaults, FieldPath(path, "defaults")));
  JsonElement keys;
  FATHOM_API_ASSIGN_OR_RETURN(keys, RequiredField(object, "keys", path));
  const std::string keys_path = FieldPath(path, "keys");
  JsonObject keys_object;
  FATHOM_API_ASSIGN_OR_RETURN(keys_object, RequireObject(keys, keys_path, "a map"));
  for (auto field : keys_object) {
    SchemaValueTypes value_types;
    FATHOM_API_ASSIGN_OR_RETURN(value_types, ParseValueTypes(field.value, FieldPath(keys_path, field.key)));
    schema.keys.insert_or_assign(std::string(field.key), std::move(value_types));
  }
  return schema;
}

ApiStatus ValidateSchema(const CollectionSchema& schema) {
  auto enabled = [](const SchemaValueTypes& value_types, SchemaIndexKind kind) {
    const SchemaIndex* index = value_types.Index(kind);
    return index != nullptr && index->enabled;
  };
  if (enabled(schema.defaults, SchemaIndexKind::kVector)) {
    return SchemaRule("Vector index cannot be enabled by default. It can only be enabled on #embedding field.");
  }
  if (enabled(schema.defaults, SchemaIndexKind::kFts)) {
    return SchemaRule("Full text search / regular expression index cannot be enabled by default. It can only be "
                      "enabled on #document field.");
  }
  if (enabled(schema.defaults, SchemaIndexKind::kSparseVector)) {
    return SchemaRule("Sparse vector index cannot be enabled by default. Please enable sparse vector index on "
                      "specific keys. At most one sparse vector index is allowed for the collection.");
  }
  for (const auto& [key, value_types] : schema.keys) {
    const bool document = key == kDocumentKey;
    const bool embedding = key == kEmbeddingKey;
    if (!document && !embedding && !key.empty() && key[0] == '#') {
      return SchemaRule(fmt::format(
          "key cannot begin with '#'. Keys starting with '#' are reserved for system use: {}", key));
    }
    for (const ValueTypeSpec& type : kValueTypes) {
      if (!value_types.HasType(type.type)) continue;
      if (document && type.type != SchemaValueType::kString) {
        return SchemaRule(fmt::format("Document field cannot have any value types other than string: {}", key));
      }
      if (embedding && type.type != SchemaValueType::kFloatList) {
        return SchemaRule(fmt::format("Embedding field cannot have any value types other than float_list: {}",
                                      key));
      }
    }
    if (document && enabled(value_types, SchemaIndexKind::kStringInverted)) {
      return SchemaRule(fmt::format("String inverted index can not be enabled on #document key: {}", key));
    }
    if (!embedding && enabled(value_types, SchemaIndexKind::kVector)) {
      return SchemaRule(fmt::format("Vector index can only be enabled on #embedding field: {}", key));
    }
    if (!document && enabled(value_types, SchemaIndexKind::kFts)) {
      return SchemaRule(fmt::format(
          "Full text search / regular expression index can only be enabled on #document field: {}", key));
    }
    if (embedding) {
      const SchemaIndex* vector = value_types.Index(SchemaIndexKind::kVector);
      if (vector != nullptr && vector->vector.source_key.has_value() && *vector->vector.source_key != kDocumentKey) {
        return SchemaRule("Vector index can only source from #document");
      }
    }
  }
  if (auto options = schema.TextAnalyzer()) {
    AnalyzerOptions analyzer;
    analyzer.remove_diacritics = options->remove_diacritics;
    analyzer.stemmer = options->stemmer;
    analyzer.stop_words = options->stop_words;
    auto made = Analyzer::Make(analyzer);
    if (!made.ok()) return SchemaRule(fmt::format("full-text index config: {}", made.status().message()));
  }
  // Local Chroma refuses every sparse vector index; fathom serves one per collection, as
  // Chroma Cloud does (docs/design/sparse-vectors.md).
  size_t sparse_indexes = 0;
  for (const auto& [key, value_types] : schema.keys) sparse_indexes += enabled(value_types, SchemaIndexKind::kSparseVector);
  if (sparse_indexes > 1) {
    return SchemaRule("At most one sparse vector index is allowed for the collection.");
  }
  return ApiStatus::Ok();
}

CollectionSchema DefaultSchema(const VectorIndexConfig& vector) {
  auto index = [](bool enabled) {
    SchemaIndex out;
    out.enabled = enabled;
    return out;
  };
  CollectionSchema schema;
  SchemaValueTypes& d = schema.defaults;
  d.SetIndex(SchemaIndexKind::kFts, index(false));
  d.SetIndex(SchemaIndexKind::kStringInverted, index(true));
  SchemaIndex defaults_vector = index(false);
  defaults_vector.vector = vector;
  defaults_vector.vector.source_key.reset();
  d.SetIndex(SchemaIndexKind::kVector, std::move(defaults_vector));
  SchemaIndex sparse = index(false);
  sparse.sparse.embedding_function_json = R"({"type":"unknown"})";
  sparse.sparse.bm25 = false;
  d.SetIndex(SchemaIndexKind::kSparseVector, std::move(sparse));
  d.SetIndex(SchemaIndexKind::kIntInverted, index(true));
  d.SetIndex(SchemaIndexKind::kFloatInverted, index(true));
  d.SetIndex(SchemaIndexKind::kBoolInverted, index(true));

  SchemaValueTypes& document = schema.keys[std::string(kDocumentKey)];
  document.SetIndex(SchemaIndexKind::kFts, index(true));
  document.SetIndex(SchemaIndexKind::kStringInverted, index(false));
  SchemaIndex embedding_vector = index(true);
  embedding_vector.vector = vector;
  embedding_vector.vector.source_key = std::string(kDocumentKey);
  schema.keys[std::string(kEmbeddingKey)].SetIndex(SchemaIndexKind::kVector, std::move(embedding_vector));
  return schema;
}

CollectionSchema ReconcileSchema(const CollectionSchema& user) {
  VectorIndexConfig vector;
  const HnswParams defaults;
  vector.space = defaults.space;
  vector.hnsw = HnswFields::From(defaults);
  CollectionSchema out = DefaultSchema(vector);
  out.defaults = MergeValueTypes(out.defaults, user.defaults);
  for (const auto& [key, value_types] : user.keys) {
    auto it = out.keys.find(key);
    if (it != out.keys.end()) {
      it->second = MergeValueTypes(it->second, value_types);
    } else {
      out.keys.emplace(key, value_types);
    }
  }
  if (auto options = out.TextAnalyzer()) {
    // The default schema declares `#document`'s full-text index, so it is there.
    SchemaIndex* fts = out.keys[std::string(kDocumentKey)].MutableIndex(SchemaIndexKind::kFts);
    FATHOM_CHECK(fts != nullptr);
    fts->fts.stemmer = options->stemmer;
    fts->fts.stop_words = options->stop_words;
    fts->fts.remove_diacritics = options->remove_diacritics;
  }
  return out;
}

void WriteSchema(JsonWriter& w, const CollectionSchema& schema, SchemaOutput output) {
  w.StartObject();
  w.Key("defaults");
  WriteValueTypes(w, schema.defaults, output);
  w.Key("keys");
  w.StartObject();
  for (const auto& [key, value_types] : schema.keys) {
    w.Key(key);
    WriteValueTypes(w, value_types, output);
  }
  w.EndObject();
  w.EndObject();
}

}  // namespace fathom::server
