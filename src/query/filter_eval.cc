#include "query/filter_eval.h"

#include <algorithm>
#include <vector>

namespace fathom {

namespace {

using Kind = FilterNode::Kind;

// Costs in row tests (one metadata lookup in a row, ~50-100 ns): copying or intersecting
// an existing bitmap costs about one unit per this many slots; gathering a numeric range
// into a bitmap costs this much per matching entry.
constexpr double kBitmapSlotsPerUnit = 256;
constexpr double kRangeEntryCost = 0.25;

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

long double AsNumber(const Scalar& s) {
  return s.index() == 1 ? static_cast<long double>(std::get<int64_t>(s))
                        : static_cast<long double>(std::get<double>(s));
}

NumberRange RangeOf(CompareOp op, const Scalar& operand) {
  const long double v = AsNumber(operand);
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

// Slots where the field leaf's positive operator holds (over all rows).
Roaring FieldPositive(const FilterNode& node, const MetadataIndex& index) {
  const CompareOp op = Positive(node.op);
  if (IsRange(op)) return index.InRange(node.key, RangeOf(op, node.operands[0]));
  if (op == CompareOp::kIn) {
    Roaring out;
    for (const Scalar& s : node.operands) out |= index.Equal(node.key, s);
    return out;
  }
  Roaring out = index.Equal(node.key, node.operands[0]);
  if (op == CompareOp::kContains) out &= index.Arrays(node.key);
  return out;
}

uint64_t FieldPositiveEstimate(const FilterNode& node, const MetadataIndex& index) {
  const CompareOp op = Positive(node.op);
  if (IsRange(op)) return index.EstimateRange(node.key, RangeOf(op, node.operands[0]));
  uint64_t n = 0;
  const size_t operands = op == CompareOp::kIn ? node.operands.size() : 1;
  for (size_t i = 0; i < operands; ++i) n += index.EstimateEqual(node.key, node.operands[i]);
  return n;
}

Roaring IdPositive(const FilterNode& node, const RowSource& rows) {
  std::vector<uint32_t> slots;
  for (const Scalar& s : node.operands) {
    if (auto slot = rows.FindSlot(std::get<std::string>(s))) slots.push_back(*slot);
  }
  std::sort(slots.begin(), slots.end());
  slots.erase(std::unique(slots.begin(), slots.end()), slots.end());
  return Roaring(slots.size(), slots.data());
}

Roaring TestRows(const FilterNode& node, const RowSource& rows, const Roaring& within) {
  std::vector<uint32_t> kept;
  for (auto it = within.begin(); it != within.end(); ++it) {
    if (CompiledFilter::MatchesNode(node, rows.view(*it))) kept.push_back(*it);
  }
  return Roaring(kept.size(), kept.data());
}

// Children in evaluation order: indexed ones by estimated selectivity (most selective
// first under $and, least under $or), document predicates last.
std::vector<const FilterNode*> Ordered(const FilterNode& node, const RowSource& rows) {
  std::vector<std::pair<double, const FilterNode*>> keyed;
  for (const FilterNode& c : node.children) {
    double key = EstimateSelectivity(c, rows);
    if (node.kind == Kind::kOr) key = 1.0 - key;
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

}  // namespace

Roaring EvaluateFilter(const FilterNode& node, const RowSource& rows, const Roaring& within) {
  switch (node.kind) {
    case Kind::kAnd: {
      Roaring result = within;
      for (const FilterNode* c : Ordered(node, rows)) {
        if (result.isEmpty()) break;
        result = EvaluateFilter(*c, rows, result);
      }
      return result;
    }
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
      const Roaring positive = FieldPositive(node, rows.metadata_index());
      return IsNegation(node.op) ? within - positive : within & positive;
    }
    case Kind::kId: {
      const Roaring positive = IdPositive(node, rows);
      return IsNegation(node.op) ? within - positive : within & positive;
    }
    default:
      return TestRows(node, rows, within);
  }
}

double EstimateSelectivity(const FilterNode& node, const RowSource& rows) {
  const double live = LiveCount(rows);
  switch (node.kind) {
    case Kind::kAnd: {
      double s = 1.0;
      for (const FilterNode& c : node.children) s *= EstimateSelectivity(c, rows);
      return s;
    }
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
    default:
      return 0.5;
  }
}

double EstimateBitmapCost(const FilterNode& node, const RowSource& rows) {
  const double live = LiveCount(rows);
  switch (node.kind) {
    case Kind::kAnd:
    case Kind::kOr: {
      double cost = 0;
      for (const FilterNode& c : node.children) cost += EstimateBitmapCost(c, rows);
      return cost;
    }
    case Kind::kField: {
      const double matched = static_cast<double>(FieldPositiveEstimate(node, rows.metadata_index()));
      const double gather = IsRange(Positive(node.op)) ? matched * kRangeEntryCost : matched / kBitmapSlotsPerUnit;
      return 1.0 + gather + live / kBitmapSlotsPerUnit;
    }
    case Kind::kId:
      return 1.0 + static_cast<double>(node.operands.size()) + live / kBitmapSlotsPerUnit;
    default:
      return live * EstimateRowTestCost(node);  // a document predicate tests every candidate
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
