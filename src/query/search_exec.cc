#include "query/search_exec.h"

#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <unordered_map>

#include "index/meta/filter.h"
#include "query/select.h"

namespace fathom {

namespace {

// Maps a float's bits onto an integer whose order is IEEE totalOrder.
int32_t TotalOrderKey(float f) {
  int32_t bits = std::bit_cast<int32_t>(f);
  // Negative floats order backwards in their magnitude bits: flip them.
  return bits ^ static_cast<int32_t>(static_cast<uint32_t>(bits >> 31) >> 1);
}

int64_t TotalOrderKey(double d) {
  int64_t bits = std::bit_cast<int64_t>(d);
  return bits ^ static_cast<int64_t>(static_cast<uint64_t>(bits >> 63) >> 1);
}

bool RowLess(const SearchRow& a, const SearchRow& b) {
  const int c = TotalCompare(*a.score, *b.score);
  return c < 0 || (c == 0 && a.slot < b.slot);
}

void CollectLeaves(const RankExpr& expr, std::vector<const RankExpr*>& out) {
  if (expr.IsLeafSearch()) {
    out.push_back(&expr);
    return;
  }
  for (const RankExpr& child : expr.children) CollectLeaves(child, out);
}

// The value of each leaf's records: its score, or its position with return_rank.
using LeafValues = std::unordered_map<uint32_t, float>;

// Evaluates `expr` for one candidate; `next_leaf` walks the leaves in SearchLeaves order.
// Every operand is evaluated (no short-circuit), so the walk stays in step.
float Evaluate(const RankExpr& expr, uint32_t slot, const std::vector<LeafValues>& leaves, size_t& next_leaf) {
  switch (expr.kind) {
    case RankExpr::Kind::kKnn:
    case RankExpr::Kind::kBm25: {
      const LeafValues& values = leaves[next_leaf++];
      auto it = values.find(slot);
      if (it != values.end()) return it->second;
      // The candidate rule admits a record outside a leaf's list only through its default.
      return expr.search.default_value.value_or(std::numeric_limits<float>::quiet_NaN());
    }
    case RankExpr::Kind::kVal: return expr.value;
    case RankExpr::Kind::kSum: {
      float acc = 0.0f;
      for (const RankExpr& c : expr.children) acc = acc + Evaluate(c, slot, leaves, next_leaf);
      return acc;
    }
    case RankExpr::Kind::kMul: {
      float acc = 1.0f;
      for (const RankExpr& c : expr.children) acc = acc * Evaluate(c, slot, leaves, next_leaf);
      return acc;
    }
    case RankExpr::Kind::kMax: {
      float acc = -FLT_MAX;  // Rust's f32::MIN
      for (const RankExpr& c : expr.children) acc = std::fmax(acc, Evaluate(c, slot, leaves, next_leaf));
      return acc;
    }
    case RankExpr::Kind::kMin: {
      float acc = FLT_MAX;
      for (const RankExpr& c : expr.children) acc = std::fmin(acc, Evaluate(c, slot, leaves, next_leaf));
      return acc;
    }
    case RankExpr::Kind::kSub:
    case RankExpr::Kind::kDiv: {
      // The parser guarantees two operands; a hand-built malformed tree reads as NaN.
      if (expr.children.size() != 2) return std::numeric_limits<float>::quiet_NaN();
      const float left = Evaluate(expr.children[0], slot, leaves, next_leaf);
      const float right = Evaluate(expr.children[1], slot, leaves, next_leaf);
      return expr.kind == RankExpr::Kind::kSub ? left - right : left / right;
    }
    case RankExpr::Kind::kAbs:
    case RankExpr::Kind::kExp:
    case RankExpr::Kind::kLog: {
      if (expr.children.size() != 1) return std::numeric_limits<float>::quiet_NaN();
      const float v = Evaluate(expr.children[0], slot, leaves, next_leaf);
      if (expr.kind == RankExpr::Kind::kAbs) return std::fabs(v);
      return expr.kind == RankExpr::Kind::kExp ? std::exp(v) : std::log(v);
    }
  }
  return std::numeric_limits<float>::quiet_NaN();
}

// ---- group_by keys ----

int CompareDouble(double a, double b) {
  const int64_t x = TotalOrderKey(a), y = TotalOrderKey(b);
  return x < y ? -1 : (x > y ? 1 : 0);
}

template <typename T>
int CompareScalar(const T& a, const T& b) {
  if constexpr (std::is_same_v<T, double>) {
    return CompareDouble(a, b);
  } else {
    return a < b ? -1 : (b < a ? 1 : 0);
  }
}

template <typename T>
int CompareVector(const std::vector<T>& a, const std::vector<T>& b) {
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const int c = CompareScalar<T>(a[i], b[i]);
    if (c != 0) return c;
  }
  return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
}

// Values order by type first (bool, int, float, string, then the array types), then by
// value; an absent value sorts before every value.
int CompareValue(const std::optional<MetadataValue>& a, const std::optional<MetadataValue>& b) {
  if (!a || !b) return a ? 1 : (b ? -1 : 0);
  if (a->index() != b->index()) return a->index() < b->index() ? -1 : 1;
  return std::visit(
      [&](const auto& x) -> int {
        using T = std::decay_t<decltype(x)>;
        const T& y = std::get<T>(*b);
        if constexpr (std::is_same_v<T, std::vector<bool>> || std::is_same_v<T, std::vector<int64_t>> ||
                      std::is_same_v<T, std::vector<double>> || std::is_same_v<T, std::vector<std::string>>) {
          return CompareVector(x, y);
        } else if constexpr (std::is_same_v<T, SparseVector>) {
          // Any total order will do for grouping: indices, then values.
          const int c = CompareVector(x.indices, y.indices);
          return c != 0 ? c : CompareVector(x.values, y.values);
        } else {
          return CompareScalar<T>(x, y);
        }
      },
      *a);
}

using KeyTuple = std::vector<std::optional<MetadataValue>>;

int CompareTuple(const KeyTuple& a, const KeyTuple& b) {
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    const int c = CompareValue(a[i], b[i]);
    if (c != 0) return c;
  }
  return 0;
}

