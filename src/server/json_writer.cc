#include "server/json_writer.h"

#include <charconv>
#include <cmath>
#include <type_traits>

namespace fathom::server {

namespace {

using simdjson::dom::element_type;

// Shortest round-trip text of a float32, with ".0" added to integral values so that
// clients parsing JSON by number syntax (Python's json) still see a float, as Chroma's
// serde output gives them.
size_t FormatFloat(float v, char* buf, size_t size) {
  auto [end, ec] = std::to_chars(buf, buf + size - 2, v);
  (void)ec;  // 32 bytes always suffice for a float
  size_t n = static_cast<size_t>(end - buf);
  bool integral = true;
  for (size_t i = 0; i < n; ++i) {
    const char c = buf[i];
    if (c == '.' || c == 'e' || c == 'E') {
      integral = false;
      break;
    }
  }
  if (integral) {
    buf[n++] = '.';
    buf[n++] = '0';
  }
  return n;
}

}  // namespace

void JsonWriter::Double(double v) {
  if (!std::isfinite(v)) {
    writer_.Null();
    return;
  }
  writer_.Double(v);
}

void JsonWriter::Float(float v) {
  if (!std::isfinite(v)) {
    writer_.Null();
    return;
  }
  char buf[48];
  const size_t n = FormatFloat(v, buf, sizeof(buf));
  writer_.RawValue(buf, n, rapidjson::kNumberType);
}

void JsonWriter::RawJson(std::string_view json) {
  writer_.RawValue(json.data(), json.size(), rapidjson::kObjectType);
}

void JsonWriter::FloatArray(const std::vector<float>& values) {
  writer_.StartArray();
  for (float v : values) Float(v);
  writer_.EndArray();
}

void JsonWriter::OptionalString(const std::optional<std::string>& s) {
  if (s.has_value()) {
    String(*s);
  } else {
    writer_.Null();
  }
}

void JsonWriter::MetadataValueJson(const MetadataValue& value) {
  std::visit(
      [this](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>) {
          writer_.Bool(v);
        } else if constexpr (std::is_same_v<T, int64_t>) {
          writer_.Int64(v);
        } else if constexpr (std::is_same_v<T, double>) {
          Double(v);
        } else if constexpr (std::is_same_v<T, std::string>) {
          String(v);
        } else if constexpr (std::is_same_v<T, std::vector<bool>>) {
          writer_.StartArray();
          for (bool b : v) writer_.Bool(b);
          writer_.EndArray();
        } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
          writer_.StartArray();
          for (int64_t i : v) writer_.Int64(i);
          writer_.EndArray();
        } else if constexpr (std::is_same_v<T, std::vector<double>>) {
          writer_.StartArray();
          for (double d : v) Double(d);
          writer_.EndArray();
        } else {
          static_assert(std::is_same_v<T, std::vector<std::string>>);
          writer_.StartArray();
          for (const auto& s : v) String(s);
          writer_.EndArray();
        }
      },
      value);
}

void JsonWriter::MetadataJson(const Metadata& metadata) {
  writer_.StartObject();
  for (const auto& [key, value] : metadata) {
    Key(key);
    MetadataValueJson(value);
  }
  writer_.EndObject();
}

void JsonWriter::OptionalMetadata(const std::optional<Metadata>& metadata) {
  // Chroma answers null, not {}, for a record or collection without metadata.
  if (metadata.has_value() && !metadata->empty()) {
    MetadataJson(*metadata);
  } else {
    writer_.Null();
  }
}

void JsonWriter::StringArray(const std::vector<std::string>& values) {
  writer_.StartArray();
  for (const auto& s : values) String(s);
  writer_.EndArray();
}

void JsonWriter::Element(JsonElement element) {
  switch (element.type()) {
    case element_type::ARRAY: {
      // Keep the array in a variable: value_unsafe() returns a reference into the
      // temporary simdjson_result, which a range-for would not keep alive.
      const JsonArray array = element.get_array().value_unsafe();
      writer_.StartArray();
      for (JsonElement item : array) Element(item);
      writer_.EndArray();
      break;
    }
    case element_type::OBJECT: {
      const JsonObject object = element.get_object().value_unsafe();
      writer_.StartObject();
      for (auto field : object) {
        Key(field.key);
        Element(field.value);
      }
      writer_.EndObject();
      break;
    }
    case element_type::INT64: writer_.Int64(element.get_int64().value_unsafe()); break;
    case element_type::UINT64: writer_.Uint64(element.get_uint64().value_unsafe()); break;
    case element_type::DOUBLE: Double(element.get_double().value_unsafe()); break;
    case element_type::STRING: String(element.get_string().value_unsafe()); break;
    case element_type::BOOL: writer_.Bool(element.get_bool().value_unsafe()); break;
    case element_type::NULL_VALUE: writer_.Null(); break;
  }
}

