#include "server/names.h"

#include <cctype>

#include <fmt/format.h>

#include "common/limits.h"

namespace fathom::server {

namespace {

bool IsAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

bool IsIpv4Address(std::string_view s) {
  int parts = 0;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = i;
    int value = 0;
    while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) {
      value = value * 10 + (s[j] - '0');
      if (value > 255 || j - i >= 3) return false;
      ++j;
    }
    if (j == i) return false;
    ++parts;
    if (j == s.size()) break;
    if (s[j] != '.') return false;
    i = j + 1;
  }
  return parts == 4;
}

}  // namespace

ApiStatus ValidateName(std::string_view name) {
  const bool length_ok = name.size() >= fathom::limits::kNameLengthMin &&
                         name.size() <= fathom::limits::kNameLengthMax;
  bool chars_ok = length_ok && IsAlnum(name.front()) && IsAlnum(name.back());
  for (size_t i = 0; chars_ok && i < name.size(); ++i) {
    const char c = name[i];
    chars_ok = IsAlnum(c) || c == '.' || c == '_' || c == '-';
  }
  if (!chars_ok) {
    return ApiError::InvalidArgument(fmt::format(
        "Expected a name containing 3-512 characters from [a-zA-Z0-9._-], starting and ending with a "
        "character in [a-zA-Z0-9]. Got: {}", name));
  }
  if (name.find("..") != std::string_view::npos) {
    return ApiError::InvalidArgument(fmt::format(
        "Expected a name that does not contains two consecutive periods (..). Got: {}", name));
  }
  if (IsIpv4Address(name)) {
    return ApiError::InvalidArgument(
        fmt::format("Expected a name that is not a valid ip address. Got: {}", name));
  }
  return ApiStatus::Ok();
}

ApiStatus ValidateTenantName(std::string_view name) {
  if (name.size() < fathom::limits::kTenantNameLengthMin) {
    return ApiError::Validation("name", fmt::format("Tenant name must be at least {} characters long. Got: {}",
                                                    fathom::limits::kTenantNameLengthMin, name));
  }
  if (name.size() > fathom::limits::kTenantNameLengthMax) {
    return ApiError::Validation("name", fmt::format("Tenant name must be at most {} characters long",
                                                    fathom::limits::kTenantNameLengthMax));
  }
  return ApiStatus::Ok();
}

std::optional<std::string> NormalizeUuid(std::string_view text) {
  if (text.size() == 45 && text.substr(0, 9) == "urn:uuid:") text.remove_prefix(9);
  if (text.size() == 38 && text.front() == '{' && text.back() == '}') text = text.substr(1, 36);
  std::string hex;
  hex.reserve(32);
  if (text.size() == 36) {
    for (size_t i = 0; i < 36; ++i) {
      const bool dash_position = i == 8 || i == 13 || i == 18 || i == 23;
      if (dash_position) {
        if (text[i] != '-') return std::nullopt;
      } else {
        hex.push_back(text[i]);
      }
    }
  } else if (text.size() == 32) {
    hex.assign(text);
  } else {
    return std::nullopt;
  }
  std::string out;
  out.reserve(36);
  for (size_t i = 0; i < 32; ++i) {
    const char c = hex[i];
    if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
    if (i == 8 || i == 12 || i == 16 || i == 20) out.push_back('-');
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

}  // namespace fathom::server
