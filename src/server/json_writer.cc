#include "server/json_writer.h"

#include <charconv>
#include <cmath>
#include <string_view>
#include <type_traits>

namespace fathom::server {

namespace {

using simdjson::dom::element_type;

// Shortest round-trip text of a number, laid out the way Chroma's serde_json (ryu)
// writes it: "1.0", "0.02", "1234.5", "9.223372036854776e18", "1e-7". `max_digits_before_point`
// is ryu's switch to exponent notation: 16 for f64, 13 for f32. Integral values keep a
// ".0" so clients that parse numbers by syntax (Python's json) still see floats.
template <typename T>
size_t FormatShortest(T v, int max_digits_before_point, char* out) {
  char sci[64];
  auto [end, ec] = std::to_chars(sci, sci + sizeof(sci), v, std::chars_format::scientific);
  (void)ec;  // 64 bytes always suffice
  std::string_view text(sci, static_cast<size_t>(end - sci));
  char* o = out;
  if (!text.empty() && text[0] == '-') {
    *o++ = '-';
    text.remove_prefix(1);
  }
  const size_t e_pos = text.find('e');
  char digits[32];
  int n = 0;
  for (size_t i = 0; i < e_pos; ++i) {
    if (text[i] != '.') digits[n++] = text[i];
  }
  int exponent = 0;
  std::from_chars(text.data() + e_pos + 1 + (text[e_pos + 1] == '+' ? 1 : 0), text.data() + text.size(), exponent);
  const int k = exponent - (n - 1);  // exponent of the last digit
  const int kk = exponent + 1;       // digits before the decimal point
  if (k >= 0 && kk <= max_digits_before_point) {
    for (int i = 0; i < n; ++i) *o++ = digits[i];
    for (int i = 0; i < k; ++i) *o++ = '0';
    *o++ = '.';
    *o++ = '0';
  } else if (kk > 0 && kk <= max_digits_before_point) {
    for (int i = 0; i < n; ++i) {
      if (i == kk) *o++ = '.';
      *o++ = digits[i];
    }
  } else if (kk > -5 && kk <= 0) {
    *o++ = '0';
    *o++ = '.';
    for (int i = 0; i < -kk; ++i) *o++ = '0';
    for (int i = 0; i < n; ++i) *o++ = digits[i];
  } else {
    *o++ = digits[0];
    if (n > 1) {
      *o++ = '.';
      for (int i = 1; i < n; ++i) *o++ = digits[i];
    }
    *o++ = 'e';
    auto [exp_end, exp_ec] = std::to_chars(o, o + 8, kk - 1);
    (void)exp_ec;
    o = exp_end;
  }
  return static_cast<size_t>(o - out);
}

}  // namespace

void JsonWriter::Double(double v) {
  if (!std::isfinite(v)) {
    writer_.Null();
    return;
  }
  char buf[64];
  const size_t n = FormatShortest(v, 16, buf);
  writer_.RawValue(buf, n, rapidjson::kNumberType);
}

void JsonWriter::Float(float v) {
  if (!std::isfinite(v)) {
    writer_.Null();
    return;
  }
  char buf[64];
  const size_t n = FormatShortest(v, 13, buf);
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
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          writer_.StartArray();
          for (const auto& s : v) String(s);
          writer_.EndArray();
        } else {
          static_assert(std::is_same_v<T, SparseVector>);
          SparseVectorJson(v);
        }
      },
      value);
}

// Chroma Cloud's tagged form, which every client reads back as a sparse vector. Values are
// float32: written with the shortest digits that read back as the same float.
void JsonWriter::SparseVectorJson(const SparseVector& v) {
  writer_.StartObject();
  Key("#type");
  String("sparse_vector");
  Key("indices");
  writer_.StartArray();
  for (uint32_t index : v.indices) writer_.Uint(index);
  writer_.EndArray();
  Key("values");
  writer_.StartArray();
  for (float f : v.values) Float(f);
  writer_.EndArray();
  if (!v.tokens.empty()) {
    Key("tokens");
    writer_.StartArray();
    for (const std::string& s : v.tokens) String(s);
    writer_.EndArray();
  }
  writer_.EndObject();
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

void WriteVectorIndexStats(JsonWriter& w, const VectorIndexStats& stats) {
  auto count = [&](std::string_view key, uint64_t value) {
    w.Key(key);
    w.Uint64(value);
  };
  auto number = [&](std::string_view key, double value) {
    w.Key(key);
    w.Double(value);
  };
  auto flag = [&](std::string_view key, bool value) {
    w.Key(key);
    w.Bool(value);
  };
  const bool exact = !stats.active || stats.plan == VectorIndexStats::Plan::kExactScan;
  w.StartObject();
  flag("active", stats.active);
  count("indexed_rows", stats.indexed_rows);
  count("pending_rows", stats.pending_rows);
  count("clusters", stats.clusters);
  w.Key("default_search");
  w.StartObject();
  w.Key("plan");
  w.String(exact ? "exact_scan" : "index");
  count("probes", stats.default_probes);
  count("rerank_factor", stats.default_rerank_factor);
  count("int8_scan_rows", stats.scan_copy_rows);
  count("int8_scan_fallbacks", stats.scan_copy_fallbacks);
  w.EndObject();
  w.Key("calibration");
  w.StartObject();
  flag("calibrated", stats.calibrated);
  number("recall_target", stats.recall_target);
  count("sample_queries", stats.calibration_queries);
  number("recall", stats.calibrated_recall);
  number("recall_lower_bound", stats.calibrated_recall_lower_bound);
  count("rows", stats.calibrated_rows);
  w.EndObject();
  w.Key("monitor");
  w.StartObject();
  count("samples", stats.monitored_samples);
  number("recall", stats.monitored_recall);
  number("recall_lower_bound", stats.monitored_recall_lower_bound);
  count("discarded", stats.monitor_discarded);
  flag("below_target", stats.recall_below_target);
  w.EndObject();
  w.Key("vectors");
  w.StartObject();
  count("hot", stats.hot_vectors);
  count("cold", stats.cold_vectors);
  count("cold_parts", stats.cold_parts);
  count("memory_bytes", stats.vector_memory_bytes);
  count("index_memory_bytes", stats.index_memory_bytes);
  w.EndObject();
  w.Key("background");
  w.StartObject();
  count("consecutive_failures", stats.background_failures);
  w.Key("last_error");
  if (stats.background_error.empty()) {
    w.Null();
  } else {
    w.String(stats.background_error);
  }
  w.EndObject();
  w.EndObject();
}

}  // namespace fathom::server
