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
#include "io/commit_object.h"
#include "storage/records_segment.h"
#include "wal/wal_format.h"

namespace fathom {

struct CollectionImpl::PendingWrite {
  OperationBatch ops;
  std::optional<uint32_t> dimension;       // of the embeddings in ops
  const DeleteRequest* filter_delete = nullptr;
  uint64_t deleted = 0;                    // for filter deletes
  size_t bytes_estimate = 0;
  Status status;
  bool done = false;
  std::condition_variable cv;
};

namespace {

// An upper bound of a value's encoded size (tag, varint lengths of at most 10 bytes).
size_t ValueBytesBound(const MetadataValue& value) {
  constexpr size_t kHeader = 1 + 10;
  return std::visit(
      [](const auto& v) -> size_t {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return kHeader + v.size();
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          size_t bytes = kHeader;
          for (const std::string& s : v) bytes += 10 + s.size();
          return bytes;
        } else if constexpr (std::is_same_v<T, std::vector<bool>> || std::is_same_v<T, std::vector<int64_t>> ||
                             std::is_same_v<T, std::vector<double>>) {
          return kHeader + v.size() * 10;
        } else {
          return kHeader + 10;
        }
      },
      value);
}

// An upper bound of the ops' encoded size, so that a request is refused before it is
// queued rather than after (an estimate that was 4x short let a write produce a WAL
// object its decoder refuses).
size_t EstimateBytes(const OperationBatch& ops) {
  size_t bytes = 0;
  for (const Operation& op : ops) {
    bytes += 16 + 10 + op.record.id.size();
    if (op.record.embedding) bytes += 10 + op.record.embedding->size() * 4;
    if (op.record.document) bytes += 10 + op.record.document->size();
    if (op.record.uri) bytes += 10 + op.record.uri->size();
    if (op.record.metadata) {
      bytes += 10;
      for (const auto& [key, value] : *op.record.metadata) {
        bytes += 10 + key.size() + (value ? ValueBytesBound(*value) : 1);
      }
    }
  }
  return bytes;
}

}  // namespace

CollectionImpl::CollectionImpl(std::shared_ptr<CollectionMeta> meta, std::shared_ptr<ObjectStore> store,
                               const DatabaseOptions& options, std::shared_ptr<BlockCachePool> vector_caches,
                               CompactionScheduler schedule)
    : id_(meta->entry.id),
      meta_(std::move(meta)),
      store_(std::move(store)),
      options_(options),
      vector_caches_(std::move(vector_caches)),
      compaction_trigger_ops_(options.compaction_trigger_ops ? options.compaction_trigger_ops
                                                             : limits::kCompactionTriggerOpsDefault),
      wal_object_bytes_max_(options.wal_object_bytes_max
                                ? std::min<uint64_t>(options.wal_object_bytes_max, limits::kWalObjectBytesMax)
                                : limits::kWalObjectBytesMax),
      schedule_(std::move(schedule)),
      vector_index_(options.vector_index_min_rows, options.vector_recall_target),
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
  std::lock_guard<std::mutex> lock(queue_mu_);
  queue_space_cv_.notify_all();
}

void CollectionImpl::MarkClosed() {
  {
    std::lock_guard<std::mutex> lock(calls_mu_);
    closed_.store(true);
  }
  std::lock_guard<std::mutex> lock(queue_mu_);
  queue_space_cv_.notify_all();
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
  }
  std::shared_lock<std::shared_mutex> lock(state_mu_);
  info.dimension = table_.dimension();
  return info;
}

// ---- recovery ---------------------------------------------------------------------------

Status CollectionImpl::Recover() {
  FATHOM_ASSIGN_OR_RETURN(std::vector<ObjectInfo> manifests, store_->List(ManifestPrefix(id_)));
  std::unique_lock<std::shared_mutex> lock(state_mu_);
  // A failed earlier attempt may have loaded part of the state: start from nothing.
  table_ = RecordTable();
  vector_index_.Reset();
  manifest_ = Manifest();
  tail_.clear();
  tail_ops_ = 0;
  tail_bytes_ = 0;
  if (!manifests.empty()) {
    const std::string& key = manifests.back().key;
    FATHOM_ASSIGN_OR_RETURN(std::string bytes, store_->Get(key));
    auto manifest = DecodeManifest(bytes);
    if (!manifest.ok()) return manifest.status().WithContext(key);
    if (ManifestKey(id_, manifest->version) != key) {
      return Status::Corruption(key + ": holds manifest version " + std::to_string(manifest->version));
    }
    manifest_ = std::move(*manifest);
    if (manifest_.dimension != 0) table_.set_dimension(manifest_.dimension);
    for (const ColdPartRef& ref : manifest_.cold_parts) {
      if (!options_.cold_vectors) break;  // every row stays in RAM; the next fold drops them
      // Derived data: rows a part cannot give back simply stay in RAM.
      const std::string part_key = ColdPartKey(id_, ref.id);
      auto part = VectorColumn::OpenPart(store_, part_key, ref.id, VectorCache(manifest_.dimension),
                                         manifest_.dimension);
      Status s = part.ok() ? table_.mutable_vectors().BeginLoad(std::move(*part)) : part.status();
      if (!s.ok()) spdlog::warn("collection {}: ignoring cold part {} ({})", id_, part_key, s.ToString());
    }
    for (const SegmentRef& ref : manifest_.segments) {
      const std::string seg_key = SegmentKey(id_, ref.id);
      auto seg_bytes = store_->Get(seg_key);
      if (!seg_bytes.ok()) {
        if (seg_bytes.status().IsNotFound()) return Status::Corruption(seg_key + " is in the manifest but missing");
        return seg_bytes.status();
      }
      if (manifest_.dimension == 0 && ref.rows > 0) return Status::Corruption(key + ": rows without a dimension");
      if (manifest_.dimension != 0) table_.set_dimension(manifest_.dimension);
      // Every row holds its embedding: a count the bytes cannot hold is damage, and must
      // not size an allocation.
      if (ref.rows > seg_bytes->size() / std::max<uint64_t>(1, uint64_t{4} * manifest_.dimension)) {
        return Status::Corruption(seg_key + ": the manifest's row count does not fit in the segment");
      }
      table_.Reserve(ref.rows);
      bool wrong_dimension = false;
      auto summary = ReadRecordsSegment(*seg_bytes, [&](SegmentEntry& e) {
        if (e.tombstone) {
          table_.LoadTombstone(e.row.id);
        } else if (e.embedding.size() != manifest_.dimension) {
          wrong_dimension = true;
        } else {
          table_.LoadRow(std::move(e.row), e.embedding);
        }
      });
      if (!summary.ok()) return summary.status().WithContext(seg_key);
      if (wrong_dimension) return Status::Corruption(seg_key + ": dimension disagrees with the manifest");
      if (summary->rows > 0 && summary->dimension != manifest_.dimension) {
        return Status::Corruption(seg_key + ": dimension disagrees with the manifest");
      }
      if (summary->rows != ref.rows || summary->tombstones != ref.tombstones) {
        return Status::Corruption(seg_key + ": entry counts disagree with the manifest");
      }
    }
    if (manifest_.dimension != 0) table_.set_dimension(manifest_.dimension);
    table_.mutable_vectors().EndLoad();
    table_.set_next_offset(manifest_.next_offset);
    table_.TakeDirty();  // loaded state is already durable in segments
    if (manifest_.vector_index) {
      // Derived data: anything wrong with it costs a rebuild, never the collection.
      const std::string index_key = VectorIndexKey(id_, manifest_.vector_index->id);
      auto index_bytes = store_->Get(index_key);
      Status loaded = index_bytes.ok() ? vector_index_.Load(table_, *index_bytes) : index_bytes.status();
      if (!loaded.ok()) {
        if (!index_bytes.ok() && !index_bytes.status().IsNotFound()) return index_bytes.status();
        spdlog::warn("collection {}: ignoring vector index {} ({}); it will be rebuilt", id_, index_key,
                     loaded.ToString());
      }
    }
  }
  vector_index_.Absorb(table_, {});
  // The manifest's index is the one in memory now (or there is none in either); one
  // that failed to load is not, and the next fold writes a new one.
  persisted_index_version_ =
      manifest_.vector_index.has_value() == vector_index_.has_index() ? vector_index_.index_version() : UINT64_MAX;
  last_sequence_ = manifest_.wal_sequence_covered;

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
    auto decoded = DecodeWalObject(bytes);
    if (!decoded.ok()) return decoded.status().WithContext(object.key);
    if (decoded->sequence != sequence) return Status::Corruption(object.key + ": holds another sequence number");
    FATHOM_RETURN_IF_ERROR(ApplyLocked(std::move(decoded->ops), sequence, bytes.size()));
  }
  lock.unlock();
  DeleteObsolete(manifest_);
  MaybeScheduleCompaction();
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
  vector_index_.Absorb(table_, table_.MaybeShrink());
  last_sequence_ = sequence;
  tail_.push_back({sequence, ops.size(), bytes});
  tail_ops_ += ops.size();
  tail_bytes_ += bytes;
  return Status::Ok();
}

