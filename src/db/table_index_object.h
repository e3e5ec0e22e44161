// What the persisted indexes whose index the table holds (the text index object,
// db/text_index_persistence.h; the sparse index object, db/sparse_index_persistence.h)
// share as PersistedIndexes (db/collection_index.h): their state is only whether the
// manifest's object describes the table's index, their snapshot is a value encoded by a
// function later, without the table's lock, and their objects number rows by rank.
// Thread-safety: as PersistedIndex says (under the compaction mutex or the open's lock).
#pragma once

#include <cstdint>
#include <optional>
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

// What an object records of the rows it was made for, so that a load can tell them
// (docs/format/text-index.md, "Layout": offsets_hash and documents_hash; the sparse index
// object's offsets and vectors hashes are taken the same way): per live row
// in slot order, its offset and the checksum of what the index read from it (none when
// the row gives the index nothing). Gathered while the table's lock is held, by reading
// values the rows or the index keep (a Checksum64 computed there only for a document
// still in RAM); hashed by Hash, which needs no lock: a compaction does it after
// releasing the lock, while writers go on.
struct LiveRowChecksums {
  std::vector<uint64_t> offsets;
  std::vector<std::optional<uint64_t>> checksums;

  void Add(uint64_t offset, std::optional<uint64_t> checksum) {
    offsets.push_back(offset);
    checksums.push_back(checksum);
  }
  void Reserve(size_t rows) {
    offsets.reserve(rows);
    checksums.reserve(rows);
  }

  struct Hashes {
    uint64_t offsets = 0;   // the object's offsets hash
    uint64_t contents = 0;  // its documents hash (text) or vectors hash (sparse)
  };
  // TextIndexRowsHasher over the rows, in order.
  Hashes Hash() const;
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
