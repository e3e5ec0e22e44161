// The schema gate: a filter is refused, before the engine sees it, when the collection's
// schema disabled the index Chroma would answer it with (chroma.md §3.5, "index enabled
// for a filtered key"). Applied to the `where` / `where_document` of get, query and
// delete and to the `filter` of each search, after the collection is found.
//
// As local Chroma 1.4.4 answers (docs/design/http-api.md, "Schema gate"):
//   - a metadata predicate on `key` whose operand is a string, integer, float or bool
//     needs that type's inverted index enabled for the key (the key's own declaration of
//     the type, else the defaults'): 400 `Cannot filter using metadata key 'author' with
//     type 'Str' because indexing is disabled` (types 'Str', 'Int', 'Float', 'Bool'). The
//     operand's type decides, not the stored values': `{"year": 2001.0}` asks the float
//     index. `$in` / `$nin` lists by their first element; `#id` is checked as a string key.
//   - a document predicate (in `where_document`, or `#document` inside `where`; an empty
//     `$and` / `$or` holds none) needs `#document`'s full-text index: 400 `Cannot filter using full-text search because
//     FTS indexing is disabled`.
// Clauses are checked depth first in order, `where` before `where_document`; the first
// refusal is reported. Collections without a schema of their own have every inverted
// index enabled, so nothing is refused.
//
// Thread-safety: a pure function.
#pragma once

#include <optional>

#include "fathom/types.h"
#include "server/collection_schema.h"
#include "server/errors.h"

namespace fathom::server {

// `schema` nullopt: the collection has the default schema (nothing to refuse).
ApiStatus CheckFilterIndexes(const std::optional<CollectionSchema>& schema, const std::optional<Where>& where,
                             const std::optional<WhereDocument>& where_document);

}  // namespace fathom::server
