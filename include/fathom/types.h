// Value types of the public API: metadata, records, filters, requests and results.
//
// These are plain data; they carry no references into the engine and are safe to copy
// and move between threads. Semantics follow Chroma's HTTP API v2 (shared/reference/chroma.md).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace fathom {

// ---- metadata ---------------------------------------------------------------------------

// A scalar: bool, 64-bit integer, double or UTF-8 string. The variant index is the type tag.
using Scalar = std::variant<bool, int64_t, double, std::string>;

// A sparse vector (Chroma's `sparse_vector` metadata value, and a sparse `$knn` query):
// strictly ascending u32 dimension indices with one finite value each, and optionally
// one token per index (the text each dimension stands for, as Chroma's BM25 embedding
// function sends; kept and returned, never interpreted). docs/design/sparse-vectors.md.
struct SparseVector {
  std::vector<uint32_t> indices;
  std::vector<float> values;
  std::vector<std::string> tokens;  // empty, or one per index
  bool operator==(const SparseVector&) const = default;
};

// A metadata value: a scalar, a homogeneous array of scalars, or a sparse vector. The
// sparse vector comes last so that the earlier alternatives keep their variant indexes
// (and on-disk tags, docs/format/values.md).
using MetadataValue = std::variant<bool, int64_t, double, std::string, std::vector<bool>,
                                   std::vector<int64_t>, std::vector<double>, std::vector<std::string>,
                                   SparseVector>;

// Record or collection metadata. Keys are sorted; an empty map is stored as "no metadata".
using Metadata = std::map<std::string, MetadataValue>;

// Metadata in an update/upsert: a nullopt value deletes the key, others overwrite.
using MetadataPatch = std::map<std::string, std::optional<MetadataValue>>;

// ---- distance ---------------------------------------------------------------------------

// Distance spaces, as Chroma defines them (all "smaller is closer"):
//   kL2: squared Euclidean distance; kCosine: 1 - cos(a, b); kInnerProduct: 1 - a.b
enum class DistanceSpace : uint8_t { kL2 = 0, kCosine = 1, kInnerProduct = 2 };

const char* DistanceSpaceName(DistanceSpace space);  // "l2", "cosine", "ip"
std::optional<DistanceSpace> ParseDistanceSpace(const std::string& name);

// ---- records ----------------------------------------------------------------------------

// One record of an add, upsert or update. Which fields must be present depends on the
// operation: add and upsert need an embedding; update leaves absent fields unchanged.
struct WriteRecord {
  std::string id;
  std::optional<std::vector<float>> embedding;
  std::optional<std::string> document;
  std::optional<std::string> uri;
  std::optional<MetadataPatch> metadata;
};

// ---- filters ----------------------------------------------------------------------------

// where_document: substring and regex predicates on the record's document.
struct WhereDocument {
  enum class Kind : uint8_t { kAnd, kOr, kContains, kNotContains, kRegex, kNotRegex };
  Kind kind = Kind::kAnd;
  std::vector<WhereDocument> children;  // kAnd / kOr
  std::string pattern;                  // substring or RE2 pattern
};

enum class CompareOp : uint8_t {
  kEq, kNe, kGt, kGte, kLt, kLte, kIn, kNin, kContains, kNotContains
};

// where: a tree of metadata predicates; can embed document (`#document`) and id (`#id`)
// predicates. Semantics (chroma.md section 2): $ne, $nin and $not_contains match records
// that lack the key; numbers compare on one number line (int 1 == float 1.0); bools are
// not numbers; $eq/$in on an array-valued key match when any element matches.
struct Where {
  enum class Kind : uint8_t { kAnd, kOr, kField, kDocument, kId };
  Kind kind = Kind::kAnd;
  std::vector<Where> children;       // kAnd / kOr
  std::string key;                   // kField
  CompareOp op = CompareOp::kEq;     // kField, kId
  std::vector<Scalar> operands;      // one for scalar ops; one or more for $in / $nin
  std::vector<WhereDocument> document;  // kDocument: exactly one element
};

// ---- reads ------------------------------------------------------------------------------

struct Include {
  bool embeddings = false;
  bool documents = true;
  bool metadatas = true;
  bool uris = false;
  bool distances = false;
};

