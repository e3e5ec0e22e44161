// CollectionIndexes: the loops CollectionImpl runs over its derived indexes
// (db/collection_index.h) at open, after each applied WAL group, at compaction and in
// garbage collection, so that an index plugs in by being listed, not by being named at
// each step.
//
// It owns no index and no lock: the indexes are CollectionImpl's members, and each method
// says which of CollectionImpl's locks the caller holds. The lists are fixed at
// construction.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "db/collection_index.h"
#include "db/record_table.h"
#include "io/object_store.h"
#include "storage/manifest.h"

namespace fathom {

class CollectionIndexes {
 public:
  CollectionIndexes(std::vector<PersistedIndex*> persisted, std::vector<BackgroundIndex*> background)
      : persisted_(std::move(persisted)), background_(std::move(background)) {}

  const std::vector<PersistedIndex*>& persisted() const { return persisted_; }
  const std::vector<BackgroundIndex*>& background() const { return background_; }

  // ---- open (exclusive lock) ----
  void Reset();
  // Offers each persisted index the object `manifest` names (rows of its segments loaded
  // in `table`, row indexes not sealed yet). Derived data: an object that is missing or
  // refused is logged and the index rebuilt; only a failed read (not NotFound) fails, so
  // that the open is retried.
  Status Load(ObjectStore& store, const std::string& collection_id, const Manifest& manifest,
              RecordTable& table);

  // ---- after each change to the table (exclusive lock) ----
  void Absorb(RecordTable& table, const std::vector<uint32_t>& renumbered);

  // ---- compaction ----
  // Whether any background index is due for maintenance (shared lock).
  bool NeedsMaintenance(const RecordTable& table) const;
  // Whether a persisted index's object is stale although the rows are not (shared lock).
  bool AnyObjectStale(const RecordTable& table) const;

  // The objects a fold writes: one entry per persisted index due (its object stale, or
  // any at all when `rows_changed`), its snapshot null when it has nothing to persist.
  struct Snapshots {
    struct Entry {
      PersistedIndex* index;
      std::unique_ptr<IndexSnapshot> snapshot;  // freed once written
      bool has_object = false;                  // the snapshot was not null
    };
    std::vector<Entry> entries;
  };
  // Exclusive lock, at the moment the fold fixes the manifest's state.
  Snapshots TakeSnapshots(const RecordTable& table, bool rows_changed);
  // Without a lock: encodes and writes each snapshot's object and points `next`'s
  // reference at it; the references of indexes not due are left as they are. Derived
  // data: a failure only leaves that index unreferenced (logged), never the others.
  void WriteObjects(ObjectStore& store, const std::string& collection_id, Snapshots* snapshots, Manifest* next);
  // After `committed` (WriteObjects' `next`) became the manifest: tells each index whether
  // its object is in it.
  void Committed(const Snapshots& snapshots, const Manifest& committed);
  // The manifest may not name the objects the indexes hold (an uncertain commit landed).
  void ForgetObjects();

  // ---- garbage collection ----
  // Adds to `obsolete` every index object in the store that `current` does not name.
  void ListObsolete(ObjectStore& store, const std::string& collection_id, const Manifest& current,
                    std::vector<std::string>* obsolete) const;

 private:
  std::vector<PersistedIndex*> persisted_;
  std::vector<BackgroundIndex*> background_;
};

}  // namespace fathom
