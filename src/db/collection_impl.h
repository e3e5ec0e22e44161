// CollectionImpl: one collection's durable state and its read and write paths.
//
// State = latest manifest (segments) + WAL tail, materialised in a RecordTable.
// Writes: validate -> join the group-commit queue -> the queue's leader writes one WAL
// object (create-only Put of wal/<seq>) for the whole group -> applies it to the table ->
// every writer in the group is acknowledged. Reads take a shared lock on the table.
// Compaction folds the tail into a delta segment + new manifest, and merges segments
// when there are too many. Recovery (EnsureOpen) loads manifest, segments and replays
// the tail. See docs/design/write-path.md.
//
// Thread-safety: all public methods are safe to call concurrently. Lock order:
// compaction_mu_ -> write_queue_'s lock -> sync_mu_ -> state_mu_ (never the reverse; a
// commit leader that must reload releases sync_mu_ first).
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <set>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>

#include "catalog/catalog.h"
#include "db/collection_indexes.h"
#include "db/collection_vector_index.h"
#include "db/memory_budget.h"
#include "db/recall_monitor.h"
#include "db/record_table.h"
#include "db/sparse_index_persistence.h"
#include "db/text_index_persistence.h"
#include "fathom/options.h"
#include "fathom/search.h"
#include "fathom/types.h"
#include "io/clock.h"
#include "io/object_store.h"
#include "storage/block_cache.h"
#include "storage/records_segment_reader.h"
#include "storage/manifest.h"
#include "common/limits.h"
#include "wal/group_commit_queue.h"
#include "wal/operation.h"

namespace fathom {

// The catalog entry of a collection, shared with the Database so renames and metadata
// changes show through open handles.
struct CollectionMeta {
  mutable std::mutex mu;
  CatalogCollection entry;
};

class CollectionImpl : public std::enable_shared_from_this<CollectionImpl> {
 public:
  using CompactionScheduler = std::function<void(std::weak_ptr<CollectionImpl>)>;

  // `vector_caches` holds the block caches cold vectors are read through (shared by the
  // database's collections).
  CollectionImpl(std::shared_ptr<CollectionMeta> meta, std::shared_ptr<ObjectStore> store,
                 const DatabaseOptions& options, std::shared_ptr<BlockCachePool> vector_caches,
                 CompactionScheduler schedule);

  const std::string& id() const { return id_; }
  Result<CollectionInfo> Info();

  // The analyzer a collection's text index uses: Analyzer::Default() for nullopt, else
  // Analyzer::Make's (InvalidArgument for options it refuses). Fixed at creation, so the
  // text index is built with it at every open and never rebuilt for a change.
  static Result<std::shared_ptr<const Analyzer>> MakeTextAnalyzer(const std::optional<TextAnalyzerOptions>& options);

  // Loads manifest + segments and replays the WAL tail, once. Corruption is remembered;
  // an I/O error is returned and recovery is tried again by the next call.
  Status EnsureOpen();
  // Whether EnsureOpen has loaded the collection (without waiting for a load running).
  bool IsOpen() const { return open_ok_.load(); }

  Status Write(OpType type, std::vector<WriteRecord> records);
  Result<uint64_t> Delete(const DeleteRequest& request);
  Result<GetResult> Get(const GetRequest& request);
  Result<QueryResult> Query(const QueryRequest& request);
  // The Search API (fathom/search.h): db/collection_search.cc.
  Result<std::vector<SearchResult>> Search(const SearchRequest& request);
  Result<uint64_t> Count(const CountRequest& request);

  // Before a read on a shared store (DatabaseOptions::sharing): applies the WAL objects
  // other nodes committed since the last one applied here, and reloads from a newer
  // manifest when it must (db/collection_sync.cc). kIndexOnly skips it. Free when the
  // store is not shared.
  Status EnsureFresh(ReadLevel level);