struct GetRequest {
  std::optional<std::vector<std::string>> ids;  // restrict to these ids (AND with filters)
  std::optional<Where> where;
  std::optional<WhereDocument> where_document;
  std::optional<uint32_t> limit;  // nullopt = all
  uint32_t offset = 0;
  Include include;
};

// Chroma's read levels. fathom always reads the WAL tail (every level reads what an
// index_and_wal read would); the field is kept so requests round-trip.
enum class ReadLevel : uint8_t { kIndexAndWal, kIndexOnly, kIndexAndBoundedWal };

// What Collection::Count counts: the live records that `ids` (when given) names and the
// filters match, as a Get with the same fields and no limit would return them.
struct CountRequest {
  std::optional<std::vector<std::string>> ids;
  std::optional<Where> where;
  std::optional<WhereDocument> where_document;
  ReadLevel read_level = ReadLevel::kIndexAndWal;
};

// Parallel arrays, one entry per record, in insertion order. A column not included is empty.
struct GetResult {
  std::vector<std::string> ids;
  std::vector<std::vector<float>> embeddings;
  std::vector<std::optional<std::string>> documents;
  std::vector<std::optional<std::string>> uris;
  std::vector<std::optional<Metadata>> metadatas;
};

struct QueryRequest {
  std::vector<std::vector<float>> query_embeddings;
  uint32_t n_results = 10;
  std::optional<std::vector<std::string>> ids;  // candidate restriction
  std::optional<Where> where;
  std::optional<WhereDocument> where_document;
  Include include{.embeddings = false, .documents = true, .metadatas = true, .uris = false,
                  .distances = true};
  // Vector index clusters to scan (more: higher recall, slower); 0 = the default for the
  // collection's size. Collections below the index threshold are always searched exactly.
  uint32_t search_probes = 0;
  // When search_probes is 0: a multiplier on the default probe count (the HTTP API maps
  // Chroma's hnsw.ef_search to ef_search / 100). In (0, 1000].
  double search_effort = 1.0;
};

// The state of a collection's vector index (Collection::IndexStats).
struct VectorIndexStats {
  bool active = false;        // false: every query scans exactly (small collection)
  uint64_t indexed_rows = 0;  // rows the index covers
  uint64_t pending_rows = 0;  // rows added or changed since; searched exactly until folded in
  uint32_t clusters = 0;
  // How a query that names no search_probes runs, as the index's calibration chose on the
  // collection's own data (docs/design/recall-calibration.md): through the index with
  // default_probes clusters and k * default_rerank_factor candidates, or by an exact scan
  // where the index could not reach the recall target more cheaply.
  enum class Plan : uint8_t { kIndex, kExactScan };
  Plan plan = Plan::kIndex;
  uint32_t default_probes = 0;
  uint32_t default_rerank_factor = 0;
  // The calibration: its target (DatabaseOptions::vector_recall_target), how many of the
  // collection's rows it used as queries, and the recall@10 it measured with them at the
  // chosen settings (mean, and its one-sided 99% lower bound, which reaches the target).
  bool calibrated = false;
  double recall_target = 0.0;
  uint32_t calibration_queries = 0;
  double calibrated_recall = 0.0;
  double calibrated_recall_lower_bound = 0.0;
  // Rows of the index when it was calibrated (0: not recorded, an index persisted before
  // it was). Once the collection grows 1.3x past it, maintenance calibrates again.
  uint64_t calibrated_rows = 0;
  // The recall monitor (docs/design/recall-calibration.md, "Monitor"): one unfiltered
  // query in DatabaseOptions::recall_sample_interval is checked against exact search in
  // the background; these cover the last 1000 checked (mean recall@k, tie-aware, and its
  // one-sided 95% lower bound). recall_below_target: at least 50 samples and a mean below
  // recall_target (a warning is logged too).
  uint64_t monitored_samples = 0;
  double monitored_recall = 0.0;
  double monitored_recall_lower_bound = 0.0;
  uint64_t monitor_discarded = 0;  // the collection changed before the check, or too many waited
  bool recall_below_target = false;
  // Where the full vectors are (docs/design/cold-vectors.md): in RAM, or in cold parts in
  // the store with an int8 approximation in RAM.
  uint64_t hot_vectors = 0;
  uint64_t cold_vectors = 0;
  uint32_t cold_parts = 0;
  uint64_t vector_memory_bytes = 0;  // RAM held for vectors (not counting the block cache)
  uint64_t index_memory_bytes = 0;   // RAM held by the index (centroids, codes, factors)
  // The exact plan's int8 first pass (docs/design/recall-calibration.md, "Int8 first
  // pass"): rows with an int8 copy (0 unless the plan is the exact scan and every row is
  // hot; their bytes are in index_memory_bytes), and scans whose check found a row it
  // left out could matter, which then scanned the f32 rows (answers are exact either way).
  uint64_t scan_copy_rows = 0;
  uint64_t scan_copy_fallbacks = 0;
  // Whether cold vectors keep an int8 copy in RAM (no memory budget) or none (a budget:
  // DatabaseOptions::memory_budget_bytes).
  bool cold_vector_copies = false;
  // A memory budget is set and the index and per-row vector structures alone take more
  // than its share for them (docs/design/memory-budget.md); the collection is served
  // anyway and a warning is logged.
  bool over_memory_budget = false;
  // Background maintenance (compaction, index and cold-vector upkeep): how many runs in a
  // row have failed, and the last failure. The background thread retries by itself
  // (docs/design/durability.md); a failure that persists is shown here, not only logged.
  uint32_t background_failures = 0;
  std::string background_error;  // empty after a success
};

