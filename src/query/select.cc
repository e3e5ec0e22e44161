#include "query/select.h"

#include <algorithm>
#include <optional>

#include "fathom/db.h"
#include "query/filter_eval.h"

namespace fathom {

namespace {

// Collects slots in order, skipping `offset` first and stopping at `limit`.
class Pager {
 public:
  explicit Pager(const Selection& s) : offset_(s.offset), limit_(s.limit) {}
  bool full() const { return out_.size() >= limit_; }
  void Take(uint32_t slot) {
    if (skipped_ < offset_) {
      ++skipped_;
      return;
    }
    out_.push_back(slot);
  }
  std::vector<uint32_t> Finish() { return std::move(out_); }

 private:
  const uint64_t offset_;
  const uint64_t limit_;
  uint64_t skipped_ = 0;
  std::vector<uint32_t> out_;
};

// True when `view` matches every one of `nodes`.
bool MatchesAll(const std::vector<const FilterNode*>& nodes, const RecordView& view) {
  for (const FilterNode* n : nodes) {
    if (!CompiledFilter::MatchesNode(*n, view)) return false;
  }
  return true;
}

// True when the indexes narrow `node`'s document predicates (the trigram index: every
// $contains of 3 bytes or more, and regexes whose prefilter names an indexable atom), so
// it is evaluated as a bitmap rather than row by row.
bool IndexNarrows(const FilterNode& node, const RowSource& rows) {
  if (!node.TestsDocument()) return true;
  if (rows.trigram_index() == nullptr) return false;
  switch (node.kind) {
    case FilterNode::Kind::kDocContains:
    case FilterNode::Kind::kDocNotContains:
      return node.pattern.size() >= 3;
    case FilterNode::Kind::kDocRegex:
    case FilterNode::Kind::kDocNotRegex:
      return rows.trigram_index()->MayNarrowRegex(*node.regex);
    default:
      return std::all_of(node.children.begin(), node.children.end(),
                         [&](const FilterNode& c) { return IndexNarrows(c, rows); });
  }
}

// The root's top-level conjuncts, split: those the indexes answer, and those that test
// the document without an index's help (checked row by row).
void SplitConjuncts(const FilterNode& root, const RowSource& rows, std::vector<const FilterNode*>* indexed,
                    std::vector<const FilterNode*>* tested) {
  auto place = [&](const FilterNode& n) { (IndexNarrows(n, rows) ? indexed : tested)->push_back(&n); };
  if (root.kind == FilterNode::Kind::kAnd) {
    for (const FilterNode& c : root.children) place(c);
  } else {
    place(root);
  }
}

// Costs of the driver plan, in the row-test units of filter_eval.h: taking one slot from
// the driver's walk (a bitmap's iterator or a merge step, and the candidate check);
// checking one slot against a bitmap; and how much more a row test costs on the rows a
// driver reaches (far apart: each is a few cache misses) than in a scan of consecutive
// rows.
constexpr double kWalkStepCost = 0.05;
constexpr double kProbeCost = 0.05;
constexpr double kSparseRowTestFactor = 4.0;

// The driver plan: walk one unit's slots in slot order (a field leaf's bitmap borrowed
// from the index, or a numeric range through its sorted blocks), and check the other
// units per slot, each against its bitmap ("probe") or by testing the row, whichever the
// estimates make cheaper.
struct DriverPlan {
  size_t driver = 0;                 // index into the units
  std::optional<NumberRange> range;  // walk this range; otherwise the leaf's bitmap
  std::vector<bool> probe;           // per unit: probe a bitmap (else test the row)
  double cost = 0;
};

// Everything the plan choice needs, estimated once per selection (a long $in list costs
// lookups per estimate).
struct Estimates {
  std::vector<double> unit_selectivity;
  double candidates = 1;
  double wanted = 0;
  double selectivity = 1;  // of the whole filter
};

std::optional<DriverPlan> PlanDriver(size_t i, const std::vector<ConjunctUnit>& units,
                                     const std::vector<const FilterNode*>& tested, const Estimates& e,
                                     const RowSource& rows) {
  const ConjunctUnit& unit = units[i];
  DriverPlan plan;
  plan.driver = i;
  plan.range = WalkableRange(unit, rows);
  double walk_cost = 0;
  double per_slot = kWalkStepCost;
  if (plan.range) {
    walk_cost = EstimateRangeWalkCost(unit, *plan.range, rows);
  } else if (unit.node != nullptr && IsPositiveFieldLeaf(*unit.node)) {
    walk_cost = EstimatePositiveLeafCost(*unit.node, rows);
    if (unit.node->op == CompareOp::kContains) per_slot += kProbeCost;
  } else {
    return std::nullopt;
  }
  const double own = std::max(e.unit_selectivity[i], 1.0 / e.candidates);
  const double rest = std::min(1.0, e.selectivity / own);
  const double walked = std::min(e.candidates * own, e.wanted / std::max(rest, 1.0 / e.candidates));
  plan.cost = walk_cost + walked * per_slot;
  plan.probe.assign(units.size(), false);
  for (size_t j = 0; j < units.size(); ++j) {
    if (j == i) continue;
    const ConjunctUnit& other = units[j];
    const double test = walked * UnitRowTestCost(other) * kSparseRowTestFactor;
    const double setup = other.node != nullptr && IsPositiveFieldLeaf(*other.node)
                             ? EstimatePositiveLeafCost(*other.node, rows)
                             : UnitBitmapCost(other, rows);
    const double probe = setup + walked * kProbeCost;
    plan.probe[j] = probe < test;
    plan.cost += std::min(probe, test);
  }
  for (const FilterNode* c : tested) plan.cost += walked * EstimateRowTestCost(*c) * kSparseRowTestFactor;
  return plan;
}

// Runs a driver plan into `pager`.
void RunDriver(const DriverPlan& plan, const std::vector<ConjunctUnit>& units,
               const std::vector<const FilterNode*>& tested, const RowSource& rows, const Roaring& base,
               Pager& pager) {
  // The probed units' bitmaps (borrowed from the index where possible), and the units
  // tested row by row.
  std::vector<SlotSet> probes;
  std::vector<const Roaring*> probe_arrays;  // a $contains probe's second bitmap, or null
  std::vector<const ConjunctUnit*> row_tests;
  for (size_t j = 0; j < units.size(); ++j) {
    if (j == plan.driver) continue;
    const ConjunctUnit& unit = units[j];
    if (!plan.probe[j]) {
      row_tests.push_back(&unit);
      continue;
    }
    const Roaring* also_in = nullptr;
    if (unit.node != nullptr && IsPositiveFieldLeaf(*unit.node)) {
      probes.push_back(PositiveLeafSlots(*unit.node, rows, &also_in));
    } else {
      probes.push_back(SlotSet::Own(EvaluateUnit(unit, rows, base)));
    }
    probe_arrays.push_back(also_in);
  }
  bool document = false;  // whether the row tests read documents
  for (const ConjunctUnit* unit : row_tests) {
    if (unit->node != nullptr && ReadsDocument(*unit->node)) document = true;
  }
  for (const FilterNode* n : tested) document = document || ReadsDocument(*n);
  const Roaring* driver_arrays = nullptr;
  auto take = [&](uint32_t slot) {
    if (!base.contains(slot)) return true;
    if (driver_arrays != nullptr && !driver_arrays->contains(slot)) return true;
    for (size_t k = 0; k < probes.size(); ++k) {
      if (!probes[k].get().contains(slot)) return true;
      if (probe_arrays[k] != nullptr && !probe_arrays[k]->contains(slot)) return true;
    }
    if (!row_tests.empty() || !tested.empty()) {
      const RecordView view = document ? rows.view(slot) : rows.metadata_view(slot);
      for (const ConjunctUnit* unit : row_tests) {
        if (!UnitMatches(*unit, view)) return true;
      }
      if (!MatchesAll(tested, view)) return true;
    }
    pager.Take(slot);
    return !pager.full();
  };
  const ConjunctUnit& driver = units[plan.driver];
  if (plan.range) {
    rows.metadata_index().ForEachInRangeInSlotOrder(UnitKey(driver), *plan.range, take);
    return;
  }
  const SlotSet slots = PositiveLeafSlots(*driver.node, rows, &driver_arrays);
  const Roaring& walk = slots.get();
  for (auto it = walk.begin(); it != walk.end(); ++it) {
    if (!take(*it)) return;
  }
}

// The slots a selection starts from: the live ones, or those its ids name (kept in
// *id_slots).
const Roaring* SelectionBase(const RowSource& rows, const Selection& selection, Roaring* id_slots) {
  if (selection.ids == nullptr) return &rows.live_slots();
  *id_slots = SlotsOfIds(rows, *selection.ids, nullptr);
  return id_slots;
}

bool AnyReadsDocument(const std::vector<const FilterNode*>& nodes) {
  return std::any_of(nodes.begin(), nodes.end(), [](const FilterNode* n) { return ReadsDocument(*n); });
}

// How many live rows a filter of one indexed unit matches, read off the metadata index
// without a bitmap of its matches: a numeric range on a key that holds no arrays counts
// its column's entries in the range (one per slot); a positive field leaf is its bitmap's
// cardinality within the live rows. nullopt for anything else.
std::optional<uint64_t> CountFromIndex(const std::vector<const FilterNode*>& indexed, const RowSource& rows) {
  const std::vector<ConjunctUnit> units = GroupConjuncts(indexed);
  if (units.size() != 1) return std::nullopt;
  const ConjunctUnit& unit = units[0];
  const MetadataIndex& index = rows.metadata_index();
  if (const std::optional<NumberRange> range = WalkableRange(unit, rows)) {
    const Roaring* arrays = index.StoredArrays(UnitKey(unit));
    if (arrays == nullptr || arrays->isEmpty()) return index.CountInRange(UnitKey(unit), *range);
  }
  if (unit.node == nullptr || !IsPositiveFieldLeaf(*unit.node)) return std::nullopt;
  const Roaring* also_in = nullptr;
  const SlotSet slots = PositiveLeafSlots(*unit.node, rows, &also_in);
  if (also_in == nullptr) return slots.get().and_cardinality(rows.live_slots());
  return (slots.get() & *also_in).and_cardinality(rows.live_slots());
}

}  // namespace

std::vector<uint32_t> SelectSlots(const RowSource& rows, const Selection& selection, SelectPlan* plan) {
  Roaring id_slots;
  const Roaring* base = SelectionBase(rows, selection, &id_slots);
  Pager pager(selection);
  const FilterNode* root = selection.filter != nullptr ? selection.filter->root() : nullptr;
  if (plan != nullptr) *plan = root == nullptr ? SelectPlan::kAll : SelectPlan::kBitmap;
  if (selection.limit == 0) return {};
  if (root == nullptr) {
    for (auto it = base->begin(); it != base->end() && !pager.full(); ++it) pager.Take(*it);
    return pager.Finish();
  }

  std::vector<const FilterNode*> indexed;
  std::vector<const FilterNode*> tested;
  SplitConjuncts(*root, rows, &indexed, &tested);
  const std::vector<ConjunctUnit> units = GroupConjuncts(indexed);

  Estimates e;
  e.candidates = std::max(1.0, static_cast<double>(base->cardinality()));
  e.wanted = static_cast<double>(selection.offset) + static_cast<double>(selection.limit);
  double indexed_selectivity = 1.0;
  for (const ConjunctUnit& unit : units) {
    e.unit_selectivity.push_back(UnitSelectivity(unit, rows));
    indexed_selectivity *= e.unit_selectivity.back();
  }
  std::vector<double> tested_selectivity;
  e.selectivity = indexed_selectivity;
  for (const FilterNode* c : tested) {
    tested_selectivity.push_back(std::max(EstimateSelectivity(*c, rows), 1.0 / e.candidates));
    e.selectivity *= tested_selectivity.back();
  }
  e.selectivity = std::max(e.selectivity, 1.0 / e.candidates);

  // Cost of walking rows in order and testing each until the page is full, against
  // evaluating the indexed units as bitmaps (then testing the rest lazily).
  const double scan_cost = std::min(e.candidates, e.wanted / e.selectivity) * EstimateRowTestCost(*root);
  double bitmap_cost = 0;
  for (const ConjunctUnit& unit : units) bitmap_cost += UnitBitmapCost(unit, rows);
  for (size_t k = 0; k < tested.size(); ++k) {
    const double reached = e.candidates * indexed_selectivity;
    bitmap_cost += std::min(reached, e.wanted / tested_selectivity[k]) * EstimateRowTestCost(*tested[k]);
  }

  // Driver plans (a limit only: without one the whole match set is wanted anyway).
  std::optional<DriverPlan> driver;
  if (selection.limit != UINT64_MAX) {
    for (size_t i = 0; i < units.size(); ++i) {
      std::optional<DriverPlan> candidate = PlanDriver(i, units, tested, e, rows);
      if (candidate && candidate->cost < bitmap_cost && (!driver || candidate->cost < driver->cost)) {
        driver = std::move(candidate);
      }
    }
  }

  if (scan_cost < bitmap_cost && (!driver || scan_cost <= driver->cost)) {
    if (plan != nullptr) *plan = SelectPlan::kRowScan;
    const bool document = ReadsDocument(*root);
    for (auto it = base->begin(); it != base->end() && !pager.full(); ++it) {
      if (CompiledFilter::MatchesNode(*root, document ? rows.view(*it) : rows.metadata_view(*it))) pager.Take(*it);
    }
    return pager.Finish();
  }

  if (driver) {
    if (plan != nullptr) *plan = driver->range ? SelectPlan::kRangeDriver : SelectPlan::kDriver;
    RunDriver(*driver, units, tested, rows, *base, pager);
    return pager.Finish();
  }

  const Roaring matched = EvaluateConjunction(indexed, rows, *base);
  const bool document = AnyReadsDocument(tested);  // whether the row tests read documents
  for (auto it = matched.begin(); it != matched.end() && !pager.full(); ++it) {
    if (MatchesAll(tested, document ? rows.view(*it) : rows.metadata_view(*it))) pager.Take(*it);
  }
  return pager.Finish();
}

uint64_t CountSlots(const RowSource& rows, const Selection& selection) {
  Roaring id_slots;
  const Roaring* base = SelectionBase(rows, selection, &id_slots);
  const FilterNode* root = selection.filter != nullptr ? selection.filter->root() : nullptr;
  if (root == nullptr) return base->cardinality();
  std::vector<const FilterNode*> indexed;
  std::vector<const FilterNode*> tested;
  SplitConjuncts(*root, rows, &indexed, &tested);
  if (selection.ids == nullptr && tested.empty()) {
    if (const std::optional<uint64_t> counted = CountFromIndex(indexed, rows)) return *counted;
  }
  const Roaring matched = EvaluateConjunction(indexed, rows, *base);
  if (tested.empty()) return matched.cardinality();
  const bool document = AnyReadsDocument(tested);  // whether the row tests read documents
  uint64_t count = 0;
  for (const uint32_t slot : matched) count += MatchesAll(tested, document ? rows.view(slot) : rows.metadata_view(slot));
  return count;
}

Result<std::optional<std::vector<uint32_t>>> QueryCandidates(const RowSource& rows,
                                                             const std::optional<std::vector<std::string>>& ids,
                                                             const CompiledFilter& filter) {
  Roaring id_slots;
  if (ids) {
    const std::string* missing = nullptr;
    id_slots = SlotsOfIds(rows, *ids, &missing);
    if (missing != nullptr) {
      return Status::NotFound(std::string(Collection::kMissingQueryIdMessage) + *missing +
                              " (no such record in the collection)");
    }
  } else if (filter.empty()) {
    return std::optional<std::vector<uint32_t>>();
  }
  const Roaring& base = ids ? id_slots : rows.live_slots();
  const Roaring matched = filter.empty() ? base : EvaluateFilter(*filter.root(), rows, base);
  std::vector<uint32_t> out(matched.cardinality());
  matched.toUint32Array(out.data());
  return std::optional<std::vector<uint32_t>>(std::move(out));
}

}  // namespace fathom
