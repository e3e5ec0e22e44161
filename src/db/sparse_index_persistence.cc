#include "db/sparse_index_persistence.h"

#include <spdlog/spdlog.h>

#include <utility>
#include <variant>

#include "index/sparse/sparse_index_format.h"

namespace fathom {
namespace {

// Rank of each live row in slot order, and what the object records of the rows: per row
// its offset and its vector's SparseVectorChecksum, from `checksum_of(slot, row)`.
struct SparseRows : LiveRanks {
  std::vector<uint32_t> vector_slots;  // live slots whose row holds a vector at the key
  std::vector<uint64_t> vector_checksums;  // of those vectors, in the same order
  LiveRowChecksums identity;
};

const SparseVector* VectorAt(const Row& row, const std::string& key) {
  if (!row.metadata) return nullptr;
  auto it = row.metadata->find(key);
  return it == row.metadata->end() ? nullptr : std::get_if<SparseVector>(&it->second);
}

template <typename ChecksumOf>
SparseRows ScanSparseRows(const RecordTable& table, ChecksumOf&& checksum_of) {
  SparseRows out;
  out.identity.Reserve(table.live_count());
  RankLiveRows(table, &out, [&](size_t slot, const Row& row) {
    const std::optional<uint64_t> checksum = checksum_of(slot, row);
    if (checksum) {
      out.vector_slots.push_back(static_cast<uint32_t>(slot));
      out.vector_checksums.push_back(*checksum);
    }
    out.identity.Add(row.offset, checksum);
  });
  return out;
}

}  // namespace

std::optional<SparseIndexSnapshot> TakeSparseIndexSnapshot(const RecordTable& table) {
  const SparseIndex* index = table.sparse_index();
  if (index == nullptr || index->vector_count() == 0 || table.live_count() > kSparseIndexRowsMax) return std::nullopt;
  // The index holds a vector for a slot exactly when the row does (it is told of every
  // change of the key), with its checksum.
  SparseRows rows =
      ScanSparseRows(table, [&](size_t slot, const Row&) { return index->VectorChecksum(static_cast<uint32_t>(slot)); });
  SparseIndexSnapshot snapshot;
  snapshot.index = std::make_unique<SparseIndex>(*index);
  snapshot.dense = rows.live == table.slot_count();
  snapshot.rank_of_slot = std::move(rows.rank_of_slot);
  snapshot.live_rows = rows.live;
  snapshot.vector_rows = rows.vector_slots.size();
  snapshot.rows = std::move(rows.identity);
  return snapshot;
}

Result<std::string> EncodeSparseIndexSnapshot(SparseIndexSnapshot snapshot) {
  SparseIndexObject object;
  object.key = snapshot.index->key();
  object.vector_rows = snapshot.vector_rows;
  const LiveRowChecksums::Hashes hashes = snapshot.rows.Hash();
  object.offsets_hash = hashes.offsets;
  object.vectors_hash = hashes.contents;
  object.image = snapshot.index->MakeImage(snapshot.dense ? nullptr : &snapshot.rank_of_slot, snapshot.live_rows);
  snapshot.index.reset();
  return EncodeSparseIndexObject(object);
}

Status LoadSparseIndex(std::string_view bytes, const RecordTable& table, SparseIndex* index) {
  FATHOM_ASSIGN_OR_RETURN(SparseIndexObject object, DecodeSparseIndexObject(bytes));
  if (object.key != index->key()) {
    return Status::Corruption("sparse index object: made for key '" + object.key.substr(0, 80) +
                              "', the collection's sparse key is '" + index->key() + "'");
  }
  if (object.image.slot_count != table.live_count()) {
    return Status::Corruption("sparse index object: made for " + std::to_string(object.image.slot_count) +
                              " rows, the segments hold " + std::to_string(table.live_count()));
  }
  // From the rows themselves: the index is what is being loaded.
  SparseRows rows = ScanSparseRows(table, [&](size_t, const Row& row) -> std::optional<uint64_t> {
    const SparseVector* vector = VectorAt(row, index->key());
    if (vector == nullptr) return std::nullopt;
    return SparseVectorChecksum(*vector);
  });
  const LiveRowChecksums::Hashes hashes = rows.identity.Hash();
  if (object.offsets_hash != hashes.offsets) {
    return Status::Corruption("sparse index object: made for other rows than the segments hold");
  }
  if (object.vector_rows != rows.vector_slots.size() || object.vectors_hash != hashes.contents) {
    return Status::Corruption("sparse index object: made for other sparse vectors than the segments hold");
  }
  // Every posting belongs to a row holding a vector (the decoder cannot tell: it knows the
  // rows by number only).
  std::vector<uint8_t> has_vector(rows.live, 0);
  for (uint32_t slot : rows.vector_slots) has_vector[rows.rank_of_slot[slot]] = 1;
  for (uint32_t rank : object.image.slots) {
    if (!has_vector[rank]) return Status::Corruption("sparse index object: a posting of a row without a vector");
  }
  const bool dense = rows.live == table.slot_count();
  index->LoadImage(std::move(object.image), dense ? nullptr : &rows.slot_of_rank, rows.vector_slots,
                   rows.vector_checksums, table.slot_count());
  return Status::Ok();
}

// ---- PersistedSparseIndex --------------------------------------------------------------

const PersistedIndexKind PersistedSparseIndex::kKind = {"sparse index", &Manifest::sparse_index, &SparseIndexPrefix,
                                                     &SparseIndexKey};

Status PersistedSparseIndex::LoadObject(RecordTable& table, const std::string& key, std::string bytes) {
  if (table.sparse_index() == nullptr) return Status::Corruption("the collection has no sparse key");
  // A sparse index object that is missing, damaged or made for other rows costs a build
  // from the rows, never the collection. The bytes live until the seal has used them.
  table.OfferSparseIndex([this, key, bytes = std::move(bytes)](const RecordTable& sealed, SparseIndex* index) {
    Status loaded = LoadSparseIndex(bytes, sealed, index);
    if (!loaded.ok()) spdlog::warn("ignoring sparse index {} ({}); rebuilt from the rows", key, loaded.ToString());
    object_current_ = loaded.ok();
    return loaded;
  });
  return Status::Ok();
}

bool PersistedSparseIndex::ObjectStale(const RecordTable& table) const {
  return !object_current_ && table.sparse_index() != nullptr && table.sparse_index()->vector_count() != 0;
}

std::unique_ptr<IndexSnapshot> PersistedSparseIndex::SnapshotObject(const RecordTable& table) {
  std::optional<SparseIndexSnapshot> snapshot = TakeSparseIndexSnapshot(table);
  if (!snapshot) return nullptr;
  const uint64_t rows = snapshot->live_rows;
  return std::make_unique<EncodedLaterSnapshot<SparseIndexSnapshot, &EncodeSparseIndexSnapshot>>(std::move(*snapshot),
                                                                                                  rows);
}

}  // namespace fathom
