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
#include "db/validate.h"
#include "fathom/db.h"
#include "index/meta/filter.h"
#include "query/select.h"
#include "index/vector/distance.h"
#include "index/vector/top_k.h"
#include "io/clock.h"
#include "io/commit_object.h"
#include "storage/records_segment.h"
#include "wal/wal_format.h"

namespace fathom {

CollectionImpl::CollectionImpl(std::shared_ptr<CollectionMeta> meta, std::shared_ptr<ObjectStore> store,
                               const DatabaseOptions& options, std::shared_ptr<BlockCachePool> vector_caches,
                               CompactionScheduler schedule)
    : id_(meta->entry.id),
      meta_(std::move(meta)),
      store_(std::move(store)),
      options_(options),
      vector_caches_(std::move(vector_caches)),
      memory_budget_(MemoryBudget::Resolve(options)),
      compaction_trigger_ops_(options.compaction_trigger_ops ? options.compaction_trigger_ops
                                                             : limits::kCompactionTriggerOpsDefault),
      wal_object_bytes_max_(options.wal_object_bytes_max
                                ? std::min<uint64_t>(options.wal_object_bytes_max, limits::kWalObjectBytesMax)
                                : limits::kWalObjectBytesMax),
      schedule_(std::move(schedule)),
      shared_(options.sharing == DatabaseOptions::Sharing::kShared),
      gc_grace_(std::max(options.gc_grace, std::chrono::milliseconds(0))),
      clock_(options.clock ? options.clock.get() : RealClock().get()),
      write_queue_("write queue of collection " + id_, limits::kWriteQueueMax, limits::kWalGroupBytesMax,
                   options.clock ? options.clock.get() : RealClock().get()),
      vector_index_(options.vector_index_min_rows, options.vector_recall_target, options.int8_scan_min_bytes),
      recall_monitor_(options.recall_sample_interval) {}

Status CollectionImpl::CheckUsable() const {
  if (dropped_.load()) return Status::NotFound("Collection [" + id_ + "] does not exist.");
  if (closed_.load()) return Status::Unavailable("the database is closed");
  return Status::Ok();
}

CollectionImpl::CallScope::CallScope(CollectionImpl& owner) : owner_(owner) {
  std::lock_guard<std::mutex> lock(owner_.calls_mu_);
  status_ = owner_.CheckUsable();
  if (status_.ok()) ++owner_.calls_;
}

CollectionImpl::CallScope::~CallScope() {
  if (!status_.ok()) return;
  std::lock_guard<std::mutex> lock(owner_.calls_mu_);
  if (--owner_.calls_ == 0) owner_.calls_cv_.notify_all();
}

void CollectionImpl::MarkDropped() {
  {
    // Under calls_mu_, so that no call is admitted after WaitForCalls has seen zero.
    std::lock_guard<std::mutex> lock(calls_mu_);
    dropped_.store(true);
  }
  write_queue_.WakeWaiters();
}

void CollectionImpl::MarkClosed() {
  {
    std::lock_guard<std::mutex> lock(calls_mu_);
    closed_.store(true);
  }
  write_queue_.WakeWaiters();
}

void CollectionImpl::WaitForCalls() {
  std::unique_lock<std::mutex> lock(calls_mu_);
  calls_cv_.wait(lock, [&] { return calls_ == 0; });
}

Status CollectionImpl::EnsureOpen() {
  CallScope call(*this);
  FATHOM_RETURN_IF_ERROR(call.status());
  std::lock_guard<std::mutex> lock(open_mu_);
  if (opened_) return open_status_;
  if (predecessor_) {
    // An earlier handle of this collection was dropped while calls ran on it: they end
    // before this one recovers, or the two would delete each other's objects.
    predecessor_->WaitForCalls();
    predecessor_.reset();
  }
  Status s = Recover();
  if (!s.ok()) {
    spdlog::error("collection {}: recovery failed: {}", id_, s.ToString());
    // Bad bytes stay an error; an I/O failure is retried by the next call.
    if (s.code() != StatusCode::kCorruption) return s;
  }
  opened_ = true;
  open_status_ = s;
  open_ok_.store(s.ok());
  return s;
}

Result<CollectionInfo> CollectionImpl::Info() {
  CallScope call(*this);
  FATHOM_RETURN_IF_ERROR(call.status());
  FATHOM_RETURN_IF_ERROR(EnsureOpen());
  CollectionInfo info;
  {
    std::lock_guard<std::mutex> lock(meta_->mu);
    const CatalogCollection& e = meta_->entry;
    info.id = e.id;
    info.name = e.name;
    info.tenant = e.tenant;
    info.database = e.database;
    info.metadata = e.metadata;
    info.space = e.space;
    info.configuration_json = e.configuration_json;
    info.text_analyzer = e.text_analyzer;
    info.sparse_key = e.sparse_key;
  }
  std::shared_lock<std::shared_mutex> lock(state_mu_);
  info.dimension = table_.dimension();
  return info;
}

Result<std::shared_ptr<const Analyzer>> CollectionImpl::MakeTextAnalyzer(
    const std::optional<TextAnalyzerOptions>& options) {
  if (!options.has_value()) return Analyzer::Default();
  AnalyzerOptions analyzer;
  analyzer.remove_diacritics = options->remove_diacritics;
  analyzer.stemmer = options->stemmer;
  analyzer.stop_words = options->stop_words;
  return Analyzer::Make(analyzer);
}

// ---- recovery ---------------------------------------------------------------------------

Status CollectionImpl::Recover() {
  // The table's settings first: a collection whose analyzer this build refuses loads
  // nothing.
  FATHOM_ASSIGN_OR_RETURN(TableSettings settings, CatalogTableSettings());
  // A load is a freshness check too (docs/design/object-storage.md).
  const uint64_t check_number = checks_started_.fetch_add(1) + 1;
  const Clock::TimePoint started = clock_->Now();
  FATHOM_ASSIGN_OR_RETURN(std::vector<ObjectInfo> manifests, store_->List(ManifestPrefix(id_)));
  std::unique_lock<std::shared_mutex> lock(state_mu_);
  // From nothing: a failed earlier attempt may have loaded part of the state.
  ResetStateLocked(std::move(settings));
  // The newest manifest's state, its indexes sealed (none: the empty collection).
  if (!manifests.empty()) {
    FATHOM_RETURN_IF_ERROR(LoadManifestLocked(manifests.back().key));
  }
  indexes_.Absorb(table_, {});
  last_sequence_ = manifest_.wal_sequence_covered;
  // Then every WAL object after it, in order, or Corruption: every acknowledged write is
  // in the table.
  FATHOM_RETURN_IF_ERROR(ReplayWalLocked());
  (void)OverMemoryBudget();  // warns once if the budget cannot hold the index
  lock.unlock();
  // The load's freshness check is finished: strong reads that arrived before it started
  // skip theirs.
  known_manifest_version_ = manifest_.version;
  manifests_checked_at_ = started;
  checks_finished_ = check_number;
  wal_uncertain_ = false;
  // What an interrupted compaction left (objects the loaded manifest does not name) is
  // swept, now or by the background job.
  if (options_.background_compaction && schedule_) {
    // The sweep for objects an interrupted compaction left (five LISTs) is the background
    // job's first work, off the path of the request that opened the collection.
    obsolete_sweep_due_.store(true);
    if (!compaction_scheduled_.exchange(true)) schedule_(weak_from_this());
  } else {
    DeleteObsolete(manifest_);
  }
  MaybeScheduleCompaction();
  return Status::Ok();
}

Result<CollectionImpl::TableSettings> CollectionImpl::CatalogTableSettings() const {
  std::optional<TextAnalyzerOptions> text_options;
  TableSettings settings;
  {
    std::lock_guard<std::mutex> lock(meta_->mu);
    text_options = meta_->entry.text_analyzer;
    settings.sparse_key = meta_->entry.sparse_key;
  }
  // Checked at creation; refused now only if this build's libstemmer lacks the language.
  auto text_analyzer = MakeTextAnalyzer(text_options);
  if (!text_analyzer.ok()) {
    return Status::Corruption("collection " + id_ + ": its text analyzer options are refused: " +
                              text_analyzer.status().message());
  }
  settings.text_analyzer = std::move(*text_analyzer);
  return settings;
}

void CollectionImpl::ResetStateLocked(TableSettings settings) {
  table_ = RecordTable();
  table_.set_executor(options_.executor.get());
  // Before any row loads: the text index tokenizes rows as they arrive.
  table_.set_text_analyzer(std::move(settings.text_analyzer));
  if (settings.sparse_key) table_.set_sparse_key(*settings.sparse_key);
  indexes_.Reset();
  manifest_ = Manifest();
  tail_.clear();
  tail_ops_ = 0;
  tail_bytes_ = 0;
}

Status CollectionImpl::LoadManifestLocked(const std::string& key) {
  FATHOM_ASSIGN_OR_RETURN(std::string bytes, store_->Get(key));
  auto manifest = DecodeManifest(bytes);
  if (!manifest.ok()) return manifest.status().WithContext(key);
  if (ManifestKey(id_, manifest->version) != key) {
    return Status::Corruption(key + ": holds manifest version " + std::to_string(manifest->version));
  }
  manifest_ = std::move(*manifest);
  if (manifest_.dimension != 0) table_.set_dimension(manifest_.dimension);
  OpenColdPartsLocked();
  table_.BeginBulkLoad();
  for (const SegmentRef& ref : manifest_.segments) {
    if (manifest_.dimension == 0 && ref.rows > 0) return Status::Corruption(key + ": rows without a dimension");
    FATHOM_RETURN_IF_ERROR(LoadSegmentLocked(ref));
  }
  if (manifest_.dimension != 0) table_.set_dimension(manifest_.dimension);
  table_.mutable_vectors().EndLoad();
  table_.set_next_offset(manifest_.next_offset);
  table_.TakeDirty();  // loaded state is already durable in segments
  // Derived data: each index is offered the object the manifest names, which it loads,
  // or hands to the seal below (the text index object gives the document indexes:
  // documents-on-demand.md). Whatever is missing or refused is rebuilt.
  FATHOM_RETURN_IF_ERROR(indexes_.Load(*store_, id_, manifest_, table_));
  // The row indexes the objects did not give are built; the document indexes read the
  // stored documents back in bounded batches. A failed read fails the open, which a
  // retry repeats.
  return table_.SealIndexes();
}

void CollectionImpl::OpenColdPartsLocked() {
  if (!options_.cold_vectors) return;  // every row stays in RAM; the next fold drops the parts
  // Every part's header and row tags in one batch (one round trip on S3, not two per
  // part); a local directory's parts are read from their files.
  std::vector<VectorFileOpening> openings(manifest_.cold_parts.size());
  if (!manifest_.cold_parts.empty() && !store_->LocalPath(ColdPartKey(id_, manifest_.cold_parts[0].id))) {
    std::vector<VectorFile::ObjectToOpen> objects;
    for (const ColdPartRef& ref : manifest_.cold_parts) {
      objects.push_back({ColdPartKey(id_, ref.id), ref.size_bytes, ref.rows});
    }
    openings = VectorFile::ReadOpenings(*store_, objects);
  }
  for (size_t i = 0; i < manifest_.cold_parts.size(); ++i) {
    const ColdPartRef& ref = manifest_.cold_parts[i];
    // Derived data: rows a part cannot give back simply stay in RAM.
    const std::string part_key = ColdPartKey(id_, ref.id);
    // The manifest's size saves a HEAD per part (a wrong one fails the part's reads).
    auto part = VectorColumn::OpenPart(store_, part_key, ref.id, VectorCache(manifest_.dimension),
                                       manifest_.dimension, ref.size_bytes, memory_budget_.cold_approximations,
                                       std::move(openings[i]));
    Status s = part.ok() ? table_.mutable_vectors().BeginLoad(std::move(*part)) : part.status();
    if (!s.ok()) spdlog::warn("collection {}: ignoring cold part {} ({})", id_, part_key, s.ToString());
  }
}

Status CollectionImpl::ReplayWalLocked() {
  FATHOM_ASSIGN_OR_RETURN(std::vector<ObjectInfo> wal,
                          store_->List(WalPrefix(id_), WalKey(id_, last_sequence_)));
  for (const ObjectInfo& object : wal) {
    uint64_t sequence;
    if (!ParseWalKey(object.key, &sequence)) return Status::Corruption("unexpected object " + object.key);
    if (sequence != last_sequence_ + 1) {
      return Status::Corruption("WAL gap: expected sequence " + std::to_string(last_sequence_ + 1) + ", found " +
                                object.key);
    }
    FATHOM_ASSIGN_OR_RETURN(std::string bytes, store_->Get(object.key));
    FATHOM_ASSIGN_OR_RETURN(WalObject decoded, DecodeWalObjectAt(bytes, object.key, sequence));
    FATHOM_RETURN_IF_ERROR(ApplyLocked(std::move(decoded.ops), sequence, bytes.size()));
  }
  return Status::Ok();
}

Status CollectionImpl::ApplyLocked(OperationBatch&& ops, uint64_t sequence, uint64_t bytes) {
  // Every embedding must match the collection's dimension (or, before the first one,
  // each other). The commit path checks this before logging; a logged object that breaks
  // it (another writer, or bytes with a valid checksum but wrong content) is Corruption
  // and is not applied at all.
  std::optional<uint32_t> dimension = table_.dimension();
  for (const Operation& op : ops) {
    if (!op.record.embedding) continue;
    if (!dimension) dimension = static_cast<uint32_t>(op.record.embedding->size());
    if (op.record.embedding->size() != *dimension) {
      return Status::Corruption("WAL object " + std::to_string(sequence) + ": embedding of dimension " +
                                std::to_string(op.record.embedding->size()) + " in a collection of dimension " +
                                std::to_string(*dimension));
    }
  }
  table_.Reserve(ops.size());
  for (Operation& op : ops) table_.Apply(std::move(op));
  indexes_.Absorb(table_, table_.MaybeShrink());
  last_sequence_ = sequence;
  tail_.push_back({sequence, ops.size(), bytes});
  tail_ops_ += ops.size();
  tail_bytes_ += bytes;
  return Status::Ok();
}

}  // namespace fathom