namespace {

void WriteIncludeNames(JsonWriter& w, const std::vector<std::string>& names) {
  w.Key("include");
  w.StringArray(names);
}

// One row's column of a get result; `n` is the number of records (a column the engine did
// not fill is padded with nulls rather than producing ragged arrays).
template <typename Column, typename WriteOne>
void WriteColumn(JsonWriter& w, const Column& column, size_t n, WriteOne write_one) {
  w.StartArray();
  for (size_t i = 0; i < n; ++i) {
    if (i < column.size()) {
      write_one(column[i]);
    } else {
      w.Null();
    }
  }
  w.EndArray();
}

void WriteEmbeddings(JsonWriter& w, const GetResult& r) {
  WriteColumn(w, r.embeddings, r.ids.size(), [&](const std::vector<float>& e) { w.FloatArray(e); });
}
void WriteDocuments(JsonWriter& w, const GetResult& r) {
  WriteColumn(w, r.documents, r.ids.size(), [&](const std::optional<std::string>& s) { w.OptionalString(s); });
}
void WriteUris(JsonWriter& w, const GetResult& r) {
  WriteColumn(w, r.uris, r.ids.size(), [&](const std::optional<std::string>& s) { w.OptionalString(s); });
}
void WriteMetadatas(JsonWriter& w, const GetResult& r) {
  WriteColumn(w, r.metadatas, r.ids.size(), [&](const std::optional<Metadata>& m) { w.OptionalMetadata(m); });
}

}  // namespace

void WriteGetResult(JsonWriter& w, const GetResult& result, const Include& include,
                    const std::vector<std::string>& include_names) {
  w.StartObject();
  w.Key("ids");
  w.StringArray(result.ids);
  w.Key("embeddings");
  if (include.embeddings) WriteEmbeddings(w, result); else w.Null();
  w.Key("documents");
  if (include.documents) WriteDocuments(w, result); else w.Null();
  w.Key("uris");
  if (include.uris) WriteUris(w, result); else w.Null();
  w.Key("metadatas");
  if (include.metadatas) WriteMetadatas(w, result); else w.Null();
  WriteIncludeNames(w, include_names);
  w.EndObject();
}

void WriteQueryResult(JsonWriter& w, const QueryResult& result, size_t query_count,
                      const Include& include, const std::vector<std::string>& include_names) {
  const size_t rows = std::min(query_count, result.rows.size());
  auto per_row = [&](bool included, auto write_row) {
    if (!included) {
      w.Null();
      return;
    }
    w.StartArray();
    for (size_t r = 0; r < rows; ++r) write_row(r);
    w.EndArray();
  };
  w.StartObject();
  w.Key("ids");
  per_row(true, [&](size_t r) { w.StringArray(result.rows[r].ids); });
  w.Key("embeddings");
  per_row(include.embeddings, [&](size_t r) { WriteEmbeddings(w, result.rows[r]); });
  w.Key("documents");
  per_row(include.documents, [&](size_t r) { WriteDocuments(w, result.rows[r]); });
  w.Key("uris");
  per_row(include.uris, [&](size_t r) { WriteUris(w, result.rows[r]); });
  w.Key("metadatas");
  per_row(include.metadatas, [&](size_t r) { WriteMetadatas(w, result.rows[r]); });
  w.Key("distances");
  per_row(include.distances, [&](size_t r) {
    static const std::vector<float> kNone;
    const auto& d = r < result.distances.size() ? result.distances[r] : kNone;
    WriteColumn(w, d, result.rows[r].ids.size(), [&](float f) { w.Float(f); });
  });
  WriteIncludeNames(w, include_names);
  w.EndObject();
}

}  // namespace fathom::server
