// Parses the body of `POST .../collections/{id}/search` (chroma.md §1.9) into a
// fathom::SearchRequest, answering malformed bodies as Chroma 1.4.4 does
// (docs/design/search-api.md, "Observed Chroma answers"):
//   - shape errors (missing fields, wrong types, unknown rank tags) are 422
//     "Failed to deserialize the JSON body into the target type: <path>: <serde text>";
//     a rank or aggregate object without exactly one key is 400 "Failed to parse the
//     request body as JSON: <path>: expected value", as serde's untagged path reports it;
//   - semantic errors (unsorted sparse indices, group_by rules) are 400
//     "Validation error: <path>: <text>", every search's concatenated, after the whole
//     body decoded (so a 422 anywhere wins);
//   - fathom's bounds (kSearchesPerRequestMax, kRankDepthMax, kRankNodesMax,
//     kRankSearchLeavesMax, kSearchSelectKeysMax) are 400 InvalidArgumentError.
// Chroma does not report the line and column of the error; fathom omits them.
// Thread-safety: a pure function.
#pragma once

#include "fathom/search.h"
#include "server/errors.h"
#include "server/json_reader.h"

namespace fathom::server {

ApiResult<SearchRequest> ParseSearchRequest(JsonElement body);

}  // namespace fathom::server