  // A strong read's freshness check made ahead of the read, while the caller checks the
  // catalog (CollectionLookup::read_at_once): runs a check as EnsureFresh does and
  // returns the arrival it serves, a number for ReadAfterCheck. A read that passes it
  // skips its own check, as it would skip it for any check that started after it
  // arrived. Free (and the number useless) when the store is not shared.
  Result<uint64_t> CheckFreshAhead();
  // For the duration of one read on this thread: the read counts as arrived at
  // `arrival` (CheckFreshAhead's; Collection::kNoCheck: no effect), so EnsureFresh takes
  // the check made ahead for its own. Thread-local because the read runs on the caller's
  // thread from start to end, and the read paths need not carry the number.
  class ReadAfterCheck {
   public:
    ReadAfterCheck(const CollectionImpl& collection, uint64_t arrival);
    ~ReadAfterCheck();
    ReadAfterCheck(const ReadAfterCheck&) = delete;
    ReadAfterCheck& operator=(const ReadAfterCheck&) = delete;

   private:
    const CollectionImpl* previous_collection_;
    uint64_t previous_arrival_;
  };

  // Brings the background indexes up to date (the vector index: built once the
  // collection is large enough, pending rows folded in), then writes a delta segment for
  // everything applied so far and commits a manifest (with the indexes' objects); merges
  // segments when there are more than limits::kSegmentsPerCollectionMax.
  Status Compact();

  Result<VectorIndexStats> IndexStats();

  // The background job: index maintenance when due, then FoldTail when the tail is over
  // its trigger (Compact() folds whatever there is).
  Status BackgroundWork();

  // The collection was deleted (or the database reset): every later call gets NotFound.
  void MarkDropped();
  // The database is closing: every later call gets Unavailable.
  void MarkClosed();
  // A dropped handle of the same collection whose running calls must end before this
  // one recovers (set before the first call).
  void set_predecessor(std::shared_ptr<CollectionImpl> predecessor) { predecessor_ = std::move(predecessor); }
  // Waits until no call admitted before MarkDropped/MarkClosed is still running (a write,
  // a compaction, a query...). After it, nothing of this handle touches the store again,
  // so the collection's objects may be deleted or the directory handed to another owner.
  void WaitForCalls();

 private:
  struct PendingWrite;

  // Admits one public call (counted until it returns) unless the collection is dropped
  // or closed.
  class CallScope {
   public:
    explicit CallScope(CollectionImpl& owner);
    ~CallScope();
    CallScope(const CallScope&) = delete;
    CallScope& operator=(const CallScope&) = delete;
    const Status& status() const { return status_; }

   private:
    CollectionImpl& owner_;
    Status status_;
  };

