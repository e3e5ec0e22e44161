// What the persisted indexes whose index the table holds (the text index object,
// db/text_index_persistence.h; the sparse index object, db/sparse_index_persistence.h)
// share as PersistedIndexes (db/collection_index.h): their state is only whether the
// manifest's object describes the table's index, and their snapshot is a value encoded
// by a function later, without the table's lock.
// Thread-safety: as PersistedIndex says (under the compaction mutex or the open's lock).
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "db/collection_index.h"
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

}  // namespace fathom
