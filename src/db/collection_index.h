// The two interfaces through which CollectionImpl drives a collection's derived indexes
// beyond the row indexes (index/row_index.h, kept in step inside each write by
// RecordTable): docs/design/query-layer.md, "Indexes: two kinds, two interfaces".
//
// - PersistedIndex: an index with an object of its own beside the manifest (the vector
//   index, the text index object). Reset and loaded at open, snapshotted when compaction
//   fixes a manifest's state, written and named by that manifest, kept by the garbage
//   collector while the manifest names it.
// - BackgroundIndex: an index that covers rows lazily, off the write path (the vector
//   index): told of the table's changes after every applied WAL group, maintained by the
//   compaction job in three steps (plan under the shared lock, run without a lock,
//   install under the exclusive lock).
//
// CollectionIndexes (db/collection_indexes.h) runs the loops over them. An index owns its
// own state; the caller owns the table and its lock, and the lock each method needs is
// named above it. Maintenance and persistence run under the collection's compaction
// mutex, one at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "db/record_table.h"
#include "fathom/status.h"
#include "fathom/types.h"
#include "io/clock.h"
#include "storage/manifest.h"

namespace fathom {

// Where a persisted index lives: its manifest reference and its objects' keys.
struct PersistedIndexKind {
  const char* name;                                // for messages: "vector index"
  std::optional<IndexObjectRef> Manifest::*ref;    // the manifest's reference to its object
  std::string (*prefix)(const std::string& collection_id);
  std::string (*key)(const std::string& collection_id, const std::string& object_id);
};

// The content of a persisted index's object, taken under the table's lock at the moment
// a manifest's state is fixed and encoded after it, without the lock.
class IndexSnapshot {
 public:
  virtual ~IndexSnapshot() = default;
  // The rows the manifest's reference records (IndexObjectRef::rows).
  virtual uint64_t rows() const = 0;
  // The object's bytes. Called once; may free what the snapshot holds.
  virtual Result<std::string> Encode() = 0;
};

class PersistedIndex {
 public:
  virtual ~PersistedIndex() = default;
  virtual const PersistedIndexKind& kind() const = 0;

  // ---- open (the table's exclusive lock) ----
  // Recovery starts over: forgets the index and its object.
  virtual void Reset() = 0;
  // After the segments' rows are bulk-loaded into `table`, before its row indexes are
  // sealed (RecordTable::SealIndexes): the bytes of the object the manifest names (`key`,
  // for messages). Ok when taken; otherwise why not (the caller logs it and calls
  // ForgetObject; the index is rebuilt from the rows). An index the table itself holds
  // may hand the table a loader for the seal instead (RecordTable::OfferDocumentIndexes).
  virtual Status LoadObject(RecordTable& table, const std::string& key, std::string bytes) = 0;

  // ---- persistence (under the compaction mutex) ----
  // The manifest's object may not describe the index in memory (it was missing or
  // refused at open, or a manifest whose commit outcome was unknown landed): the next
  // fold writes one.
  virtual void ForgetObject() = 0;
  // Whether the manifest's object is behind the index in memory for the same rows (a
  // fold with no new rows must still write one). Shared lock.
  virtual bool ObjectStale(const RecordTable& table) const = 0;
  // The object for the table's current state, or null when there is nothing to persist
  // (the manifest then names none). Exclusive lock, as the manifest's state is fixed.
  virtual std::unique_ptr<IndexSnapshot> SnapshotObject(const RecordTable& table) = 0;
  // The manifest of the last SnapshotObject committed; `written`: it holds what the
  // snapshot did (false: the object could not be written, the manifest names none).
  virtual void ObjectCommitted(bool written) = 0;
};

// What a background build may need to know of its collection, fixed when it is planned.
struct IndexBuildContext {
  DistanceSpace space = DistanceSpace::kL2;
  const Clock* clock = nullptr;  // null = real time
  // Rows from which the collection spills indexed vectors to cold parts (0: never; the
  // rows stay in RAM), and whether cold rows keep int8 approximations in RAM.
  size_t spill_min_rows = 0;
  bool cold_approximations = true;
};

// The heavy part of a maintenance pass, run without any lock.
class IndexTask {
 public:
  virtual ~IndexTask() = default;
  virtual Status Run(const IndexBuildContext& context) = 0;
};

class BackgroundIndex {
 public:
  virtual ~BackgroundIndex() = default;
  virtual const char* name() const = 0;

  // ---- exclusive lock ----
  // After every change to the table (WAL groups applied, rows loaded at open): folds the
  // table's change journal in. `renumbered` is RecordTable::MaybeShrink's result (may be
  // empty).
  virtual void Absorb(RecordTable& table, const std::vector<uint32_t>& renumbered) = 0;
  // Installs a task that ran. False (nothing installed) when the table changed in a way
  // the task cannot follow; a later pass plans again.
  virtual bool InstallTask(const RecordTable& table, std::unique_ptr<IndexTask> task) = 0;
  // A planned task failed: nothing is installed.
  virtual void Abandon() = 0;

  // ---- shared lock ----
  // Whether a maintenance pass is due (`force`: an explicit compaction, any work at all).
  virtual bool NeedsMaintenance(const RecordTable& table, bool force = false) const = 0;
  // The task for the current state, or null when none is due.
  virtual std::unique_ptr<IndexTask> PlanTask(const RecordTable& table, bool force) = 0;
};

}  // namespace fathom
