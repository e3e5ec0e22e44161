#include "common/value_coding.h"

#include <cmath>
#include <type_traits>
#include <variant>

#include "common/limits.h"

namespace fathom {

namespace {

template <typename T>
void EncodeScalar(std::string* dst, const T& v) {
  if constexpr (std::is_same_v<T, bool>) {
    dst->push_back(v ? 1 : 0);
  } else if constexpr (std::is_same_v<T, int64_t>) {
    PutFixed64(dst, static_cast<uint64_t>(v));
  } else if constexpr (std::is_same_v<T, double>) {
    PutDouble(dst, v);
  } else {
    PutLengthPrefixed(dst, v);
  }
}

template <typename T>
void EncodeArray(std::string* dst, const std::vector<T>& values) {
  PutVarint64(dst, values.size());
  for (const auto& v : values) EncodeScalar<T>(dst, v);
}

template <typename T>
bool DecodeScalar(Decoder* in, T* out) {
  if constexpr (std::is_same_v<T, bool>) {
    uint8_t b;
    if (!in->GetU8(&b) || b > 1) return false;
    *out = b == 1;
    return true;
  } else if constexpr (std::is_same_v<T, int64_t>) {
    uint64_t u;
    if (!in->GetFixed64(&u)) return false;
    *out = static_cast<int64_t>(u);
    return true;
  } else if constexpr (std::is_same_v<T, double>) {
    return in->GetDouble(out);
  } else {
    std::string_view s;
    if (!in->GetLengthPrefixed(&s, limits::kMetadataStringBytesMax)) return false;
    out->assign(s);
    return true;
  }
}

// The fewest bytes one array element takes: the count is checked against the bytes left
// before anything is reserved.
template <typename T>
constexpr size_t MinEncodedBytes() {
  if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, double>) return 8;
  return 1;  // a bool, or an empty string's length byte
}

template <typename T>
bool DecodeArray(Decoder* in, std::vector<T>* out) {
  uint64_t n;
  if (!in->GetVarint64(&n) || n > limits::kMetadataArrayLengthMax || n > in->remaining() / MinEncodedBytes<T>()) {
    return false;
  }
  out->clear();
  out->reserve(static_cast<size_t>(n));
  for (uint64_t i = 0; i < n; ++i) {
    T v{};
    if (!DecodeScalar(in, &v)) return false;
    out->push_back(std::move(v));
  }
  return true;
}

bool DecodeKey(Decoder* in, std::string* key) {
  std::string_view k;
  if (!in->GetLengthPrefixed(&k, limits::kMetadataKeyBytesMax)) return false;
  key->assign(k);
  return true;
}

Status OverLimit(std::string_view what, size_t got, const char* limit_name, size_t limit) {
  return Status::InvalidArgument(std::string(what) + ": " + std::to_string(got) + " exceeds " + limit_name + " (" +
                                 std::to_string(limit) + ")");
}

Status CheckKey(std::string_view key) {
  if (key.size() > limits::kMetadataKeyBytesMax) {
    return OverLimit("bytes of a metadata key", key.size(), "limits::kMetadataKeyBytesMax",
                     limits::kMetadataKeyBytesMax);
  }
  return Status::Ok();
}

// Sparse vector payload: varint n, n fixed32 indices, n fixed32 float bit patterns, one
// byte 0 (no tokens) or 1 (n length-prefixed tokens). CheckSparseVector ran first.
void EncodeSparse(std::string* dst, const SparseVector& v) {
  PutVarint64(dst, v.indices.size());
  for (uint32_t index : v.indices) PutFixed32(dst, index);
  if (!v.values.empty()) PutFloats(dst, v.values.data(), v.values.size());
  dst->push_back(v.tokens.empty() ? 0 : 1);
  for (const std::string& token : v.tokens) PutLengthPrefixed(dst, token);
}

bool DecodeSparse(Decoder* in, SparseVector* out) {
  uint64_t n;
  uint8_t has_tokens;
  if (!in->GetVarint64(&n) || n > limits::kSparseVectorLengthMax || n > in->remaining() / 8) return false;
  out->indices.resize(static_cast<size_t>(n));
  out->values.resize(static_cast<size_t>(n));
  for (uint32_t& index : out->indices) {
    if (!in->GetFixed32(&index)) return false;
  }
  if ((n > 0 && !in->GetFloats(static_cast<size_t>(n), out->values.data())) || !in->GetU8(&has_tokens) ||
      has_tokens > 1) {
    return false;
  }
  out->tokens.clear();
  if (has_tokens == 1) {
    out->tokens.resize(static_cast<size_t>(n));
    for (std::string& token : out->tokens) {
      if (!DecodeScalar(in, &token)) return false;
    }
  }
  return CheckSparseVector(*out).ok();
}

}  // namespace