KeyTuple ExtractKeys(const std::vector<std::string>& keys, const std::optional<Metadata>& metadata, float score) {
  KeyTuple out;
  out.reserve(keys.size());
  for (const std::string& key : keys) {
    if (key == kScoreKey) {
      out.emplace_back(MetadataValue(static_cast<double>(score)));
    } else if (metadata) {
      auto it = metadata->find(key);
      out.emplace_back(it == metadata->end() ? std::nullopt : std::optional<MetadataValue>(it->second));
    } else {
      out.emplace_back(std::nullopt);
    }
  }
  return out;
}

}  // namespace

int TotalCompare(float a, float b) {
  const int32_t x = TotalOrderKey(a), y = TotalOrderKey(b);
  return x < y ? -1 : (x > y ? 1 : 0);
}

std::vector<const RankExpr*> SearchLeaves(const RankExpr& expr) {
  std::vector<const RankExpr*> out;
  CollectLeaves(expr, out);
  return out;
}

std::vector<SearchRow> ScoreCandidates(const RankExpr& expr, const std::vector<std::vector<Hit>>& leaf_hits) {
  const std::vector<const RankExpr*> leaves = SearchLeaves(expr);
  std::vector<LeafValues> values(leaves.size());
  for (size_t i = 0; i < leaves.size() && i < leaf_hits.size(); ++i) {
    const bool rank = leaves[i]->search.return_rank;
    values[i].reserve(leaf_hits[i].size());
    for (size_t position = 0; position < leaf_hits[i].size(); ++position) {
      const Hit& hit = leaf_hits[i][position];
      values[i].insert_or_assign(hit.slot, rank ? static_cast<float>(position) : hit.distance);
    }
  }

  // The candidate rule: in every list without a default, or (all have defaults) in any.
  std::vector<uint32_t> candidates;
  std::vector<size_t> required;
  for (size_t i = 0; i < leaves.size(); ++i) {
    if (!leaves[i]->search.default_value.has_value()) required.push_back(i);
  }
  if (!required.empty()) {
    // Walk the smallest required list, keep what every other required list holds.
    size_t smallest = required[0];
    for (size_t i : required) {
      if (values[i].size() < values[smallest].size()) smallest = i;
    }
    for (const auto& [slot, value] : values[smallest]) {
      bool in_all = true;
      for (size_t i : required) {
        if (i != smallest && !values[i].contains(slot)) {
          in_all = false;
          break;
        }
      }
      if (in_all) candidates.push_back(slot);
    }
  } else {
    for (const LeafValues& v : values) {
      for (const auto& [slot, value] : v) candidates.push_back(slot);
    }
    std::sort(candidates.begin(), candidates.end());
    candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  }

  std::vector<SearchRow> rows;
  rows.reserve(candidates.size());
  for (uint32_t slot : candidates) {
    size_t next_leaf = 0;
    float score = Evaluate(expr, slot, values, next_leaf);
    // An undefined score ($log of a negative, 0/0, inf - inf) is one NaN, the positive
    // one: it sorts after every number. The sign of a NaN depends on the order of the
    // operations that made it (x86 keeps the first operand's), which no user can control.
    if (std::isnan(score)) score = std::numeric_limits<float>::quiet_NaN();
    rows.push_back(SearchRow{slot, score});
  }
  std::sort(rows.begin(), rows.end(), RowLess);
  return rows;
}

