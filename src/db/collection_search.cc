// CollectionImpl, the Search API (fathom/search.h): the query layer's executor
// (query/search_exec.h) over the record table, with the collection's indexes as its
// ranking operators: the vector index for a dense $knn, the text index for $bm25.
#include <roaring/roaring.hh>

#include <cmath>
#include <string>

#include "db/collection_impl.h"
#include "db/validate.h"
#include "fathom/db.h"
#include "query/search_exec.h"

namespace fathom {

namespace {

class TableRanker final : public Ranker {
 public:
  TableRanker(const RecordTable& table, const CollectionVectorIndex& vectors, DistanceSpace space)
      : table_(table), vectors_(vectors), space_(space) {}

  Result<std::vector<Hit>> DenseKnn(std::string_view key, const std::vector<float>& query, uint32_t limit,
                                    const std::vector<uint32_t>* candidates) override {
    if (key != kEmbeddingKey) {
      return Status::InvalidArgument("a dense $knn query searches \"#embedding\", not \"" + std::string(key) + "\"");
    }
    const std::optional<uint32_t> dimension = table_.dimension();
    if (!dimension) return std::vector<Hit>{};  // no record has an embedding yet
    if (query.size() != *dimension) return Status::InvalidArgument(DimensionMismatchMessage(*dimension, query.size()));
    for (float v : query) {
      if (!std::isfinite(v)) return Status::InvalidArgument("a $knn query vector must hold finite numbers");
    }
    return vectors_.Search(table_, space_, query.data(), limit, candidates, VectorSearchKnobs{});
  }

  Result<std::vector<Hit>> SparseKnn(std::string_view key, const SparseVector& query, uint32_t limit,
                                     const std::vector<uint32_t>* candidates) override {
    (void)query, (void)limit, (void)candidates;
    return Status::InvalidArgument("sparse vector search is not available in fathom yet (key '" + std::string(key) +
                                   "'): rank by a dense $knn or $bm25");
  }

  Result<std::vector<Hit>> Bm25(std::string_view key, std::string_view text, uint32_t limit,
                                const std::vector<uint32_t>* candidates) override {
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

 private:
  const RecordTable& table_;
  const CollectionVectorIndex& vectors_;
  const DistanceSpace space_;
};

}  // namespace

Result<std::vector<SearchResult>> Collection::Search(const SearchRequest& request) const {
  return impl_->Search(request);
}

Result<std::vector<SearchResult>> CollectionImpl::Search(const SearchRequest& request) {
  CallScope call(*this);
  FATHOM_RETURN_IF_ERROR(call.status());
  FATHOM_RETURN_IF_ERROR(EnsureOpen());
  auto result = SearchOnce(request);
  if (!result.ok() && result.status().IsCorruption() && RepairColdPartsNow()) result = SearchOnce(request);
  return result;
}

Result<std::vector<SearchResult>> CollectionImpl::SearchOnce(const SearchRequest& request) {
  const DistanceSpace space = Space();
  std::vector<SearchResult> results;
  results.reserve(request.searches.size());
  std::shared_lock<std::shared_mutex> lock(state_mu_);
  TableRanker ranker(table_, vector_index_, space);
  const size_t dim = table_.dimension().value_or(0);
  std::vector<float> scratch(dim);
  for (const SearchPayload& payload : request.searches) {
    FATHOM_ASSIGN_OR_RETURN(std::vector<SearchRow> rows, ExecuteSearch(payload, table_, ranker));
    const SearchSelect& select = payload.select;
    SearchResult out;
    out.select = select;
    for (const SearchRow& r : rows) {
      const Row& row = table_.row(r.slot);
      out.ids.push_back(row.id);
      if (select.document) out.documents.push_back(row.document);
      if (select.embedding) {
        Status status;
        const float* e = table_.vectors().Exact(r.slot, scratch.data(), &status);
        if (e == nullptr) return status.WithContext("reading the embedding of " + row.id);
        out.embeddings.emplace_back(std::vector<float>(e, e + dim));
      }
      if (select.metadata) {
        // As get and query: a record with a URI and no metadata has empty metadata.
        out.metadatas.push_back(!row.metadata && row.uri ? std::optional<Metadata>(Metadata{}) : row.metadata);
      } else if (!select.metadata_keys.empty()) {
        Metadata picked;
        if (row.metadata) {
          for (const std::string& key : select.metadata_keys) {
            auto it = row.metadata->find(key);
            if (it != row.metadata->end()) picked.emplace(it->first, it->second);
          }
        }
        out.metadatas.push_back(picked.empty() ? std::nullopt : std::optional<Metadata>(std::move(picked)));
      }
      if (select.score) out.scores.push_back(r.score);
    }
    results.push_back(std::move(out));
  }
  return results;
}

}  // namespace fathom
