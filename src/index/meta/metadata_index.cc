#include "index/meta/metadata_index.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace fathom {

namespace {

// `slots` (any order, duplicates allowed) as a bitmap. A range's entries come in value
// order, so their slots are random: large sets go through a dense bitset over the slots'
// span (linear in the entries plus span / 64 words) instead of a comparison sort.
Roaring SlotsToBitmap(std::vector<uint32_t>& slots) {
  if (slots.empty()) return Roaring();
  if (slots.size() > 4096) {
    const auto [min_it, max_it] = std::minmax_element(slots.begin(), slots.end());
    const uint32_t base = *min_it >> 6;
    const size_t word_count = (*max_it >> 6) - base + 1;
    std::vector<uint64_t> words(word_count, 0);
    for (uint32_t s : slots) words[(s >> 6) - base] |= uint64_t{1} << (s & 63);
    // Written through a raw pointer: push_back here kept the vector's fields in memory
    // and cost more than the rest of the lookup.
    uint32_t* out = slots.data();
    for (size_t w = 0; w < word_count; ++w) {
      const uint32_t high = static_cast<uint32_t>((base + w) << 6);
      for (uint64_t bits = words[w]; bits != 0; bits &= bits - 1) {
        *out++ = high + static_cast<uint32_t>(__builtin_ctzll(bits));
      }
    }
    slots.resize(static_cast<size_t>(out - slots.data()));
  } else {
    std::sort(slots.begin(), slots.end());
    slots.erase(std::unique(slots.begin(), slots.end()), slots.end());
  }
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
uint64_t MetadataIndex::CountInRange(const std::string& key, const NumberRange& range) const {
  const KeyIndex* k = Find(key);
  if (k == nullptr || (range.lo && std::isnan(range.lo->value)) || (range.hi && std::isnan(range.hi->value))) return 0;
  return k->numbers.Count(range);
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
