// The Search API's request and result types (Chroma's `POST .../search`, chroma.md §1.9,
// plus fathom's `$bm25` rank leaf). docs/design/search-api.md describes the semantics.
//
// A SearchRequest holds one or more SearchPayloads; each is answered independently:
// filter -> rank -> group_by -> offset/limit -> the selected columns. Plain data: no
// references into the engine, safe to copy between threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "fathom/types.h"

namespace fathom {

// Keys a search names: "#document", "#embedding", "#metadata", "#score", "#id" or a
// metadata field.
inline constexpr std::string_view kDocumentKey = "#document";
inline constexpr std::string_view kEmbeddingKey = "#embedding";
inline constexpr std::string_view kMetadataKey = "#metadata";
inline constexpr std::string_view kScoreKey = "#score";
inline constexpr std::string_view kIdKey = "#id";

// A rank expression: a tree whose leaves are $knn / $bm25 searches and constants. Lower
// scores are better. Each node is one of the kinds below; `children` holds the operands
// of kSum/kMul/kMax/kMin (any number), kSub/kDiv (exactly two: left, right) and
// kAbs/kExp/kLog (exactly one).
struct RankExpr {
  enum class Kind : uint8_t {
    kKnn, kBm25, kVal, kSum, kMul, kSub, kDiv, kAbs, kExp, kLog, kMax, kMin
  };
  // $knn: a dense query (against #embedding) or a sparse one (against a sparse metadata
  // key). $bm25: a text query against #document.
  struct Search {
    std::variant<std::vector<float>, SparseVector, std::string> query;  // dense | sparse | text
    std::string key;                    // "#embedding" (default) / sparse key / "#document"
    uint32_t limit = 16;                // Chroma's server default
    std::optional<float> default_value; // score for records outside this leaf's top list
    bool return_rank = false;           // score = 0-based position instead of distance
    bool operator==(const Search&) const = default;
  };

  Kind kind = Kind::kVal;
  float value = 0;        // kVal
  Search search;          // kKnn / kBm25
  std::vector<RankExpr> children;

  bool IsLeafSearch() const { return kind == Kind::kKnn || kind == Kind::kBm25; }
  bool operator==(const RankExpr&) const = default;
};

// group_by: records are grouped by the values of `keys` (metadata fields); in each group
// the `k` records with the smallest ($min_k) or largest ($max_k) values of
// `aggregate_keys` (metadata fields or "#score", compared in order) are kept.
struct GroupBy {
  std::vector<std::string> keys;
  enum class Aggregate : uint8_t { kMinK, kMaxK };
  Aggregate aggregate = Aggregate::kMinK;
  std::vector<std::string> aggregate_keys;
  uint32_t k = 1;
  bool operator==(const GroupBy&) const = default;
};

// Which columns a search returns (ids always).
struct SearchSelect {
  bool document = false;
  bool embedding = false;
  bool metadata = false;  // the whole metadata map
  bool score = false;
  std::vector<std::string> metadata_keys;  // named metadata fields (when !metadata)
  // The keys as the request listed them (deduplicated, request order), echoed back.
  std::vector<std::string> keys;
  bool operator==(const SearchSelect&) const = default;
};

struct SearchPayload {
  std::optional<Where> filter;      // may use #id and #document leaves
  std::optional<RankExpr> rank;     // none: records in index (insertion) order
  std::optional<GroupBy> group_by;  // only with a rank
  uint32_t offset = 0;
  std::optional<uint32_t> limit;    // none: every record
  SearchSelect select;
};

struct SearchRequest {
  std::vector<SearchPayload> searches;
  ReadLevel read_level = ReadLevel::kIndexAndWal;
};

// One search's answer: parallel rows, best first (or in index order without a rank). A
// column the search did not select is empty (the writer then emits null for it).
// `metadatas` holds the whole map when #metadata was selected, else only the selected
// fields the record has (null when it has none of them).
struct SearchResult {
  std::vector<std::string> ids;
  std::vector<std::optional<std::string>> documents;
  std::vector<std::optional<std::vector<float>>> embeddings;
  std::vector<std::optional<Metadata>> metadatas;
  std::vector<std::optional<float>> scores;  // null without a rank
  SearchSelect select;                       // what was selected (drives the writer)
};

}  // namespace fathom
