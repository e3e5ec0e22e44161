#include "index/meta/metadata_index.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace fathom {

namespace {

// Sorts slots by LSD radix, 11 bits per pass (two passes below 2^22 slots): a range's
// entries come in value order, so their slots are random, and a comparison sort (or a
// bitset walked word by word, which mispredicts a branch per word) costs several times
// more.
void RadixSortSlots(std::vector<uint32_t>& slots) {
  constexpr uint32_t kBits = 11;
  constexpr uint32_t kBuckets = 1u << kBits;
  const uint32_t max = *std::max_element(slots.begin(), slots.end());
  std::vector<uint32_t> scratch(slots.size());
  for (uint32_t shift = 0; shift < 32 && (max >> shift) != 0; shift += kBits) {
    uint32_t counts[kBuckets] = {};
    for (uint32_t s : slots) ++counts[(s >> shift) & (kBuckets - 1)];
    uint32_t sum = 0;
    for (uint32_t& c : counts) {
      const uint32_t n = c;
      c = sum;
      sum += n;
    }
    for (uint32_t s : slots) scratch[counts[(s >> shift) & (kBuckets - 1)]++] = s;
    slots.swap(scratch);
  }
}

// `slots` (any order, duplicates allowed) as a bitmap.
Roaring SlotsToBitmap(std::vector<uint32_t>& slots) {
  if (slots.empty()) return Roaring();
  if (slots.size() > 256) {
    RadixSortSlots(slots);
  } else {
    std::sort(slots.begin(), slots.end());
  }
  slots.erase(std::unique(slots.begin(), slots.end()), slots.end());
  return Roaring(slots.size(), slots.data());
}

template <typename T>
std::vector<T> Distinct(const std::vector<T>& values) {
  std::vector<T> out(values.begin(), values.end());
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace

NumberRange PointRange(long double v) { return NumberRange{NumberBound{v, true}, NumberBound{v, true}}; }

void NumberColumn::Add(double v, uint32_t slot) {
  if (!std::isnan(v)) floats_.Add(v, slot);
}

void NumberColumn::Remove(double v, uint32_t slot) {
  if (!std::isnan(v)) floats_.Remove(v, slot);
}

void MetadataIndex::Insert(uint32_t slot, const Metadata& metadata) {
  for (const auto& [key, value] : metadata) Update(slot, key, value, Change::kInsert);
}

void MetadataIndex::Erase(uint32_t slot, const Metadata& metadata) {
  for (const auto& [key, value] : metadata) Update(slot, key, value, Change::kErase);
}

void MetadataIndex::BulkInsert(uint32_t slot, const Metadata& metadata) {
  for (const auto& [key, value] : metadata) Update(slot, key, value, Change::kBulkInsert);
}

void MetadataIndex::Update(uint32_t slot, const std::string& key, const MetadataValue& value, Change change) {
  const bool insert = change != Change::kErase;
  KeyIndex& k = keys_[key];
  auto set = [&](Roaring& r) {
    if (insert) r.add(slot); else r.remove(slot);
  };
  auto string_entry = [&](const std::string& s) {
    if (insert) {
      k.strings[s].add(slot);
      return;
    }
    auto it = k.strings.find(s);
    if (it == k.strings.end()) return;
    it->second.remove(slot);
    if (it->second.isEmpty()) k.strings.erase(it);
  };
  auto number_entry = [&](auto v) {
    if (change == Change::kBulkInsert) {
      k.numbers.BulkAdd(v, slot);
    } else if (insert) {
      k.numbers.Add(v, slot);
    } else {
      k.numbers.Remove(v, slot);
    }
  };
  set(k.present);
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>) {
          set(v ? k.trues : k.falses);
        } else if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, double>) {
          number_entry(v);
        } else if constexpr (std::is_same_v<T, std::string>) {
          string_entry(v);
        } else if constexpr (std::is_same_v<T, SparseVector>) {
          // Only `present`: no filter compares a sparse vector (index/sparse/ searches it).
        } else {
          set(k.arrays);
          // An element repeated in one array is one entry.
          using E = typename T::value_type;
          for (const auto& element : Distinct(v)) {
            const E e = element;
            if constexpr (std::is_same_v<E, bool>) {
              set(e ? k.trues : k.falses);
            } else if constexpr (std::is_same_v<E, std::string>) {
              string_entry(e);
            } else {
              number_entry(e);
            }
          }
        }
      },
      value);
  if (!insert && k.present.isEmpty()) keys_.erase(key);
}

