#include "query/select.h"

#include <algorithm>

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

// True when `view` matches every one of `nodes` except `skip` (which the plan already
// answered exactly).
bool MatchesAll(const std::vector<const FilterNode*>& nodes, const RecordView& view,
                const FilterNode* skip = nullptr) {
  for (const FilterNode* n : nodes) {
    if (n != skip && !CompiledFilter::MatchesNode(*n, view)) return false;
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

}  // namespace

std::vector<uint32_t> SelectSlots(const RowSource& rows, const Selection& selection, SelectPlan* plan) {
  Roaring id_slots;
  const Roaring* base = &rows.live_slots();
  if (selection.ids != nullptr) {
    id_slots = SlotsOfIds(rows, *selection.ids, nullptr);
    base = &id_slots;
  }
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

  // Cost of walking rows in order and testing each until the page is full, against
  // evaluating the indexed conjuncts as bitmaps (then testing the rest lazily).
  const double candidates = std::max(1.0, static_cast<double>(base->cardinality()));
  const double wanted = static_cast<double>(selection.offset) + static_cast<double>(selection.limit);
  const double selectivity = std::max(EstimateSelectivity(*root, rows), 1.0 / candidates);
  const double scan_cost = std::min(candidates, wanted / selectivity) * EstimateRowTestCost(*root);
  double bitmap_cost = EstimateConjunctionCost(indexed, rows);
  const double indexed_selectivity = EstimateConjunctionSelectivity(indexed, rows);
  for (const FilterNode* c : tested) {
    const double reached = candidates * indexed_selectivity;
    const double tested_selectivity = std::max(EstimateSelectivity(*c, rows), 1.0 / candidates);
    bitmap_cost += std::min(reached, wanted / tested_selectivity) * EstimateRowTestCost(*c);
  }

  // Driver plan: walk the slots of one selective field leaf in order (borrowed from the
  // index where possible, no intersection with the live set) and test the rest of the
  // filter on each row until the page is full.
  const FilterNode* driver = nullptr;
  double driver_cost = bitmap_cost;
  if (selection.limit != UINT64_MAX) {
    for (const FilterNode* c : indexed) {
      if (!IsPositiveFieldLeaf(*c)) continue;
      const double leaf_selectivity = std::max(EstimateSelectivity(*c, rows), 1.0 / candidates);
      const double rest_selectivity = std::min(1.0, selectivity / leaf_selectivity);
      const double walked = std::min(candidates * leaf_selectivity, wanted / std::max(rest_selectivity, 1.0 / candidates));
      const double cost = EstimatePositiveLeafCost(*c, rows) + walked * (0.1 + EstimateRowTestCost(*root) - 1.0);
      if (cost < driver_cost) {
        driver_cost = cost;
        driver = c;
      }
    }
  }

  if (scan_cost < bitmap_cost && scan_cost <= driver_cost) {
    if (plan != nullptr) *plan = SelectPlan::kRowScan;
    for (auto it = base->begin(); it != base->end() && !pager.full(); ++it) {
      if (CompiledFilter::MatchesNode(*root, rows.view(*it))) pager.Take(*it);
    }
    return pager.Finish();
  }

  if (driver != nullptr) {
    if (plan != nullptr) *plan = SelectPlan::kDriver;
    bool exact = true;
    const SlotSet slots = PositiveLeafSlots(*driver, rows, &exact);
    const Roaring& walk = slots.get();
    for (auto it = walk.begin(); it != walk.end() && !pager.full(); ++it) {
      if (!base->contains(*it)) continue;
      const RecordView view = rows.view(*it);
      if (MatchesAll(indexed, view, exact ? driver : nullptr) && MatchesAll(tested, view)) pager.Take(*it);
    }
    return pager.Finish();
  }

  const Roaring matched = EvaluateConjunction(indexed, rows, *base);
  for (auto it = matched.begin(); it != matched.end() && !pager.full(); ++it) {
    if (MatchesAll(tested, rows.view(*it))) pager.Take(*it);
  }
  return pager.Finish();
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