// ---- write path -------------------------------------------------------------------------

Status CollectionImpl::Write(OpType type, std::vector<WriteRecord> records) {
  FATHOM_ASSIGN_OR_RETURN(std::optional<uint32_t> dimension, ValidateWriteRecords(type, records));
  CallScope call(*this);
  FATHOM_RETURN_IF_ERROR(call.status());
  FATHOM_RETURN_IF_ERROR(EnsureOpen());
  if (records.empty()) return Status::Ok();
  PendingWrite write;
  write.dimension = dimension;
  write.ops.reserve(records.size());
  for (WriteRecord& r : records) write.ops.push_back(Operation{type, std::move(r)});
  write.bytes_estimate = EstimateBytes(write.ops);
  if (write.bytes_estimate > limits::kWalGroupBytesMax) {
    return Status::InvalidArgument("write of about " + std::to_string(write.bytes_estimate >> 20) +
                                   " MiB exceeds the limit of " + std::to_string(limits::kWalGroupBytesMax >> 20) +
                                   " MiB per request");
  }
  return Submit(&write);
}

Result<uint64_t> CollectionImpl::Delete(const DeleteRequest& request) {
  const bool has_filter = request.where.has_value() || request.where_document.has_value();
  if (request.limit && !has_filter) {
    return Status::InvalidArgument("Validation error: limit can only be specified when a where clause is provided");
  }
  if (request.ids && request.ids->empty() && !has_filter) {
    return Status::InvalidArgument("Validation error: ids, where: Either ids or where must be specified");
  }
  CallScope call(*this);
  FATHOM_RETURN_IF_ERROR(call.status());
  FATHOM_RETURN_IF_ERROR(EnsureOpen());
  if (!request.ids && !has_filter) return uint64_t{0};
  for (const std::string& id : request.ids.value_or(std::vector<std::string>{})) {
    if (id.empty()) return Status::InvalidArgument("Empty ID, ID must have at least one character");
  }
  PendingWrite write;
  if (has_filter) {
    // Checked here so a bad filter is an error before queueing; resolved by the leader.
    FATHOM_RETURN_IF_ERROR(CompiledFilter::Compile(request.where, request.where_document).status());
    write.filter_delete = &request;
  } else {
    for (const std::string& id : *request.ids) {
      Operation op;
      op.type = OpType::kDelete;
      op.record.id = id;
      write.ops.push_back(std::move(op));
    }
    write.deleted = request.ids->size();  // Chroma counts the ids sent
    write.bytes_estimate = EstimateBytes(write.ops);
  }
  FATHOM_RETURN_IF_ERROR(Submit(&write));
  return write.deleted;
}

Status CollectionImpl::Submit(PendingWrite* write) {
  std::unique_lock<std::mutex> lock(queue_mu_);
  bool has_room = queue_space_cv_.wait_for(lock, options_.write_queue_timeout, [&] {
    return queue_.size() < limits::kWriteQueueMax || dropped_.load() || closed_.load();
  });
  FATHOM_RETURN_IF_ERROR(CheckUsable());
  if (!has_room) {
    return Status::Unavailable("write queue of collection " + id_ + " is full; retry later");
  }
  queue_.push_back(write);
  write->cv.wait(lock, [&] { return write->done || queue_.front() == write; });
  if (write->done) return write->status;

  // This writer leads: take a group from the front of the queue. A filter delete must
  // see the state left by everything before it, so it always starts its own group.
  std::vector<PendingWrite*> group;
  size_t bytes = 0;
  for (PendingWrite* p : queue_) {
    if (!group.empty() && (p->filter_delete || bytes + p->bytes_estimate > limits::kWalGroupBytesMax)) break;
    group.push_back(p);
    bytes += p->bytes_estimate;
    if (p->filter_delete) break;
  }
  lock.unlock();
  CommitGroup(group);
  lock.lock();
  for (PendingWrite* p : group) {
    queue_.pop_front();
    p->done = true;
    if (p != write) p->cv.notify_one();
  }
  if (!queue_.empty()) queue_.front()->cv.notify_one();
  queue_space_cv_.notify_all();
  return write->status;
}