Status CheckSparseVector(const SparseVector& vector) {
  const size_t n = vector.indices.size();
  // The first two messages are Chroma's (rust/types SparseVector::validate).
  if (n != vector.values.size() || (!vector.tokens.empty() && vector.tokens.size() != n)) {
    return Status::InvalidArgument(
        "Sparse vector indices, values, and tokens (when present) must have the same length");
  }
  if (n > limits::kSparseVectorLengthMax) {
    return OverLimit("nonzero dimensions of a sparse vector", n, "limits::kSparseVectorLengthMax",
                     limits::kSparseVectorLengthMax);
  }
  for (size_t i = 1; i < n; ++i) {
    if (vector.indices[i] <= vector.indices[i - 1]) {
      return Status::InvalidArgument("Sparse vector indices must be sorted in strictly ascending order (no duplicates)");
    }
  }
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(vector.values[i])) {
      return Status::InvalidArgument("Sparse vector values must be finite numbers (position " + std::to_string(i) +
                                     ")");
    }
  }
  for (const std::string& token : vector.tokens) {
    if (token.size() > limits::kMetadataStringBytesMax) {
      return OverLimit("bytes of a sparse vector token", token.size(), "limits::kMetadataStringBytesMax",
                       limits::kMetadataStringBytesMax);
    }
  }
  return Status::Ok();
}

Status CheckMetadataValueLimits(std::string_view key, const MetadataValue& value) {
  auto string_too_long = [key](size_t bytes) {
    return OverLimit("bytes of the metadata string of key '" + std::string(key.substr(0, 64)) + "'", bytes,
                     "limits::kMetadataStringBytesMax", limits::kMetadataStringBytesMax);
  };
  if (const auto* s = std::get_if<std::string>(&value)) {
    if (s->size() > limits::kMetadataStringBytesMax) return string_too_long(s->size());
    return Status::Ok();
  }
  if (const auto* sparse = std::get_if<SparseVector>(&value)) {
    if (Status s = CheckSparseVector(*sparse); !s.ok()) {
      return Status::InvalidArgument("metadata key '" + std::string(key.substr(0, 64)) + "': " + s.message());
    }
    return Status::Ok();
  }
  size_t length = 0;
  std::visit(
      [&length](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (!std::is_same_v<T, bool> && !std::is_same_v<T, int64_t> && !std::is_same_v<T, double> &&
                      !std::is_same_v<T, std::string> && !std::is_same_v<T, SparseVector>) {
          length = v.size();
        }
      },
      value);
  if (length > limits::kMetadataArrayLengthMax) {
    return OverLimit("length of the metadata array of key '" + std::string(key.substr(0, 64)) + "'", length,
                     "limits::kMetadataArrayLengthMax", limits::kMetadataArrayLengthMax);
  }
  if (const auto* strings = std::get_if<std::vector<std::string>>(&value)) {
    for (const std::string& s : *strings) {
      if (s.size() > limits::kMetadataStringBytesMax) return string_too_long(s.size());
    }
  }
  return Status::Ok();
}

Status CheckMetadataLimits(const Metadata& metadata) {
  if (metadata.size() > limits::kMetadataKeysMax) {
    return OverLimit("metadata keys", metadata.size(), "limits::kMetadataKeysMax", limits::kMetadataKeysMax);
  }
  for (const auto& [key, value] : metadata) {
    FATHOM_RETURN_IF_ERROR(CheckKey(key));
    FATHOM_RETURN_IF_ERROR(CheckMetadataValueLimits(key, value));
  }
  return Status::Ok();
}

Status CheckMetadataPatchLimits(const MetadataPatch& patch) {
  if (patch.size() > limits::kMetadataKeysMax) {
    return OverLimit("metadata keys", patch.size(), "limits::kMetadataKeysMax", limits::kMetadataKeysMax);
  }
  for (const auto& [key, value] : patch) {
    FATHOM_RETURN_IF_ERROR(CheckKey(key));
    if (value) FATHOM_RETURN_IF_ERROR(CheckMetadataValueLimits(key, *value));
  }
  return Status::Ok();
}