  Status CheckUsable() const;
  Status Submit(PendingWrite* write);
  void CommitGroup(const std::vector<PendingWrite*>& group);
  // The writers that pass the checks only the committed state can make (dimension,
  // merged metadata keys; filter deletes resolved); the others get their error. Requires
  // sync_mu_.
  std::vector<PendingWrite*> ValidateGroup(const std::vector<PendingWrite*>& writers);
  enum class CommitOutcome {
    kDone,      // logged and applied, or each writer's status set
    kTooLarge,  // several writers' ops together are refused by the encoder: split them
    kLostRace,  // another node owns the sequence number: catch up and try again
  };
  // Logs the ops of `writers` as one WAL object and applies them. For kTooLarge and
  // kLostRace nothing is done and every writer has its ops back. Requires sync_mu_.
  CommitOutcome CommitBatch(const std::vector<PendingWrite*>& writers);
  // Per record id: its metadata keys as a group's earlier writes leave them (nullopt: no
  // such record).
  using MetadataKeys = std::unordered_map<std::string, std::optional<std::set<std::string>>>;
  // InvalidArgument if `ops` would merge a record's metadata past limits::kMetadataKeysMax
  // (a segment could not hold it); `projected` carries the group's earlier writes.
  Status CheckMergedMetadata(const OperationBatch& ops, MetadataKeys* projected) const;
  // Resolves a filter delete to the ids it removes (under the state lock).
  Status ResolveDelete(PendingWrite* write);
  Status PutWal(uint64_t sequence, const std::string& bytes);
  // Applies the WAL objects after last_sequence_ that are in the store but not in memory
  // (another node's, or ours whose acknowledgement was lost), when `check` (else only
  // after an uncertain put). Also lists newer manifests when `full` or when the last
  // listing is older than half the GC grace: then a newer manifest sets *reload (the
  // caller reloads with sync_mu_ released), because the objects this node's state names
  // may be deleted a grace period later, and WAL objects it lacks may be gone already.
  // Requires sync_mu_.
  Status CatchUpLocked(bool check, bool full, bool* reload);
  // Rebuilds the collection from the store's newest manifest and the WAL after it, unless
  // a listing under the locks finds nothing newer than what this node knows. Takes
  // compaction_mu_ and sync_mu_ (neither may be held).
  Status Reload();
  // Reload with compaction_mu_ held by the caller.
  Status ReloadLocked();
  Status ApplyLocked(OperationBatch&& ops, uint64_t sequence, uint64_t bytes);
  // Loads one of manifest_'s records segments into table_ (bulk load), streaming it a
  // batch of blocks at a time (db/collection_segments.cc). Requires state_mu_ exclusive.
  Status LoadSegmentLocked(const SegmentRef& ref);
  // The cache of records segment blocks read on demand.
  BlockCache* SegmentCache() const;
  // A reader of one of manifest_'s records segments (its tail read and checked).
  Result<std::shared_ptr<RecordsSegmentReader>> OpenSegment(const SegmentRef& ref) const;
  // After a compaction committed segment `ref` holding `stored`: the table's rows whose
  // documents are unchanged since refer to it instead of RAM or older segments.
  // Requires compaction_mu_; takes state_mu_.
  void AdoptSegmentDocuments(const SegmentRef& ref, const std::vector<RecordTable::StoredEntry>& stored);
  // Rebuilds the state from the store: the newest manifest and what it names, then the
  // WAL after it; then sweeps what an interrupted compaction left (or leaves the sweep to
  // the background job). Its steps are the helpers below (db/collection_impl.cc).
  Status Recover();
  // What the catalog entry fixes for the table at creation.
  struct TableSettings {
    std::shared_ptr<const Analyzer> text_analyzer;
    std::optional<std::string> sparse_key;
  };
  // The catalog entry's table settings; Corruption when this build refuses its analyzer
  // options (a libstemmer without the language).
  Result<TableSettings> CatalogTableSettings() const;
  // Empties the table, the indexes, manifest_ and the tail, and gives the empty table its
  // settings (before any row loads: the text index tokenizes rows as they arrive).
  // Requires state_mu_ exclusive.
  void ResetStateLocked(TableSettings settings);
  // Reads the manifest at `key` into manifest_ and loads what it names into the table:
  // cold parts, segments, index objects (derived data missing or refused is rebuilt), the
  // row indexes sealed. Requires state_mu_ exclusive.
  Status LoadManifestLocked(const std::string& key);
  // Opens manifest_'s cold parts in the table's vector column (DatabaseOptions::
  // cold_vectors); a part that cannot be opened is ignored with a warning, its rows stay
  // in RAM. Requires state_mu_ exclusive.
  void OpenColdPartsLocked();
  // Applies the WAL objects after last_sequence_ in sequence order; Corruption for a gap,
  // an object of another name or bad bytes. Requires state_mu_ exclusive.
  Status ReplayWalLocked();
  Status MergeSegments();
  Status RunCompaction(bool fold_always);
  // RunCompaction's work under compaction_mu_; AlreadyExists when another node committed
  // the manifest version it wanted.
  Status CompactLocked(bool fold_always);
  // Writes a delta segment for the rows changed since manifest_ and commits a manifest
  // naming it and the indexes' current objects (db/collection_fold.cc). Requires
  // compaction_mu_.
  Status FoldTail();
  // What one fold records (db/collection_fold.cc).
  struct FoldSnapshot;
  // Fills `fold` under the table's exclusive lock, consistently with the WAL position (the
  // rows' dirty marks move into it); false when there is nothing to record. Requires
  // compaction_mu_.
  bool SnapshotFold(FoldSnapshot* fold);
  // Makes the fold durable in order: the segment and the index objects, then the manifest
  // naming them. On failure manifest_ is unchanged and the caller gives the dirty marks
  // back. Requires compaction_mu_.
  Status WriteFold(FoldSnapshot* fold);
  // One maintenance pass of `index` when due (`force`: any work at all): planned under the
  // shared lock, run without a lock, installed under the exclusive lock. Requires
  // compaction_mu_.
  Status MaintainIndex(BackgroundIndex& index, bool force);
  // What a background build needs to know of this collection (`dim`: the table's).
  IndexBuildContext BuildContext(uint32_t dim) const;
  // Checks the recall monitor's waiting samples against exact search (background job).
  void CheckRecallSamples();
  // Spills indexed hot vectors to cold parts and drops mostly-dead parts
  // (docs/design/cold-vectors.md).
  Status MaintainColdVectors();
  // Restores the rows of every cold part a read found damaged from the log (segments and
  // WAL tail), making them hot, and forgets the part; Corruption only when a row has no
  // other copy. Requires compaction_mu_.
  Status RepairColdParts();
  bool HasDamagedColdPart() const;
  // For readers: repairs now if a part is damaged; true if something was repaired.
  bool RepairColdPartsNow();
  // The vectors of live records `ids` as the manifest's segments and the WAL objects up
  // to `upto` give them. Requires compaction_mu_.
  Result<std::unordered_map<std::string, std::vector<float>>> ReadLoggedVectors(
      const std::unordered_set<std::string>& ids, uint64_t upto);
  // The frame of every read: admitted as a call, the collection open and fresh at `level`,
  // then `read()` (a Result), run once more when it met a damaged cold part (Corruption)
  // that a repair restored. Defined below the class (collection_read.cc and
  // collection_search.cc use it).
  template <typename Read>
  std::invoke_result_t<Read&> RunRead(ReadLevel level, Read read);
  Result<GetResult> GetOnce(const GetRequest& request);
  Result<uint64_t> CountOnce(const CountRequest& request);
  Result<QueryResult> QueryOnce(const QueryRequest& request);
  Result<std::vector<SearchResult>> SearchOnce(const SearchRequest& request);
  BlockCache* VectorCache(uint32_t dim) const;
  // Rows of one cold part at `dim`, and the hot indexed rows past which they are spilled
  // (DatabaseOptions::cold_spill_min_rows, or one part's worth).
  static size_t ColdPartRows(uint32_t dim);
  size_t SpillMinRows(uint32_t dim) const;
  // WAL tail bytes past which a fold is due (limits::kWalTailBytesMax, or less under a
  // memory budget).
  uint64_t TailBytesMax() const;
  // Whether the index and the vector column outgrow the memory budget's share for
  // resident per-row structures (MemoryBudget::resident_share_bytes); logs a warning the
  // first time. Requires state_mu_ (shared).
  bool OverMemoryBudget() const;
  DistanceSpace Space() const;
  // Commits `next` as manifest_.version + 1 (create-only, outcome resolved by reading
  // back); an outcome still unknown is remembered and resolved before the next commit.
  // Requires compaction_mu_.
  Status CommitManifest(Manifest next);
  Status ResolveUncertainManifest();
  // Forgets the tail's WAL objects that manifest_ covers.
  void DropCoveredTail();
  void DeleteObsolete(const Manifest& current);
  void MaybeScheduleCompaction();
  Status Materialise(const std::vector<uint32_t>& slots, const Include& include, GetResult* out) const;

