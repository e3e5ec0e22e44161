// CollectionImpl, the write path: validation, the group-commit queue, WAL objects, apply
// (docs/design/write-path.md).
#include "db/collection_impl.h"
#include "db/document_reads.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>
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

// A writer in the group-commit queue (bytes: an upper bound of its ops' encoding).
struct CollectionImpl::PendingWrite : GroupCommitQueue::Writer {
  OperationBatch ops;
  std::optional<uint32_t> dimension;       // of the embeddings in ops
  const DeleteRequest* filter_delete = nullptr;
  uint64_t deleted = 0;                    // for filter deletes
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
        } else if constexpr (std::is_same_v<T, SparseVector>) {
          size_t bytes = kHeader + 1 + v.indices.size() * 8;
          for (const std::string& s : v.tokens) bytes += 10 + s.size();
          return bytes;
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
  write.bytes = EstimateBytes(write.ops);
  if (write.bytes > limits::kWalGroupBytesMax) {
    return Status::InvalidArgument("write of about " + std::to_string(write.bytes >> 20) +
                                   " MiB exceeds the limit of " + std::to_string(limits::kWalGroupBytesMax >> 20) +
                                   " MiB per request");
  }
  return Submit(&write);
}

Result<uint64_t> CollectionImpl::Delete(const DeleteRequest& request) {
  FATHOM_RETURN_IF_ERROR(ValidateDeleteRequest(request));
  const bool has_filter = request.where.has_value() || request.where_document.has_value();
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
    write.alone = true;  // must see the state every earlier write leaves
  } else {
    for (const std::string& id : *request.ids) {
      Operation op;
      op.type = OpType::kDelete;
      op.record.id = id;
      write.ops.push_back(std::move(op));
    }
    write.deleted = request.ids->size();  // Chroma counts the ids sent
    write.bytes = EstimateBytes(write.ops);
  }
  FATHOM_RETURN_IF_ERROR(Submit(&write));
  return write.deleted;
}

Status CollectionImpl::Submit(PendingWrite* write) {
  return write_queue_.Submit(
      write, options_.write_queue_timeout,
      [&]() -> Status {
        FATHOM_RETURN_IF_ERROR(CheckUsable());
        return Status::Ok();
      },
      [&](const std::vector<GroupCommitQueue::Writer*>& writers) {
        std::vector<PendingWrite*> group;
        group.reserve(writers.size());
        for (GroupCommitQueue::Writer* w : writers) group.push_back(static_cast<PendingWrite*>(w));
        CommitGroup(group);
      });
}

Status CollectionImpl::ResolveDelete(PendingWrite* write) {
  const DeleteRequest& request = *write->filter_delete;
  FATHOM_ASSIGN_OR_RETURN(CompiledFilter filter, CompiledFilter::Compile(request.where, request.where_document));
  Selection selection;
  if (request.ids) selection.ids = &*request.ids;
  selection.filter = &filter;
  if (request.limit) selection.limit = *request.limit;
  std::shared_lock<std::shared_mutex> lock(state_mu_);
  DocumentReadScope reads;  // documents read on demand by a where_document verification
  const std::vector<uint32_t> selected = SelectSlots(table_, selection);
  FATHOM_RETURN_IF_ERROR(reads.status());
  for (uint32_t slot : selected) {
    Operation op;
    op.type = OpType::kDelete;
    op.record.id = table_.row(slot).id;
    write->ops.push_back(std::move(op));
  }
  write->deleted = write->ops.size();
  return Status::Ok();
}