namespace {

void EncodeValueUnchecked(std::string* dst, const MetadataValue& value) {
  dst->push_back(static_cast<char>(value.index() + 1));  // tags 1..9 follow the variant order
  std::visit(
      [dst](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, int64_t> || std::is_same_v<T, double> ||
                      std::is_same_v<T, std::string>) {
          EncodeScalar<T>(dst, v);
        } else if constexpr (std::is_same_v<T, SparseVector>) {
          EncodeSparse(dst, v);
        } else {
          EncodeArray(dst, v);
        }
      },
      value);
}

}  // namespace

Status EncodeMetadataValue(std::string* dst, const MetadataValue& value) {
  FATHOM_RETURN_IF_ERROR(CheckMetadataValueLimits("", value));
  EncodeValueUnchecked(dst, value);
  return Status::Ok();
}

bool DecodeMetadataValue(Decoder* in, ValueTag tag, MetadataValue* out) {
  switch (tag) {
    case ValueTag::kBool: { bool v; if (!DecodeScalar(in, &v)) return false; *out = v; return true; }
    case ValueTag::kInt: { int64_t v; if (!DecodeScalar(in, &v)) return false; *out = v; return true; }
    case ValueTag::kDouble: { double v; if (!DecodeScalar(in, &v)) return false; *out = v; return true; }
    case ValueTag::kString: { std::string v; if (!DecodeScalar(in, &v)) return false; *out = std::move(v); return true; }
    case ValueTag::kBoolArray: { std::vector<bool> v; if (!DecodeArray(in, &v)) return false; *out = std::move(v); return true; }
    case ValueTag::kIntArray: { std::vector<int64_t> v; if (!DecodeArray(in, &v)) return false; *out = std::move(v); return true; }
    case ValueTag::kDoubleArray: { std::vector<double> v; if (!DecodeArray(in, &v)) return false; *out = std::move(v); return true; }
    case ValueTag::kStringArray: { std::vector<std::string> v; if (!DecodeArray(in, &v)) return false; *out = std::move(v); return true; }
    case ValueTag::kSparseVector: { SparseVector v; if (!DecodeSparse(in, &v)) return false; *out = std::move(v); return true; }
    case ValueTag::kDeleteKey: return false;
  }
  return false;
}

Status EncodeMetadata(std::string* dst, const Metadata& metadata) {
  FATHOM_RETURN_IF_ERROR(CheckMetadataLimits(metadata));
  PutVarint64(dst, metadata.size());
  for (const auto& [key, value] : metadata) {
    PutLengthPrefixed(dst, key);
    EncodeValueUnchecked(dst, value);
  }
  return Status::Ok();
}

bool DecodeMetadata(Decoder* in, Metadata* out) {
  uint64_t n;
  if (!in->GetVarint64(&n) || n > limits::kMetadataKeysMax) return false;
  out->clear();
  std::string previous;
  for (uint64_t i = 0; i < n; ++i) {
    std::string key;
    uint8_t tag;
    MetadataValue value;
    if (!DecodeKey(in, &key) || !in->GetU8(&tag)) return false;
    if (i > 0 && key <= previous) return false;  // keys are written sorted and unique
    if (!DecodeMetadataValue(in, static_cast<ValueTag>(tag), &value)) return false;
    previous = key;
    out->emplace_hint(out->end(), std::move(key), std::move(value));
  }
  return true;
}

Status EncodeMetadataPatch(std::string* dst, const MetadataPatch& patch) {
  FATHOM_RETURN_IF_ERROR(CheckMetadataPatchLimits(patch));
  PutVarint64(dst, patch.size());
  for (const auto& [key, value] : patch) {
    PutLengthPrefixed(dst, key);
    if (value) {
      EncodeValueUnchecked(dst, *value);
    } else {
      dst->push_back(static_cast<char>(ValueTag::kDeleteKey));
    }
  }
  return Status::Ok();
}

bool DecodeMetadataPatch(Decoder* in, MetadataPatch* out) {
  uint64_t n;
  if (!in->GetVarint64(&n) || n > limits::kMetadataKeysMax) return false;
  out->clear();
  for (uint64_t i = 0; i < n; ++i) {
    std::string key;
    uint8_t tag;
    if (!DecodeKey(in, &key) || !in->GetU8(&tag)) return false;
    if (tag == static_cast<uint8_t>(ValueTag::kDeleteKey)) {
      (*out)[key] = std::nullopt;
      continue;
    }
    MetadataValue value;
    if (!DecodeMetadataValue(in, static_cast<ValueTag>(tag), &value)) return false;
    (*out)[key] = std::move(value);
  }
  return true;
}

}  // namespace fathom
