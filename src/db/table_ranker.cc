#include "db/table_ranker.h"

#include <roaring/roaring.hh>

#include <cmath>
#include <string>

#include "db/validate.h"

namespace fathom {

Result<std::vector<Hit>> TableRanker::DenseKnn(std::string_view key, const std::vector<float>& query, uint32_t limit,
                                               const std::vector<uint32_t>* candidates) {
  if (key != kEmbeddingKey) {
    return Status::InvalidArgument("a dense $knn query searches \"#embedding\", not \"" + std::string(key) + "\"");
  }
  const std::optional<uint32_t> dimension = table_.dimension();
  if (!dimension) return std::vector<Hit>{};  // no record has an embedding yet
  if (query.size() != *dimension) return Status::InvalidArgument(DimensionMismatchMessage(*dimension, query.size()));
  for (float v : query) {
    if (!std::isfinite(v)) return Status::InvalidArgument("a $knn query vector must hold finite numbers");
  }
  return vectors_.Search(table_, space_, query.data(), limit, candidates, knobs_);
}

Result<std::vector<Hit>> TableRanker::SparseKnn(std::string_view key, const SparseVector& query, uint32_t limit,
                                                const std::vector<uint32_t>* candidates) {
  (void)query, (void)limit, (void)candidates;
  return Status::InvalidArgument("sparse vector search is not available in fathom yet (key '" + std::string(key) +
                                 "'): rank by a dense $knn or $bm25");
}

Result<std::vector<Hit>> TableRanker::Bm25(std::string_view key, std::string_view text, uint32_t limit,
                                           const std::vector<uint32_t>* candidates) {
  if (key != kDocumentKey) {
    return Status::InvalidArgument("$bm25 searches \"#document\", not \"" + std::string(key) + "\"");
  }
  Roaring filter;
  if (candidates != nullptr) filter.addMany(candidates->size(), candidates->data());
  const std::vector<ScoredSlot> scored =
      table_.text_index()->Search(text, limit, candidates != nullptr ? &filter : nullptr, Bm25Params{});
  std::vector<Hit> hits;
  hits.reserve(scored.size());
  for (const ScoredSlot& s : scored) hits.push_back(Hit{-s.score, s.slot});  // lower is better
  return hits;
}

}  // namespace fathom
