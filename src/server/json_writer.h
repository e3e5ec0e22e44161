// Writing response bodies with RapidJSON's Writer: metadata values, float vectors, get and
// query results, and verbatim copies of parsed JSON (stored configuration documents).
//
// Floats are written in their shortest round-trip float32 form ("0.1", not
// "0.10000000149011612"), as Chroma's serde does for f32. Non-finite floats, which JSON
// cannot spell, are written as null. Thread-safety: JsonWriter is single-threaded.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "fathom/types.h"
#include "server/json_reader.h"

namespace fathom::server {

class JsonWriter {
 public:
  JsonWriter() : writer_(buffer_) {}

  rapidjson::Writer<rapidjson::StringBuffer>& raw() { return writer_; }

  void StartObject() { writer_.StartObject(); }
  void EndObject() { writer_.EndObject(); }
  void StartArray() { writer_.StartArray(); }
  void EndArray() { writer_.EndArray(); }
  void Key(std::string_view key) { writer_.Key(key.data(), static_cast<rapidjson::SizeType>(key.size())); }
  void String(std::string_view s) { writer_.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }
  void Null() { writer_.Null(); }
  void Bool(bool b) { writer_.Bool(b); }
  void Int64(int64_t v) { writer_.Int64(v); }
  void Uint64(uint64_t v) { writer_.Uint64(v); }
  void Double(double v);
  void Float(float v);
  // A JSON text known to be valid (our own stored documents), copied verbatim.
  void RawJson(std::string_view json);

  void FloatArray(const std::vector<float>& values);
  void OptionalString(const std::optional<std::string>& s);
  void MetadataValueJson(const MetadataValue& value);
  void SparseVectorJson(const SparseVector& v);
  void MetadataJson(const Metadata& metadata);
  void OptionalMetadata(const std::optional<Metadata>& metadata);
  void StringArray(const std::vector<std::string>& values);
  // A parsed JSON element, written back out (numbers keep their int/float kind).
  void Element(JsonElement element);

  std::string Take() { return std::string(buffer_.GetString(), buffer_.GetSize()); }

 private:
  rapidjson::StringBuffer buffer_;
  rapidjson::Writer<rapidjson::StringBuffer> writer_;
};

// Get response (chroma.md §1.6): columns not included are present as null.
void WriteGetResult(JsonWriter& w, const GetResult& result, const Include& include,
                    const std::vector<std::string>& include_names);
// Query response: one row per query embedding.
// fathom's GET .../collections/{id}/vector_index answer (docs/design/recall-calibration.md).
void WriteVectorIndexStats(JsonWriter& w, const VectorIndexStats& stats);
void WriteQueryResult(JsonWriter& w, const QueryResult& result, size_t query_count,
                      const Include& include, const std::vector<std::string>& include_names);

}  // namespace fathom::server