void MetadataIndex::Seal() {
  for (auto& [key, k] : keys_) k.numbers.Seal();
}

const MetadataIndex::KeyIndex* MetadataIndex::Find(const std::string& key) const {
  auto it = keys_.find(key);
  return it == keys_.end() ? nullptr : &it->second;
}

Roaring MetadataIndex::Equal(const std::string& key, const Scalar& value) const {
  const KeyIndex* k = Find(key);
  if (k == nullptr) return Roaring();
  switch (value.index()) {
    case 0: return std::get<bool>(value) ? k->trues : k->falses;
    case 1: return InRange(key, PointRange(static_cast<long double>(std::get<int64_t>(value))));
    case 2: {
      const double d = std::get<double>(value);
      if (std::isnan(d)) return Roaring();
      return InRange(key, PointRange(static_cast<long double>(d)));
    }
    default: {
      auto it = k->strings.find(std::get<std::string>(value));
      return it == k->strings.end() ? Roaring() : it->second;
    }
  }
}

const Roaring* MetadataIndex::StoredEqual(const std::string& key, const Scalar& value) const {
  const KeyIndex* k = Find(key);
  if (k == nullptr) return nullptr;
  if (value.index() == 0) return std::get<bool>(value) ? &k->trues : &k->falses;
  if (value.index() != 3) return nullptr;
  auto it = k->strings.find(std::get<std::string>(value));
  return it == k->strings.end() ? nullptr : &it->second;
}

const Roaring* MetadataIndex::StoredArrays(const std::string& key) const {
  const KeyIndex* k = Find(key);
  return k == nullptr ? nullptr : &k->arrays;
}

Roaring MetadataIndex::InRange(const std::string& key, const NumberRange& range) const {
  const KeyIndex* k = Find(key);
  if (k == nullptr) return Roaring();
  if ((range.lo && std::isnan(range.lo->value)) || (range.hi && std::isnan(range.hi->value))) return Roaring();
  std::vector<uint32_t> slots;
  slots.reserve(k->numbers.EstimateCount(range));
  k->numbers.ForEach(range, [&](uint32_t slot) { slots.push_back(slot); });
  return SlotsToBitmap(slots);
}


uint64_t MetadataIndex::EstimateEqual(const std::string& key, const Scalar& value) const {
  const KeyIndex* k = Find(key);
  if (k == nullptr) return 0;
  switch (value.index()) {
    case 0: return (std::get<bool>(value) ? k->trues : k->falses).cardinality();
    case 1: return k->numbers.EstimateCount(PointRange(static_cast<long double>(std::get<int64_t>(value))));
    case 2: return k->numbers.EstimateCount(PointRange(static_cast<long double>(std::get<double>(value))));
    default: {
      auto it = k->strings.find(std::get<std::string>(value));
      return it == k->strings.end() ? 0 : it->second.cardinality();
    }
  }
}

uint64_t MetadataIndex::EstimateRange(const std::string& key, const NumberRange& range) const {
  const KeyIndex* k = Find(key);
  return k == nullptr ? 0 : k->numbers.EstimateCount(range);
}

uint64_t MetadataIndex::EstimateRangeBlocks(const std::string& key, const NumberRange& range) const {
  const KeyIndex* k = Find(key);
  return k == nullptr ? 0 : k->numbers.EstimateBlocks(range);
}

size_t MetadataIndex::MemoryBytes() const {
  size_t bytes = 0;
  for (const auto& [key, k] : keys_) {
    bytes += key.size() + sizeof(KeyIndex) + k.present.getSizeInBytes() + k.arrays.getSizeInBytes() +
             k.trues.getSizeInBytes() + k.falses.getSizeInBytes() + k.numbers.MemoryBytes();
    for (const auto& [value, bitmap] : k.strings) bytes += value.size() + 64 + bitmap.getSizeInBytes();
  }
  return bytes;
}

}  // namespace fathom
