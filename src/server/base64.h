// Standard base64 (RFC 4648, with `=` padding) decoding for embeddings sent as
// little-endian float32 bytes (chroma.md §1.8). Strict like Rust's base64 STANDARD engine,
// which Chroma uses: padding is required, trailing bits must be zero.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fathom::server {

// Appends the decoded bytes to `out`. On failure returns false and sets `error` to the
// base64 crate's wording, e.g. "Invalid padding" or "Invalid symbol 33, offset 2.".
bool Base64Decode(std::string_view text, std::vector<uint8_t>& out, std::string& error);

// Encodes bytes as padded standard base64 (tests and the load client).
std::string Base64Encode(const void* data, size_t size);

}  // namespace fathom::server
