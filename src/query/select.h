// Selection: the first step of every read plan. Ids and filters become the slots a read
// touches, in slot (insertion) order:
//   get / delete by filter:  ids ∩ where ∩ where_document, then offset and limit;
//   query (k-NN):            the candidate set the ranking runs over.
//
// Plan choice for a paged selection (docs/design/query-layer.md): with a small limit and
// a filter that matches many rows, walking the rows in order and testing each one
// (stopping at the limit) is cheaper than building the whole match bitmap; with a small
// limit and one selective field leaf or numeric range, walking its slots in slot order
// from the index (a range through the number column's slot-ordered blocks) and checking
// the rest per slot against bitmaps or the row ("driver") is; otherwise the filter is
// evaluated on the metadata index and only document predicates are tested row by row,
// lazily, as the page fills.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fathom/status.h"
#include "index/meta/filter.h"
#include "query/row_source.h"

namespace fathom {

struct Selection {
  const std::vector<std::string>* ids = nullptr;  // restrict to these ids; null = all
  const CompiledFilter* filter = nullptr;         // null or empty = no filter
  uint64_t offset = 0;
  uint64_t limit = UINT64_MAX;
};

// How SelectSlots ran (for tests and stats).
enum class SelectPlan : uint8_t { kAll, kRowScan, kBitmap, kDriver, kRangeDriver };

// The selected slots of live records, in slot order, after offset and limit.
std::vector<uint32_t> SelectSlots(const RowSource& rows, const Selection& selection, SelectPlan* plan = nullptr);

// How many live records the selection's ids and filter select (offset and limit
// ignored), without listing them: a filter of one numeric range or one positive field
// leaf is counted on the metadata index directly; otherwise the indexed part of the
// filter becomes one bitmap and its cardinality is taken, and predicates the index cannot
// answer are tested per candidate.
uint64_t CountSlots(const RowSource& rows, const Selection& selection);

// The candidate slots of a k-NN query over `ids` (every one must exist: NotFound naming
// the first missing id otherwise) and `filter`; nullopt when every live row is one.
Result<std::optional<std::vector<uint32_t>>> QueryCandidates(const RowSource& rows,
                                                             const std::optional<std::vector<std::string>>& ids,
                                                             const CompiledFilter& filter);

}  // namespace fathom