Status CollectionImpl::ResolveDelete(PendingWrite* write) {
  const DeleteRequest& request = *write->filter_delete;
  FATHOM_ASSIGN_OR_RETURN(CompiledFilter filter, CompiledFilter::Compile(request.where, request.where_document));
  Selection selection;
  if (request.ids) selection.ids = &*request.ids;
  selection.filter = &filter;
  if (request.limit) selection.limit = *request.limit;
  std::shared_lock<std::shared_mutex> lock(state_mu_);
  for (uint32_t slot : SelectSlots(table_, selection)) {
    Operation op;
    op.type = OpType::kDelete;
    op.record.id = table_.row(slot).id;
    write->ops.push_back(std::move(op));
  }
  write->deleted = write->ops.size();
  return Status::Ok();
}

void CollectionImpl::CommitGroup(const std::vector<PendingWrite*>& group) {
  if (Status s = CatchUp(); !s.ok()) {
    for (PendingWrite* p : group) p->status = s;
    return;
  }
  std::optional<uint32_t> dimension;
  {
    std::shared_lock<std::shared_mutex> lock(state_mu_);
    dimension = table_.dimension();
  }
  std::vector<PendingWrite*> accepted;
  MetadataKeys projected;
  for (PendingWrite* p : group) {
    if (p->filter_delete) {
      if (Status s = ResolveDelete(p); !s.ok()) {
        p->status = s;
        continue;
      }
    }
    if (p->dimension) {
      if (dimension && *dimension != *p->dimension) {
        p->status = Status::InvalidArgument(DimensionMismatchMessage(*dimension, *p->dimension));
        continue;
      }
    }
    if (Status s = CheckMergedMetadata(p->ops, &projected); !s.ok()) {
      p->status = s;
      continue;
    }
    if (p->dimension) dimension = p->dimension;
    accepted.push_back(p);
  }
  // One WAL object for the group. The byte estimate that formed it can be far off (a
  // filter delete is resolved only now), so the object is checked on its encoded bytes: a
  // group the encoder refuses commits writer by writer, and only the writer whose own
  // ops are refused gets the error.
  const uint64_t logged_before = last_sequence_;
  if (!CommitBatch(accepted)) {
    for (PendingWrite* p : accepted) (void)CommitBatch({p});
  }
  // Only what was logged can make compaction due (a refused write on a full disk must not
  // queue a job per attempt).
  if (last_sequence_ != logged_before) MaybeScheduleCompaction();
}

bool CollectionImpl::CommitBatch(const std::vector<PendingWrite*>& writers) {
  // The common case (one writer) logs its ops in place, no copy.
  OperationBatch all;
  OperationBatch* ops = &all;
  if (writers.size() == 1) {
    ops = &writers[0]->ops;
  } else {
    for (PendingWrite* p : writers) {
      for (Operation& op : p->ops) all.push_back(std::move(op));
    }
  }
  if (ops->empty()) return true;
  const uint64_t sequence = last_sequence_ + 1;  // only the leader changes it
  Result<std::string> encoded = EncodeWalObject(sequence, *ops);
  if (encoded.ok() && encoded->size() > wal_object_bytes_max_) {
    encoded = Status::InvalidArgument("WAL object: the write encodes to " + std::to_string(encoded->size()) +
                                      " bytes, over DatabaseOptions::wal_object_bytes_max (" +
                                      std::to_string(wal_object_bytes_max_) + ")");
  }
  if (!encoded.ok()) {
    if (writers.size() > 1) {
      // Give each writer its ops back, in order, for the split.
      size_t next = 0;
      for (PendingWrite* p : writers) {
        for (Operation& op : p->ops) op = std::move(all[next++]);
      }
      return false;
    }
    PendingWrite* p = writers[0];
    p->status = Status::InvalidArgument(
        encoded.status().message() + "; split the write into smaller requests" +
        (p->filter_delete ? " (for a delete by filter: add a limit)" : ""));
    return true;
  }
  const std::string& bytes = *encoded;
  Status s = PutWal(sequence, bytes);
  if (!s.ok()) {
    for (PendingWrite* p : writers) p->status = s;
    return true;
  }
  std::unique_lock<std::shared_mutex> lock(state_mu_);
  Status applied = ApplyLocked(std::move(*ops), sequence, bytes.size());
  FATHOM_CHECK(applied.ok());  // validated above, before logging
  return true;
}

Status CollectionImpl::CheckMergedMetadata(const OperationBatch& ops, MetadataKeys* projected) const {
  std::shared_lock<std::shared_mutex> lock(state_mu_);
  for (const Operation& op : ops) {
    const WriteRecord& rec = op.record;
    auto tracked = projected->find(rec.id);
    if (!rec.metadata && tracked == projected->end()) continue;  // nothing merges
    std::optional<std::set<std::string>> keys;  // the record's keys now; nullopt: no record
    if (tracked != projected->end()) {
      keys = tracked->second;
    } else if (auto slot = table_.Find(rec.id); slot && table_.row(*slot).live) {
      keys.emplace();
      const std::optional<Metadata>& metadata = table_.row(*slot).metadata;
      if (metadata) {
        for (const auto& entry : *metadata) keys->insert(entry.first);
      }
    }
    if (op.type == OpType::kDelete) {
      keys.reset();
    } else if (!keys) {
      if (op.type == OpType::kUpdate) continue;  // an update of a missing id is ignored
      keys.emplace();
    } else if (op.type == OpType::kAdd) {
      continue;  // the first write wins
    }
    if (keys && rec.metadata) {
      for (const auto& [key, value] : *rec.metadata) {
        if (value) {
          keys->insert(key);
        } else {
          keys->erase(key);
        }
      }
      if (keys->size() > limits::kMetadataKeysMax) {
        return Status::InvalidArgument("record " + rec.id + ": its metadata would have " +
                                       std::to_string(keys->size()) + " keys after this write, over the limit of " +
                                       std::to_string(limits::kMetadataKeysMax) + " (limits::kMetadataKeysMax)");
      }
    }
    (*projected)[rec.id] = std::move(keys);
  }
  return Status::Ok();
}

Status CollectionImpl::PutWal(uint64_t sequence, const std::string& bytes) {
  Status s = CommitObject(*store_, WalKey(id_, sequence), bytes);
  if (s.ok()) return s;
  // Either another writer owns this sequence number or the outcome is unknown: CatchUp
  // applies whatever is there before the next group commits.
  wal_uncertain_ = true;
  if (s.IsAlreadyExists()) {
    return Status::Unavailable("another writer committed to collection " + id_ + " concurrently; retry");
  }
  spdlog::warn("collection {}: WAL put {} failed: {}", id_, sequence, s.ToString());
  return s.WithContext("write-ahead log");
}

