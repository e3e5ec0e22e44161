#include "db/collection_indexes.h"

#include <spdlog/spdlog.h>

#include "common/random.h"
#include "io/commit_object.h"

namespace fathom {

void CollectionIndexes::Reset() {
  for (PersistedIndex* index : persisted_) index->Reset();
}

Status CollectionIndexes::Load(ObjectStore& store, const std::string& collection_id, const Manifest& manifest,
                               RecordTable& table) {
  for (PersistedIndex* index : persisted_) {
    const PersistedIndexKind& kind = index->kind();
    const std::optional<IndexObjectRef>& ref = manifest.*kind.ref;
    if (!ref) continue;
    const std::string key = kind.key(collection_id, ref->id);
    Result<std::string> bytes = store.Get(key);
    // A failed read fails the open, which a retry repeats; a missing object is derived
    // data lost, like a damaged one.
    if (!bytes.ok() && !bytes.status().IsNotFound()) return bytes.status();
    Status loaded = bytes.ok() ? index->LoadObject(table, key, std::move(*bytes)) : bytes.status();
    if (!loaded.ok()) {
      spdlog::warn("collection {}: ignoring {} {} ({}); it will be rebuilt", collection_id, kind.name, key,
                   loaded.ToString());
      index->ForgetObject();
    }
  }
  return Status::Ok();
}

void CollectionIndexes::Absorb(RecordTable& table, const std::vector<uint32_t>& renumbered) {
  for (BackgroundIndex* index : background_) index->Absorb(table, renumbered);
}

bool CollectionIndexes::NeedsMaintenance(const RecordTable& table) const {
  for (const BackgroundIndex* index : background_) {
    if (index->NeedsMaintenance(table)) return true;
  }
  return false;
}

bool CollectionIndexes::AnyObjectStale(const RecordTable& table) const {
  for (const PersistedIndex* index : persisted_) {
    if (index->ObjectStale(table)) return true;
  }
  return false;
}

CollectionIndexes::Snapshots CollectionIndexes::TakeSnapshots(const RecordTable& table, bool rows_changed) {
  Snapshots out;
  for (PersistedIndex* index : persisted_) {
    // An object describes exact rows: new rows need a new one. Otherwise the manifest's
    // stays right unless the index changed since it was written.
    if (!rows_changed && !index->ObjectStale(table)) continue;
    std::unique_ptr<IndexSnapshot> snapshot = index->SnapshotObject(table);
    const bool has_object = snapshot != nullptr;
    out.entries.push_back({index, std::move(snapshot), has_object});
  }
  return out;
}

void CollectionIndexes::WriteObjects(ObjectStore& store, const std::string& collection_id, Snapshots* snapshots,
                                     Manifest* next) {
  for (Snapshots::Entry& entry : snapshots->entries) {
    const PersistedIndexKind& kind = entry.index->kind();
    std::optional<IndexObjectRef>& ref = next->*kind.ref;
    ref = std::nullopt;  // the old object describes other rows (or an older index)
    if (!entry.snapshot) continue;
    // Derived data: a failure here only costs a rebuild after the next open.
    IndexObjectRef written{NewUuidV4(), entry.snapshot->rows(), 0};
    Result<std::string> bytes = entry.snapshot->Encode();
    entry.snapshot.reset();
    Status put = bytes.status();
    if (bytes.ok()) {
      written.size_bytes = bytes->size();
      put = CommitObject(store, kind.key(collection_id, written.id), *bytes);
    }
    if (put.ok()) {
      ref = std::move(written);
    } else {
      spdlog::warn("collection {}: {} not persisted: {}", collection_id, kind.name, put.ToString());
    }
  }
}

void CollectionIndexes::Committed(const Snapshots& snapshots, const Manifest& committed) {
  for (const Snapshots::Entry& entry : snapshots.entries) {
    const bool named = (committed.*entry.index->kind().ref).has_value();
    entry.index->ObjectCommitted(!entry.has_object || named);
  }
}

void CollectionIndexes::ForgetObjects() {
  for (PersistedIndex* index : persisted_) index->ForgetObject();
}

void CollectionIndexes::ListObsolete(ObjectStore& store, const std::string& collection_id, const Manifest& current,
                                     std::vector<std::string>* obsolete) const {
  for (const PersistedIndex* index : persisted_) {
    const PersistedIndexKind& kind = index->kind();
    auto objects = store.List(kind.prefix(collection_id));
    if (!objects.ok()) continue;  // garbage left for the next pass
    const std::optional<IndexObjectRef>& ref = current.*kind.ref;
    const std::string keep = ref ? kind.key(collection_id, ref->id) : std::string();
    for (const ObjectInfo& o : *objects) {
      if (o.key != keep) obsolete->push_back(o.key);
    }
  }
}

}  // namespace fathom