// One row per query embedding, each sorted by ascending distance.
struct QueryResult {
  std::vector<GetResult> rows;
  std::vector<std::vector<float>> distances;  // rows x hits, when include.distances
};

struct DeleteRequest {
  std::optional<std::vector<std::string>> ids;
  std::optional<Where> where;
  std::optional<WhereDocument> where_document;
  std::optional<uint32_t> limit;  // only with a filter
};

// ---- catalog ----------------------------------------------------------------------------

struct TenantInfo {
  std::string name;
};

struct DatabaseInfo {
  std::string id;  // UUID
  std::string name;
  std::string tenant;
};

// How a collection's full-text index turns documents and `$bm25` queries into tokens
// (docs/design/text-options.md). Chosen when the collection is created and fixed after.
// The default value is the default analyzer: SQLite FTS5's unicode61 rules, no stemming,
// no stop words.
struct TextAnalyzerOptions {
  // Whether a Latin letter's single diacritic is removed ("é" indexed as "e").
  bool remove_diacritics = true;
  // "" for none, else a Snowball language libstemmer knows ("english", "french", ...).
  std::string stemmer;
  // Tokens left out of documents and queries. Each must be exactly one token; it is
  // folded like the text ("The" drops "the").
  std::vector<std::string> stop_words;
  bool operator==(const TextAnalyzerOptions&) const = default;
};

struct CollectionInfo {
  std::string id;  // UUID v4, lower-case with dashes
  std::string name;
  std::string tenant;
  std::string database;
  std::optional<Metadata> metadata;
  DistanceSpace space = DistanceSpace::kL2;
  // Opaque JSON owned by the API layer (Chroma's configuration, schema, embedding
  // function); stored and returned verbatim. The engine reads only `space`.
  std::string configuration_json;
  std::optional<uint32_t> dimension;  // set by the first write with an embedding
  // nullopt: the default analyzer.
  std::optional<TextAnalyzerOptions> text_analyzer;
  // The metadata key whose sparse vectors are indexed for sparse $knn; nullopt: none.
  std::optional<std::string> sparse_key;
};

struct CreateCollectionRequest {
  std::string name;
  std::optional<Metadata> metadata;
  DistanceSpace space = DistanceSpace::kL2;
  std::string configuration_json;
  bool get_or_create = false;
  // The full-text analyzer; nullopt for the default one. Checked when the collection is
  // created (InvalidArgument for an unknown stemmer or a bad stop word) and immutable
  // after. With get_or_create, an existing collection is returned as it is.
  std::optional<TextAnalyzerOptions> text_analyzer;
  // The one metadata key whose sparse vectors get a sparse vector index (Chroma's
  // `sparse_vector_index` in the schema); nullopt for none. Fixed at creation. A non-empty
  // key of at most limits::kMetadataKeyBytesMax bytes, not starting with '#' or '$'.
  std::optional<std::string> sparse_key;
};

struct ModifyCollectionRequest {
  std::optional<std::string> new_name;
  // Replaces the whole map; an engaged-but-nullopt inner value clears the metadata.
  std::optional<std::optional<Metadata>> new_metadata;
  std::optional<std::string> new_configuration_json;
};

}  // namespace fathom
