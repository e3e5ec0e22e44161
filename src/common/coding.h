// Little-endian fixed-width and varint encoding, and a bounds-checked decoder.
//
// Every on-object format in docs/format/ is built from these primitives. The decoder never
// reads past its input: each Get* returns false on underflow or an over-long varint, and
// callers turn that into Corruption. Not thread-safe (plain cursors).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace fathom {

// ---- encoding (appends to a std::string buffer) ----
inline void PutFixed16(std::string* dst, uint16_t v) {
  char b[2] = {static_cast<char>(v), static_cast<char>(v >> 8)};
  dst->append(b, 2);
}
inline void PutFixed32(std::string* dst, uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>(v >> (8 * i));
  dst->append(b, 4);
}
inline void PutFixed64(std::string* dst, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (8 * i));
  dst->append(b, 8);
}
inline void PutVarint64(std::string* dst, uint64_t v) {
  char b[10];
  int n = 0;
  while (v >= 0x80) {
    b[n++] = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  b[n++] = static_cast<char>(v);
  dst->append(b, n);
}
inline void PutLengthPrefixed(std::string* dst, std::string_view s) {
  PutVarint64(dst, s.size());
  dst->append(s.data(), s.size());
}
inline void PutDouble(std::string* dst, double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, 8);
  PutFixed64(dst, bits);
}
// Float arrays are stored as raw little-endian IEEE-754 (x86-64 and AArch64 are LE).
inline void PutFloats(std::string* dst, const float* v, size_t n) {
  static_assert(sizeof(float) == 4);
  dst->append(reinterpret_cast<const char*>(v), n * 4);
}

inline void EncodeFixed32(char* dst, uint32_t v) {
  for (int i = 0; i < 4; ++i) dst[i] = static_cast<char>(v >> (8 * i));
}
inline void EncodeFixed64(char* dst, uint64_t v) {
  for (int i = 0; i < 8; ++i) dst[i] = static_cast<char>(v >> (8 * i));
}
inline uint16_t DecodeFixed16(const char* p) {
  return static_cast<uint16_t>(static_cast<uint8_t>(p[0]) | (static_cast<uint8_t>(p[1]) << 8));
}
inline uint32_t DecodeFixed32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}
inline uint64_t DecodeFixed64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

// A number as 20 decimal digits with leading zeros, so that byte order of object keys is
// numeric order (20 digits hold any uint64).
inline std::string FixedWidthNumber(uint64_t v) {
  std::string out(20, '0');
  for (int i = 19; i >= 0 && v != 0; --i, v /= 10) out[i] = static_cast<char>('0' + v % 10);
  return out;
}

// ---- decoding ----
class Decoder {
 public:
  explicit Decoder(std::string_view input) : data_(input) {}

  size_t remaining() const { return data_.size() - pos_; }
  size_t position() const { return pos_; }
  bool empty() const { return remaining() == 0; }

  bool GetU8(uint8_t* v) {
    if (remaining() < 1) return false;
    *v = static_cast<uint8_t>(data_[pos_++]);
    return true;
  }
  bool GetFixed16(uint16_t* v) {
    if (remaining() < 2) return false;
    *v = DecodeFixed16(data_.data() + pos_);
    pos_ += 2;
    return true;
  }
  bool GetFixed32(uint32_t* v) {
    if (remaining() < 4) return false;
    *v = DecodeFixed32(data_.data() + pos_);
    pos_ += 4;
    return true;
  }
  bool GetFixed64(uint64_t* v) {
    if (remaining() < 8) return false;
    *v = DecodeFixed64(data_.data() + pos_);
    pos_ += 8;
    return true;
  }
  bool GetVarint64(uint64_t* v) {
    uint64_t result = 0;
    for (int shift = 0; shift <= 63; shift += 7) {
      if (remaining() < 1) return false;
      uint8_t byte = static_cast<uint8_t>(data_[pos_++]);
      if (shift == 63 && byte > 1) return false;  // would overflow 64 bits
      result |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) {
        *v = result;
        return true;
      }
    }
    return false;
  }
  bool GetDouble(double* v) {
    uint64_t bits;
    if (!GetFixed64(&bits)) return false;
    std::memcpy(v, &bits, 8);
    return true;
  }
  // A view into the input (valid while the input is).
  bool GetBytes(size_t n, std::string_view* out) {
    if (remaining() < n) return false;
    *out = data_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool GetLengthPrefixed(std::string_view* out, size_t max_bytes) {
    uint64_t n;
    if (!GetVarint64(&n) || n > max_bytes) return false;
    return GetBytes(static_cast<size_t>(n), out);
  }
  bool GetFloats(size_t n, float* out) {
    if (n == 0) return true;  // `out` may be null then (an empty vector's data())
    if (n > remaining() / 4) return false;
    std::memcpy(out, data_.data() + pos_, n * 4);
    pos_ += n * 4;
    return true;
  }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

}  // namespace fathom
