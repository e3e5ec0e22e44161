// RowIndex: the interface of an index kept in step with a collection's rows as they
// change, inside the write that changes them (the metadata index, the text index). The
// RecordTable owns its row indexes and drives them all the same way:
//   - a row gets the indexed field (added, or the field set)       -> Add
//   - the field is about to change, or the row to die              -> Remove (old value)
//   - opening a collection: Clear, BulkAdd every live row in slot order, Seal
//   - slots renumbered (the table reclaimed dead slots)            -> Renumber, or a rebuild
// Readers reach an index through the RowSource (query/row_source.h) under the table's
// shared lock; every call here runs under its exclusive lock.
//
// The other kind of index, maintained in the background with the rows it does not cover
// yet searched exactly (the vector index), is db/collection_vector_index.h; see
// docs/design/query-layer.md, "Indexes".
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "index/meta/filter.h"

namespace fathom {

class RowIndex {
 public:
  // The one record field an index reads; it is told only of changes to that field.
  enum class Field : uint8_t { kMetadata, kDocument };

  virtual ~RowIndex() = default;
  virtual Field field() const = 0;

  // `row` (live) now holds the field (it is set: the caller checks).
  virtual void Add(uint32_t slot, const RecordView& row) = 0;
  // `row` still holds the value Add was given; it is about to change or the row to die.
  virtual void Remove(uint32_t slot, const RecordView& row) = 0;
  // Whether Remove reads the old value. An index that does must also tolerate not being
  // told (its answers a superset, verified by the caller): a document read on demand is
  // not read inside a write, so such a Remove may be skipped (db/record_table.h).
  virtual bool RemoveReadsValue() const { return true; }
  // Remove was not called for `slot` (live or about to die) because its old value was not
  // at hand (see RemoveReadsValue); the index keeps the slot's old entries.
  virtual void RemoveSkipped(uint32_t slot) { (void)slot; }

  // Bulk build: after Clear(), BulkAdd in increasing slot order, then Seal(); no reads or
  // other changes in between. Seal() outside a bulk build compacts recent changes.
  virtual void Clear() = 0;
  virtual void BulkAdd(uint32_t slot, const RecordView& row) = 0;
  virtual void Seal() = 0;

  // The table moved its rows: old slot -> new slot (UINT32_MAX: gone). False when the
  // index cannot follow without the rows; the table then rebuilds it (Clear, BulkAdd, Seal).
  virtual bool Renumber(const std::vector<uint32_t>& old_to_new) {
    (void)old_to_new;
    return false;
  }

  virtual size_t MemoryBytes() const = 0;
};

}  // namespace fathom