namespace {

// How long a group commit waits after losing its `race`-th race (from 1) for a WAL
// sequence number: uniform in [0, min(cap, base * 2^race)).
Clock::Duration LostRaceBackoff(int race) {
  constexpr auto kBase = std::chrono::microseconds(500);
  constexpr auto kCap = std::chrono::microseconds(100'000);
  thread_local std::minstd_rand rng{std::random_device{}()};
  const int64_t ceiling = std::min<int64_t>(kCap.count(), kBase.count() << std::min(race, 10));
  std::uniform_int_distribution<int64_t> pick(0, ceiling - 1);
  return std::chrono::microseconds(pick(rng));
}

}  // namespace

void CollectionImpl::CommitGroup(const std::vector<PendingWrite*>& group) {
  // sync_mu_ for the whole commit: nothing else applies WAL objects meanwhile, so the
  // state the group is validated against is the state its sequence number follows.
  std::unique_lock<std::mutex> sync(sync_mu_);
  const uint64_t logged_before = last_sequence_;
  std::vector<PendingWrite*> pending = group;
  bool lost_race = false;
  bool must_check = false;  // the last attempt had nothing to log and had not checked
  for (int race = 0; !pending.empty(); ++race) {
    if (race == limits::kWalCommitRacesMax) {
      for (PendingWrite* p : pending) {
        p->status = Status::Unavailable("collection " + id_ + ": " + std::to_string(race) +
                                        " other writers committed first, one after another; retry the write");
      }
      break;
    }
    if (lost_race) {
      // The node that won is likely to win the next sequence number too: it commits right
      // after its last commit, while this one must first read what it lost to. A random
      // wait, growing with each loss, lets this node catch up in a pause of the winner's
      // (full jitter, as in AWS's "Exponential Backoff and Jitter"). Real time: the other
      // nodes are other processes, whatever clock drives this node's timers.
      sync.unlock();
      RealClock()->SleepFor(LostRaceBackoff(race));
      sync.lock();
    }
    // A write must be validated against every write acknowledged before it, on any node.
    // On a shared store the create-only PUT of last_sequence_ + 1 settles that by itself:
    // sequence numbers are dense, so the PUT fails if any node took that number (the
    // group then catches up, is validated anew and tries the next), and a PUT that
    // succeeds follows every WAL object ever committed. So a commit reads nothing first
    // (one request, as a raw PUT) unless (a) its last attempt lost a race, (b) a put's
    // outcome is unknown, or (c) the last listing of manifests is half a grace old: WAL
    // objects after last_sequence_ may then have been compacted and deleted, and a PUT of
    // a deleted number would succeed; CatchUpLocked lists manifests first then. After a
    // lost race the check looks for a newer manifest too: the object that beat us may
    // already be compacted away.
    const bool listing_due = shared_ && clock_->Now() - manifests_checked_at_ >= gc_grace_ / 2;
    const bool checked = wal_uncertain_ || lost_race || must_check || listing_due;
    must_check = false;
    bool reload = false;
    Status s = CatchUpLocked(checked, /*full=*/lost_race, &reload);
    if (s.ok() && reload) {
      sync.unlock();
      s = Reload();
      sync.lock();
    }
    if (!s.ok()) {
      for (PendingWrite* p : pending) p->status = s;
      break;
    }
    if (reload) {
      lost_race = false;
      continue;  // check again on the reloaded state (counts as a race: bounded)
    }
    std::vector<PendingWrite*> attempt = pending;
    pending = ValidateGroup(pending);
    if (shared_ && !checked &&
        std::all_of(pending.begin(), pending.end(), [](const PendingWrite* p) { return p->ops.empty(); })) {
      // Nothing to log, so no PUT proves that the state these answers come from is the
      // newest (a delete by filter that matches nothing here, an add of an id this node
      // still has, a refusal): check the store first, then answer.
      for (PendingWrite* p : attempt) p->status = Status::Ok();
      pending = std::move(attempt);
      must_check = true;
      continue;
    }
    // One WAL object for the group. The byte estimate that formed it can be far off (a
    // filter delete is resolved only now), so the object is checked on its encoded bytes:
    // a group the encoder refuses commits writer by writer, and only the writer whose own
    // ops are refused gets the error.
    std::vector<PendingWrite*> again;  // lost the race: caught up and validated anew
    CommitOutcome outcome = CommitBatch(pending);
    if (outcome == CommitOutcome::kTooLarge) {
      for (size_t i = 0; i < pending.size(); ++i) {
        if (CommitBatch({pending[i]}) == CommitOutcome::kLostRace) {
          again.assign(pending.begin() + static_cast<ptrdiff_t>(i), pending.end());
          break;
        }
      }
    } else if (outcome == CommitOutcome::kLostRace) {
      again = pending;
    }
    lost_race = !again.empty();
    pending = std::move(again);
  }
  sync.unlock();
  // Only what was logged can make compaction due (a refused write on a full disk must not
  // queue a job per attempt).
  if (last_sequence_ != logged_before) MaybeScheduleCompaction();
}

std::vector<CollectionImpl::PendingWrite*> CollectionImpl::ValidateGroup(const std::vector<PendingWrite*>& writers) {
  std::optional<uint32_t> dimension;
  {
    std::shared_lock<std::shared_mutex> lock(state_mu_);
    dimension = table_.dimension();
  }
  std::vector<PendingWrite*> accepted;
  MetadataKeys projected;
  for (PendingWrite* p : writers) {
    if (p->filter_delete) {
      p->ops.clear();  // resolved again against the state this attempt follows
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
  return accepted;
}

CollectionImpl::CommitOutcome CollectionImpl::CommitBatch(const std::vector<PendingWrite*>& writers) {
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
  // Gives each writer its ops back, in order (for a split or another attempt).
  auto give_back = [&] {
    if (writers.size() == 1) return;
    size_t next = 0;
    for (PendingWrite* p : writers) {
      for (Operation& op : p->ops) op = std::move(all[next++]);
    }
  };
  if (ops->empty()) return CommitOutcome::kDone;
  const uint64_t sequence = last_sequence_ + 1;  // only under sync_mu_ does it change
  Result<std::string> encoded = EncodeWalObject(sequence, *ops, RandomU64());
  if (encoded.ok() && encoded->size() > wal_object_bytes_max_) {
    encoded = Status::InvalidArgument("WAL object: the write encodes to " + std::to_string(encoded->size()) +
                                      " bytes, over DatabaseOptions::wal_object_bytes_max (" +
                                      std::to_string(wal_object_bytes_max_) + ")");
  }
  if (!encoded.ok()) {
    if (writers.size() > 1) {
      give_back();
      return CommitOutcome::kTooLarge;
    }
    PendingWrite* p = writers[0];
    p->status = Status::InvalidArgument(
        encoded.status().message() + "; split the write into smaller requests" +
        (p->filter_delete ? " (for a delete by filter: add a limit)" : ""));
    return CommitOutcome::kDone;
  }
  const std::string& bytes = *encoded;
  Status s = PutWal(sequence, bytes);
  if (s.IsAlreadyExists()) {
    // Another node owns this sequence number: the caller catches up and tries again.
    give_back();
    return CommitOutcome::kLostRace;
  }
  if (!s.ok()) {
    for (PendingWrite* p : writers) p->status = s;
    return CommitOutcome::kDone;
  }
  std::unique_lock<std::shared_mutex> lock(state_mu_);
  Status applied = ApplyLocked(std::move(*ops), sequence, bytes.size());
  FATHOM_CHECK(applied.ok());  // validated above, before logging
  return CommitOutcome::kDone;
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
  // Either another writer owns this sequence number or the outcome is unknown: the next
  // catch-up applies whatever is there before anything commits again.
  wal_uncertain_ = true;
  if (s.IsAlreadyExists()) return s;
  spdlog::warn("collection {}: WAL put {} failed: {}", id_, sequence, s.ToString());
  return s.WithContext("write-ahead log");
}

}  // namespace fathom
