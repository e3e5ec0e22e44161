// Filter evaluation over bitmaps: a compiled where / where_document tree becomes the set
// of slots it matches, by algebra on the metadata index (docs/design/query-layer.md).
//
// Every node is evaluated *within* a candidate set: $and narrows it child by child (the
// most selective indexed child first, document predicates last, so they test few rows);
// $or evaluates each child within what is still unmatched; $ne, $nin and $not_contains
// are the candidates minus the positive match (so a record without the key matches, as
// Chroma decides). Document predicates are tested row by row on the candidates that
// reach them, narrowed first by the trigram index (index/text/trigram_index.h). The result equals CompiledFilter::MatchesNode on
// every candidate; filter_eval_test.cc checks that on random data.
#pragma once

#include <roaring/roaring.hh>

#include <optional>
#include <string>
#include <vector>

#include "index/meta/filter.h"
#include "query/row_source.h"

namespace fathom {

using FilterNode = CompiledFilter::Node;

// A set of slots borrowed from the metadata index (no copy) or owned.
class SlotSet {
 public:
  static SlotSet Borrow(const Roaring* r);  // null = empty
  static SlotSet Own(Roaring r);
  const Roaring& get() const { return ref_ != nullptr ? *ref_ : owned_; }

 private:
  const Roaring* ref_ = nullptr;
  Roaring owned_;
};

// The slots of the live records `ids` name (unknown ids are skipped; with `missing`, the
// first unknown id is reported there instead and the result is empty).
Roaring SlotsOfIds(const RowSource& rows, const std::vector<std::string>& ids, const std::string** missing);

// True for a leaf the metadata index answers without a complement: a field leaf whose
// operator is not $ne, $nin or $not_contains.
bool IsPositiveFieldLeaf(const FilterNode& node);
// The slots such a leaf matches over all indexed rows (the caller intersects with live
// or requested slots), and the estimated cost of getting them (row-test units). For a
// $contains of a string or bool the value's bitmap is borrowed as it is (scalars and
// array elements): `*also_in` then names the key's arrays, and a slot matches only when
// it is in both; otherwise `*also_in` is null and the set is exact.
SlotSet PositiveLeafSlots(const FilterNode& leaf, const RowSource& rows, const Roaring** also_in);
double EstimatePositiveLeafCost(const FilterNode& leaf, const RowSource& rows);

// A unit of a conjunction ($and's children): one child, or two or more range leaves on
// one key taken as one range (`$gte a` and `$lt b` become one walk of [a, b)).
// Whether evaluating `node` row by row reads the record's document (a document
// predicate in it): callers that know it does not take RowSource::metadata_view.
bool ReadsDocument(const FilterNode& node);

struct ConjunctUnit {
  const FilterNode* node = nullptr;      // a single child, or
  std::vector<const FilterNode*> range;  // range leaves on one key (two or more)
  NumberRange merged;
};
std::vector<ConjunctUnit> GroupConjuncts(const std::vector<const FilterNode*>& conjuncts);
// The slots of `within` the unit matches (arrays outside a merged range are tested row by
// row: their elements may satisfy the leaves separately).
Roaring EvaluateUnit(const ConjunctUnit& unit, const RowSource& rows, const Roaring& within);
bool UnitMatches(const ConjunctUnit& unit, const RecordView& view);
double UnitSelectivity(const ConjunctUnit& unit, const RowSource& rows);
double UnitBitmapCost(const ConjunctUnit& unit, const RowSource& rows);
double UnitRowTestCost(const ConjunctUnit& unit);
const std::string& UnitKey(const ConjunctUnit& unit);
// The number range whose slots (MetadataIndex::ForEachInRangeInSlotOrder) are exactly the
// unit's matches: a single range leaf, or a merged range on a key that holds no arrays;
// nullopt otherwise.
std::optional<NumberRange> WalkableRange(const ConjunctUnit& unit, const RowSource& rows);
// Estimated cost of starting that walk (the merge's set-up), in row-test units.
double EstimateRangeWalkCost(const ConjunctUnit& unit, const NumberRange& range, const RowSource& rows);

// The slots of `within` that `node` matches.
Roaring EvaluateFilter(const FilterNode& node, const RowSource& rows, const Roaring& within);

// The slots of `within` that every one of `conjuncts` matches (an $and of them): units
// most selective first, the first narrowing `within` without copying it.
Roaring EvaluateConjunction(const std::vector<const FilterNode*>& conjuncts, const RowSource& rows,
                            const Roaring& within);
double EstimateConjunctionSelectivity(const std::vector<const FilterNode*>& conjuncts, const RowSource& rows);
double EstimateConjunctionCost(const std::vector<const FilterNode*>& conjuncts, const RowSource& rows);

// Estimated fraction of live rows `node` matches, in [0, 1] (from index cardinalities;
// 0.5 for a document predicate).
double EstimateSelectivity(const FilterNode& node, const RowSource& rows);

// Estimated cost of EvaluateFilter over all live rows, and of testing one row with
// CompiledFilter::MatchesNode, in the same unit (about one metadata lookup of a row).
double EstimateBitmapCost(const FilterNode& node, const RowSource& rows);
double EstimateRowTestCost(const FilterNode& node);

}  // namespace fathom
