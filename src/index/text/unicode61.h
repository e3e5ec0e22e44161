// unicode61: fathom's re-implementation of SQLite FTS5's `unicode61` tokenizer, the
// default of the text analyzer (index/text/analyzer.h, docs/design/text-analyzer.md).
//
// Scan() splits text into tokens exactly as FTS5 3.40 does, byte for byte, including on
// invalid UTF-8: a token starts at a letter, number or private-use character (Unicode L*,
// N*, Co, and whatever FTS5's table leaves unassigned), continues through those and the
// combining marks FTS5 calls diacritics, and is written lower case with one diacritic
// removed (per unicode61_tables.cc, generated from FTS5 itself). Tokens are cut to
// kTokenBytesMax bytes as FTS5 stores them. Thread-safety: stateless; Scan is reentrant.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "index/text/unicode61_tables.h"

namespace fathom::unicode61 {

// FTS5 stores at most this many bytes of a token (FTS5_MAX_TOKEN_SIZE) and silently drops
// the rest, even in the middle of a UTF-8 sequence; fathom cuts tokens at the same place.
inline constexpr size_t kTokenBytesMax = 32768;

// What one byte means when it is read where a character starts.
enum ByteKind : uint8_t {
  kAsciiSeparator = 0,
  kAsciiToken = 1,      // a-z, 0-9: written as is
  kAsciiUpper = 2,      // A-Z: written lower case
  kNonAscii = 3,        // 0x80..0xFF: decoded with ReadUtf8, then looked up
};

inline constexpr std::array<uint8_t, 256> kByteKinds = [] {
  std::array<uint8_t, 256> kinds{};
  for (int b = 0; b < 256; ++b) {
    if (b >= 0x80) kinds[b] = kNonAscii;
    else if (b >= 'A' && b <= 'Z') kinds[b] = kAsciiUpper;
    else if ((b >= 'a' && b <= 'z') || (b >= '0' && b <= '9')) kinds[b] = kAsciiToken;
    else kinds[b] = kAsciiSeparator;
  }
  return kinds;
}();

// FTS5's READ_UTF8 (sqlite3Utf8Trans1 + continuation bytes), reproduced with its quirks
// because they decide the tokens of invalid input: a lead byte takes every continuation
// byte that follows, however many (the value wraps modulo 2^32); a stray continuation
// byte 0x80..0xBF reads as the code point of the same value; overlong values below 0x80,
// surrogates and U+FFFE/U+FFFF read as U+FFFD. Never reads at or past `end`. `*p` points
// at a byte >= 0x80 and `*p < end`.
inline uint32_t ReadUtf8(const uint8_t*& p, const uint8_t* end) {
  static constexpr uint8_t kLeadBits[64] = {
      0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c,
      0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19,
      0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
      0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x00, 0x01, 0x02, 0x03,
      0x04, 0x05, 0x06, 0x07, 0x00, 0x01, 0x02, 0x03, 0x00, 0x01, 0x00, 0x00,
  };
  uint32_t c = *p++;
  if (c >= 0xC0) {
    c = kLeadBits[c - 0xC0];
    while (p < end && (*p & 0xC0) == 0x80) c = (c << 6) + (0x3F & *p++);
    if (c < 0x80 || (c & 0xFFFFF800) == 0xD800 || (c & 0xFFFFFFFE) == 0xFFFE) c = 0xFFFD;
  }
  return c;
}

// The bytes of one token being folded. Short tokens stay in an inline array; longer ones
// move to the heap once per Scan call; bytes past kTokenBytesMax are dropped.
class TokenBuffer {
 public:
  TokenBuffer() = default;
  TokenBuffer(const TokenBuffer&) = delete;
  TokenBuffer& operator=(const TokenBuffer&) = delete;

  void Clear() { size_ = 0; }
  void Push(char c) {
    if (size_ < capacity_) {
      data_[size_++] = c;
    } else {
      PushSlow(c);
    }
  }
  // FTS5's WRITE_UTF8, including its masking of values past U+10FFFF into four bytes.
  void PushUtf8(uint32_t c) {
    if (c < 0x80) {
      Push(static_cast<char>(c));
    } else if (c < 0x800) {
      Push(static_cast<char>(0xC0 + ((c >> 6) & 0x1F)));
      Push(static_cast<char>(0x80 + (c & 0x3F)));
    } else if (c < 0x10000) {
      Push(static_cast<char>(0xE0 + ((c >> 12) & 0x0F)));
      Push(static_cast<char>(0x80 + ((c >> 6) & 0x3F)));
      Push(static_cast<char>(0x80 + (c & 0x3F)));
    } else {
      Push(static_cast<char>(0xF0 + ((c >> 18) & 0x07)));
      Push(static_cast<char>(0x80 + ((c >> 12) & 0x3F)));
      Push(static_cast<char>(0x80 + ((c >> 6) & 0x3F)));
      Push(static_cast<char>(0x80 + (c & 0x3F)));
    }
  }
  std::string_view view() const { return {data_, size_}; }

