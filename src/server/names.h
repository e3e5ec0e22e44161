// Name and id rules of Chroma's API (chroma.md §1.1): collection and database names,
// tenant names, collection UUIDs in paths. Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "server/errors.h"

namespace fathom::server {

// Collection and database names: 3-512 characters from [a-zA-Z0-9._-], first and last
// alphanumeric, no "..", not an IPv4 address. Errors are 400 with Chroma's messages.
ApiStatus ValidateName(std::string_view name);
// Tenant names: at least 3 characters.
ApiStatus ValidateTenantName(std::string_view name);

// Parses a UUID in any form Rust's uuid crate accepts (hyphenated, simple, braced, urn)
// and returns it lower-case and hyphenated; nullopt when it is not a UUID.
std::optional<std::string> NormalizeUuid(std::string_view text);

}  // namespace fathom::server