std::vector<SearchRow> ApplyGroupBy(const GroupBy& group_by, const RowSource& rows, std::vector<SearchRow> ranked) {
  if (group_by.keys.empty() || ranked.empty()) return ranked;
  struct Enriched {
    SearchRow row;
    KeyTuple group;
    KeyTuple order;
  };
  std::vector<Enriched> records;
  records.reserve(ranked.size());
  for (const SearchRow& row : ranked) {
    const RecordView view = rows.metadata_view(row.slot);  // group keys are metadata
    const float score = row.score.value_or(0.0f);
    records.push_back(Enriched{row, ExtractKeys(group_by.keys, view.metadata, score),
                               ExtractKeys(group_by.aggregate_keys, view.metadata, score)});
  }
  // Stable sorts keep the ranked order among equal keys, as Chroma's sort_by_cached_key.
  std::stable_sort(records.begin(), records.end(),
                   [](const Enriched& a, const Enriched& b) { return CompareTuple(a.group, b.group) < 0; });
  const bool max_k = group_by.aggregate == GroupBy::Aggregate::kMaxK;
  std::vector<SearchRow> kept;
  size_t begin = 0;
  while (begin < records.size()) {
    size_t end = begin + 1;
    while (end < records.size() && CompareTuple(records[begin].group, records[end].group) == 0) ++end;
    std::stable_sort(records.begin() + static_cast<ptrdiff_t>(begin), records.begin() + static_cast<ptrdiff_t>(end),
                     [max_k](const Enriched& a, const Enriched& b) {
                       const int c = CompareTuple(a.order, b.order);
                       return max_k ? c > 0 : c < 0;
                     });
    const size_t take = std::min<size_t>(group_by.k, end - begin);
    for (size_t i = begin; i < begin + take; ++i) kept.push_back(records[i].row);
    begin = end;
  }
  std::sort(kept.begin(), kept.end(), RowLess);
  return kept;
}

Result<std::vector<SearchRow>> ExecuteSearch(const SearchPayload& payload, const RowSource& rows, Ranker& ranker) {
  FATHOM_ASSIGN_OR_RETURN(CompiledFilter filter, CompiledFilter::Compile(payload.filter, std::nullopt));
  const uint64_t limit = payload.limit.has_value() ? *payload.limit : UINT64_MAX;
  std::vector<SearchRow> out;
  if (!payload.rank.has_value()) {
    Selection selection;
    selection.filter = &filter;
    selection.offset = payload.offset;
    selection.limit = limit;
    for (uint32_t slot : SelectSlots(rows, selection)) out.push_back(SearchRow{slot, std::nullopt});
    return out;
  }

  FATHOM_ASSIGN_OR_RETURN(std::optional<std::vector<uint32_t>> candidates,
                          QueryCandidates(rows, std::nullopt, filter));
  const std::vector<uint32_t>* candidate_ptr = candidates.has_value() ? &*candidates : nullptr;
  const uint64_t available = candidate_ptr != nullptr ? candidate_ptr->size() : rows.live_slots().cardinality();

  const std::vector<const RankExpr*> leaves = SearchLeaves(*payload.rank);
  std::vector<std::vector<Hit>> leaf_hits(leaves.size());
  for (size_t i = 0; i < leaves.size(); ++i) {
    const RankExpr::Search& search = leaves[i]->search;
    // A limit past the rows there are asks for nothing more (and must not size a heap).
    const auto leaf_limit = static_cast<uint32_t>(std::min<uint64_t>(search.limit, available));
    if (leaf_limit == 0) continue;
    Result<std::vector<Hit>> hits = Status::Internal("search leaf without a query");
    if (leaves[i]->kind == RankExpr::Kind::kBm25) {
      if (const auto* text = std::get_if<std::string>(&search.query)) {
        hits = ranker.Bm25(search.key, *text, leaf_limit, candidate_ptr);
      }
    } else if (const auto* dense = std::get_if<std::vector<float>>(&search.query)) {
      hits = ranker.DenseKnn(search.key, *dense, leaf_limit, candidate_ptr);
    } else if (const auto* sparse = std::get_if<SparseVector>(&search.query)) {
      hits = ranker.SparseKnn(search.key, *sparse, leaf_limit, candidate_ptr);
    }
    if (!hits.ok()) return hits.status();
    leaf_hits[i] = std::move(hits).value();
    if (leaf_hits[i].size() > leaf_limit) leaf_hits[i].resize(leaf_limit);
  }

  std::vector<SearchRow> ranked = ScoreCandidates(*payload.rank, leaf_hits);
  if (payload.group_by.has_value()) ranked = ApplyGroupBy(*payload.group_by, rows, std::move(ranked));
  const uint64_t begin = std::min<uint64_t>(payload.offset, ranked.size());
  const uint64_t end = begin + std::min<uint64_t>(limit, ranked.size() - begin);
  out.assign(ranked.begin() + static_cast<ptrdiff_t>(begin), ranked.begin() + static_cast<ptrdiff_t>(end));
  return out;
}

}  // namespace fathom
