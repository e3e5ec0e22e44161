#include "server/json_reader.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "common/limits.h"
#include "common/value_coding.h"
#include "server/base64.h"
#include "server/server_limits.h"

namespace fathom::server {

namespace {

using simdjson::dom::element_type;

// Request bodies can be tens of MiB; a per-thread parser keeps its buffers between
// requests instead of allocating them for every body.
simdjson::dom::parser& ThreadParser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

std::string ParseErrorText(simdjson::error_code error) {
  // simdjson's messages start with the code name ("TAPE_ERROR: ..."), which is what a
  // user needs to find the problem; serde's "at line L column C" has no equivalent.
  return simdjson::error_message(error);
}

std::string Truncated(std::string_view s) {
  constexpr size_t kShown = 64;
  if (s.size() <= kShown) return std::string(s);
  return std::string(s.substr(0, kShown)) + "...";
}

}  // namespace

ApiResult<JsonBody> JsonBody::ParseRequest(std::string& body) {
  if (body.empty()) return ApiError::JsonParse("EOF while parsing a value at line 1 column 0");
  // simdjson reads up to SIMDJSON_PADDING bytes past the end; reserve them in place so
  // parse() does not copy the body.
  if (body.capacity() - body.size() < simdjson::SIMDJSON_PADDING) {
    body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  }
  std::unique_ptr<simdjson::dom::parser> owned;
  simdjson::dom::parser* parser = &ThreadParser();
  if (body.size() > http_limits::kReusedParserBodyBytesMax) {
    owned = std::make_unique<simdjson::dom::parser>();
    parser = owned.get();
  }
  JsonElement root;
  auto error = parser->parse(body.data(), body.size(), false).get(root);
  if (error) return ApiError::JsonParse(ParseErrorText(error));
  return JsonBody(std::move(owned), root);
}

ApiResult<JsonBody> JsonBody::ParseOwned(std::string_view text) {
  auto parser = std::make_unique<simdjson::dom::parser>();
  JsonElement root;
  auto error = parser->parse(text.data(), text.size(), true).get(root);
  if (error) return ApiError::JsonParse(ParseErrorText(error));
  return JsonBody(std::move(parser), root);
}

std::string DescribeJsonValue(JsonElement value) {
  switch (value.type()) {
    case element_type::ARRAY: return "sequence";
    case element_type::OBJECT: return "map";
    case element_type::INT64: {
      const int64_t v = value.get_int64().value_unsafe();
      return fmt::format("integer `{}`", v);
    }
    case element_type::UINT64: {
      const uint64_t v = value.get_uint64().value_unsafe();
      return fmt::format("integer `{}`", v);
    }
    case element_type::DOUBLE: {
      const double v = value.get_double().value_unsafe();
      return fmt::format("floating point `{}`", v);
    }
    case element_type::STRING: {
      const std::string_view v = value.get_string().value_unsafe();
      return fmt::format("string \"{}\"", Truncated(v));
    }
    case element_type::BOOL: {
      const bool v = value.get_bool().value_unsafe();
      return fmt::format("boolean `{}`", v ? "true" : "false");
    }
    case element_type::NULL_VALUE: return "null";
  }
  return "value";
}

std::string InvalidTypeText(JsonElement value, std::string_view expected) {
  return fmt::format("invalid type: {}, expected {}", DescribeJsonValue(value), expected);
}

std::string FieldPath(std::string_view parent, std::string_view field) {
  if (parent.empty()) return std::string(field);
  return fmt::format("{}.{}", parent, field);
}

std::string IndexPath(std::string_view parent, size_t index) {
  return fmt::format("{}[{}]", parent, index);
}

ApiResult<JsonObject> RequireObject(JsonElement value, std::string_view path,
                                    std::string_view expected) {
  JsonObject object;
  if (value.get(object)) return ApiError::Deserialize(path, InvalidTypeText(value, expected));
  return object;
}

std::optional<JsonElement> OptionalField(JsonObject object, std::string_view key) {
  JsonElement value;
  if (object.at_key(key).get(value)) return std::nullopt;
  if (value.is_null()) return std::nullopt;
  return value;
}

std::optional<JsonElement> RawField(JsonObject object, std::string_view key) {
  JsonElement value;
  if (object.at_key(key).get(value)) return std::nullopt;
  return value;
}

ApiResult<JsonElement> RequiredField(JsonObject object, std::string_view key,
                                     std::string_view object_path) {
  JsonElement value;
  if (object.at_key(key).get(value)) {
    return ApiError::Deserialize(object_path, fmt::format("missing field `{}`", key));
  }
  return value;
}

ApiResult<std::string> ReadString(JsonElement value, std::string_view path) {
  std::string_view s;
  if (value.get(s)) return ApiError::Deserialize(path, InvalidTypeText(value, "a string"));
  return std::string(s);
}

ApiResult<bool> ReadBool(JsonElement value, std::string_view path) {
  bool b = false;
  if (value.get(b)) return ApiError::Deserialize(path, InvalidTypeText(value, "a boolean"));
  return b;
}

ApiResult<uint32_t> ReadU32(JsonElement value, std::string_view path) {
  if (value.type() == element_type::INT64) {
    const int64_t v = value.get_int64().value_unsafe();
    if (v < 0 || v > std::numeric_limits<uint32_t>::max()) {
      return ApiError::Deserialize(path, fmt::format("invalid value: integer `{}`, expected u32", v));
    }
    return static_cast<uint32_t>(v);
  }
  if (value.type() == element_type::UINT64) {
    const uint64_t v = value.get_uint64().value_unsafe();
    return ApiError::Deserialize(path, fmt::format("invalid value: integer `{}`, expected u32", v));
  }
  return ApiError::Deserialize(path, InvalidTypeText(value, "u32"));
}

ApiResult<uint64_t> ReadUsize(JsonElement value, std::string_view path) {
  if (value.type() == element_type::INT64) {
    const int64_t v = value.get_int64().value_unsafe();
    if (v < 0) {
      return ApiError::Deserialize(path, fmt::format("invalid value: integer `{}`, expected usize", v));
    }
    return static_cast<uint64_t>(v);
  }
  if (value.type() == element_type::UINT64) {
    const uint64_t v = value.get_uint64().value_unsafe();
    return v;
  }
  return ApiError::Deserialize(path, InvalidTypeText(value, "usize"));
}

ApiResult<double> ReadF64(JsonElement value, std::string_view path) {
  double v = 0;
  if (value.get(v)) return ApiError::Deserialize(path, InvalidTypeText(value, "f64"));
  return v;
}

ApiResult<std::vector<std::string>> ReadStringArray(JsonElement value, std::string_view path) {
  JsonArray array;
  if (value.get(array)) return ApiError::Deserialize(path, InvalidTypeText(value, "a sequence"));
  std::vector<std::string> out;
  out.reserve(array.size());
  size_t i = 0;
  for (JsonElement item : array) {
    std::string_view s;
    if (item.get(s)) {
      return ApiError::Deserialize(IndexPath(path, i), InvalidTypeText(item, "a string"));
    }
    out.emplace_back(s);
    ++i;
  }
  return out;
}

ApiResult<std::vector<std::optional<std::string>>> ReadOptionalStringArray(JsonElement value,
                                                                           std::string_view path) {
  JsonArray array;
  if (value.get(array)) return ApiError::Deserialize(path, InvalidTypeText(value, "a sequence"));
  std::vector<std::optional<std::string>> out;
  out.reserve(array.size());
  size_t i = 0;
  for (JsonElement item : array) {
    if (item.is_null()) {
      out.emplace_back(std::nullopt);
    } else {
      std::string_view s;
      if (item.get(s)) {
        return ApiError::Deserialize(IndexPath(path, i), InvalidTypeText(item, "a string"));
      }
      out.emplace_back(std::string(s));
    }
    ++i;
  }
  return out;
}

// ---- metadata -------------------------------------------------------------------------

namespace {

constexpr const char* kMetadataVariantText =
    "data did not match any variant of untagged enum MetadataValue";

float NumberToF32(double x) {
  if (std::fabs(x) > std::numeric_limits<float>::max()) return std::copysign(std::numeric_limits<float>::infinity(), x);
  return static_cast<float>(x);
}

bool LooksLikeSparseVector(JsonObject object) {
  JsonElement tag;
  if (!object.at_key("#type").get(tag)) {
    std::string_view s;
    return !tag.get(s) && s == "sparse_vector";
  }
  JsonElement unused;
  return !object.at_key("indices").get(unused) && !object.at_key("values").get(unused);
}

// Homogeneous arrays, tried in Chroma's order: bool, int, float, string. Integers are
// accepted into a float array (serde reads them as f64), never the other way round.
ApiResult<std::optional<MetadataValue>> ReadMetadataArray(JsonArray array, std::string_view path) {
  const size_t n = array.size();
  if (n == 0) return std::optional<MetadataValue>();  // an empty list drops the key
  if (n > fathom::limits::kMetadataArrayLengthMax) {
    return ApiError::Validation("metadatas", fmt::format("metadata list {} is longer than {} values",
                                                         path, fathom::limits::kMetadataArrayLengthMax));
  }
  bool all_bool = true, all_int = true, all_number = true, all_string = true;
  for (JsonElement item : array) {
    const auto t = item.type();
    all_bool = all_bool && t == element_type::BOOL;
    all_int = all_int && t == element_type::INT64;
    all_number = all_number &&
                 (t == element_type::INT64 || t == element_type::UINT64 || t == element_type::DOUBLE);
    all_string = all_string && t == element_type::STRING;
  }
  if (all_bool) {
    std::vector<bool> v;
    v.reserve(n);
    for (JsonElement item : array) v.push_back(item.get_bool().value_unsafe());
    return std::optional<MetadataValue>(std::move(v));
  }
  if (all_int) {
    std::vector<int64_t> v;
    v.reserve(n);
    for (JsonElement item : array) v.push_back(item.get_int64().value_unsafe());
    return std::optional<MetadataValue>(std::move(v));
  }
  if (all_number) {
    std::vector<double> v;
    v.reserve(n);
    for (JsonElement item : array) v.push_back(item.get_double().value_unsafe());
    return std::optional<MetadataValue>(std::move(v));
  }
  if (all_string) {
    std::vector<std::string> v;
    v.reserve(n);
    for (JsonElement item : array) v.emplace_back(item.get_string().value_unsafe());
    return std::optional<MetadataValue>(std::move(v));
  }
  return ApiError::Deserialize(path, kMetadataVariantText);
}

}  // namespace

std::optional<SparseVector> ReadSparseVectorFields(JsonObject object) {
  JsonArray indices, values, tokens;
  if (object["indices"].get(indices) || object["values"].get(values)) return std::nullopt;
  SparseVector v;
  v.indices.reserve(indices.size());
  for (JsonElement x : indices) {
    uint64_t n;
    if (x.get(n) || n > std::numeric_limits<uint32_t>::max()) return std::nullopt;
    v.indices.push_back(static_cast<uint32_t>(n));
  }
  v.values.reserve(values.size());
  for (JsonElement x : values) {
    double d;
    if (x.get(d)) return std::nullopt;
    v.values.push_back(NumberToF32(d));
  }
  JsonElement tokens_value;
  if (!object["tokens"].get(tokens_value) && !tokens_value.is_null()) {
    if (tokens_value.get(tokens)) return std::nullopt;
    v.tokens.reserve(tokens.size());
    for (JsonElement x : tokens) {
      std::string_view s;
      if (x.get(s)) return std::nullopt;
      v.tokens.emplace_back(s);
    }
  }
  return v;
}

ApiResult<MetadataPatch> ReadMetadataMap(JsonElement value, std::string_view path,
                                         MetadataMode mode) {
  JsonObject object;
  if (value.get(object)) return ApiError::Deserialize(path, InvalidTypeText(value, "a map"));
  if (object.size() > fathom::limits::kMetadataKeysMax) {
    return ApiError::Validation("metadatas", fmt::format("metadata {} has more than {} keys", path,
                                                         fathom::limits::kMetadataKeysMax));
  }
  MetadataPatch out;
  for (auto field : object) {
    const std::string_view key = field.key;
    JsonElement v = field.value;
    const std::string value_path = FieldPath(path, key);
    switch (v.type()) {
      case element_type::BOOL:
        out[std::string(key)] = MetadataValue(v.get_bool().value_unsafe());
        break;
      case element_type::INT64:
        out[std::string(key)] = MetadataValue(v.get_int64().value_unsafe());
        break;
      case element_type::UINT64:
        // Above i64: Chroma stores it as a float (9.223372036854776e18).
        out[std::string(key)] = MetadataValue(static_cast<double>(v.get_uint64().value_unsafe()));
        break;
      case element_type::DOUBLE:
        out[std::string(key)] = MetadataValue(v.get_double().value_unsafe());
        break;
      case element_type::STRING:
        out[std::string(key)] = MetadataValue(std::string(v.get_string().value_unsafe()));
        break;
      case element_type::NULL_VALUE:
        if (mode == MetadataMode::kAdd) return ApiError::Deserialize(value_path, kMetadataVariantText);
        out[std::string(key)] = std::nullopt;
        break;
      case element_type::ARRAY: {
        std::optional<MetadataValue> array_value;
        FATHOM_API_ASSIGN_OR_RETURN(array_value, ReadMetadataArray(v.get_array().value_unsafe(), value_path));
        if (array_value.has_value()) out[std::string(key)] = std::move(*array_value);
        break;
      }
      case element_type::OBJECT: {
        const JsonObject object = v.get_object().value_unsafe();
        if (!LooksLikeSparseVector(object)) return ApiError::Deserialize(value_path, kMetadataVariantText);
        std::optional<SparseVector> sparse = ReadSparseVectorFields(object);
        if (!sparse) return ApiError::Deserialize(value_path, kMetadataVariantText);
        if (Status s = CheckSparseVector(*sparse); !s.ok()) {
          return ApiError::Validation("metadatas", fmt::format("Invalid sparse vector at {}: {}", value_path, s.message()));
        }
        out[std::string(key)] = MetadataValue(std::move(*sparse));
        break;
      }
    }
  }
  return out;
}

bool MetadataKeysValid(const MetadataPatch& metadata) {
  for (const auto& [key, value] : metadata) {
    if (key.empty() || key[0] == '#' || key[0] == '$') return false;
  }
  return true;
}

Metadata PatchToMetadata(MetadataPatch patch) {
  Metadata out;
  for (auto& [key, value] : patch) {
    if (value.has_value()) out.emplace(key, std::move(*value));
  }
  return out;
}

// ---- embeddings -----------------------------------------------------------------------

namespace {

constexpr const char* kEmbeddingsVariantText =
    "data did not match any variant of untagged enum EmbeddingsPayload";

// One array of numbers. Returns false (with `bad` set) when an item is not a number.
bool ReadFloatArray(JsonArray array, std::vector<float>& out, JsonElement* bad) {
  out.clear();
  out.reserve(array.size());
  for (JsonElement item : array) {
    double v = 0;
    if (item.get(v)) {
      *bad = item;
      return false;
    }
    out.push_back(static_cast<float>(v));
  }
  return true;
}

ApiStatus CheckFinite(const std::vector<float>& embedding, size_t index) {
  for (float f : embedding) {
    if (!std::isfinite(f)) {
      return ApiError::InvalidArgument(
          fmt::format("Non-finite float value at embedding index {}: {}", index,
                      std::isnan(f) ? "NaN" : (f > 0 ? "inf" : "-inf")));
    }
  }
  return ApiStatus::Ok();
}

ApiResult<std::vector<float>> DecodeBase64Embedding(std::string_view text, size_t index) {
  std::vector<uint8_t> bytes;
  std::string error;
  if (!Base64Decode(text, bytes, error)) {
    return ApiError::InvalidArgument(fmt::format("Invalid base64 string: {}", error));
  }
  if (bytes.size() % sizeof(float) != 0) {
    return ApiError::InvalidArgument(fmt::format(
        "Invalid byte length: base64 embedding at index {} decodes to {} bytes, which is not a "
        "multiple of 4 (little-endian float32 values)",
        index, bytes.size()));
  }
  std::vector<float> out(bytes.size() / sizeof(float));
  // The wire format is little-endian; so is every platform fathom builds for.
  static_assert(std::endian::native == std::endian::little, "big-endian hosts need a byte swap");
  if (!bytes.empty()) std::memcpy(out.data(), bytes.data(), bytes.size());
  return out;
}

}  // namespace

ApiResult<std::vector<std::optional<std::vector<float>>>> ReadWriteEmbeddings(
    JsonElement value, std::string_view path, bool allow_null) {
  JsonArray array;
  if (value.get(array)) return ApiError::Deserialize(path, kEmbeddingsVariantText);
  // The untagged enum decides on the whole array: all arrays (or nulls) of numbers, or
  // all strings (or nulls). A mix matches neither variant.
  bool any_array = false, any_string = false;
  for (JsonElement item : array) {
    const auto t = item.type();
    if (t == element_type::ARRAY) {
      any_array = true;
    } else if (t == element_type::STRING) {
      any_string = true;
    } else if (!(t == element_type::NULL_VALUE && allow_null)) {
      return ApiError::Deserialize(path, kEmbeddingsVariantText);
    }
  }
  if (any_array && any_string) return ApiError::Deserialize(path, kEmbeddingsVariantText);

  std::vector<std::optional<std::vector<float>>> out;
  out.reserve(array.size());
  size_t i = 0;
  for (JsonElement item : array) {
    if (item.is_null()) {
      out.emplace_back(std::nullopt);
    } else if (any_string) {
      std::vector<float> embedding;
      FATHOM_API_ASSIGN_OR_RETURN(embedding, DecodeBase64Embedding(item.get_string().value_unsafe(), i));
      FATHOM_API_RETURN_IF_ERROR(CheckFinite(embedding, i));
      out.emplace_back(std::move(embedding));
    } else {
      std::vector<float> embedding;
      JsonElement bad;
      if (!ReadFloatArray(item.get_array().value_unsafe(), embedding, &bad)) {
        return ApiError::Deserialize(path, kEmbeddingsVariantText);
      }
      // JSON cannot spell NaN or infinity, but a number beyond float range becomes inf.
      FATHOM_API_RETURN_IF_ERROR(CheckFinite(embedding, i));
      out.emplace_back(std::move(embedding));
    }
    ++i;
  }
  return out;
}

ApiResult<std::vector<std::vector<float>>> ReadQueryEmbeddings(JsonElement value,
                                                               std::string_view path) {
  JsonArray array;
  if (value.get(array)) return ApiError::Deserialize(path, InvalidTypeText(value, "a sequence"));
  if (array.size() > fathom::limits::kQueryEmbeddingsMax) {
    return ApiError::InvalidArgument(fmt::format("Too many query embeddings: {} (at most {})",
                                                 array.size(), fathom::limits::kQueryEmbeddingsMax));
  }
  std::vector<std::vector<float>> out;
  out.reserve(array.size());
  size_t i = 0;
  for (JsonElement item : array) {
    JsonArray inner;
    const std::string item_path = IndexPath(path, i);
    if (item.get(inner)) return ApiError::Deserialize(item_path, InvalidTypeText(item, "a sequence"));
    std::vector<float> embedding;
    JsonElement bad;
    if (!ReadFloatArray(inner, embedding, &bad)) {
      return ApiError::Deserialize(item_path, InvalidTypeText(bad, "f32"));
    }
    FATHOM_API_RETURN_IF_ERROR(CheckFinite(embedding, i));
    out.push_back(std::move(embedding));
    ++i;
  }
  return out;
}

// ---- include --------------------------------------------------------------------------

ApiResult<Include> ReadInclude(JsonElement value, std::string_view path,
                               std::vector<std::string>* names) {
  JsonArray array;
  if (value.get(array)) return ApiError::Deserialize(path, InvalidTypeText(value, "a sequence"));
  Include include{.embeddings = false, .documents = false, .metadatas = false, .uris = false,
                  .distances = false};
  names->clear();
  size_t i = 0;
  for (JsonElement item : array) {
    std::string_view s;
    const std::string item_path = IndexPath(path, i);
    if (item.get(s)) return ApiError::Deserialize(item_path, InvalidTypeText(item, "a string"));
    if (s == "distances") {
      include.distances = true;
    } else if (s == "documents") {
      include.documents = true;
    } else if (s == "embeddings") {
      include.embeddings = true;
    } else if (s == "metadatas") {
      include.metadatas = true;
    } else if (s == "uris") {
      include.uris = true;
    } else {
      return ApiError::Deserialize(
          item_path, fmt::format("unknown variant `{}`, expected one of `distances`, `documents`, "
                                 "`embeddings`, `metadatas`, `uris`",
                                 Truncated(s)));
    }
    names->emplace_back(s);
    ++i;
  }
  return include;
}

}  // namespace fathom::server
