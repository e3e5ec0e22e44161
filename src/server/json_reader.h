// Reading request bodies: simdjson DOM parsing plus typed accessors whose errors read like
// the serde messages Chroma's server returns (chroma.md §1.2).
//
// A JsonBody owns a simdjson parser and the parsed document; elements taken from it stay
// valid while it lives. Parsing reuses a per-thread parser for request bodies (they can
// be large), so at most one JsonBody per thread may use that parser at a time: the API
// layer parses one body per request. Small internal documents use JsonBody::ParseOwned.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "fathom/types.h"
#include "server/errors.h"

namespace fathom::server {

using JsonElement = simdjson::dom::element;
using JsonObject = simdjson::dom::object;
using JsonArray = simdjson::dom::array;

class JsonBody {
 public:
  // Parses a request body with this thread's shared parser. `body` may be grown to add
  // simdjson's padding. An empty body is a parse error, as in Chroma.
  static ApiResult<JsonBody> ParseRequest(std::string& body);
  // Parses with a parser of its own (for stored documents parsed while a request body is
  // still in use).
  static ApiResult<JsonBody> ParseOwned(std::string_view text);

  JsonElement root() const { return root_; }

 private:
  JsonBody(std::unique_ptr<simdjson::dom::parser> owned, JsonElement root)
      : owned_(std::move(owned)), root_(root) {}
  std::unique_ptr<simdjson::dom::parser> owned_;  // null when the thread parser is used
  JsonElement root_;
};

// serde's wording for a value's type: `string "abc"`, `integer `5``, `sequence`, `map`...
std::string DescribeJsonValue(JsonElement value);
// "invalid type: <value>, expected <expected>".
std::string InvalidTypeText(JsonElement value, std::string_view expected);

// Joins a field path the way serde_path_to_error prints it.
std::string FieldPath(std::string_view parent, std::string_view field);
std::string IndexPath(std::string_view parent, size_t index);

// The root of a request body must be a JSON object.
ApiResult<JsonObject> RequireObject(JsonElement value, std::string_view path,
                                    std::string_view expected = "a JSON object");

// Field lookup. Absent and `null` both read as nullopt (serde's Option<T>).
std::optional<JsonElement> OptionalField(JsonObject object, std::string_view key);
// Absent reads as nullopt; `null` is returned as an element.
std::optional<JsonElement> RawField(JsonObject object, std::string_view key);
// Required: absent → 422 "missing field `key`".
ApiResult<JsonElement> RequiredField(JsonObject object, std::string_view key,
                                     std::string_view object_path);

ApiResult<std::string> ReadString(JsonElement value, std::string_view path);
ApiResult<bool> ReadBool(JsonElement value, std::string_view path);
ApiResult<uint32_t> ReadU32(JsonElement value, std::string_view path);
// A non-negative integer that fits usize (Chroma's configuration numbers).
ApiResult<uint64_t> ReadUsize(JsonElement value, std::string_view path);
ApiResult<double> ReadF64(JsonElement value, std::string_view path);
ApiResult<std::vector<std::string>> ReadStringArray(JsonElement value, std::string_view path);
// Array of strings or nulls (documents, uris).
ApiResult<std::vector<std::optional<std::string>>> ReadOptionalStringArray(JsonElement value,
                                                                           std::string_view path);

// Which operation a metadata map belongs to: add forbids null values, update/upsert use
// them to delete keys.
enum class MetadataMode { kAdd, kPatch };

// A sparse vector object's fields, as Chroma's SparseVector deserializes them: `indices`
// (integers in u32), `values` (numbers, as float32; beyond its range they become
// infinities, which CheckSparseVector refuses) and, optionally, `tokens` (strings).
// nullopt when the object does not have that shape; lengths and order are not checked.
std::optional<SparseVector> ReadSparseVectorFields(JsonObject object);

// Parses one metadata map (chroma.md §1.8). `path` is used for 422 messages. An empty
// array value drops the key. A sparse vector ({"#type":"sparse_vector",...} or the legacy
// {"indices","values"}) must pass CheckSparseVector (400 otherwise).
ApiResult<MetadataPatch> ReadMetadataMap(JsonElement value, std::string_view path,
                                         MetadataMode mode);
// Whether every key is acceptable: non-empty, not starting with '#' or '$'.
bool MetadataKeysValid(const MetadataPatch& metadata);
// A patch without deletions as plain Metadata.
Metadata PatchToMetadata(MetadataPatch patch);

// Embeddings of add/upsert/update: either arrays of numbers or base64 strings of
// little-endian float32 (chroma.md §1.8). With `allow_null` (update) entries may be null.
// Decode errors are 422; bad base64 and non-finite values are 400.
ApiResult<std::vector<std::optional<std::vector<float>>>> ReadWriteEmbeddings(
    JsonElement value, std::string_view path, bool allow_null);
// Query embeddings: arrays of numbers only.
ApiResult<std::vector<std::vector<float>>> ReadQueryEmbeddings(JsonElement value,
                                                               std::string_view path);

// The `include` list; `names` receives the entries in request order for echoing.
ApiResult<Include> ReadInclude(JsonElement value, std::string_view path,
                               std::vector<std::string>* names);

}  // namespace fathom::server
