// A collection's persisted sparse vector index (docs/format/sparse-index.md): compaction
// snapshots the table's SparseIndex with the state the manifest will describe and
// encodes it later, without the table's lock; recovery loads it in place of indexing every
// row's sparse vector again, after checking that it was made for exactly the rows the
// segments gave and for the collection's sparse key (docs/design/sparse-vectors.md,
// "Persistence"). Derived data: an index LoadSparseIndex does not load is rebuilt from the
// rows by the caller.
// Thread-safety: TakeSparseIndexSnapshot and LoadSparseIndex read the table (the caller
// holds its lock, or has it to itself at open); EncodeSparseIndexSnapshot touches only
// its argument. PersistedSparseIndex: as PersistedIndex (db/collection_index.h) says.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "db/collection_index.h"
#include "db/table_index_object.h"
#include "db/record_table.h"
#include "fathom/status.h"
#include "index/sparse/sparse_index.h"

namespace fathom {

struct SparseIndexSnapshot {
  std::unique_ptr<SparseIndex> index;  // a copy of the table's sparse index
  std::vector<uint32_t> rank_of_slot;  // table slot -> rank among live rows (kNoSlot for dead)
  bool dense = false;                  // every slot live: ranks are slots
  uint32_t live_rows = 0;
  uint64_t vector_rows = 0;
  LiveRowChecksums rows;  // the vectors' checksums as the index keeps them, hashed at encoding
};

// The table's sparse index and what identifies its rows, or nullopt when the collection
// has no sparse key or no live row holds a vector (nothing worth persisting). Copies the
// index: O(its memory); reads the vectors' checksums from it (SparseIndex::VectorChecksum)
// rather than hashing every vector.
std::optional<SparseIndexSnapshot> TakeSparseIndexSnapshot(const RecordTable& table);
// Hashes the rows' identity, renumbers the copy's live postings to ranks and encodes the
// object.
Result<std::string> EncodeSparseIndexSnapshot(SparseIndexSnapshot snapshot);

// Decodes `bytes` and, when it was made for the table's sparse key and exactly its live
// rows (count, record offsets, vectors), loads it into `index` (the table's). Ok when
// loaded, else Corruption naming the first difference, `index` left untouched.
Status LoadSparseIndex(std::string_view bytes, const RecordTable& table, SparseIndex* index);

// The sparse index object as one of a collection's persisted indexes. The index it
// describes is the table's: at open the object is handed to the table's seal
// (RecordTable::OfferSparseIndex), which loads the index from it beside the other row
// indexes' builds, or builds it from the rows when it cannot. Its state is whether the
// manifest's object describes the table's sparse index (TableIndexObject).
class PersistedSparseIndex final : public TableIndexObject {
 public:
  static const PersistedIndexKind kKind;
  const PersistedIndexKind& kind() const override { return kKind; }
  Status LoadObject(RecordTable& table, const std::string& key, std::string bytes) override;
  // The manifest names no usable object although the table's index holds vectors.
  bool ObjectStale(const RecordTable& table) const override;
  std::unique_ptr<IndexSnapshot> SnapshotObject(const RecordTable& table) override;
};

}  // namespace fathom