Status CollectionImpl::CatchUp() {
  while (wal_uncertain_) {
    const uint64_t sequence = last_sequence_ + 1;
    auto bytes = store_->Get(WalKey(id_, sequence));
    if (!bytes.ok()) {
      if (bytes.status().IsNotFound()) {
        wal_uncertain_ = false;
        break;
      }
      return bytes.status().WithContext("write-ahead log recovery");
    }
    auto decoded = DecodeWalObject(*bytes);
    if (!decoded.ok()) return decoded.status().WithContext(WalKey(id_, sequence));
    if (decoded->sequence != sequence) return Status::Corruption(WalKey(id_, sequence) + ": holds another sequence number");
    std::unique_lock<std::shared_mutex> lock(state_mu_);
    FATHOM_RETURN_IF_ERROR(ApplyLocked(std::move(decoded->ops), sequence, bytes->size()));
  }
  return Status::Ok();
}

// ---- read path --------------------------------------------------------------------------

Status CollectionImpl::Materialise(const std::vector<uint32_t>& slots, const Include& include,
                                   GetResult* out) const {
  out->ids.reserve(slots.size());
  const size_t dim = table_.dimension().value_or(0);
  std::vector<float> scratch(dim);
  for (uint32_t slot : slots) {
    const Row& row = table_.row(slot);
    out->ids.push_back(row.id);
    if (include.embeddings) {
      Status status;
      const float* e = table_.vectors().Exact(slot, scratch.data(), &status);
      if (e == nullptr) return status.WithContext("reading the embedding of " + row.id);
      out->embeddings.emplace_back(e, e + dim);
    }
    if (include.documents) out->documents.push_back(row.document);
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
  CallScope call(*this);
  FATHOM_RETURN_IF_ERROR(call.status());
  FATHOM_RETURN_IF_ERROR(EnsureOpen());
  auto result = GetOnce(request);
  if (!result.ok() && result.status().IsCorruption() && RepairColdPartsNow()) result = GetOnce(request);
  return result;
}

Result<GetResult> CollectionImpl::GetOnce(const GetRequest& request) {
  FATHOM_ASSIGN_OR_RETURN(CompiledFilter filter, CompiledFilter::Compile(request.where, request.where_document));
  Selection selection;
  if (request.ids) selection.ids = &*request.ids;
  selection.filter = &filter;
  selection.offset = request.offset;
  if (request.limit) selection.limit = *request.limit;
  std::shared_lock<std::shared_mutex> lock(state_mu_);
  const std::vector<uint32_t> selected = SelectSlots(table_, selection);
  GetResult result;
  FATHOM_RETURN_IF_ERROR(Materialise(selected, request.include, &result));
  return result;
}

Result<QueryResult> CollectionImpl::Query(const QueryRequest& request) {
  FATHOM_RETURN_IF_ERROR(ValidateQueryEmbeddings(request.query_embeddings, request.n_results));
  if (request.n_results > limits::kQueryResultsMax) {
    return Status::InvalidArgument("n_results " + std::to_string(request.n_results) + " exceeds the maximum of " +
                                   std::to_string(limits::kQueryResultsMax));
  }
  if (!(request.search_effort > 0.0 && request.search_effort <= limits::kSearchEffortMax)) {
    return Status::InvalidArgument("search_effort must be in (0, " + std::to_string(limits::kSearchEffortMax) + "]");
  }
  if (request.search_probes > limits::kVectorIndexProbesMax) {
    return Status::InvalidArgument("search_probes " + std::to_string(request.search_probes) +
                                   " exceeds the maximum of " + std::to_string(limits::kVectorIndexProbesMax));
  }
  CallScope call(*this);
  FATHOM_RETURN_IF_ERROR(call.status());
  FATHOM_RETURN_IF_ERROR(EnsureOpen());
  auto result = QueryOnce(request);
  if (!result.ok() && result.status().IsCorruption() && RepairColdPartsNow()) result = QueryOnce(request);
  return result;
}

Result<QueryResult> CollectionImpl::QueryOnce(const QueryRequest& request) {
  FATHOM_ASSIGN_OR_RETURN(CompiledFilter filter, CompiledFilter::Compile(request.where, request.where_document));
  const DistanceSpace space = Space();
  std::shared_lock<std::shared_mutex> lock(state_mu_);
  const std::optional<uint32_t> dimension = table_.dimension();
  for (const auto& q : request.query_embeddings) {
    if (dimension && q.size() != *dimension) {
      return Status::InvalidArgument(DimensionMismatchMessage(*dimension, q.size()));
    }
  }
  // Candidates: every live row (nullopt), or the named ids; then the filter.
  FATHOM_ASSIGN_OR_RETURN(const std::optional<std::vector<uint32_t>> candidates,
                          QueryCandidates(table_, request.ids, filter));
  const bool restricted = candidates.has_value();
  QueryResult result;
  result.rows.resize(request.query_embeddings.size());
  if (request.include.distances) result.distances.resize(request.query_embeddings.size());
  VectorSearchKnobs knobs;
  knobs.probes = request.search_probes;
  knobs.effort = request.search_effort;
  for (size_t qi = 0; qi < request.query_embeddings.size(); ++qi) {
    FATHOM_ASSIGN_OR_RETURN(std::vector<Hit> hits,
                            vector_index_.Search(table_, space, request.query_embeddings[qi].data(), request.n_results,
                                                 restricted ? &*candidates : nullptr, knobs));
    std::vector<uint32_t> slots;
    slots.reserve(hits.size());
    for (const Hit& h : hits) {
      slots.push_back(h.slot);
      if (request.include.distances) result.distances[qi].push_back(h.distance);
    }
    if (!restricted && vector_index_.has_index() && recall_monitor_.ShouldSample(table_.live_count())) {
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

Result<uint64_t> CollectionImpl::Count() {
  CallScope call(*this);
  FATHOM_RETURN_IF_ERROR(call.status());
  FATHOM_RETURN_IF_ERROR(EnsureOpen());
  std::shared_lock<std::shared_mutex> lock(state_mu_);
  return static_cast<uint64_t>(table_.live_count());
}

// ---- compaction -------------------------------------------------------------------------

void CollectionImpl::MaybeScheduleCompaction() {
  bool due;
  {
    std::shared_lock<std::shared_mutex> lock(state_mu_);
    due = tail_ops_ >= compaction_trigger_ops_ || tail_bytes_ >= limits::kWalTailBytesMax ||
          vector_index_.NeedsMaintenance(table_);
  }
  if (due && schedule_ && !compaction_scheduled_.exchange(true)) schedule_(weak_from_this());
}

Status CollectionImpl::CommitManifest(Manifest next) {
  // `next` was derived from manifest_, which must be known (RunCompaction resolves it).
  if (uncertain_manifest_) {
    return Status::Unavailable("the outcome of an earlier manifest commit is not known yet; compaction retries");
  }
  next.version = manifest_.version + 1;
  FATHOM_ASSIGN_OR_RETURN(std::string bytes, EncodeManifest(next));
  Status s = CommitObject(*store_, ManifestKey(id_, next.version), bytes);
  if (!s.ok()) {
    // Unknown outcome: the manifest may be the collection's current one. Until that is
    // known nothing may take its version or delete what it references.
    if (!s.IsAlreadyExists()) uncertain_manifest_ = UncertainManifest{std::move(next), std::move(bytes)};
    return s;
  }
  manifest_ = std::move(next);
  DropCoveredTail();
  return Status::Ok();
}

Status CollectionImpl::ResolveUncertainManifest() {
  if (!uncertain_manifest_) return Status::Ok();
  const std::string key = ManifestKey(id_, uncertain_manifest_->manifest.version);
  Status s = ResolveObject(*store_, key, uncertain_manifest_->bytes);
  if (s.IsNotFound()) {
    uncertain_manifest_.reset();  // it never landed
    return Status::Ok();
  }
  if (s.IsAlreadyExists()) return Status::Corruption(key + " was written by another writer");
  FATHOM_RETURN_IF_ERROR(s.WithContext("resolving the outcome of " + key));
  // It landed: it is the collection's manifest. Its vector index may be older than the
  // one in memory, so the next fold writes the index again.
  manifest_ = std::move(uncertain_manifest_->manifest);
  uncertain_manifest_.reset();
  persisted_index_version_ = UINT64_MAX;
  DropCoveredTail();
  return Status::Ok();
}

void CollectionImpl::DropCoveredTail() {
  std::unique_lock<std::shared_mutex> lock(state_mu_);
  while (!tail_.empty() && tail_.front().sequence <= manifest_.wal_sequence_covered) {
    tail_ops_ -= tail_.front().ops;
    tail_bytes_ -= tail_.front().bytes;
    tail_.pop_front();
  }
}

DistanceSpace CollectionImpl::Space() const {
  std::lock_guard<std::mutex> lock(meta_->mu);
  return meta_->entry.space;
}

Result<VectorIndexStats> CollectionImpl::IndexStats() {
  CallScope call(*this);
  FATHOM_RETURN_IF_ERROR(call.status());
  FATHOM_RETURN_IF_ERROR(EnsureOpen());
  std::shared_lock<std::shared_mutex> lock(state_mu_);
  VectorIndexStats stats;
  stats.active = vector_index_.has_index();
  stats.indexed_rows = vector_index_.covered_rows();
  stats.pending_rows = vector_index_.pending_rows();
  stats.clusters = vector_index_.clusters();
  const SearchBudget& budget = vector_index_.budget();
  if (stats.active) {
    stats.plan = budget.plan == SearchBudget::Plan::kExactScan ? VectorIndexStats::Plan::kExactScan
                                                               : VectorIndexStats::Plan::kIndex;
    stats.default_probes =
        budget.calibrated() ? budget.probes : CollectionVectorIndex::UncalibratedProbes(stats.clusters);
    stats.default_rerank_factor = budget.rerank_factor;
    stats.calibrated = budget.calibrated();
    stats.calibration_queries = budget.sample_queries;
    stats.calibrated_recall = budget.measured_recall;
    stats.calibrated_recall_lower_bound = budget.recall_lower_bound;
  }
  stats.recall_target = vector_index_.recall_target();
  const RecallMonitor::Report monitor = recall_monitor_.report();
  stats.monitored_samples = monitor.samples;
  stats.monitored_recall = monitor.mean_recall;
  stats.monitored_recall_lower_bound = monitor.lower_bound;
  stats.monitor_discarded = monitor.discarded_total;
  stats.recall_below_target =
      monitor.samples >= limits::kRecallWarnMinSamples && monitor.mean_recall < stats.recall_target;
  const VectorColumn& vectors = table_.vectors();
  stats.hot_vectors = vectors.hot_rows();
  stats.cold_vectors = vectors.cold_rows();
  stats.cold_parts = static_cast<uint32_t>(vectors.parts().size());
  stats.vector_memory_bytes = vectors.MemoryBytes();
  stats.index_memory_bytes = vector_index_.index_memory_bytes();
  lock.unlock();
  std::lock_guard<std::mutex> background_lock(background_mu_);
  stats.background_failures = background_failures_;
  stats.background_error = background_error_;
  return stats;
}

Status CollectionImpl::Compact() { return RunCompaction(/*fold_always=*/true); }

Status CollectionImpl::BackgroundWork() {
  Status s = RunCompaction(/*fold_always=*/false);
  std::lock_guard<std::mutex> lock(background_mu_);
  if (s.ok() || s.IsNotFound()) {
    background_failures_ = 0;
    background_error_.clear();
  } else {
    ++background_failures_;
    background_error_ = s.ToString();
  }
  return s;
}

Status CollectionImpl::RunCompaction(bool fold_always) {
  // Cleared first, so that a job that fails below does not keep later ones from being
  // scheduled (a duplicate job meanwhile is harmless: it finds nothing to do).
  compaction_scheduled_.store(false);
  CallScope call(*this);
  FATHOM_RETURN_IF_ERROR(call.status());
  FATHOM_RETURN_IF_ERROR(EnsureOpen());
  std::lock_guard<std::mutex> compaction_lock(compaction_mu_);
  FATHOM_RETURN_IF_ERROR(CheckUsable());
  // An earlier commit whose outcome is unknown decides what manifest_ is.
  FATHOM_RETURN_IF_ERROR(ResolveUncertainManifest());
  CheckRecallSamples();
  if (Status s = MaintainVectorIndex(/*force=*/fold_always); !s.ok()) {
    // Derived data: queries stay exact for the rows it does not cover.
    spdlog::warn("collection {}: vector index maintenance failed: {}", id_, s.ToString());
  }
  if (Status s = MaintainColdVectors(); !s.ok()) {
    // Derived data too: the rows stay in RAM.
    spdlog::warn("collection {}: cold vector maintenance failed: {}", id_, s.ToString());
  }
  if (Status s = RepairColdParts(); !s.ok()) {
    spdlog::error("collection {}: cold vector repair failed: {}", id_, s.ToString());
  }
  bool due;
  {
    std::shared_lock<std::shared_mutex> lock(state_mu_);
    due = tail_ops_ >= compaction_trigger_ops_ || tail_bytes_ >= limits::kWalTailBytesMax;
  }
  const bool merge_due = manifest_.segments.size() > limits::kSegmentsPerCollectionMax;
  if (!fold_always && !due && !merge_due) {
    // A spill or drop of cold parts is recorded at the next fold; until then the new
    // parts are simply not used after a reopen.
    return Status::Ok();
  }
  Status folded = fold_always || due ? FoldTail() : Status::Ok();
  if (folded.IsCorruption()) {
    // A damaged cold part (found by this fold's reads) is repaired from the log, then
    // the fold runs again.
    if (HasDamagedColdPart()) {
      FATHOM_RETURN_IF_ERROR(RepairColdParts());
      folded = FoldTail();
    }
  }
  FATHOM_RETURN_IF_ERROR(folded);
  // Too many segments: merged after the fold, or on its own by a later job when an
  // earlier merge failed (a retry finds no tail to fold but must still merge).
  if (manifest_.segments.size() > limits::kSegmentsPerCollectionMax) {
    FATHOM_RETURN_IF_ERROR(MergeSegments());
    DeleteObsolete(manifest_);
  }
  return Status::Ok();
}

bool CollectionImpl::HasDamagedColdPart() const {
  std::shared_lock<std::shared_mutex> lock(state_mu_);
  return table_.vectors().DamagedPart() != nullptr;
}

bool CollectionImpl::RepairColdPartsNow() {
  if (!HasDamagedColdPart()) return false;
  std::lock_guard<std::mutex> compaction_lock(compaction_mu_);
  Status s = RepairColdParts();
  if (!s.ok()) spdlog::error("collection {}: cold vector repair failed: {}", id_, s.ToString());
  return s.ok();
}

Status CollectionImpl::RepairColdParts() {
  for (;;) {
    std::shared_ptr<const ColdPart> part;
    std::unordered_map<std::string, uint32_t> wanted;  // record id -> the part's row
    uint64_t upto;
    uint32_t dim;
    {
      std::shared_lock<std::shared_mutex> lock(state_mu_);
      part = table_.vectors().DamagedPart();
      if (!part) return Status::Ok();
      for (const auto& [slot, row] : table_.vectors().SlotsOf(part.get())) wanted[table_.row(slot).id] = row;
      upto = last_sequence_;
      dim = table_.vectors().dim();
    }
    spdlog::warn("collection {}: cold part {} has bad bytes; restoring its {} rows from the segments and the WAL",
                 id_, part->id, wanted.size());
    std::unordered_set<std::string> ids;
    for (const auto& [id, row] : wanted) ids.insert(id);
    FATHOM_ASSIGN_OR_RETURN(auto logged, ReadLoggedVectors(ids, upto));
    std::vector<float> rows(size_t{part->rows()} * dim, 0.0f);
    for (const auto& [id, row] : wanted) {
      auto it = logged.find(id);
      if (it == logged.end() || it->second.size() != dim) {
        return Status::Corruption("cold part " + part->id + " is damaged and the vector of record " + id +
                                  " has no other copy");
      }
      std::copy(it->second.begin(), it->second.end(), rows.begin() + size_t{row} * dim);
    }
    // Rows that changed meanwhile no longer refer to the part; the rest are as logged.
    std::unique_lock<std::shared_mutex> lock(state_mu_);
    table_.mutable_vectors().DropPart(part.get(), rows);
  }
}

Result<std::unordered_map<std::string, std::vector<float>>> CollectionImpl::ReadLoggedVectors(
    const std::unordered_set<std::string>& ids, uint64_t upto) {
  // The records' state as recovery would rebuild it: the manifest's segments, then the
  // WAL objects after them. Only operations on `ids` matter (each touches its own id).
  RecordTable replay;
  if (manifest_.dimension != 0) replay.set_dimension(manifest_.dimension);
  for (const SegmentRef& ref : manifest_.segments) {
    const std::string key = SegmentKey(id_, ref.id);
    FATHOM_ASSIGN_OR_RETURN(std::string bytes, store_->Get(key));
    auto summary = ReadRecordsSegment(bytes, [&](SegmentEntry& e) {
      if (ids.count(e.row.id) == 0) return;
      if (e.tombstone) {
        replay.LoadTombstone(e.row.id);
      } else if (e.embedding.size() == manifest_.dimension) {
        replay.LoadRow(std::move(e.row), e.embedding);
      }
    });
    if (!summary.ok()) return summary.status().WithContext(key);
  }
  for (uint64_t sequence = manifest_.wal_sequence_covered + 1; sequence <= upto; ++sequence) {
    const std::string key = WalKey(id_, sequence);
    FATHOM_ASSIGN_OR_RETURN(std::string bytes, store_->Get(key));
    auto decoded = DecodeWalObject(bytes);
    if (!decoded.ok()) return decoded.status().WithContext(key);
    for (Operation& op : decoded->ops) {
      if (ids.count(op.record.id) != 0) replay.Apply(std::move(op));
    }
  }
  std::unordered_map<std::string, std::vector<float>> out;
  const size_t dim = replay.dimension().value_or(0);
  for (const std::string& id : ids) {
    auto slot = replay.Find(id);
    if (!slot || !replay.row(*slot).live) continue;
    const float* v = replay.vectors().Approx(*slot, nullptr);  // no cold parts: exact
    out.emplace(id, std::vector<float>(v, v + dim));
  }
  return out;
}

Status CollectionImpl::MaintainVectorIndex(bool force) {
  const DistanceSpace space = Space();
  std::optional<VectorIndexTask> task;
  uint32_t dim = 0;
  {
    std::shared_lock<std::shared_mutex> lock(state_mu_);
    task = vector_index_.Plan(table_, force);
    dim = table_.dimension().value_or(0);
  }
  if (!task) return Status::Ok();
  CollectionVectorIndex::BuildSettings settings;
  settings.recall_target = vector_index_.recall_target();
  // Rows past the spill threshold are searched through int8 approximations (cold parts).
  settings.two_stage = options_.cold_vectors && dim != 0 && task->slots.size() >= SpillMinRows(dim);
  Status built = CollectionVectorIndex::RunBuild(space, dim, settings, &*task);
  std::unique_lock<std::shared_mutex> lock(state_mu_);
  if (!built.ok()) {
    vector_index_.Abandon();
    return built;
  }
  if (!vector_index_.Install(table_, std::move(*task))) {
    spdlog::debug("collection {}: rows were renumbered during index maintenance; it runs again later", id_);
  }
  return Status::Ok();
}

size_t CollectionImpl::ColdPartRows(uint32_t dim) {
  return std::max<size_t>(1, limits::kColdPartBytesMax / (size_t{dim} * sizeof(float)));
}

size_t CollectionImpl::SpillMinRows(uint32_t dim) const {
  return options_.cold_spill_min_rows ? options_.cold_spill_min_rows : ColdPartRows(dim);
}

BlockCache* CollectionImpl::VectorCache(uint32_t dim) const {
  return vector_caches_->ForBlockBytes(VectorFile::BlockBytesFor(dim));
}

Status CollectionImpl::MaintainColdVectors() {
  if (!options_.cold_vectors) return Status::Ok();
  // Parts mostly left by their rows (every part, once there is no index to search the
  // cold rows through) are read back into RAM and forgotten; the next spill rewrites the
  // live rows compactly.
  for (int round = 0; round < 4; ++round) {
    std::shared_ptr<const ColdPart> part;
    {
      std::shared_lock<std::shared_mutex> lock(state_mu_);
      part = table_.vectors().PartToDrop(/*all=*/!vector_index_.has_index());
    }
    if (!part) break;
    std::vector<float> rows;
    FATHOM_RETURN_IF_ERROR(VectorColumn::ReadPart(*part, &rows).WithContext("cold part " + part->id));
    std::unique_lock<std::shared_mutex> lock(state_mu_);
    table_.mutable_vectors().DropPart(part.get(), rows);
  }
  for (;;) {
    VectorColumn::SpillPlan plan;
    uint32_t dim = 0;
    {
      std::shared_lock<std::shared_mutex> lock(state_mu_);
      const VectorColumn& vectors = table_.vectors();
      dim = vectors.dim();
      if (!vector_index_.has_index() || dim == 0) return Status::Ok();
      if (vectors.parts().size() + 1 > limits::kColdPartsMax) {
        // A manifest names a bounded number of parts: past it rows stay in RAM.
        if (!cold_parts_full_warned_.exchange(true)) {
          spdlog::warn("collection {}: {} cold vector parts, the limit; further vectors stay in memory", id_,
                       vectors.parts().size());
        }
        return Status::Ok();
      }
      const size_t part_rows = ColdPartRows(dim);
      const size_t spill_min = SpillMinRows(dim);
      const size_t due = std::max(spill_min, vectors.cold_rows() / limits::kColdSpillFractionInverse);
      if (vectors.hot_rows() < due) return Status::Ok();
      plan = vectors.PlanSpill([&](uint32_t slot) { return vector_index_.covers(slot); },
                               [&](size_t slot) { return table_.row(slot).offset; }, part_rows);
      // Only indexed rows are spilled (the rest are searched exactly, from RAM).
      if (plan.slots.size() < std::min(due, part_rows)) return Status::Ok();
      // In the index's cluster order, so that the rows one search re-scores share blocks.
      VectorColumn::ReorderPlan(vector_index_.ClusterOrder(plan.slots), &plan);
    }
    const std::string part_id = NewUuidV4();
    FATHOM_ASSIGN_OR_RETURN(std::shared_ptr<ColdPart> part,
                            VectorColumn::WritePart(store_, ColdPartKey(id_, part_id), part_id, VectorCache(dim),
                                                    dim, plan));
    size_t moved;
    {
      std::unique_lock<std::shared_mutex> lock(state_mu_);
      moved = table_.mutable_vectors().InstallPart(std::move(part), plan);
    }
    spdlog::debug("collection {}: spilled {} of {} vectors to cold part {}", id_, moved, plan.slots.size(), part_id);
    if (moved == 0) return Status::Ok();  // renumbered meanwhile: the next pass plans again
  }
}

Status CollectionImpl::FoldTail() {
  if (manifest_.segments.size() + 1 > limits::kManifestSegmentsMax) {
    // A fold adds a segment, and a manifest holds a bounded number: at the bound the
    // segments are merged first, and while that fails nothing is folded (the WAL keeps
    // every write).
    FATHOM_RETURN_IF_ERROR(MergeSegments().WithContext("compaction: segments at the manifest's limit"));
    DeleteObsolete(manifest_);
  }
  // Snapshot what changed since the last manifest, consistently with the WAL position.
  std::unordered_set<std::string> dirty;
  std::vector<SegmentEntry> entries;
  Manifest next = manifest_;
  std::optional<CollectionVectorIndex::Snapshot> index_snapshot;
  std::vector<std::pair<size_t, VectorColumn::ColdRef>> cold_entries;  // read after the lock
  uint64_t index_version = 0;
  {
    std::unique_lock<std::shared_mutex> lock(state_mu_);
    next.cold_parts.clear();
    for (const auto& part : table_.vectors().parts()) {
      next.cold_parts.push_back(ColdPartRef{part->id, part->rows(), part->size_bytes});
    }
    auto same_parts = [&] {
      if (next.cold_parts.size() != manifest_.cold_parts.size()) return false;
      for (size_t i = 0; i < next.cold_parts.size(); ++i) {
        if (next.cold_parts[i].id != manifest_.cold_parts[i].id) return false;
      }
      return true;
    };
    // Nothing to record: no new WAL objects, the same cold parts and the index the
    // manifest already has.
    if (last_sequence_ == manifest_.wal_sequence_covered && same_parts() &&
        persisted_index_version_ == vector_index_.index_version()) {
      return Status::Ok();
    }
    index_version = vector_index_.index_version();
    index_snapshot = vector_index_.TakeSnapshot(table_);
    dirty = table_.TakeDirty();
    next.wal_sequence_covered = last_sequence_;
    next.next_offset = table_.next_offset();
    next.dimension = table_.dimension().value_or(0);
    entries.reserve(dirty.size());
    for (const std::string& id : dirty) {
      SegmentEntry e;
      if (auto slot = table_.Find(id)) {
        e.row = table_.row(*slot);
        e.embedding.resize(next.dimension);
        if (auto ref = table_.vectors().cold_ref(*slot)) {
          cold_entries.emplace_back(entries.size(), std::move(*ref));
        } else {
          const float* v = table_.vectors().Approx(*slot, nullptr);  // a hot row: exact
          e.embedding.assign(v, v + next.dimension);
        }
      } else {
        e.tombstone = true;
        e.row.id = id;
      }
      entries.push_back(std::move(e));
    }
  }
  auto restore = [&] {
    std::unique_lock<std::shared_mutex> lock(state_mu_);
    table_.RestoreDirty(dirty);
  };
  // Rows changed in metadata only keep their vector in a cold part: read it back.
  for (const auto& [position, ref] : cold_entries) {
    if (Status s = VectorColumn::ReadCold(ref, entries[position].embedding.data()); !s.ok()) {
      restore();
      return s.WithContext("compaction: cold vector");
    }
  }
  if (!entries.empty()) {
    // Rows in insertion order (the reader relies on it), tombstones after.
    std::sort(entries.begin(), entries.end(), [](const SegmentEntry& a, const SegmentEntry& b) {
      if (a.tombstone != b.tombstone) return !a.tombstone;
      return a.tombstone ? a.row.id < b.row.id : a.row.offset < b.row.offset;
    });
    RecordsSegmentWriter writer(next.dimension);
    for (const SegmentEntry& e : entries) {
      if (e.tombstone) {
        writer.AddTombstone(e.row.id);
      } else {
        writer.AddRow(e.row, e.embedding.data());
      }
    }
    SegmentRef ref{NewUuidV4(), writer.rows(), writer.tombstones(), 0};
    Result<std::string> finished = writer.Finish();
    std::string bytes = finished.ok() ? std::move(*finished) : std::string();
    ref.size_bytes = bytes.size();
    if (Status s = finished.ok() ? CommitObject(*store_, SegmentKey(id_, ref.id), bytes) : finished.status();
        !s.ok()) {
      restore();
      return s.WithContext("compaction: segment");
    }
    next.segments.push_back(ref);
  }
  next.vector_index = std::nullopt;  // the old one describes other rows
  if (index_snapshot) {
    // Derived data: a failure here only costs a rebuild after the next open.
    auto index_bytes = CollectionVectorIndex::EncodeSnapshot(*index_snapshot);
    VectorIndexRef ref{NewUuidV4(), 0, 0};
    Status put = index_bytes.status();
    if (index_bytes.ok()) {
      ref.rows = index_snapshot->covered_rows;
      ref.size_bytes = index_bytes->size();
      put = CommitObject(*store_, VectorIndexKey(id_, ref.id), *index_bytes);
    }
    if (put.ok()) {
      next.vector_index = std::move(ref);
    } else {
      spdlog::warn("collection {}: vector index not persisted: {}", id_, put.ToString());
    }
  }
  if (Status s = CommitManifest(next); !s.ok()) {
    restore();
    // The segment is unreferenced unless the manifest landed after all (then it is
    // resolved before the next commit); garbage otherwise, removed by a later compaction.
    return s.WithContext("compaction: manifest");
  }
  persisted_index_version_ = index_snapshot && !manifest_.vector_index ? UINT64_MAX : index_version;
  // What the new manifest makes obsolete goes now, whatever a merge does next.
  DeleteObsolete(manifest_);
  return Status::Ok();
}

Status CollectionImpl::MergeSegments() {
  // Segments are immutable, so the merge reads them back instead of holding the table's
  // lock; writers go on meanwhile.
  RecordTable merged;
  if (manifest_.dimension != 0) merged.set_dimension(manifest_.dimension);
  for (const SegmentRef& ref : manifest_.segments) {
    FATHOM_ASSIGN_OR_RETURN(std::string bytes, store_->Get(SegmentKey(id_, ref.id)));
    bool wrong_dimension = false;
    auto summary = ReadRecordsSegment(bytes, [&](SegmentEntry& e) {
      if (e.tombstone) {
        merged.LoadTombstone(e.row.id);
      } else if (e.embedding.size() != manifest_.dimension) {
        wrong_dimension = true;
      } else {
        merged.LoadRow(std::move(e.row), e.embedding);
      }
    });
    if (!summary.ok()) return summary.status().WithContext("merge");
    if (wrong_dimension) return Status::Corruption("merge: segment dimension disagrees with the manifest");
  }
  RecordsSegmentWriter writer(manifest_.dimension);
  for (size_t slot = 0; slot < merged.slot_count(); ++slot) {
    // A table loaded for a merge has no cold parts: Approx is the exact row.
    if (merged.row(slot).live) writer.AddRow(merged.row(slot), merged.vectors().Approx(slot, nullptr));
  }
  SegmentRef ref{NewUuidV4(), writer.rows(), 0, 0};
  FATHOM_ASSIGN_OR_RETURN(std::string bytes, writer.Finish());
  ref.size_bytes = bytes.size();
  FATHOM_RETURN_IF_ERROR(CommitObject(*store_, SegmentKey(id_, ref.id), bytes));
  Manifest next = manifest_;
  next.segments = {ref};
  return CommitManifest(next);
}

void CollectionImpl::DeleteObsolete(const Manifest& current) {
  // Everything here is garbage once `current` is committed; failures only leave garbage
  // for the next pass. Single-node assumption: no other node reads older manifests.
  std::unordered_set<std::string> live;
  for (const SegmentRef& s : current.segments) live.insert(SegmentKey(id_, s.id));
  if (auto segments = store_->List(SegmentPrefix(id_)); segments.ok()) {
    for (const ObjectInfo& o : *segments) {
      if (live.count(o.key) == 0) (void)store_->Delete(o.key);
    }
  }
  if (auto indexes = store_->List(VectorIndexPrefix(id_)); indexes.ok()) {
    const std::string keep = current.vector_index ? VectorIndexKey(id_, current.vector_index->id) : std::string();
    for (const ObjectInfo& o : *indexes) {
      if (o.key != keep) (void)store_->Delete(o.key);
    }
  }
  if (auto parts = store_->List(ColdPartPrefix(id_)); parts.ok()) {
    std::unordered_set<std::string> keep;
    for (const ColdPartRef& p : current.cold_parts) keep.insert(ColdPartKey(id_, p.id));
    for (const ObjectInfo& o : *parts) {
      if (keep.count(o.key) == 0) (void)store_->Delete(o.key);
    }
  }
  if (current.wal_sequence_covered > 0) {
    if (auto wal = store_->List(WalPrefix(id_)); wal.ok()) {
      const std::string last = WalKey(id_, current.wal_sequence_covered);
      for (const ObjectInfo& o : *wal) {
        if (o.key > last) break;
        (void)store_->Delete(o.key);
      }
    }
  }
  if (current.version > 0) {
    if (auto manifests = store_->List(ManifestPrefix(id_)); manifests.ok()) {
      const std::string keep = ManifestKey(id_, current.version);
      for (const ObjectInfo& o : *manifests) {
        if (o.key < keep) (void)store_->Delete(o.key);
      }
    }
  }
}

}  // namespace fathom
