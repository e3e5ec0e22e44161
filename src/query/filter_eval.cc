#include "query/filter_eval.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>

namespace fathom {

namespace {

using Kind = FilterNode::Kind;

// Costs in row tests (one metadata lookup in a row, ~50-100 ns): copying or intersecting
// an existing bitmap costs about one unit per this many slots; gathering a numeric range
// into a bitmap costs this much per matching entry.
constexpr double kBitmapSlotsPerUnit = 256;
constexpr double kRangeEntryCost = 0.25;
// Walking a range in slot order (NumberColumn's blocks): per whole block merged, and per
// entry of its two partial ends (gathered and sorted).
constexpr double kMergeBlockCost = 0.5;
constexpr double kRangeEndEntryCost = 0.05;
// A union of bitmaps holding at most this many slots each on average is gathered and
// sorted rather than merged by Roaring (UnionOf).
constexpr uint64_t kSmallUnionSlotsPerPart = 64;
// $in lists longer than this are estimated from this many of their values.
constexpr size_t kInEstimateSample = 32;

bool IsNegation(CompareOp op) {
  return op == CompareOp::kNe || op == CompareOp::kNin || op == CompareOp::kNotContains;
}

// The positive form of a field leaf's operator: what $ne / $nin / $not_contains negate.
CompareOp Positive(CompareOp op) {
  switch (op) {
    case CompareOp::kNe: return CompareOp::kEq;
    case CompareOp::kNin: return CompareOp::kIn;
    case CompareOp::kNotContains: return CompareOp::kContains;
    default: return op;
  }
}

NumberRange RangeOf(CompareOp op, const Scalar& operand) {
  const long double v = NumberOf(operand);
  NumberRange r;
  switch (op) {
    case CompareOp::kGt: r.lo = NumberBound{v, false}; break;
    case CompareOp::kGte: r.lo = NumberBound{v, true}; break;
    case CompareOp::kLt: r.hi = NumberBound{v, false}; break;
    case CompareOp::kLte: r.hi = NumberBound{v, true}; break;
    default: break;
  }
  return r;
}

bool IsRange(CompareOp op) {
  return op == CompareOp::kGt || op == CompareOp::kGte || op == CompareOp::kLt || op == CompareOp::kLte;
}

const Roaring& EmptySlots() {
  static const Roaring empty;
  return empty;
}

// The union of `parts`. Many small bitmaps (a long $in list of values held by a few rows
// each, as ids or user names) are gathered and sorted: Roaring's union of many turns
// every container it touches into a dense bitset and back, which costs far more there.
Roaring UnionOf(const std::vector<const Roaring*>& parts) {
  uint64_t total = 0;
  for (const Roaring* r : parts) total += r->cardinality();
  if (total > kSmallUnionSlotsPerPart * parts.size()) {
    return Roaring::fastunion(parts.size(), const_cast<const Roaring**>(parts.data()));
  }
  std::vector<uint32_t> slots(total);
  uint32_t* out = slots.data();
  for (const Roaring* r : parts) {
    r->toUint32Array(out);
    out += r->cardinality();
  }
  std::sort(slots.begin(), slots.end());
  slots.erase(std::unique(slots.begin(), slots.end()), slots.end());
  return Roaring(slots.size(), slots.data());
}

// Slots where the field leaf's positive operator holds (over all rows). Strings and bools
// are borrowed from the index; numbers are gathered from their sorted runs.
SlotSet FieldPositive(const FilterNode& node, const MetadataIndex& index) {
  const CompareOp op = Positive(node.op);
  if (IsRange(op)) return SlotSet::Own(index.InRange(node.key, RangeOf(op, node.operands[0])));
  auto equal = [&](const Scalar& s, std::vector<Roaring>* owned) -> const Roaring* {
    if (s.index() == 1 || s.index() == 2) {
      owned->push_back(index.Equal(node.key, s));
      return &owned->back();
    }
    return index.StoredEqual(node.key, s);
  };
  std::vector<Roaring> owned;
  owned.reserve(node.operands.size());
  if (op == CompareOp::kIn) {
    std::vector<const Roaring*> parts;
    for (const Scalar& s : node.operands) {
      if (const Roaring* r = equal(s, &owned)) parts.push_back(r);
    }
    if (parts.empty()) return SlotSet::Borrow(nullptr);
    if (parts.size() == 1) return owned.empty() ? SlotSet::Borrow(parts[0]) : SlotSet::Own(*parts[0]);
    return SlotSet::Own(UnionOf(parts));
  }
  const Roaring* eq = equal(node.operands[0], &owned);
  if (eq == nullptr) return SlotSet::Borrow(nullptr);
  if (op == CompareOp::kContains) {
    const Roaring* arrays = index.StoredArrays(node.key);
    return SlotSet::Own(arrays != nullptr ? *eq & *arrays : Roaring());
  }
  return owned.empty() ? SlotSet::Borrow(eq) : SlotSet::Own(std::move(owned.back()));
}

uint64_t FieldPositiveEstimate(const FilterNode& node, const MetadataIndex& index) {
  const CompareOp op = Positive(node.op);
  if (IsRange(op)) return index.EstimateRange(node.key, RangeOf(op, node.operands[0]));
  if (op != CompareOp::kIn) return index.EstimateEqual(node.key, node.operands[0]);
  // A long $in list is estimated from an even sample of its values: the plan asks for
  // estimates several times, and 500 lookups each time cost more than the evaluation.
  const size_t operands = node.operands.size();
  const size_t sampled = std::min(operands, kInEstimateSample);
  uint64_t n = 0;
  for (size_t i = 0; i < sampled; ++i) n += index.EstimateEqual(node.key, node.operands[i * operands / sampled]);
  return sampled == operands ? n : static_cast<uint64_t>(std::ceil(static_cast<double>(n) * operands / sampled));
}

Roaring IdPositive(const FilterNode& node, const RowSource& rows) {
  std::vector<std::string> ids;
  for (const Scalar& s : node.operands) ids.push_back(std::get<std::string>(s));
  return SlotsOfIds(rows, ids, nullptr);
}

// A superset of the slots a positive document leaf ($contains, $regex) matches, from the
// trigram index; nullopt when it cannot narrow them.
std::optional<Roaring> DocumentCandidates(const FilterNode& node, const RowSource& rows) {
  const TrigramIndex* trigrams = rows.trigram_index();
  if (trigrams == nullptr) return std::nullopt;
  if (node.kind == Kind::kDocContains || node.kind == Kind::kDocNotContains) {
    return trigrams->ContainsCandidates(node.pattern);
  }
  return trigrams->RegexCandidates(*node.regex);
}

bool IsDocumentNegation(const FilterNode& node) {
  return node.kind == Kind::kDocNotContains || node.kind == Kind::kDocNotRegex;
}

Roaring TestRows(const FilterNode& node, const RowSource& rows, const Roaring& within) {
  if (node.IsDocument()) rows.PrefetchDocuments(within);
  std::vector<uint32_t> kept;
  for (auto it = within.begin(); it != within.end(); ++it) {
    if (CompiledFilter::MatchesNode(node, rows.view(*it))) kept.push_back(*it);
  }
  return Roaring(kept.size(), kept.data());
}

// $or's children in evaluation order: the least selective indexed ones first (they leave
// the fewest rows to the others), document predicates last.
std::vector<const FilterNode*> Ordered(const FilterNode& node, const RowSource& rows) {
  std::vector<std::pair<double, const FilterNode*>> keyed;
  for (const FilterNode& c : node.children) {
    double key = 1.0 - EstimateSelectivity(c, rows);
    if (c.TestsDocument()) key += 2.0;
    keyed.emplace_back(key, &c);
  }
  std::stable_sort(keyed.begin(), keyed.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<const FilterNode*> out;
  for (const auto& [key, c] : keyed) out.push_back(c);
  return out;
}

double LiveCount(const RowSource& rows) {
  return std::max<double>(1.0, static_cast<double>(rows.live_slots().cardinality()));
}

bool IsRangeLeaf(const FilterNode& n) { return n.kind == Kind::kField && IsRange(n.op); }

// Narrows `merged` to its intersection with `r`. A NaN bound always wins: InRange then
// matches nothing, as the leaf alone would.
void Tighten(const NumberRange& r, NumberRange* merged) {
  auto replaces = [](const std::optional<NumberBound>& current, const NumberBound& b, bool lower) {
    if (!current || std::isnan(b.value)) return true;
    if (b.value == current->value) return !b.inclusive;
    return lower ? b.value > current->value : b.value < current->value;
  };
  if (r.lo && replaces(merged->lo, *r.lo, /*lower=*/true)) merged->lo = r.lo;
  if (r.hi && replaces(merged->hi, *r.hi, /*lower=*/false)) merged->hi = r.hi;
}

const std::string& ConjunctKey(const ConjunctUnit& c) { return c.range.front()->key; }

std::vector<const FilterNode*> Children(const FilterNode& node) {
  std::vector<const FilterNode*> out;
  for (const FilterNode& c : node.children) out.push_back(&c);
  return out;
}

}  // namespace

bool ReadsDocument(const FilterNode& node) {
  if (node.IsDocument()) return true;
  for (const FilterNode& child : node.children) {
    if (ReadsDocument(child)) return true;
  }
  return false;
}


std::vector<ConjunctUnit> GroupConjuncts(const std::vector<const FilterNode*>& children) {
  std::vector<ConjunctUnit> out;
  std::vector<const FilterNode*> ranges;
  for (const FilterNode* c : children) {
    if (IsRangeLeaf(*c)) {
      ranges.push_back(c);
    } else {
      out.push_back(ConjunctUnit{c, {}, {}});
    }
  }
  std::vector<bool> used(ranges.size(), false);
  for (size_t i = 0; i < ranges.size(); ++i) {
    if (used[i]) continue;
    ConjunctUnit group;
    for (size_t j = i; j < ranges.size(); ++j) {
      if (used[j] || ranges[j]->key != ranges[i]->key) continue;
      used[j] = true;
      group.range.push_back(ranges[j]);
    }
    if (group.range.size() == 1) {
      out.push_back(ConjunctUnit{group.range[0], {}, {}});
      continue;
    }
    for (const FilterNode* leaf : group.range) Tighten(RangeOf(leaf->op, leaf->operands[0]), &group.merged);
    out.push_back(std::move(group));
  }
  return out;
}

Roaring EvaluateUnit(const ConjunctUnit& c, const RowSource& rows, const Roaring& within) {
  if (c.node != nullptr) return EvaluateFilter(*c.node, rows, within);
  // One element inside the merged range satisfies every leaf: exact for scalar values. An
  // array may satisfy the leaves with different elements, so arrays outside the merged
  // answer are tested row by row.
  const MetadataIndex& index = rows.metadata_index();
  Roaring matched = index.InRange(ConjunctKey(c), c.merged) & within;
  const Roaring* stored_arrays = index.StoredArrays(ConjunctKey(c));
  const Roaring arrays = stored_arrays != nullptr ? (*stored_arrays & within) - matched : Roaring();
  for (auto it = arrays.begin(); it != arrays.end(); ++it) {
    const RecordView view = rows.metadata_view(*it);  // range leaves read metadata only
    bool all = true;
    for (const FilterNode* leaf : c.range) all = all && CompiledFilter::MatchesNode(*leaf, view);
    if (all) matched.add(*it);
  }
  return matched;
}

bool UnitMatches(const ConjunctUnit& unit, const RecordView& view) {
  if (unit.node != nullptr) return CompiledFilter::MatchesNode(*unit.node, view);
  for (const FilterNode* leaf : unit.range) {
    if (!CompiledFilter::MatchesNode(*leaf, view)) return false;
  }
  return true;
}

double UnitRowTestCost(const ConjunctUnit& unit) {
  return unit.node != nullptr ? EstimateRowTestCost(*unit.node) : static_cast<double>(unit.range.size());
}

std::optional<NumberRange> WalkableRange(const ConjunctUnit& unit, const RowSource& rows) {
  if (unit.node != nullptr) {
    if (!IsRangeLeaf(*unit.node)) return std::nullopt;
    return RangeOf(unit.node->op, unit.node->operands[0]);
  }
  // One element inside the merged range satisfies every leaf, but an array may satisfy
  // them with different elements and hold none inside it: walk only keys without arrays.
  const Roaring* arrays = rows.metadata_index().StoredArrays(ConjunctKey(unit));
  if (arrays != nullptr && !arrays->isEmpty()) return std::nullopt;
  return unit.merged;
}

const std::string& UnitKey(const ConjunctUnit& unit) {
  return unit.node != nullptr ? unit.node->key : ConjunctKey(unit);
}

double UnitSelectivity(const ConjunctUnit& c, const RowSource& rows) {
  if (c.node != nullptr) return EstimateSelectivity(*c.node, rows);
  return std::min(1.0, static_cast<double>(rows.metadata_index().EstimateRange(ConjunctKey(c), c.merged)) /
                           LiveCount(rows));
}

double UnitBitmapCost(const ConjunctUnit& c, const RowSource& rows) {
  if (c.node != nullptr) return EstimateBitmapCost(*c.node, rows);
  const double matched = static_cast<double>(rows.metadata_index().EstimateRange(ConjunctKey(c), c.merged));
  return 1.0 + matched * kRangeEntryCost + LiveCount(rows) / kBitmapSlotsPerUnit;
}

Roaring EvaluateConjunction(const std::vector<const FilterNode*>& conjuncts, const RowSource& rows,
                            const Roaring& within) {
  std::vector<ConjunctUnit> units = GroupConjuncts(conjuncts);
  // Most selective first, document predicates last (they test rows one by one).
  std::vector<std::pair<double, size_t>> order;
  for (size_t i = 0; i < units.size(); ++i) {
    double key = UnitSelectivity(units[i], rows);
    if (units[i].node != nullptr && units[i].node->TestsDocument()) key += 2.0;
    order.emplace_back(key, i);
  }
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  if (order.empty()) return within;
  // The first unit narrows `within` itself: copying it (all live rows, typically) first
  // cost more than a selective lookup.
  Roaring result = EvaluateUnit(units[order[0].second], rows, within);
  for (size_t k = 1; k < order.size() && !result.isEmpty(); ++k) result = EvaluateUnit(units[order[k].second], rows, result);
  return result;
}

double EstimateConjunctionSelectivity(const std::vector<const FilterNode*>& conjuncts, const RowSource& rows) {
  double s = 1.0;
  for (const ConjunctUnit& c : GroupConjuncts(conjuncts)) s *= UnitSelectivity(c, rows);
  return s;
}

double EstimateConjunctionCost(const std::vector<const FilterNode*>& conjuncts, const RowSource& rows) {
  double cost = 0;
  for (const ConjunctUnit& c : GroupConjuncts(conjuncts)) cost += UnitBitmapCost(c, rows);
  return cost;
}

Roaring SlotsOfIds(const RowSource& rows, const std::vector<std::string>& ids, const std::string** missing) {
  std::vector<uint32_t> slots;
  slots.reserve(ids.size());
  for (const std::string& id : ids) {
    if (auto slot = rows.FindSlot(id)) {
      slots.push_back(*slot);
    } else if (missing != nullptr) {
      *missing = &id;
      return Roaring();
    }
  }
  std::sort(slots.begin(), slots.end());
  slots.erase(std::unique(slots.begin(), slots.end()), slots.end());
  return Roaring(slots.size(), slots.data());
}

SlotSet SlotSet::Borrow(const Roaring* r) {
  SlotSet s;
  s.ref_ = r != nullptr ? r : &EmptySlots();
  return s;
}

SlotSet SlotSet::Own(Roaring r) {
  SlotSet s;
  s.owned_ = std::move(r);
  return s;
}

bool IsPositiveFieldLeaf(const FilterNode& node) { return node.kind == Kind::kField && !IsNegation(node.op); }

SlotSet PositiveLeafSlots(const FilterNode& leaf, const RowSource& rows, const Roaring** also_in) {
  *also_in = nullptr;
  if (leaf.op == CompareOp::kContains) {
    const Scalar& value = leaf.operands[0];
    if (value.index() != 1 && value.index() != 2) {
      // The value's bitmap holds scalars and array elements; $contains wants arrays only.
      // Intersecting would copy; the caller checks each slot against the arrays instead.
      const Roaring* arrays = rows.metadata_index().StoredArrays(leaf.key);
      *also_in = arrays != nullptr ? arrays : &EmptySlots();
      return SlotSet::Borrow(rows.metadata_index().StoredEqual(leaf.key, value));
    }
  }
  return FieldPositive(leaf, rows.metadata_index());
}

double EstimateRangeWalkCost(const ConjunctUnit& unit, const NumberRange& range, const RowSource& rows) {
  const MetadataIndex& index = rows.metadata_index();
  const double matched = static_cast<double>(index.EstimateRange(UnitKey(unit), range));
  const double blocks = static_cast<double>(index.EstimateRangeBlocks(UnitKey(unit), range));
  // The range's two partial blocks are gathered and sorted; each whole block inside it
  // is one sorted sequence in the merge (a heap entry and its first cache miss).
  const double ends = std::min(matched, 2.0 * static_cast<double>(SortedNumberRun<int64_t>::kBlockEntries));
  return 1.0 + blocks * kMergeBlockCost + ends * kRangeEndEntryCost;
}

double EstimatePositiveLeafCost(const FilterNode& leaf, const RowSource& rows) {
  const double matched = static_cast<double>(FieldPositiveEstimate(leaf, rows.metadata_index()));
  const CompareOp op = Positive(leaf.op);
  if (IsRange(op)) return 1.0 + matched * kRangeEntryCost;
  if (op == CompareOp::kIn) return 1.0 + static_cast<double>(leaf.operands.size()) + matched / kBitmapSlotsPerUnit;
  if (op == CompareOp::kContains) return 1.0 + matched / kBitmapSlotsPerUnit;
  return 1.0;
}

Roaring EvaluateFilter(const FilterNode& node, const RowSource& rows, const Roaring& within) {
  switch (node.kind) {
    case Kind::kAnd:
      return EvaluateConjunction(Children(node), rows, within);
    case Kind::kOr: {
      Roaring result;
      Roaring rest = within;
      for (const FilterNode* c : Ordered(node, rows)) {
        if (rest.isEmpty()) break;
        Roaring matched = EvaluateFilter(*c, rows, rest);
        rest -= matched;
        result |= matched;
      }
      return result;
    }
    case Kind::kField: {
      const SlotSet positive = FieldPositive(node, rows.metadata_index());
      return IsNegation(node.op) ? within - positive.get() : within & positive.get();
    }
    case Kind::kId: {
      const Roaring positive = IdPositive(node, rows);
      return IsNegation(node.op) ? within - positive : within & positive;
    }
    default: {
      // A negation is the complement of its positive form (which a record without a
      // document never matches), so both test only the trigram index's candidates.
      std::optional<Roaring> candidates = DocumentCandidates(node, rows);
      if (!candidates.has_value()) return TestRows(node, rows, within);
      *candidates &= within;
      rows.PrefetchDocuments(*candidates);  // documents read on demand: in one batch
      Roaring positive;
      for (auto it = candidates->begin(); it != candidates->end(); ++it) {
        // The positive form's test: the negation's is its complement on a document.
        const RecordView view = rows.view(*it);
        if (view.document && CompiledFilter::MatchesNode(node, view) != IsDocumentNegation(node)) positive.add(*it);
      }
      return IsDocumentNegation(node) ? within - positive : positive;
    }
  }
}

double EstimateSelectivity(const FilterNode& node, const RowSource& rows) {
  const double live = LiveCount(rows);
  switch (node.kind) {
    case Kind::kAnd:
      return EstimateConjunctionSelectivity(Children(node), rows);
    case Kind::kOr: {
      double none = 1.0;
      for (const FilterNode& c : node.children) none *= 1.0 - EstimateSelectivity(c, rows);
      return 1.0 - none;
    }
    case Kind::kField: {
      const double positive =
          std::min(1.0, static_cast<double>(FieldPositiveEstimate(node, rows.metadata_index())) / live);
      return IsNegation(node.op) ? 1.0 - positive : positive;
    }
    case Kind::kId: {
      const double positive = std::min(1.0, static_cast<double>(node.operands.size()) / live);
      return IsNegation(node.op) ? 1.0 - positive : positive;
    }
    default: {
      const TrigramIndex* trigrams = rows.trigram_index();
      if (trigrams != nullptr && node.kind == Kind::kDocContains) {
        if (std::optional<uint64_t> n = trigrams->EstimateContains(node.pattern)) {
          return std::min(0.5, static_cast<double>(*n) / live);
        }
      }
      return 0.5;
    }
  }
}

double EstimateBitmapCost(const FilterNode& node, const RowSource& rows) {
  const double live = LiveCount(rows);
  switch (node.kind) {
    case Kind::kAnd:
      return EstimateConjunctionCost(Children(node), rows);
    case Kind::kOr: {
      double cost = 0;
      for (const FilterNode& c : node.children) cost += EstimateBitmapCost(c, rows);
      return cost;
    }
    case Kind::kField: {
      const double matched = static_cast<double>(FieldPositiveEstimate(node, rows.metadata_index()));
      const double gather = IsRange(Positive(node.op)) ? matched * kRangeEntryCost : matched / kBitmapSlotsPerUnit;
      // One lookup per value of an $in / $nin list (as EstimatePositiveLeafCost counts).
      const bool list = node.op == CompareOp::kIn || node.op == CompareOp::kNin;
      const double lookups = list ? static_cast<double>(node.operands.size()) : 1.0;
      return lookups + gather + live / kBitmapSlotsPerUnit;
    }
    case Kind::kId:
      return 1.0 + static_cast<double>(node.operands.size()) + live / kBitmapSlotsPerUnit;
    default: {
      // A document predicate tests every candidate: the trigram index's for a
      // $contains, else every row.
      const TrigramIndex* trigrams = rows.trigram_index();
      const bool contains = node.kind == Kind::kDocContains || node.kind == Kind::kDocNotContains;
      if (trigrams != nullptr && contains) {
        if (std::optional<uint64_t> n = trigrams->EstimateContains(node.pattern)) {
          return 1.0 + static_cast<double>(*n) * EstimateRowTestCost(node) + live / kBitmapSlotsPerUnit;
        }
      }
      return live * EstimateRowTestCost(node);
    }
  }
}

double EstimateRowTestCost(const FilterNode& node) {
  if (node.kind == Kind::kAnd || node.kind == Kind::kOr) {
    double cost = 0;
    for (const FilterNode& c : node.children) cost += EstimateRowTestCost(c);
    return cost;
  }
  return node.IsDocument() ? 4.0 : 1.0;
}

}  // namespace fathom
