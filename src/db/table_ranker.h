// TableRanker: the query layer's ranking operators (query/search_exec.h's Ranker) over one
// collection's record table and indexes: a dense k-NN through the vector index (exact for
// rows it does not cover), BM25 through the text index. Used by query and by the Search
// API. Callers hold the table's shared lock for the ranker's lifetime.
#pragma once

#include <string_view>
#include <vector>

#include "db/collection_vector_index.h"
#include "db/record_table.h"
#include "query/search_exec.h"

namespace fathom {

class TableRanker final : public Ranker {
 public:
  TableRanker(const RecordTable& table, const CollectionVectorIndex& vectors, DistanceSpace space,
              VectorSearchKnobs knobs)
      : table_(table), vectors_(vectors), space_(space), knobs_(knobs) {}

  Result<std::vector<Hit>> DenseKnn(std::string_view key, const std::vector<float>& query, uint32_t limit,
                                    const std::vector<uint32_t>* candidates) override;
  // A dense k-NN among candidates prepared once for several queries
  // (CollectionVectorIndex::PrepareCandidates with this ranker's knobs).
  Result<std::vector<Hit>> DenseKnn(std::string_view key, const std::vector<float>& query, uint32_t limit,
                                    const VectorCandidates& candidates);
  // The candidates a filtered query's allowed rows become, for DenseKnn above.
  VectorCandidates PrepareDenseCandidates(const Roaring& allowed) const {
    return vectors_.PrepareCandidates(table_, allowed, knobs_);
  }
  Result<std::vector<Hit>> SparseKnn(std::string_view key, const SparseVector& query, uint32_t limit,
                                     const std::vector<uint32_t>* candidates) override;
  Result<std::vector<Hit>> Bm25(std::string_view key, std::string_view text, uint32_t limit,
                                const std::vector<uint32_t>* candidates) override;

 private:
  const RecordTable& table_;
  const CollectionVectorIndex& vectors_;
  const DistanceSpace space_;
  const VectorSearchKnobs knobs_;
};

}  // namespace fathom
