#include "server/base64.h"

#include <array>

namespace fathom::server {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr uint8_t kInvalid = 0xFF;

constexpr std::array<uint8_t, 256> MakeDecodeTable() {
  std::array<uint8_t, 256> table{};
  for (auto& v : table) v = kInvalid;
  for (uint8_t i = 0; i < 64; ++i) table[static_cast<uint8_t>(kAlphabet[i])] = i;
  return table;
}

constexpr std::array<uint8_t, 256> kDecode = MakeDecodeTable();

std::string InvalidSymbol(uint8_t byte, size_t offset, bool last) {
  return std::string(last ? "Invalid last symbol " : "Invalid symbol ") + std::to_string(byte) +
         ", offset " + std::to_string(offset) + ".";
}

}  // namespace

bool Base64Decode(std::string_view text, std::vector<uint8_t>& out, std::string& error) {
  const size_t n = text.size();
  if (n == 0) return true;
  if (n % 4 == 1) {
    error = "Invalid input length.";
    return false;
  }
  // Symbols before the final quantum cannot be padding; find where padding starts.
  size_t pad = 0;
  if (n % 4 == 0) {
    if (text[n - 1] == '=') ++pad;
    if (text[n - 2] == '=') ++pad;
  }
  const size_t data_len = n - pad;
  for (size_t i = 0; i < data_len; ++i) {
    const uint8_t c = static_cast<uint8_t>(text[i]);
    if (kDecode[c] == kInvalid) {
      if (c == '=') {
        error = "Invalid padding";
        return false;
      }
      error = InvalidSymbol(c, i, false);
      return false;
    }
  }
  if (n % 4 != 0) {
    // Unpadded input: the STANDARD engine requires canonical padding.
    error = "Invalid padding";
    return false;
  }
  out.reserve(out.size() + data_len * 3 / 4);
  size_t i = 0;
  for (; i + 4 <= data_len; i += 4) {
    const uint32_t v = (uint32_t{kDecode[static_cast<uint8_t>(text[i])]} << 18) |
                       (uint32_t{kDecode[static_cast<uint8_t>(text[i + 1])]} << 12) |
                       (uint32_t{kDecode[static_cast<uint8_t>(text[i + 2])]} << 6) |
                       uint32_t{kDecode[static_cast<uint8_t>(text[i + 3])]};
    out.push_back(static_cast<uint8_t>(v >> 16));
    out.push_back(static_cast<uint8_t>(v >> 8));
    out.push_back(static_cast<uint8_t>(v));
  }
  const size_t rest = data_len - i;  // 0, 2 or 3 symbols before the padding
  if (rest == 1) {
    error = "Invalid padding";
    return false;
  }
  if (rest == 2) {
    const uint8_t a = kDecode[static_cast<uint8_t>(text[i])];
    const uint8_t b = kDecode[static_cast<uint8_t>(text[i + 1])];
    if ((b & 0x0F) != 0) {
      error = InvalidSymbol(static_cast<uint8_t>(text[i + 1]), i + 1, true);
      return false;
    }
    out.push_back(static_cast<uint8_t>((a << 2) | (b >> 4)));
  } else if (rest == 3) {
    const uint8_t a = kDecode[static_cast<uint8_t>(text[i])];
    const uint8_t b = kDecode[static_cast<uint8_t>(text[i + 1])];
    const uint8_t c = kDecode[static_cast<uint8_t>(text[i + 2])];
    if ((c & 0x03) != 0) {
      error = InvalidSymbol(static_cast<uint8_t>(text[i + 2]), i + 2, true);
      return false;
    }
    out.push_back(static_cast<uint8_t>((a << 2) | (b >> 4)));
    out.push_back(static_cast<uint8_t>(((b & 0x0F) << 4) | (c >> 2)));
  }
  return true;
}

std::string Base64Encode(const void* data, size_t size) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  std::string out;
  out.reserve((size + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= size; i += 3) {
    const uint32_t v = (uint32_t{bytes[i]} << 16) | (uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  if (size - i == 1) {
    const uint32_t v = uint32_t{bytes[i]} << 16;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out += "==";
  } else if (size - i == 2) {
    const uint32_t v = (uint32_t{bytes[i]} << 16) | (uint32_t{bytes[i + 1]} << 8);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back('=');
  }
  return out;
}

}  // namespace fathom::server
