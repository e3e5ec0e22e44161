// Chroma's collection schema (chroma.md §3.4) as a typed value: for the defaults and for
// each key it names, which value types and indexes are declared and whether each index is
// enabled, plus the settings of vector and sparse-vector indexes.
//
// A client's schema is parsed once, at the HTTP edge (ParseSchema: Chroma's 422 shape
// errors; ValidateSchema: its 400 rules), and merged onto the default schema the way
// Chroma reconciles (ReconcileSchema). The result is stored with the collection's
// configuration (collection_config.h), shown with the collection, and consulted by the
// filter gate (schema_gate.h) without touching JSON again.
//
// Reconciliation, as local Chroma 1.4.4 does it: the defaults and the `#document` /
// `#embedding` keys are merged index by index with the default schema (a named index
// replaces the default's enabled flag; vector and sparse configs merge field by field,
// HNSW parameters too); other keys are kept as given. The vector index of `#embedding`
// mirrors the collection's configuration, which stays authoritative for the space and
// HNSW parameters (collection_config.cc keeps the two in step).
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fathom/types.h"
#include "server/errors.h"
#include "server/index_settings.h"
#include "server/json_reader.h"
#include "server/json_writer.h"

namespace fathom::server {

inline constexpr std::string_view kDocumentKey = "#document";
inline constexpr std::string_view kEmbeddingKey = "#embedding";

// Chroma's VectorIndexConfig: every field may be absent.
struct VectorIndexConfig {
  std::optional<DistanceSpace> space;
  std::optional<std::string> embedding_function_json;  // compact JSON
  std::optional<std::string> source_key;
  std::optional<HnswFields> hnsw;
  // A `spann` object, validated and kept as compact JSON for display: local Chroma builds
  // HNSW, and drops it when it merges a config with the default one.
  std::optional<std::string> spann_json;
  bool operator==(const VectorIndexConfig&) const = default;
};

// Chroma's SparseVectorIndexConfig.
struct SparseVectorIndexConfig {
  std::optional<std::string> embedding_function_json;  // compact JSON
  std::optional<std::string> source_key;
  std::optional<bool> bm25;
  std::optional<std::string> algorithm_json;  // kept as compact JSON for display
  bool operator==(const SparseVectorIndexConfig&) const = default;
};

// Chroma's FtsIndexConfig is an empty struct; fathom adds the text analyzer options
// (docs/design/text-options.md), each optional. A `#document` config that names any of
// them sets the collection's analyzer (fields it leaves out come from the defaults'
// config, then from the default analyzer).
struct FtsIndexConfig {
  std::optional<std::string> stemmer;  // a libstemmer language; null reads as absent
  std::optional<std::vector<std::string>> stop_words;
  std::optional<bool> remove_diacritics;
  bool empty() const { return !stemmer && !stop_words && !remove_diacritics; }
  bool operator==(const FtsIndexConfig&) const = default;
};

// The value types a schema names (ValueTypes' members), in Chroma's order.
enum class SchemaValueType : uint8_t { kString, kFloatList, kSparseVector, kInt, kFloat, kBool };
inline constexpr size_t kSchemaValueTypeCount = 6;

// The indexes, each belonging to one value type, in Chroma's order.
enum class SchemaIndexKind : uint8_t {
  kFts, kStringInverted,  // string
  kVector,                // float_list
  kSparseVector,          // sparse_vector
  kIntInverted,           // int
  kFloatInverted,         // float
  kBoolInverted,          // bool
};
inline constexpr size_t kSchemaIndexKindCount = 7;

// One declared index: `{"enabled": ..., "config": {...}}`. Inverted indexes have an
// empty config; `vector`, `sparse` and `fts` are used by their own kinds only.
struct SchemaIndex {
  bool enabled = false;
  VectorIndexConfig vector;
  SparseVectorIndexConfig sparse;
  FtsIndexConfig fts;
  bool operator==(const SchemaIndex&) const = default;
};

// Chroma's ValueTypes: what one key (or the defaults) declares. A value type may be
// declared with no index in it (`"string": {}`), so presence is kept per type too.
struct SchemaValueTypes {
  std::array<bool, kSchemaValueTypeCount> types{};
  std::array<std::optional<SchemaIndex>, kSchemaIndexKindCount> indexes;

  const SchemaIndex* Index(SchemaIndexKind kind) const;
  SchemaIndex* MutableIndex(SchemaIndexKind kind);
  // Declares `kind` (and its value type).
  void SetIndex(SchemaIndexKind kind, SchemaIndex index);
  bool HasType(SchemaValueType type) const { return types[static_cast<size_t>(type)]; }
  bool operator==(const SchemaValueTypes&) const = default;
};

struct CollectionSchema {
  SchemaValueTypes defaults;
  // Chroma keeps a hash map (its order is not part of the API); sorted here.
  std::map<std::string, SchemaValueTypes, std::less<>> keys;

  // Whether a `where` on `key` with an operand of `type` (kString, kInt, kFloat or
  // kBool) may be answered: the key's own declaration of that value type, else the
  // defaults' (Chroma's is_metadata_type_index_enabled). A declaration with no inverted
  // index in it (Chroma answers 500 "Schema is malformed") falls back to the defaults.
  bool InvertedIndexEnabled(std::string_view key, SchemaValueType type) const;
  // Whether document filters may be answered: `#document`'s full-text index, else the
  // defaults'.
  bool FtsEnabled() const;
  // `#embedding`'s vector index config, or null.
  VectorIndexConfig* EmbeddingVectorConfig();
  // The defaults' vector index config, or null.
  VectorIndexConfig* DefaultsVectorConfig();
  // The text analyzer options the full-text configs name: `#document`'s fields, else the
  // defaults'; nullopt when neither names any (the default analyzer).
  std::optional<TextAnalyzerOptions> TextAnalyzer() const;
  // The key whose sparse vector index is enabled (ValidateSchema allows at most one), or
  // nullopt.
  std::optional<std::string> SparseKey() const;
  bool operator==(const CollectionSchema&) const = default;
};

// Reads a schema object (422 on a wrong shape, as Chroma's serde: `defaults` and `keys`
// required, unknown members of value types and indexes ignored, unknown config fields
// refused). `path` prefixes error paths ("schema").
ApiResult<CollectionSchema> ParseSchema(JsonElement value, std::string_view path);

// Chroma's schema rules (400 `Validation error: schema: ...`; at most one sparse vector
// index, on a metadata key, as Chroma Cloud allows), applied to a client's schema before
// it is reconciled, and fathom's for the text analyzer options (400 with Analyzer::Make's
// reason, e.g. the known stemmers).
ApiStatus ValidateSchema(const CollectionSchema& schema);

// Chroma's default schema, its two vector indexes (the defaults' and `#embedding`'s)
// configured as `vector` (`#embedding`'s also gets `source_key: "#document"`).
CollectionSchema DefaultSchema(const VectorIndexConfig& vector);

// A client's schema merged onto the default schema (see the file comment). When the
// full-text configs name analyzer options, `#document`'s is filled in with all three as
// the collection uses them (TextAnalyzer()), so the schema shown says what is in force.
CollectionSchema ReconcileSchema(const CollectionSchema& user);

// How a schema is written: shown to clients (num_threads 0 becomes the number of CPUs)
// or stored (values verbatim, so reading it back gives the same schema).
enum class SchemaOutput { kShown, kStored };
void WriteSchema(JsonWriter& w, const CollectionSchema& schema, SchemaOutput output);

}  // namespace fathom::server
