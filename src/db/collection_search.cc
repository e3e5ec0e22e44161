// CollectionImpl, the Search API (fathom/search.h): the query layer's executor
// (query/search_exec.h) over the record table, with the collection's indexes as its
// ranking operators: the vector index for a dense $knn, the text index for $bm25.
#include <string>

#include "common/limits.h"
#include "db/collection_impl.h"
#include "db/document_reads.h"
#include "db/table_ranker.h"
#include "fathom/db.h"
#include "query/search_exec.h"

namespace fathom {

Result<std::vector<SearchResult>> Collection::Search(const SearchRequest& request) const {
  CollectionImpl::ReadAfterCheck checked(*impl_, lookup_check_.exchange(kNoCheck));
  return impl_->Search(request);
}

Result<std::vector<SearchResult>> CollectionImpl::Search(const SearchRequest& request) {
  return RunRead(request.read_level, [&] { return SearchOnce(request); });
}

Result<std::vector<SearchResult>> CollectionImpl::SearchOnce(const SearchRequest& request) {
  const DistanceSpace space = Space();
  std::vector<SearchResult> results;
  results.reserve(request.searches.size());
  std::shared_lock<std::shared_mutex> lock(state_mu_);
  TableRanker ranker(table_, vector_index_, space, VectorSearchKnobs{});
  const size_t dim = table_.dimension().value_or(0);
  std::vector<float> scratch(dim);
  uint64_t total_rows = 0;
  for (const SearchPayload& payload : request.searches) {
    DocumentReadScope reads;  // documents read on demand by a where_document verification
    FATHOM_ASSIGN_OR_RETURN(std::vector<SearchRow> rows, ExecuteSearch(payload, table_, ranker));
    FATHOM_RETURN_IF_ERROR(reads.status());
    // One bound on the whole answer, as for query: many searches with large limits must
    // not materialise the collection many times over.
    total_rows += rows.size();
    if (total_rows > limits::kQueryResultRowsMax) {
      return Status::InvalidArgument("a search request may return at most " +
                                     std::to_string(limits::kQueryResultRowsMax) +
                                     " result rows in all its searches (limits::kQueryResultRowsMax); lower their "
                                     "limits or split the request");
    }
    const SearchSelect& select = payload.select;
    SearchResult out;
    out.select = select;
    // Documents stored in segments: the result's distinct blocks in one batch per segment.
    std::vector<std::optional<std::string>> documents;
    if (select.document) {
      std::vector<uint32_t> slots;
      slots.reserve(rows.size());
      for (const SearchRow& r : rows) slots.push_back(r.slot);
      FATHOM_RETURN_IF_ERROR(table_.FetchDocuments(slots.data(), slots.size(), &documents));
    }
    for (size_t i = 0; i < rows.size(); ++i) {
      const SearchRow& r = rows[i];
      const Row& row = table_.row(r.slot);
      out.ids.push_back(row.id);
      if (select.document) out.documents.push_back(std::move(documents[i]));
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
