// CollectionImpl, the fold: the rows changed since the last manifest become a delta
// segment, committed with the indexes' objects in a new manifest
// (docs/design/write-path.md). Its order is the crash-safety argument: the segment and
// the index objects are durable before the manifest that names them is committed, and
// nothing is deleted before that commit.
#include <algorithm>
#include <unordered_set>

#include "common/checksum.h"
#include "common/limits.h"
#include "common/random.h"
#include "db/collection_impl.h"
#include "io/commit_object.h"
#include "storage/records_segment.h"

namespace fathom {

struct CollectionImpl::FoldSnapshot {
  Manifest next;  // manifest_ with the fold's changes
  std::unordered_set<std::string> dirty;  // the rows' dirty marks, given back if the fold fails
  std::vector<SegmentEntry> entries;  // the changed rows and the tombstones of removed ones
  CollectionIndexes::Snapshots index_snapshots;
  // Entries whose vector is in a cold part (position in entries, where it is): read after
  // the lock.
  std::vector<std::pair<size_t, VectorColumn::ColdRef>> cold_entries;
  // The readers of the segments the rows' stored documents are in: documents of rows
  // changed in metadata only are read back after the lock.
  std::vector<std::shared_ptr<const RecordsSegmentReader>> segments;
  std::vector<RecordTable::StoredEntry> stored;  // where the new segment holds the rows' documents

  // Reads back what was not copied under the lock: vectors in cold parts, documents in
  // segments.
  Status ReadBack();
  // Writes the entries as one records segment (create-only) and names it in `next`;
  // nothing when no row changed.
  Status WriteSegment(ObjectStore& store, const std::string& collection_id);
};

Status CollectionImpl::FoldTail() {
  if (manifest_.segments.size() + 1 > limits::kManifestSegmentsMax) {
    // A fold adds a segment, and a manifest holds a bounded number: at the bound the
    // segments are merged first, and while that fails nothing is folded (the WAL keeps
    // every write).
    FATHOM_RETURN_IF_ERROR(MergeSegments().WithContext("compaction: segments at the manifest's limit"));
    DeleteObsolete(manifest_);
  }
  // What changed since the last manifest, consistent with the WAL position it records.
  FoldSnapshot fold;
  if (!SnapshotFold(&fold)) return Status::Ok();  // nothing to record
  // Segment and index objects, then the manifest: on failure the rows stay dirty, so
  // the next fold writes them again.
  if (Status s = WriteFold(&fold); !s.ok()) {
    std::unique_lock<std::shared_mutex> lock(state_mu_);
    table_.RestoreDirty(fold.dirty);
    return s;
  }
  // Committed: the indexes and the table's documents refer to the new objects.
  indexes_.Committed(fold.index_snapshots, manifest_);
  if (!fold.stored.empty()) AdoptSegmentDocuments(manifest_.segments.back(), fold.stored);
  // What the new manifest makes obsolete goes now, whatever a merge does next.
  DeleteObsolete(manifest_);
  return Status::Ok();
}

bool CollectionImpl::SnapshotFold(FoldSnapshot* fold) {
  Manifest& next = fold->next;
  next = manifest_;
  std::unique_lock<std::shared_mutex> lock(state_mu_);
  fold->segments = table_.segments();
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
  // Nothing to record: no new WAL objects, the same cold parts, and the index objects
  // the manifest already has.
  const bool rows_changed = last_sequence_ != manifest_.wal_sequence_covered;
  if (!rows_changed && same_parts() && !indexes_.AnyObjectStale(table_)) return false;
  fold->index_snapshots = indexes_.TakeSnapshots(table_, rows_changed);
  fold->dirty = table_.TakeDirty();
  next.wal_sequence_covered = last_sequence_;
  next.next_offset = table_.next_offset();
  next.dimension = table_.dimension().value_or(0);
  fold->entries.reserve(fold->dirty.size());
  for (const std::string& id : fold->dirty) {
    SegmentEntry e;
    if (auto slot = table_.Find(id)) {
      e.row = table_.row(*slot);
      e.embedding.resize(next.dimension);
      if (auto ref = table_.vectors().cold_ref(*slot)) {
        fold->cold_entries.emplace_back(fold->entries.size(), std::move(*ref));
      } else {
        const float* v = table_.vectors().Approx(*slot, nullptr);  // a hot row: exact
        e.embedding.assign(v, v + next.dimension);
      }
    } else {
      e.tombstone = true;
      e.row.id = id;
    }
    fold->entries.push_back(std::move(e));
  }
  return true;
}

Status CollectionImpl::WriteFold(FoldSnapshot* fold) {
  FATHOM_RETURN_IF_ERROR(fold->ReadBack());
  FATHOM_RETURN_IF_ERROR(fold->WriteSegment(*store_, id_));
  indexes_.WriteObjects(*store_, id_, &fold->index_snapshots, &fold->next);
  // On failure the segment is unreferenced unless the manifest landed after all (then it
  // is resolved before the next commit); garbage otherwise, removed by a later compaction.
  return CommitManifest(fold->next).WithContext("compaction: manifest");
}

Status CollectionImpl::FoldSnapshot::ReadBack() {
  // Rows changed in metadata only keep their vector in a cold part: read it back.
  for (const auto& [position, ref] : cold_entries) {
    FATHOM_RETURN_IF_ERROR(
        VectorColumn::ReadCold(ref, entries[position].embedding.data()).WithContext("compaction: cold vector"));
  }
  std::vector<Row*> rows;
  for (SegmentEntry& e : entries) {
    if (!e.tombstone) rows.push_back(&e.row);
  }
  return RecordTable::FetchDocuments(segments, rows).WithContext("compaction: stored document");
}

Status CollectionImpl::FoldSnapshot::WriteSegment(ObjectStore& store, const std::string& collection_id) {
  if (entries.empty()) return Status::Ok();
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
      const SegmentDocumentLocator at = writer.AddRow(e.row, e.embedding.data());
      if (e.row.document) stored.push_back({e.row.id, e.row.offset, true, Checksum64(*e.row.document), at});
    }
  }
  entries.clear();  // the documents are in the writer now
  SegmentRef ref{NewUuidV4(), writer.rows(), writer.tombstones(), 0};
  Result<std::string> finished = writer.Finish();
  std::string bytes = finished.ok() ? std::move(*finished) : std::string();
  ref.size_bytes = bytes.size();
  if (Status s = finished.ok() ? CommitObject(store, SegmentKey(collection_id, ref.id), bytes) : finished.status();
      !s.ok()) {
    return s.WithContext("compaction: segment");
  }
  next.segments.push_back(ref);
  return Status::Ok();
}

}  // namespace fathom