 private:
  static constexpr size_t kInlineBytes = 256;

  void PushSlow(char c) {
    if (size_ >= kTokenBytesMax) return;
    size_t capacity = capacity_ * 2 < kTokenBytesMax ? capacity_ * 2 : kTokenBytesMax;
    std::string grown(capacity, '\0');
    std::memcpy(grown.data(), data_, size_);
    heap_ = std::move(grown);
    data_ = heap_.data();
    capacity_ = capacity;
    data_[size_++] = c;
  }

  char inline_[kInlineBytes];
  std::string heap_;
  char* data_ = inline_;
  size_t size_ = 0;
  size_t capacity_ = kInlineBytes;
};

// Appends the fold of a token character (cp with table value `value`) to `buffer`.
inline void PushFolded(TokenBuffer& buffer, uint32_t cp, int32_t value) {
  uint32_t folded = cp + static_cast<uint32_t>(value >> 2);
  if (folded != 0) buffer.PushUtf8(folded);
}

// Calls emit(std::string_view token) for each token of `text`, in order. The view is
// valid only during the call. Pure lower-case ASCII tokens are views into `text` (no
// copy); others are folded into a buffer that lives on this call's stack.
template <class Emit>
void Scan(std::string_view text, const FoldTable& table, Emit&& emit) {
  const uint8_t* p = reinterpret_cast<const uint8_t*>(text.data());
  const uint8_t* const end = p + text.size();
  TokenBuffer buffer;
  for (;;) {
    // Skip separators. A non-ASCII character that does not start a token is skipped even
    // if it is a combining mark: FTS5 lets those continue a token, never begin one.
    uint32_t cp = 0;
    int32_t value = 0;
    bool ascii_start = false;
    for (;;) {
      if (p == end) return;
      uint8_t kind = kByteKinds[*p];
      if (kind == kAsciiSeparator) {
        ++p;
      } else if (kind != kNonAscii) {
        ascii_start = true;
        break;
      } else {
        cp = ReadUtf8(p, end);
        value = Lookup(table, cp);
        if (value & kStartsToken) break;
      }
    }
    buffer.Clear();
    if (ascii_start) {
      // The common case: a run of ASCII letters and digits.
      const uint8_t* start = p;
      uint8_t kinds = 0;
      uint8_t kind;
      // kind - 1 < 2 (unsigned): kAsciiToken or kAsciiUpper, in one comparison.
      while (p != end && static_cast<uint8_t>((kind = kByteKinds[*p]) - 1) < 2) {
        kinds |= kind;
        ++p;
      }
      size_t length = static_cast<size_t>(p - start);
      bool whole = p == end || kByteKinds[*p] == kAsciiSeparator;
      if (whole && (kinds & kAsciiUpper) == 0) {
        emit(std::string_view(reinterpret_cast<const char*>(start),
                              length < kTokenBytesMax ? length : kTokenBytesMax));
        continue;
      }
      for (const uint8_t* q = start; q != p; ++q) {
        buffer.Push(static_cast<char>(kByteKinds[*q] == kAsciiUpper ? *q + 32 : *q));
      }
      if (whole) {
        emit(buffer.view());
        continue;
      }
    } else {
      PushFolded(buffer, cp, value);
    }
    // The general case: ASCII and non-ASCII characters mixed. A non-ASCII character that
    // ends the token is consumed here; it is a separator, so that is what skipping would
    // have done.
    while (p != end) {
      uint8_t b = *p;
      uint8_t kind = kByteKinds[b];
      if (kind == kAsciiSeparator) break;
      if (kind != kNonAscii) {
        buffer.Push(static_cast<char>(kind == kAsciiUpper ? b + 32 : b));
        ++p;
        continue;
      }
      cp = ReadUtf8(p, end);
      value = Lookup(table, cp);
      if ((value & kContinuesToken) == 0) break;
      PushFolded(buffer, cp, value);
    }
    emit(buffer.view());
  }
}

}  // namespace fathom::unicode61
