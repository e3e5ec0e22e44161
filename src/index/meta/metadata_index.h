// MetadataIndex: an inverted index of one collection's record metadata by slot, so a
// `where` clause becomes bitmap algebra instead of a row-by-row scan.
//
// Per key: the slots holding the key, the slots whose value is an array, and
//   strings  value -> Roaring bitmap (scalar strings and string array elements),
//   bools    true / false bitmaps (scalars and elements),
//   numbers  a NumberColumn (ints and floats on one number line, sorted, for ranges).
// It is kept in step with the RecordTable by the table itself (Insert when a row gets
// metadata, Erase with the old metadata before it changes or dies) and rebuilt when the
// table renumbers its slots. It lives in RAM beside the rows it indexes (the rows are in
// RAM too); see docs/design/query-layer.md for why it is not persisted yet.
// Thread-safety: none; the owning table's lock serialises writers against readers.
#pragma once

#include <roaring/roaring.hh>

#include <cmath>
#include <cstdint>
#include <string>
#include <unordered_map>

#include "fathom/types.h"
#include "index/meta/number_column.h"
#include "index/row_index.h"

namespace fathom {

class MetadataIndex final : public RowIndex {
 public:
  // RowIndex: the rows' metadata.
  Field field() const override { return Field::kMetadata; }
  void Add(uint32_t slot, const RecordView& row) override { Insert(slot, *row.metadata); }
  void Remove(uint32_t slot, const RecordView& row) override { Erase(slot, *row.metadata); }
  void BulkAdd(uint32_t slot, const RecordView& row) override { BulkInsert(slot, *row.metadata); }

  void Insert(uint32_t slot, const Metadata& metadata);
  // `metadata` must be what Insert was given for `slot`.
  void Erase(uint32_t slot, const Metadata& metadata);
  void Clear() override { keys_.clear(); }

  // Loading a whole table at once: Clear(), then BulkInsert every row in increasing slot
  // order, then Seal(); no lookups or other changes in between. Much cheaper than Insert
  // row by row (numbers are sorted once, bitmaps grow at their end).
  void BulkInsert(uint32_t slot, const Metadata& metadata);
  // Ends a bulk load; otherwise compacts (numeric changes folded into the sorted runs).
  void Seal() override;

  // Slots where `key` holds `value` (an array: any element), on Chroma's terms: numbers on
  // one number line, bools only equal bools, strings only strings.
  Roaring Equal(const std::string& key, const Scalar& value) const;
  // Slots where `key` holds a number (an array: any element) inside `range`.
  Roaring InRange(const std::string& key, const NumberRange& range) const;

  // The stored bitmap of a string or bool `value` under `key`, without a copy: nullptr
  // when no slot holds it, or when `value` is a number (numbers have no stored bitmap;
  // use Equal). Valid until the index changes.
  const Roaring* StoredEqual(const std::string& key, const Scalar& value) const;
  const Roaring* StoredArrays(const std::string& key) const;

  // Calls fn(slot) for the slots where `key` holds a number inside `range` (an array: any
  // element), in increasing slot order, each once, until fn returns false. Costs the
  // range's blocks and ends (NumberColumn), not its size.
  template <typename Fn>
  void ForEachInRangeInSlotOrder(const std::string& key, const NumberRange& range, Fn&& fn) const {
    const KeyIndex* k = Find(key);
    if (k == nullptr || (range.lo && std::isnan(range.lo->value)) || (range.hi && std::isnan(range.hi->value))) return;
    k->numbers.ForEachInSlotOrder(range, fn);
  }
  // Sorted blocks ForEachInRangeInSlotOrder merges for `range`.
  uint64_t EstimateRangeBlocks(const std::string& key, const NumberRange& range) const;

  // Entries of `key` inside `range`, exactly, in O(log n + range / 64): equal to
  // InRange(key, range).cardinality() when the key holds no arrays (StoredArrays empty),
  // since each slot then has at most one number.
  uint64_t CountInRange(const std::string& key, const NumberRange& range) const;

  // Upper bounds of Equal(...).cardinality() and InRange(...).cardinality(), cheap.
  uint64_t EstimateEqual(const std::string& key, const Scalar& value) const;
  uint64_t EstimateRange(const std::string& key, const NumberRange& range) const;

  size_t key_count() const { return keys_.size(); }
  size_t MemoryBytes() const override;

 private:
  struct KeyIndex {
    Roaring present;
    Roaring arrays;
    std::unordered_map<std::string, Roaring> strings;
    Roaring trues;
    Roaring falses;
    NumberColumn numbers;
  };
  enum class Change { kInsert, kErase, kBulkInsert };
  void Update(uint32_t slot, const std::string& key, const MetadataValue& value, Change change);
  const KeyIndex* Find(const std::string& key) const;

  std::unordered_map<std::string, KeyIndex> keys_;
};

// The exact point range [v, v] on the number line.
NumberRange PointRange(long double v);

}  // namespace fathom
