#include "server/search_parser.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "common/limits.h"
#include "server/where_parser.h"

namespace fathom::server {

namespace {

using simdjson::dom::element_type;

// Chroma's eleven tags (serde lists them in declaration order, alphabetical) plus $bm25.
constexpr const char* kRankTagList =
    "`$abs`, `$bm25`, `$div`, `$exp`, `$knn`, `$log`, `$max`, `$min`, `$mul`, `$sub`, `$sum`, `$val`";

// serde's answer for an externally tagged enum value that is not a one-key map.
ApiError ExpectedValue(std::string_view path) {
  return ApiError::JsonParse(fmt::format("{}: expected value", path));
}

bool IsNumber(JsonElement value) {
  const auto t = value.type();
  return t == element_type::INT64 || t == element_type::UINT64 || t == element_type::DOUBLE;
}

double NumberValue(JsonElement value) {
  switch (value.type()) {
    case element_type::INT64: return static_cast<double>(value.get_int64().value_unsafe());
    case element_type::UINT64: return static_cast<double>(value.get_uint64().value_unsafe());
    default: return value.get_double().value_unsafe();
  }
}

// A JSON number as f32: out-of-range magnitudes become infinities (a plain cast of them
// is undefined behaviour).
float ToF32(double x) {
  if (std::isnan(x)) return std::numeric_limits<float>::quiet_NaN();
  if (std::fabs(x) > std::numeric_limits<float>::max()) return std::copysign(std::numeric_limits<float>::infinity(), x);
  return static_cast<float>(x);
}

ApiResult<float> ReadF32(JsonElement value, std::string_view path) {
  if (!IsNumber(value)) return ApiError::Deserialize(path, InvalidTypeText(value, "f32"));
  return ToF32(NumberValue(value));
}

// Bounds on one rank expression, counted while it is read.
struct RankBudget {
  size_t nodes = 0;
  size_t leaves = 0;
};

class SearchParser {
 public:
  ApiResult<SearchRequest> Parse(JsonElement body);