  const std::string id_;
  std::shared_ptr<CollectionMeta> meta_;
  std::shared_ptr<ObjectStore> store_;
  const DatabaseOptions options_;
  std::shared_ptr<BlockCachePool> vector_caches_;
  const MemoryBudget memory_budget_;  // DatabaseOptions::memory_budget_bytes, divided
  mutable std::atomic<bool> over_budget_warned_{false};  // OverMemoryBudget logged once
  const uint64_t compaction_trigger_ops_;
  const uint64_t wal_object_bytes_max_;  // DatabaseOptions::wal_object_bytes_max, resolved
  CompactionScheduler schedule_;

  std::atomic<bool> dropped_{false};
  std::atomic<bool> closed_{false};
  std::mutex calls_mu_;
  std::condition_variable calls_cv_;
  uint64_t calls_ = 0;  // admitted calls still running

  std::mutex open_mu_;
  bool opened_ = false;  // recovery finished (successfully, or with Corruption)
  std::atomic<bool> open_ok_{false};  // recovery finished successfully
  std::shared_ptr<CollectionImpl> predecessor_;  // guarded by open_mu_ once shared
  Status open_status_;

  // Several nodes on one store (DatabaseOptions::sharing resolved, and its gc_grace).
  const bool shared_;
  const Clock::Duration gc_grace_;
  Clock* const clock_;  // options_.clock

