// What the persisted indexes whose index the table holds (the text index object,
// db/text_index_persistence.h; the sparse index object, db/sparse_index_persistence.h)
// share as PersistedIndexes (db/collection_index.h): their state is only whether the
// manifest's object describes the table's index, their snapshot is a value encoded by a
// function later, without the table's lock, and their objects number rows by rank.
// Thread-safety: as PersistedIndex says (under the compaction mutex or the open's lock).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "db/collection_index.h"
#include "db/record_table.h"
#include "fathom/status.h"

namespace fathom {

class TableIndexObject : public PersistedIndex {
 public:
  void Reset() override { object_current_ = false; }
  void ForgetObject() override { object_current_ = false; }
  void ObjectCommitted(bool written) override { object_current_ = written; }

 protected:
  // The manifest's object holds the table's index (or the table has nothing to persist
  // and the manifest names none).
  bool object_current_ = false;
};

// An IndexSnapshot holding `Snapshot` (what the table gave under its lock) and encoding it
// with `EncodeFn` when asked.
template <typename Snapshot, Result<std::string> (*EncodeFn)(Snapshot)>
class EncodedLaterSnapshot final : public IndexSnapshot {
 public:
  EncodedLaterSnapshot(Snapshot snapshot, uint64_t rows) : snapshot_(std::move(snapshot)), rows_(rows) {}
  uint64_t rows() const override { return rows_; }
  Result<std::string> Encode() override { return EncodeFn(std::move(snapshot_)); }

 private:
  Snapshot snapshot_;
  uint64_t rows_;
};

// Ranks of the table's live rows: rank r is the r-th live row in slot order, the number
// such an object gives a row (docs/format/text-index.md, "Ranks").
struct LiveRanks {
  std::vector<uint32_t> rank_of_slot;  // RecordTable::kNoSlot for a dead slot
  std::vector<uint32_t> slot_of_rank;
  uint32_t live = 0;
};

// Numbers the table's live rows into *out, calling visit(slot, row) for each in slot order.
template <typename Visit>
void RankLiveRows(const RecordTable& table, LiveRanks* out, Visit&& visit) {
  out->rank_of_slot.assign(table.slot_count(), RecordTable::kNoSlot);
  out->slot_of_rank.reserve(table.live_count());
  for (size_t slot = 0; slot < table.slot_count(); ++slot) {
    if (!table.live()[slot]) continue;
    out->rank_of_slot[slot] = out->live++;
    out->slot_of_rank.push_back(static_cast<uint32_t>(slot));
    visit(slot, table.row(slot));
  }
}

}  // namespace fathom
