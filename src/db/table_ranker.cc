#include "db/table_ranker.h"

#include <roaring/roaring.hh>

#include <cmath>
#include <string>

#include "common/value_coding.h"
#include "db/validate.h"

namespace fathom {

namespace {

// The checks every dense k-NN makes before searching; `dimension` is the table's.
Status CheckDenseQuery(std::string_view key, const std::vector<float>& query, uint32_t dimension) {
  if (key != kEmbeddingKey) {
    return Status::InvalidArgument("a dense $knn query searches \"#embedding\", not \"" + std::string(key) + "\"");
  }
  if (query.size() != dimension) return Status::InvalidArgument(DimensionMismatchMessage(dimension, query.size()));
  for (float v : query) {
    if (!std::isfinite(v)) return Status::InvalidArgument("a $knn query vector must hold finite numbers");
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<Hit>> TableRanker::DenseKnn(std::string_view key, const std::vector<float>& query, uint32_t limit,
                                               const std::vector<uint32_t>* candidates) {
  if (key != kEmbeddingKey) return CheckDenseQuery(key, query, 0);
  const std::optional<uint32_t> dimension = table_.dimension();
  if (!dimension) return std::vector<Hit>{};  // no record has an embedding yet
  FATHOM_RETURN_IF_ERROR(CheckDenseQuery(key, query, *dimension));
  return vectors_.Search(table_, space_, query.data(), limit, candidates, knobs_);
}

Result<std::vector<Hit>> TableRanker::DenseKnn(std::string_view key, const std::vector<float>& query, uint32_t limit,
                                               const VectorCandidates& candidates) {
  if (key != kEmbeddingKey) return CheckDenseQuery(key, query, 0);
  const std::optional<uint32_t> dimension = table_.dimension();
  if (!dimension) return std::vector<Hit>{};
  FATHOM_RETURN_IF_ERROR(CheckDenseQuery(key, query, *dimension));
  return vectors_.Search(table_, space_, query.data(), limit, candidates, knobs_);
}

// Chroma's sparse score: 1 - query . document, in float (its sparse_index_knn and
// sparse_log_knn operators), so lower is better like every $knn.
Result<std::vector<Hit>> TableRanker::SparseKnn(std::string_view key, const SparseVector& query, uint32_t limit,
                                                const std::vector<uint32_t>* candidates) {
  const SparseIndex* index = table_.sparse_index();
  if (index == nullptr || index->key() != key) {
    return Status::InvalidArgument("Cannot filter using metadata key '" + std::string(key) +
                                   "' with type 'SparseVector' because indexing is disabled");
  }
  if (Status s = CheckSparseVector(query); !s.ok()) {
    return Status::InvalidArgument("Invalid sparse vector in KNN query: " + s.message());
  }
  Roaring filter;
  if (candidates != nullptr) filter.addMany(candidates->size(), candidates->data());
  const std::vector<ScoredSlot> scored = index->Search(query, limit, candidates != nullptr ? &filter : nullptr);
  std::vector<Hit> hits;
  hits.reserve(scored.size());
  for (const ScoredSlot& s : scored) hits.push_back(Hit{1.0f - s.score, s.slot});
  return hits;
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