  // Group commit queue.
  GroupCommitQueue write_queue_;

  // Who applies WAL objects to the table: the commit leader (for its whole commit) and a
  // strong read's catch-up. Guards the members below and last_sequence_'s changes.
  std::mutex sync_mu_;
  bool wal_uncertain_ = false;  // a WAL put failed or lost a race: the object may exist
  // Freshness checks of strong reads are shared: a read that arrives while a check is
  // running waits for the next one to finish, and skips its own when a check that
  // started after its arrival has finished.
  std::atomic<uint64_t> checks_started_{0};
  uint64_t checks_finished_ = 0;  // the number of the last finished check
  // When the last listing of manifests started that found none newer than
  // known_manifest_version_ (or the last load); a full check is due half a grace later.
  Clock::TimePoint manifests_checked_at_{};
  std::atomic<uint64_t> known_manifest_version_{0};  // the newest this node loaded or committed
  std::atomic<bool> reload_failed_{false};  // the last Reload failed: the table is not usable
  // Obsolete objects, and when they were first found obsolete (gc_grace > 0): deleted
  // once a grace period older. Requires compaction_mu_ (or the open path).
  std::unordered_map<std::string, Clock::TimePoint> obsolete_since_;
  // Recover left the sweep for obsolete objects to the next compaction job (background
  // compaction only; without it Recover sweeps at once).
  std::atomic<bool> obsolete_sweep_due_{false};

  // Table and WAL position.
  mutable std::shared_mutex state_mu_;
  RecordTable table_;
  uint64_t last_sequence_ = 0;  // last WAL object applied
  struct TailObject {
    uint64_t sequence, ops, bytes;
  };
  std::deque<TailObject> tail_;  // WAL objects not yet covered by the manifest
  // The derived indexes beyond the table's row indexes (db/collection_index.h). Named
  // where they are used for what only they do (the vector search, the cold spill); their
  // life cycle (open, apply, maintenance, persistence, GC) runs through indexes_.
  CollectionVectorIndex vector_index_;
  PersistedTextIndex text_index_object_;
  PersistedSparseIndex sparse_index_object_;
  CollectionIndexes indexes_{{&vector_index_, &text_index_object_, &sparse_index_object_}, {&vector_index_}};
  RecallMonitor recall_monitor_;  // thread-safe on its own
  uint64_t tail_ops_ = 0;
  uint64_t tail_bytes_ = 0;

  // Compaction.
  std::mutex compaction_mu_;
  Manifest manifest_;
  struct UncertainManifest {
    Manifest manifest;
    std::string bytes;
  };
  std::optional<UncertainManifest> uncertain_manifest_;  // a commit whose outcome is unknown
  Clock::TimePoint compaction_started_{};  // of the running compaction (compaction_mu_)
  std::atomic<bool> compaction_scheduled_{false};
  std::atomic<uint64_t> recall_warned_at_{0};  // the monitor's recorded_total at the last warning
  std::atomic<bool> cold_parts_full_warned_{false};
  std::mutex background_mu_;  // guards the two below (VectorIndexStats::background_*)
  uint32_t background_failures_ = 0;
  std::string background_error_;  // the last failed job's status
};

template <typename Read>
std::invoke_result_t<Read&> CollectionImpl::RunRead(ReadLevel level, Read read) {
  CallScope call(*this);
  FATHOM_RETURN_IF_ERROR(call.status());
  FATHOM_RETURN_IF_ERROR(EnsureOpen());
  FATHOM_RETURN_IF_ERROR(EnsureFresh(level));
  auto result = read();
  if (!result.ok() && result.status().IsCorruption() && RepairColdPartsNow()) result = read();
  return result;
}

}  // namespace fathom
