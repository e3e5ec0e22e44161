// The Search API's executor (docs/design/search-api.md): one SearchPayload over one
// collection's rows, as Chroma's distributed executor answers it:
//
//   filter ──► candidates ──► every $knn / $bm25 leaf once (Ranker) ──► candidate rule
//     ──► expression per candidate ──► sort ascending (score, then slot) ──► group_by
//     ──► offset / limit ──► (slot, score) rows; the engine materialises the columns.
//
// Without a rank the rows are the filter's matches in slot (insertion) order, paged.
//
// The candidate rule (Chroma's RankDomain algebra, rust/worker/.../operators/rank.rs): a
// record is scored when it is in every leaf's top list whose `default` is null, or, when
// every leaf has a default, in at least one leaf's list; a leaf with a default gives that
// value to records outside its list. An expression without any leaf scores nothing.
// Arithmetic is in float32, folded left to right from Chroma's seeds (0 for $sum, 1 for
// $mul, -FLT_MAX for $max, FLT_MAX for $min), so scores equal Chroma's bit for bit.
//
// Thread-safety: ExecuteSearch reads `rows` (the caller holds the lock RowSource's owner
// requires) and calls the Ranker from the calling thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "fathom/search.h"
#include "fathom/status.h"
#include "index/vector/top_k.h"
#include "query/row_source.h"

namespace fathom {

// The engine's ranking operators, over its vector and text indexes. Each returns the
// `limit` best rows among `candidates` (sorted slots; null = every live row), best first,
// with a score where lower is better (a distance, or a negated BM25 score). `limit` is
// never more than the number of live rows. Ties may come in any order; the executor
// keeps the order it is given (it defines return_rank positions).
class Ranker {
 public:
  virtual ~Ranker() = default;
  virtual Result<std::vector<Hit>> DenseKnn(std::string_view key, const std::vector<float>& query, uint32_t limit,
                                            const std::vector<uint32_t>* candidates) = 0;
  virtual Result<std::vector<Hit>> SparseKnn(std::string_view key, const SparseVector& query, uint32_t limit,
                                             const std::vector<uint32_t>* candidates) = 0;
  virtual Result<std::vector<Hit>> Bm25(std::string_view key, std::string_view text, uint32_t limit,
                                        const std::vector<uint32_t>* candidates) = 0;
};

// One result row: a live slot and its score (nullopt without a rank).
struct SearchRow {
  uint32_t slot = 0;
  std::optional<float> score;
  bool operator==(const SearchRow&) const = default;
};

// Runs one search. Errors: an invalid filter (InvalidArgument), or the Ranker's.
Result<std::vector<SearchRow>> ExecuteSearch(const SearchPayload& payload, const RowSource& rows, Ranker& ranker);

// ---- the steps, exposed for tests ----

// The $knn / $bm25 leaves of `expr` in depth-first, left-to-right order (the order their
// hit lists are given to ScoreCandidates).
std::vector<const RankExpr*> SearchLeaves(const RankExpr& expr);

// Applies the candidate rule and evaluates `expr` for every candidate. `leaf_hits[i]`
// holds the hits of SearchLeaves(expr)[i], best first. Result sorted by (score in IEEE
// total order, slot).
std::vector<SearchRow> ScoreCandidates(const RankExpr& expr, const std::vector<std::vector<Hit>>& leaf_hits);

// Keeps the best `k` rows per group (rows sorted as ScoreCandidates returns them, every
// score set); the result is sorted the same way. Records lacking a group key form a group
// per combination of the keys they do have (a missing value sorts before every value).
std::vector<SearchRow> ApplyGroupBy(const GroupBy& group_by, const RowSource& rows, std::vector<SearchRow> ranked);

// IEEE-754 totalOrder on floats (Rust's f32::total_cmp): -NaN < -inf < ... < -0 < +0 < ... <
// +inf < +NaN. Returns <0, 0, >0.
int TotalCompare(float a, float b);

}  // namespace fathom
