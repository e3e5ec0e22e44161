// Parses Chroma's `where` and `where_document` filter JSON into fathom::Where and
// fathom::WhereDocument (chroma.md §2), with every rule local Chroma checks:
// one key per object, `$and`/`$or` arrays, operand types per operator, the `$in` typing
// quirk, `#document` and `#id` keys, valid regular expressions.
//
// Errors are 400 InvalidArgumentError "Invalid where clause: <why>" or
// "Invalid where document clause: <why>". Thread-safety: pure functions.
#pragma once

#include <string_view>

#include "fathom/types.h"
#include "server/errors.h"
#include "server/json_reader.h"

namespace fathom::server {

// The prefix of every syntax error ParseWhere reports.
inline constexpr std::string_view kInvalidWhereMessage = "Invalid where clause";

ApiResult<Where> ParseWhere(JsonElement value);
ApiResult<WhereDocument> ParseWhereDocument(JsonElement value);

}  // namespace fathom::server
