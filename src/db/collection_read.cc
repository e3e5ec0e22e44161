// CollectionImpl, the read path: get, query and count through the query layer (src/query),
// materialising rows, and the recall monitor's checks.
#include "db/collection_impl.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>
#include <type_traits>
#include <variant>
#include <unordered_set>

#include "common/assert.h"
#include "common/limits.h"
#include "common/random.h"
#include "db/document_reads.h"
#include "db/table_ranker.h"
#include "db/validate.h"
#include "fathom/db.h"
#include "index/meta/filter.h"
#include "query/filter_eval.h"
#include "query/select.h"
#include "index/vector/distance.h"
#include "index/vector/top_k.h"
#include "io/commit_object.h"
#include "storage/records_segment.h"
#include "wal/wal_format.h"

namespace fathom {

// ---- read path --------------------------------------------------------------------------

Status CollectionImpl::Materialise(const std::vector<uint32_t>& slots, const Include& include,
                                   GetResult* out) const {
  out->ids.reserve(slots.size());
  const size_t dim = table_.dimension().value_or(0);
  std::vector<float> scratch(dim);
  // Documents stored in segments: the page's distinct blocks in one batch per segment.
  std::vector<std::optional<std::string>> documents;
  if (include.documents) {
    FATHOM_RETURN_IF_ERROR(table_.FetchDocuments(slots.data(), slots.size(), &documents));
  }
  // Selected rows lie far apart in the table (a filter's matches): each is a cache miss,
  // so the row a few places ahead is fetched while this one is copied.
  constexpr size_t kPrefetchAhead = 8;
  for (size_t i = 0; i < slots.size(); ++i) {
    if (i + kPrefetchAhead < slots.size()) __builtin_prefetch(&table_.row(slots[i + kPrefetchAhead]));
    const uint32_t slot = slots[i];
    const Row& row = table_.row(slot);
    out->ids.push_back(row.id);
    if (include.embeddings) {
      Status status;
      const float* e = table_.vectors().Exact(slot, scratch.data(), &status);
      if (e == nullptr) return status.WithContext("reading the embedding of " + row.id);
      out->embeddings.emplace_back(e, e + dim);
    }
    if (include.documents) out->documents.push_back(std::move(documents[i]));
    if (include.uris) out->uris.push_back(row.uri);
    if (include.metadatas) {
      // As Chroma, which keeps a record's URI among its metadata: a record with a URI
      // and no metadata has empty metadata ({}), not none (null).
      if (!row.metadata && row.uri) {
        out->metadatas.push_back(Metadata{});
      } else {
        out->metadatas.push_back(row.metadata);
      }
    }
  }
  return Status::Ok();
}

Result<GetResult> CollectionImpl::Get(const GetRequest& request) {
  return RunRead(ReadLevel::kIndexAndWal, [&] { return GetOnce(request); });
}

Result<GetResult> CollectionImpl::GetOnce(const GetRequest& request) {
  FATHOM_ASSIGN_OR_RETURN(CompiledFilter filter, CompiledFilter::Compile(request.where, request.where_document));
  Selection selection;
  if (request.ids) selection.ids = &*request.ids;
  selection.filter = &filter;
  selection.offset = request.offset;
  if (request.limit) selection.limit = *request.limit;
  std::shared_lock<std::shared_mutex> lock(state_mu_);
  DocumentReadScope reads;  // documents read on demand by the filter's verification
  const std::vector<uint32_t> selected = SelectSlots(table_, selection);
  FATHOM_RETURN_IF_ERROR(reads.status());
  GetResult result;
  FATHOM_RETURN_IF_ERROR(Materialise(selected, request.include, &result));
  return result;
}

Result<QueryResult> CollectionImpl::Query(const QueryRequest& request) {
  FATHOM_RETURN_IF_ERROR(ValidateQueryShape(request.query_embeddings.size(), request.n_results));
  FATHOM_RETURN_IF_ERROR(ValidateQueryEmbeddings(request.query_embeddings, request.n_results));
  if (!(request.search_effort > 0.0 && request.search_effort <= limits::kSearchEffortMax)) {
    return Status::InvalidArgument("search_effort must be in (0, " + std::to_string(limits::kSearchEffortMax) + "]");
  }
  if (request.search_probes > limits::kVectorIndexProbesMax) {
    return Status::InvalidArgument("search_probes " + std::to_string(request.search_probes) +
                                   " exceeds the maximum of " + std::to_string(limits::kVectorIndexProbesMax));
  }
  return RunRead(ReadLevel::kIndexAndWal, [&] { return QueryOnce(request); });
}

Result<QueryResult> CollectionImpl::QueryOnce(const QueryRequest& request) {
  FATHOM_ASSIGN_OR_RETURN(CompiledFilter filter, CompiledFilter::Compile(request.where, request.where_document));
  const DistanceSpace space = Space();
  std::shared_lock<std::shared_mutex> lock(state_mu_);
  DocumentReadScope reads;  // documents read on demand by the filter's verification
  const std::optional<uint32_t> dimension = table_.dimension();
  for (const auto& q : request.query_embeddings) {
    if (dimension && q.size() != *dimension) {
      return Status::InvalidArgument(DimensionMismatchMessage(*dimension, q.size()));
    }
  }
  VectorSearchKnobs knobs;
  knobs.probes = request.search_probes;
  knobs.effort = request.search_effort;
  TableRanker ranker(table_, vector_index_, space, knobs);
  // Candidates: every live row (nullopt), or the named ids; then the filter. A filter
  // alone hands its bitmap to the vector search, which copies it container by container
  // into the bitset its scan tests (a list of slots costs a few ns per allowed row: at
  // 10 % of 1M rows, more than the search itself).
  std::optional<std::vector<uint32_t>> candidates;
  std::optional<VectorCandidates> prepared;
  if (!request.ids.has_value() && !filter.empty()) {
    prepared = ranker.PrepareDenseCandidates(EvaluateFilter(*filter.root(), table_, table_.live_slots()));
  } else {
    FATHOM_ASSIGN_OR_RETURN(candidates, QueryCandidates(table_, request.ids, filter));
  }
  FATHOM_RETURN_IF_ERROR(reads.status());
  const bool restricted = candidates.has_value() || prepared.has_value();
  QueryResult result;
  result.rows.resize(request.query_embeddings.size());
  if (request.include.distances) result.distances.resize(request.query_embeddings.size());
  for (size_t qi = 0; qi < request.query_embeddings.size(); ++qi) {
    FATHOM_ASSIGN_OR_RETURN(
        std::vector<Hit> hits,
        prepared.has_value()
            ? ranker.DenseKnn(kEmbeddingKey, request.query_embeddings[qi], request.n_results, *prepared)
            : ranker.DenseKnn(kEmbeddingKey, request.query_embeddings[qi], request.n_results,
                              candidates.has_value() ? &*candidates : nullptr));
    std::vector<uint32_t> slots;
    slots.reserve(hits.size());
    for (const Hit& h : hits) {
      slots.push_back(h.slot);
      if (request.include.distances) result.distances[qi].push_back(h.distance);
    }
    // Under a memory budget a sample's truth is an exact scan reading every cold row from
    // its part (no int8 copies to rank them by): only when the user asked for sampling.
    const bool monitored = !memory_budget_.bounded() || options_.recall_sample_interval != 0;
    if (!restricted && monitored && vector_index_.has_index() && recall_monitor_.ShouldSample(table_.live_count())) {
      RecallMonitor::Sample sample{request.query_embeddings[qi], request.n_results, {}, last_sequence_};
      for (const Hit& h : hits) sample.distances.push_back(h.distance);
      recall_monitor_.Offer(std::move(sample));
    }
    FATHOM_RETURN_IF_ERROR(Materialise(slots, request.include, &result.rows[qi]));
  }
  lock.unlock();
  if (recall_monitor_.BatchReady() && schedule_ && !compaction_scheduled_.exchange(true)) {
    schedule_(weak_from_this());
  }
  return result;
}

void CollectionImpl::CheckRecallSamples() {
  std::vector<RecallMonitor::Sample> samples = recall_monitor_.TakePending();
  if (samples.empty()) return;
  const DistanceSpace space = Space();
  for (const RecallMonitor::Sample& sample : samples) {
    // One exact scan per lock hold, so a writer waits for one scan at most.
    std::shared_lock<std::shared_mutex> lock(state_mu_);
    // The truth must be the truth of the state that answered.
    if (sample.sequence != last_sequence_) {
      recall_monitor_.Discard();
      continue;
    }
    auto truth = vector_index_.ExactNearest(table_, space, sample.query.data(), sample.k);
    lock.unlock();
    if (!truth.ok()) {
      recall_monitor_.Discard();
      continue;
    }
    const uint32_t k = static_cast<uint32_t>(truth->size());
    if (k == 0) continue;
    std::vector<Hit> found;
    for (float distance : sample.distances) found.push_back(Hit{distance, 0});
    recall_monitor_.Record(TieAwareRecall(found, truth->back().distance, k));
  }
  const RecallMonitor::Report report = recall_monitor_.report();
  const double target = vector_index_.recall_target();
  if (report.samples >= limits::kRecallWarnMinSamples && report.mean_recall < target) {
    // Once per window's worth of samples, not once per batch.
    const uint64_t warned_at = recall_warned_at_.load();
    if (warned_at == 0 || report.recorded_total >= warned_at + limits::kRecallWindowSamples) {
      recall_warned_at_.store(report.recorded_total);
      spdlog::warn("collection {}: measured recall@k {:.3f} over the last {} sampled queries is below the target "
                   "{:.2f} (GET /fathom/v1/tenants/{{t}}/databases/{{d}}/collections/{}/vector_index shows the "
                   "settings in use)",
                   id_, report.mean_recall, report.samples, target, id_);
    }
  }
}

Result<uint64_t> CollectionImpl::Count(const CountRequest& request) {
  return RunRead(request.read_level, [&] { return CountOnce(request); });
}

Result<uint64_t> CollectionImpl::CountOnce(const CountRequest& request) {
  FATHOM_ASSIGN_OR_RETURN(CompiledFilter filter, CompiledFilter::Compile(request.where, request.where_document));
  Selection selection;
  if (request.ids) selection.ids = &*request.ids;
  selection.filter = &filter;
  std::shared_lock<std::shared_mutex> lock(state_mu_);
  if (selection.ids == nullptr && filter.empty()) return static_cast<uint64_t>(table_.live_count());
  DocumentReadScope reads;  // documents read on demand by the filter's verification
  const uint64_t count = CountSlots(table_, selection);
  FATHOM_RETURN_IF_ERROR(reads.status());
  return count;
}

}  // namespace fathom
