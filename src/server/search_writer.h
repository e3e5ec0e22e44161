// Writes the Search API's response (chroma.md §1.9): one entry per search in each column,
//   {"ids": [[id…]…], "documents": [[doc|null…]|null…], "embeddings": [[[f32…]|null…]|null…],
//    "metadatas": [[map|null…]|null…], "scores": [[f32|null…]|null…], "select": [[key…]…]}
// A column is null for a search that did not select it; `metadatas` is present when
// #metadata or any metadata field was selected. Thread-safety: a pure function.
#pragma once

#include <vector>

#include "fathom/search.h"
#include "server/json_writer.h"

namespace fathom::server {

void WriteSearchResults(JsonWriter& w, const std::vector<SearchResult>& results);

}  // namespace fathom::server