 private:
  ApiResult<SearchPayload> ReadPayload(JsonElement value, const std::string& path);
  ApiResult<RankExpr> ReadRank(JsonElement value, const std::string& path, size_t depth, RankBudget& budget);
  ApiResult<RankExpr::Search> ReadSearchLeaf(JsonElement value, const std::string& path, bool bm25);
  ApiResult<std::vector<RankExpr>> ReadRankList(JsonElement value, const std::string& path, size_t depth,
                                                RankBudget& budget);
  ApiResult<std::vector<RankExpr>> ReadLeftRight(JsonElement value, const std::string& path,
                                                 std::string_view variant, size_t depth, RankBudget& budget);
  ApiResult<SearchSelect> ReadSelect(JsonElement value, const std::string& path);
  ApiResult<std::optional<GroupBy>> ReadGroupBy(JsonElement value, const std::string& path,
                                                std::string* validation);
  ApiResult<std::vector<std::string>> ReadKeys(JsonElement value, const std::string& path);
  void ValidateRank(const RankExpr& expr, const std::string& path, std::string& out);
};

ApiResult<std::vector<std::string>> SearchParser::ReadKeys(JsonElement value, const std::string& path) {
  std::vector<std::string> keys;
  FATHOM_API_ASSIGN_OR_RETURN(keys, ReadStringArray(value, path));
  if (keys.size() > fathom::limits::kSearchSelectKeysMax) {
    return ApiError::InvalidArgument(fmt::format("{}: {} keys; at most {} are allowed", path, keys.size(),
                                                 fathom::limits::kSearchSelectKeysMax));
  }
  return keys;
}

ApiResult<SearchRequest> SearchParser::Parse(JsonElement body) {
  JsonObject object;
  FATHOM_API_ASSIGN_OR_RETURN(object, RequireObject(body, "", "struct SearchRequestPayload"));
  SearchRequest request;
  JsonElement searches;
  FATHOM_API_ASSIGN_OR_RETURN(searches, RequiredField(object, "searches", ""));
  JsonArray array;
  if (searches.get(array)) return ApiError::Deserialize("searches", InvalidTypeText(searches, "a sequence"));
  if (array.size() > fathom::limits::kSearchesPerRequestMax) {
    return ApiError::InvalidArgument(fmt::format("Too many searches in one request: {}; at most {} are allowed",
                                                 array.size(), fathom::limits::kSearchesPerRequestMax));
  }
  // Fields in body order would decide which error serde meets first; searches are read
  // first here, which differs only for bodies with errors in both.
  size_t i = 0;
  for (JsonElement search : array) {
    SearchPayload payload;
    FATHOM_API_ASSIGN_OR_RETURN(payload, ReadPayload(search, IndexPath("searches", i)));
    request.searches.push_back(std::move(payload));
    ++i;
  }
  if (auto level = RawField(object, "read_level")) {
    std::string_view name;
    if (level->get(name)) {
      if (level->is_null()) return ExpectedValue("read_level");
      return ApiError::Deserialize("read_level", InvalidTypeText(*level, "a string"));
    }
    if (name == "index_and_wal") {
      request.read_level = ReadLevel::kIndexAndWal;
    } else if (name == "index_only") {
      request.read_level = ReadLevel::kIndexOnly;
    } else if (name == "index_and_bounded_wal") {
      request.read_level = ReadLevel::kIndexAndBoundedWal;
    } else {
      return ApiError::Deserialize("read_level", fmt::format("unknown variant `{}`, expected one of `index_and_wal`, "
                                                             "`index_only`, `index_and_bounded_wal`", name));
    }
  }

  // Validation, after the whole body decoded: every search's errors, concatenated as
  // Chroma's validator prints them.
  std::string validation;
  i = 0;
  for (JsonElement search : array) {
    const std::string path = IndexPath("searches", i);
    const SearchPayload& payload = request.searches[i++];
    if (payload.rank) ValidateRank(*payload.rank, FieldPath(path, "rank"), validation);
    JsonObject search_object;
    if (search.get(search_object)) continue;  // decoded above: always an object
    if (auto group_by = RawField(search_object, "group_by")) {
      std::string group_errors;
      std::optional<GroupBy> parsed;
      FATHOM_API_ASSIGN_OR_RETURN(parsed, ReadGroupBy(*group_by, FieldPath(path, "group_by"), &group_errors));
      validation += group_errors;
    }
    if (payload.group_by && !payload.rank) {
      validation += FieldPath(path, "__all__") + ": group_by requires rank expression to be specified";
    }
  }
  if (!validation.empty()) return ApiError::InvalidArgument("Validation error: " + validation);
  return request;
}

ApiResult<SearchPayload> SearchParser::ReadPayload(JsonElement value, const std::string& path) {
  JsonObject object;
  FATHOM_API_ASSIGN_OR_RETURN(object, RequireObject(value, path, "struct SearchPayload"));
  SearchPayload payload;
  auto filter = OptionalField(object, "filter");
  JsonObject filter_object;
  // `{}` is no filter (Chroma accepts it; the where parser wants one key per object).
  if (filter && !filter->get(filter_object) && filter_object.size() == 0) filter.reset();
  if (filter) {
    auto parsed = ParseWhere(*filter);
    if (!parsed.ok()) {
      const std::string& message = parsed.error().message();
      if (!message.starts_with(kInvalidWhereMessage)) return parsed.error();
      return ApiError::Deserialize(FieldPath(path, "filter"), message);
    }
    payload.filter = std::move(parsed).value();
  }
  if (auto rank = OptionalField(object, "rank")) {
    RankBudget budget;
    FATHOM_API_ASSIGN_OR_RETURN(payload.rank, ReadRank(*rank, FieldPath(path, "rank"), 1, budget));
  }
  if (auto group_by = RawField(object, "group_by")) {
    FATHOM_API_ASSIGN_OR_RETURN(payload.group_by, ReadGroupBy(*group_by, FieldPath(path, "group_by"), nullptr));
  }
  if (auto limit = RawField(object, "limit")) {
    const std::string limit_path = FieldPath(path, "limit");
    JsonObject limit_object;
    if (limit->get(limit_object)) return ApiError::Deserialize(limit_path, InvalidTypeText(*limit, "struct Limit"));
    if (auto offset = RawField(limit_object, "offset")) {
      FATHOM_API_ASSIGN_OR_RETURN(payload.offset, ReadU32(*offset, FieldPath(limit_path, "offset")));
    }
    if (auto count = OptionalField(limit_object, "limit")) {
      uint32_t n = 0;
      FATHOM_API_ASSIGN_OR_RETURN(n, ReadU32(*count, FieldPath(limit_path, "limit")));
      payload.limit = n;
    }
  }
  if (auto select = RawField(object, "select")) {
    FATHOM_API_ASSIGN_OR_RETURN(payload.select, ReadSelect(*select, FieldPath(path, "select")));
  }
  return payload;
}

ApiResult<RankExpr> SearchParser::ReadRank(JsonElement value, const std::string& path, size_t depth,
                                           RankBudget& budget) {
  if (depth > fathom::limits::kRankDepthMax) {
    return ApiError::InvalidArgument(fmt::format("{}: rank expression nested deeper than {} levels", path,
                                                 fathom::limits::kRankDepthMax));
  }
  if (++budget.nodes > fathom::limits::kRankNodesMax) {
    return ApiError::InvalidArgument(fmt::format("{}: rank expression has more than {} nodes", path,
                                                 fathom::limits::kRankNodesMax));
  }
  JsonObject object;
  if (value.get(object) || object.size() != 1) return ExpectedValue(path);
  const auto field = *object.begin();
  const std::string_view tag = field.key;
  const JsonElement operand = field.value;
  const std::string operand_path = FieldPath(path, tag);
  RankExpr expr;
  if (tag == "$knn" || tag == "$bm25") {
    if (++budget.leaves > fathom::limits::kRankSearchLeavesMax) {
      return ApiError::InvalidArgument(fmt::format("{}: rank expression has more than {} $knn / $bm25 leaves", path,
                                                   fathom::limits::kRankSearchLeavesMax));
    }
    expr.kind = tag == "$knn" ? RankExpr::Kind::kKnn : RankExpr::Kind::kBm25;
    FATHOM_API_ASSIGN_OR_RETURN(expr.search, ReadSearchLeaf(operand, operand_path, tag == "$bm25"));
  } else if (tag == "$val") {
    expr.kind = RankExpr::Kind::kVal;
    FATHOM_API_ASSIGN_OR_RETURN(expr.value, ReadF32(operand, operand_path));
  } else if (tag == "$sum" || tag == "$mul" || tag == "$max" || tag == "$min") {
    expr.kind = tag == "$sum"   ? RankExpr::Kind::kSum
                : tag == "$mul" ? RankExpr::Kind::kMul
                : tag == "$max" ? RankExpr::Kind::kMax
                                : RankExpr::Kind::kMin;
    FATHOM_API_ASSIGN_OR_RETURN(expr.children, ReadRankList(operand, operand_path, depth, budget));
  } else if (tag == "$sub" || tag == "$div") {
    expr.kind = tag == "$sub" ? RankExpr::Kind::kSub : RankExpr::Kind::kDiv;
    FATHOM_API_ASSIGN_OR_RETURN(expr.children, ReadLeftRight(operand, operand_path,
                                                             tag == "$sub" ? "Subtraction" : "Division", depth,
                                                             budget));
  } else if (tag == "$abs" || tag == "$exp" || tag == "$log") {
    expr.kind = tag == "$abs" ? RankExpr::Kind::kAbs : tag == "$exp" ? RankExpr::Kind::kExp : RankExpr::Kind::kLog;
    RankExpr child;
    FATHOM_API_ASSIGN_OR_RETURN(child, ReadRank(operand, operand_path, depth + 1, budget));
    expr.children.push_back(std::move(child));
  } else {
    return ApiError::Deserialize(path, fmt::format("unknown variant `{}`, expected one of {}", tag, kRankTagList));
  }
  return expr;
}

ApiResult<std::vector<RankExpr>> SearchParser::ReadRankList(JsonElement value, const std::string& path, size_t depth,
                                                            RankBudget& budget) {
  JsonArray array;
  if (value.get(array)) return ApiError::Deserialize(path, InvalidTypeText(value, "a sequence"));
  std::vector<RankExpr> out;
  size_t i = 0;
  for (JsonElement item : array) {
    RankExpr child;
    FATHOM_API_ASSIGN_OR_RETURN(child, ReadRank(item, IndexPath(path, i), depth + 1, budget));
    out.push_back(std::move(child));
    ++i;
  }
  return out;
}

ApiResult<std::vector<RankExpr>> SearchParser::ReadLeftRight(JsonElement value, const std::string& path,
                                                             std::string_view variant, size_t depth,
                                                             RankBudget& budget) {
  std::vector<RankExpr> out(2);
  JsonArray array;
  if (!value.get(array)) {
    // serde also reads a struct variant from a sequence of its fields.
    if (array.size() > 2) return ApiError::JsonParse(fmt::format("{}: trailing characters", path));
    if (array.size() < 2) {
      return ApiError::Deserialize(path, fmt::format("invalid length {}, expected struct variant RankExpr::{} with 2 "
                                                     "elements", array.size(), variant));
    }
    FATHOM_API_ASSIGN_OR_RETURN(out[0], ReadRank(array.at(0).value_unsafe(), IndexPath(path, 0), depth + 1, budget));
    FATHOM_API_ASSIGN_OR_RETURN(out[1], ReadRank(array.at(1).value_unsafe(), IndexPath(path, 1), depth + 1, budget));
    return out;
  }
  JsonObject object;
  if (value.get(object)) {
    return ApiError::Deserialize(path, InvalidTypeText(value, fmt::format("struct variant RankExpr::{}", variant)));
  }
  JsonElement left, right;
  FATHOM_API_ASSIGN_OR_RETURN(left, RequiredField(object, "left", path));
  FATHOM_API_ASSIGN_OR_RETURN(right, RequiredField(object, "right", path));
  FATHOM_API_ASSIGN_OR_RETURN(out[0], ReadRank(left, FieldPath(path, "left"), depth + 1, budget));
  FATHOM_API_ASSIGN_OR_RETURN(out[1], ReadRank(right, FieldPath(path, "right"), depth + 1, budget));
  return out;
}

ApiResult<RankExpr::Search> SearchParser::ReadSearchLeaf(JsonElement value, const std::string& path, bool bm25) {
  JsonObject object;
  if (value.get(object)) {
    return ApiError::Deserialize(
        path, InvalidTypeText(value, bm25 ? "struct variant RankExpr::Bm25" : "struct variant RankExpr::Knn"));
  }
  RankExpr::Search search;
  search.key = std::string(bm25 ? kDocumentKey : kEmbeddingKey);
  JsonElement query;
  FATHOM_API_ASSIGN_OR_RETURN(query, RequiredField(object, "query", path));
  const std::string query_path = FieldPath(path, "query");
  if (bm25) {
    std::string text;
    FATHOM_API_ASSIGN_OR_RETURN(text, ReadString(query, query_path));
    search.query = std::move(text);
  } else {
    const ApiError no_variant =
        ApiError::Deserialize(query_path, "data did not match any variant of untagged enum QueryVector");
    JsonArray dense;
    JsonObject sparse;
    if (!query.get(dense)) {
      std::vector<float> v;
      v.reserve(dense.size());
      for (JsonElement x : dense) {
        if (!IsNumber(x)) return no_variant;
        v.push_back(ToF32(NumberValue(x)));
      }
      search.query = std::move(v);
    } else if (!query.get(sparse)) {
      std::optional<SparseVector> v = ReadSparseVectorFields(sparse);
      if (!v) return no_variant;
      search.query = std::move(*v);
    } else {
      return no_variant;
    }
  }
  if (auto key = RawField(object, "key")) {
    FATHOM_API_ASSIGN_OR_RETURN(search.key, ReadString(*key, FieldPath(path, "key")));
  }
  if (auto limit = RawField(object, "limit")) {
    FATHOM_API_ASSIGN_OR_RETURN(search.limit, ReadU32(*limit, FieldPath(path, "limit")));
  }
  if (auto default_value = OptionalField(object, "default")) {
    FATHOM_API_ASSIGN_OR_RETURN(search.default_value, ReadF32(*default_value, FieldPath(path, "default")));
  }
  if (auto return_rank = RawField(object, "return_rank")) {
    FATHOM_API_ASSIGN_OR_RETURN(search.return_rank, ReadBool(*return_rank, FieldPath(path, "return_rank")));
  }
  if (bm25 && search.key != kDocumentKey) {
    return ApiError::InvalidArgument(fmt::format(
        "{}.key: $bm25 ranks the document text only: key must be \"#document\", not \"{}\"", path, search.key));
  }
  return search;
}

void SearchParser::ValidateRank(const RankExpr& expr, const std::string& path, std::string& out) {
  if (expr.kind == RankExpr::Kind::kKnn) {
    if (const auto* sparse = std::get_if<SparseVector>(&expr.search.query)) {
      const std::string prefix = path + ": Invalid sparse vector in KNN query: ";
      if (sparse->indices.size() != sparse->values.size() ||
          (!sparse->tokens.empty() && sparse->tokens.size() != sparse->indices.size())) {
        out += prefix + "Sparse vector indices, values, and tokens (when present) must have the same length";
      } else if (std::adjacent_find(sparse->indices.begin(), sparse->indices.end(),
                                    [](uint32_t a, uint32_t b) { return a >= b; }) != sparse->indices.end()) {
        out += prefix + "Sparse vector indices must be sorted in strictly ascending order (no duplicates)";
      }
    }
  }
  for (const RankExpr& child : expr.children) ValidateRank(child, path, out);
}

ApiResult<SearchSelect> SearchParser::ReadSelect(JsonElement value, const std::string& path) {
  std::optional<JsonElement> keys_value;
  std::string keys_path = FieldPath(path, "keys");
  JsonObject object;
  JsonArray array;
  if (!value.get(object)) {
    keys_value = RawField(object, "keys");
  } else if (!value.get(array)) {
    // serde reads a struct from a sequence of its fields.
    if (array.size() > 0) {
      keys_value = array.at(0).value_unsafe();
      keys_path = IndexPath(path, 0);
    }
  } else {
    return ApiError::Deserialize(path, InvalidTypeText(value, "struct Select"));
  }
  SearchSelect select;
  if (!keys_value) return select;
  std::vector<std::string> keys;
  FATHOM_API_ASSIGN_OR_RETURN(keys, ReadKeys(*keys_value, keys_path));
  for (std::string& key : keys) {
    if (std::find(select.keys.begin(), select.keys.end(), key) != select.keys.end()) continue;
    if (key == kDocumentKey) {
      select.document = true;
    } else if (key == kEmbeddingKey) {
      select.embedding = true;
    } else if (key == kMetadataKey) {
      select.metadata = true;
    } else if (key == kScoreKey) {
      select.score = true;
    } else if (key != kIdKey) {
      select.metadata_keys.push_back(key);
    }
    select.keys.push_back(std::move(key));
  }
  return select;
}

ApiResult<std::optional<GroupBy>> SearchParser::ReadGroupBy(JsonElement value, const std::string& path,
                                                            std::string* validation) {
  JsonObject object;
  if (value.get(object)) return ApiError::Deserialize(path, InvalidTypeText(value, "struct GroupBy"));
  GroupBy group_by;
  if (auto keys = RawField(object, "keys")) {
    FATHOM_API_ASSIGN_OR_RETURN(group_by.keys, ReadKeys(*keys, FieldPath(path, "keys")));
  }
  bool has_aggregate = false;
  if (auto aggregate = OptionalField(object, "aggregate")) {
    const std::string aggregate_path = FieldPath(path, "aggregate");
    JsonObject aggregate_object;
    std::string_view name;
    if (!aggregate->get(name)) {
      return ApiError::Deserialize(FieldPath(aggregate_path, name), "invalid type: unit variant, expected struct variant");
    }
    if (aggregate->get(aggregate_object) || aggregate_object.size() != 1) return ExpectedValue(aggregate_path);
    const auto field = *aggregate_object.begin();
    const std::string_view tag = field.key;
    if (tag != "$min_k" && tag != "$max_k") {
      return ApiError::Deserialize(aggregate_path,
                                   fmt::format("unknown variant `{}`, expected `$min_k` or `$max_k`", tag));
    }
    group_by.aggregate = tag == "$min_k" ? GroupBy::Aggregate::kMinK : GroupBy::Aggregate::kMaxK;
    const std::string tag_path = FieldPath(aggregate_path, tag);
    JsonObject body;
    if (field.value.get(body)) {
      return ApiError::Deserialize(
          tag_path, InvalidTypeText(field.value, tag == "$min_k" ? "struct variant Aggregate::MinK"
                                                                 : "struct variant Aggregate::MaxK"));
    }
    JsonElement keys, k;
    FATHOM_API_ASSIGN_OR_RETURN(keys, RequiredField(body, "keys", tag_path));
    FATHOM_API_ASSIGN_OR_RETURN(group_by.aggregate_keys, ReadKeys(keys, FieldPath(tag_path, "keys")));
    FATHOM_API_ASSIGN_OR_RETURN(k, RequiredField(body, "k", tag_path));
    FATHOM_API_ASSIGN_OR_RETURN(group_by.k, ReadU32(k, FieldPath(tag_path, "k")));
    has_aggregate = true;
  }

  // Chroma's GroupBy validation (one message per group_by).
  auto reserved = [](const std::string& key, bool score_allowed) {
    return key == kDocumentKey || key == kEmbeddingKey || key == kMetadataKey || (!score_allowed && key == kScoreKey);
  };
  std::string error;
  if (group_by.keys.empty() != !has_aggregate) {
    error = "group_by keys and aggregate must both be specified or both be omitted";
  } else if (group_by.keys.empty()) {
    return std::optional<GroupBy>();  // both omitted: no grouping
  } else if (std::any_of(group_by.keys.begin(), group_by.keys.end(), [&](const auto& k) { return reserved(k, false); })) {
    error = "group_by keys must be metadata fields (cannot use #score, #document, #embedding, or #metadata)";
  } else if (group_by.aggregate_keys.empty()) {
    error = "aggregate keys must not be empty";
  } else if (std::any_of(group_by.aggregate_keys.begin(), group_by.aggregate_keys.end(),
                         [&](const auto& k) { return reserved(k, true); })) {
    error = "aggregate keys must be metadata fields or #score (cannot use #document, #embedding, or #metadata)";
  } else if (group_by.k == 0) {
    error = "aggregate k must be greater than 0";
  }
  if (!error.empty()) {
    if (validation != nullptr) *validation += path + ": " + error;
    return std::optional<GroupBy>();
  }
  return std::optional<GroupBy>(std::move(group_by));
}

}  // namespace

ApiResult<SearchRequest> ParseSearchRequest(JsonElement body) { return SearchParser().Parse(body); }

}  // namespace fathom::server
