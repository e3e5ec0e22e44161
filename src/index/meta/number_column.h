// NumberColumn: one metadata key's numeric values (scalars and array elements) for range
// and equality lookups, ints and floats on one number line.
//
// Two sorted runs of (value, slot), one per type, compared exactly against a long double
// bound (long double holds every int64 and every double exactly, so `$gte 0.5` does not
// match 0 and int 1 equals float 1.0, as the row-by-row evaluator decides). Changes go to
// a small ordered buffer; removals of run entries are marked dead; when the buffer and the
// dead entries pass 1/8 of the run, the run is rebuilt (amortised O(1) moves per change).
// NaN is never stored: it equals nothing and is in no range.
//
// For a paged read (the first N matching slots in slot order) the sorted run is also cut
// into blocks of kBlockEntries consecutive positions, each holding its slots sorted by
// slot: a range's slots come out in slot order by merging the blocks inside it with its
// two sorted ends, so "the first 100 rows with 300000 <= views < 310000" touches a few
// hundred entries instead of gathering (or sorting) the whole range.
// Thread-safety: none; the owner serialises writers against readers.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <deque>
#include <optional>
#include <set>
#include <utility>
#include <vector>

namespace fathom {

// Several increasing sequences of slots merged into one increasing sequence without
// duplicates. A sequence may hold entries marked kGone (a removed entry, skipped).
class SlotMerger {
 public:
  static constexpr uint32_t kGone = uint32_t{1} << 31;

  // A sorted sequence the merger does not own (valid until Run returns).
  void AddSorted(const uint32_t* begin, const uint32_t* end) {
    if (begin != end) cursors_.push_back(Cursor{begin, end});
  }
  // An unsorted sequence: sorted here and kept until Run returns.
  void AddUnsorted(std::vector<uint32_t> slots) {
    if (slots.empty()) return;
    std::sort(slots.begin(), slots.end());
    owned_.push_back(std::move(slots));
    AddSorted(owned_.back().data(), owned_.back().data() + owned_.back().size());
  }
  size_t sequences() const { return cursors_.size(); }

  // Calls fn(slot) for every slot of the sequences in increasing order, each once, until
  // fn returns false.
  template <typename Fn>
  void Run(Fn&& fn) {
    auto later = [](const Cursor& a, const Cursor& b) { return *a.next > *b.next; };
    std::vector<Cursor> heap;
    heap.reserve(cursors_.size());
    for (Cursor c : cursors_) {
      if (c.SkipGone()) heap.push_back(c);
    }
    std::make_heap(heap.begin(), heap.end(), later);
    bool any = false;
    uint32_t last = 0;
    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), later);
      Cursor& c = heap.back();
      const uint32_t slot = *c.next++;
      if (!any || slot != last) {
        if (!fn(slot)) return;
        any = true;
        last = slot;
      }
      if (c.SkipGone()) {
        std::push_heap(heap.begin(), heap.end(), later);
      } else {
        heap.pop_back();
      }
    }
  }

 private:
  struct Cursor {
    const uint32_t* next;
    const uint32_t* end;
    // Moves past removed entries; false when the sequence is exhausted.
    bool SkipGone() {
      while (next != end && (*next & kGone) != 0) ++next;
      return next != end;
    }
  };
  std::vector<Cursor> cursors_;
  std::deque<std::vector<uint32_t>> owned_;
};

// One end of a range on the number line; nullopt = unbounded.
struct NumberBound {
  long double value = 0;
  bool inclusive = true;
};

struct NumberRange {
  std::optional<NumberBound> lo;
  std::optional<NumberBound> hi;

  bool Contains(long double v) const {
    if (lo && (lo->inclusive ? v < lo->value : v <= lo->value)) return false;
    if (hi && (hi->inclusive ? v > hi->value : v >= hi->value)) return false;
    return true;
  }
};

template <typename T>
class SortedNumberRun {
 public:
  void Add(T value, uint32_t slot);
  // Removes an entry that Add put in (and not removed since).
  void Remove(T value, uint32_t slot);
  // Calls fn(slot) for every entry in `range` (a slot at most once per distinct value).
  template <typename Fn>
  void ForEach(const NumberRange& range, Fn&& fn) const;
  // Entries in `range`, counting dead ones: an upper bound, in O(log n).
  size_t EstimateCount(const NumberRange& range) const;
  // Entries in `range`, exactly (removed ones not counted): the span's size less its dead
  // bits (a popcount per 64 entries), plus the recent changes inside it.
  size_t Count(const NumberRange& range) const;
  // Adds the slots of the entries in `range` to `merger` as sorted sequences (whole blocks
  // borrowed, the range's ends and the recent changes sorted), for a walk in slot order.
  void AddInSlotOrder(const NumberRange& range, SlotMerger* merger) const;
  // Blocks AddInSlotOrder borrows whole for `range` (about the size of its merge).
  size_t EstimateBlocks(const NumberRange& range) const;
  static constexpr size_t kBlockEntries = 256;
  size_t size() const { return run_.size() - dead_count_ + recent_.size(); }
  // Appends an entry to the run without keeping it sorted: for loading a fresh column,
  // which Seal() then sorts. Nothing else may be called in between.
  void BulkAdd(T value, uint32_t slot) {
    run_.push_back(Entry{value, slot});
    unsorted_ = true;
  }
  // Sorts a bulk load, and folds the recent changes into the sorted run.
  void Seal() {
    if (unsorted_) {
      std::sort(run_.begin(), run_.end());
      run_.erase(std::unique(run_.begin(), run_.end(),
                             [](const Entry& a, const Entry& b) { return !(a < b) && !(b < a); }),
                 run_.end());
      unsorted_ = false;
      BuildBlocks();
    }
    if (!recent_.empty() || dead_count_ != 0) Rebuild();
  }
  size_t MemoryBytes() const;

 private:
  struct Entry {
    T value;
    uint32_t slot;
    bool operator<(const Entry& o) const { return value < o.value || (value == o.value && slot < o.slot); }
  };
  // Orders entries against a range's lower end, for lower_bound in recent_.
  struct Below {
    NumberBound lo;
  };
  struct Less {
    using is_transparent = void;
    bool operator()(const Entry& a, const Entry& b) const { return a < b; }
    bool operator()(const Entry& e, const Below& b) const {
      const long double v = static_cast<long double>(e.value);
      return b.lo.inclusive ? v < b.lo.value : v <= b.lo.value;
    }
    bool operator()(const Below& b, const Entry& e) const {
      const long double v = static_cast<long double>(e.value);
      return b.lo.inclusive ? b.lo.value <= v : b.lo.value < v;
    }
  };
  // [begin, end) positions of run_ inside `range`.
  std::pair<size_t, size_t> RunSpan(const NumberRange& range) const;
  void MaybeRebuild();
  void Rebuild();
  // Fills block_slots_ from a freshly sorted run_ (no dead entries).
  void BuildBlocks();
  // Marks run_[i]'s slot removed in its block.
  void MarkGoneInBlock(size_t i);

  std::vector<Entry> run_;
  // One entry per run_ position: block b (positions [b*kBlockEntries, ...)) holds the
  // slots of its entries sorted by slot, a removed one marked SlotMerger::kGone. Empty
  // when a slot does not fit below kGone (then AddInSlotOrder sorts whole spans).
  std::vector<uint32_t> block_slots_;
  std::vector<uint64_t> dead_;  // one bit per run_ position
  size_t dead_count_ = 0;
  std::set<Entry, Less> recent_;
  bool unsorted_ = false;  // BulkAdd since the last Seal
};

class NumberColumn {
 public:
  void Add(int64_t v, uint32_t slot) { ints_.Add(v, slot); }
  void Add(double v, uint32_t slot);
  void Remove(int64_t v, uint32_t slot) { ints_.Remove(v, slot); }
  void Remove(double v, uint32_t slot);
  void BulkAdd(int64_t v, uint32_t slot) { ints_.BulkAdd(v, slot); }
  void BulkAdd(double v, uint32_t slot) {
    if (!std::isnan(v)) floats_.BulkAdd(v, slot);
  }
  void Seal() {
    ints_.Seal();
    floats_.Seal();
  }
  template <typename Fn>
  void ForEach(const NumberRange& range, Fn&& fn) const {
    ints_.ForEach(range, fn);
    floats_.ForEach(range, fn);
  }
  size_t EstimateCount(const NumberRange& range) const {
    return ints_.EstimateCount(range) + floats_.EstimateCount(range);
  }
  // Entries in `range`: for a key that holds no arrays, the slots whose value is in it.
  size_t Count(const NumberRange& range) const { return ints_.Count(range) + floats_.Count(range); }
  // Calls fn(slot) for every slot with a value in `range`, in increasing slot order, each
  // slot once, until fn returns false.
  template <typename Fn>
  void ForEachInSlotOrder(const NumberRange& range, Fn&& fn) const {
    SlotMerger merger;
    ints_.AddInSlotOrder(range, &merger);
    floats_.AddInSlotOrder(range, &merger);
    merger.Run(fn);
  }
  size_t EstimateBlocks(const NumberRange& range) const {
    return ints_.EstimateBlocks(range) + floats_.EstimateBlocks(range);
  }
  bool empty() const { return ints_.size() == 0 && floats_.size() == 0; }
  size_t MemoryBytes() const { return ints_.MemoryBytes() + floats_.MemoryBytes(); }

 private:
  SortedNumberRun<int64_t> ints_;
  SortedNumberRun<double> floats_;
};

// ---- template implementation --------------------------------------------------------

template <typename T>
std::pair<size_t, size_t> SortedNumberRun<T>::RunSpan(const NumberRange& range) const {
  size_t begin = 0;
  size_t end = run_.size();
  auto first_not_before = [&](const NumberBound& lo) {
    // first entry with value > lo (exclusive) or >= lo (inclusive)
    size_t a = 0, b = run_.size();
    while (a < b) {
      const size_t m = a + (b - a) / 2;
      const long double v = static_cast<long double>(run_[m].value);
      const bool before = lo.inclusive ? v < lo.value : v <= lo.value;
      if (before) a = m + 1; else b = m;
    }
    return a;
  };
  auto first_after = [&](const NumberBound& hi) {
    // first entry with value > hi (inclusive) or >= hi (exclusive)
    size_t a = 0, b = run_.size();
    while (a < b) {
      const size_t m = a + (b - a) / 2;
      const long double v = static_cast<long double>(run_[m].value);
      const bool inside = hi.inclusive ? v <= hi.value : v < hi.value;
      if (inside) a = m + 1; else b = m;
    }
    return a;
  };
  if (range.lo) begin = first_not_before(*range.lo);
  if (range.hi) end = first_after(*range.hi);
  if (end < begin) end = begin;
  return {begin, end};
}

template <typename T>
template <typename Fn>
void SortedNumberRun<T>::ForEach(const NumberRange& range, Fn&& fn) const {
  const auto [begin, end] = RunSpan(range);
  if (dead_count_ == 0) {
    for (size_t i = begin; i < end; ++i) fn(run_[i].slot);
  } else {
    for (size_t i = begin; i < end; ++i) {
      if ((dead_[i >> 6] >> (i & 63)) & 1) continue;
      fn(run_[i].slot);
    }
  }
  auto it = range.lo ? recent_.lower_bound(Below{*range.lo}) : recent_.begin();
  for (; it != recent_.end(); ++it) {
    const long double v = static_cast<long double>(it->value);
    if (range.hi && (range.hi->inclusive ? v > range.hi->value : v >= range.hi->value)) break;
    fn(it->slot);
  }
}

template <typename T>
size_t SortedNumberRun<T>::EstimateCount(const NumberRange& range) const {
  const auto [begin, end] = RunSpan(range);
  if (run_.empty()) {
    size_t n = 0;
    ForEach(range, [&](uint32_t) { ++n; });
    return n;
  }
  // The recent changes, assumed spread over the range as the run is.
  const double share = static_cast<double>(end - begin) / static_cast<double>(run_.size());
  return (end - begin) + static_cast<size_t>(std::ceil(share * static_cast<double>(recent_.size())));
}

template <typename T>
size_t SortedNumberRun<T>::Count(const NumberRange& range) const {
  const auto [begin, end] = RunSpan(range);
  size_t n = end - begin;
  if (dead_count_ != 0) {
    for (size_t i = begin; i < end;) {
      const size_t word = i >> 6, bit = i & 63;
      const size_t take = std::min<size_t>(64 - bit, end - i);
      const uint64_t mask = take == 64 ? ~uint64_t{0} : ((uint64_t{1} << take) - 1) << bit;
      n -= static_cast<size_t>(std::popcount(dead_[word] & mask));
      i += take;
    }
  }
  auto it = range.lo ? recent_.lower_bound(Below{*range.lo}) : recent_.begin();
  for (; it != recent_.end(); ++it) {
    const long double v = static_cast<long double>(it->value);
    if (range.hi && (range.hi->inclusive ? v > range.hi->value : v >= range.hi->value)) break;
    ++n;
  }
  return n;
}

template <typename T>
size_t SortedNumberRun<T>::MemoryBytes() const {
  return run_.capacity() * sizeof(Entry) + block_slots_.capacity() * 4 + dead_.capacity() * 8 +
         recent_.size() * (sizeof(Entry) + 32);
}

template <typename T>
void SortedNumberRun<T>::Add(T value, uint32_t slot) {
  recent_.insert(Entry{value, slot});
  MaybeRebuild();
}

template <typename T>
void SortedNumberRun<T>::Remove(T value, uint32_t slot) {
  const Entry e{value, slot};
  if (recent_.erase(e) == 0) {
    auto it = std::lower_bound(run_.begin(), run_.end(), e);
    // Present unless the caller broke the Add/Remove pairing; then there is nothing to do.
    if (it == run_.end() || it->value != value || it->slot != slot) return;
    const size_t i = static_cast<size_t>(it - run_.begin());
    if (dead_.empty()) dead_.assign((run_.size() + 63) / 64, 0);
    const uint64_t bit = uint64_t{1} << (i & 63);
    if ((dead_[i >> 6] & bit) == 0) {
      dead_[i >> 6] |= bit;
      ++dead_count_;
      MarkGoneInBlock(i);
    }
  }
  MaybeRebuild();
}

template <typename T>
void SortedNumberRun<T>::MaybeRebuild() {
  const size_t changes = recent_.size() + dead_count_;
  if (changes < 1024 || changes * 8 < run_.size()) return;
  Rebuild();
}

template <typename T>
void SortedNumberRun<T>::Rebuild() {
  std::vector<Entry> merged;
  merged.reserve(run_.size() - dead_count_ + recent_.size());
  auto next = recent_.begin();
  for (size_t i = 0; i < run_.size(); ++i) {
    if (dead_count_ != 0 && ((dead_[i >> 6] >> (i & 63)) & 1)) continue;
    while (next != recent_.end() && *next < run_[i]) merged.push_back(*next++);
    merged.push_back(run_[i]);
  }
  while (next != recent_.end()) merged.push_back(*next++);
  run_.swap(merged);
  recent_.clear();
  dead_.clear();
  dead_count_ = 0;
  BuildBlocks();
}

template <typename T>
void SortedNumberRun<T>::BuildBlocks() {
  block_slots_.clear();
  for (const Entry& e : run_) {
    if ((e.slot & SlotMerger::kGone) != 0) return;
  }
  block_slots_.resize(run_.size());
  for (size_t first = 0; first < run_.size(); first += kBlockEntries) {
    const size_t last = std::min(run_.size(), first + kBlockEntries);
    for (size_t i = first; i < last; ++i) block_slots_[i] = run_[i].slot;
    std::sort(block_slots_.begin() + static_cast<ptrdiff_t>(first), block_slots_.begin() + static_cast<ptrdiff_t>(last));
  }
}

template <typename T>
void SortedNumberRun<T>::MarkGoneInBlock(size_t i) {
  if (block_slots_.empty()) return;
  const size_t first = i / kBlockEntries * kBlockEntries;
  const size_t last = std::min(run_.size(), first + kBlockEntries);
  const uint32_t slot = run_[i].slot;
  // Marked entries keep their place, so the block stays sorted by the unmarked value. An
  // array may put one slot twice into a block; either copy may be marked, since a block
  // is only ever taken whole.
  auto it = std::lower_bound(block_slots_.begin() + static_cast<ptrdiff_t>(first),
                             block_slots_.begin() + static_cast<ptrdiff_t>(last), slot,
                             [](uint32_t a, uint32_t b) { return (a & ~SlotMerger::kGone) < b; });
  for (; it != block_slots_.begin() + static_cast<ptrdiff_t>(last) && (*it & ~SlotMerger::kGone) == slot; ++it) {
    if ((*it & SlotMerger::kGone) == 0) {
      *it |= SlotMerger::kGone;
      return;
    }
  }
}

template <typename T>
void SortedNumberRun<T>::AddInSlotOrder(const NumberRange& range, SlotMerger* merger) const {
  const auto [begin, end] = RunSpan(range);
  auto live = [&](size_t i) { return dead_count_ == 0 || ((dead_[i >> 6] >> (i & 63)) & 1) == 0; };
  auto gather = [&](size_t from, size_t to, std::vector<uint32_t>* out) {
    for (size_t i = from; i < to; ++i) {
      if (live(i)) out->push_back(run_[i].slot);
    }
  };
  std::vector<uint32_t> loose;  // the range's partial blocks and its recent changes
  const size_t first_block = (begin + kBlockEntries - 1) / kBlockEntries * kBlockEntries;
  if (block_slots_.empty() || first_block >= end) {
    gather(begin, end, &loose);
  } else {
    // Whole blocks: [first_block, whole_end); the last block of the run may be short.
    size_t whole_end = end / kBlockEntries * kBlockEntries;
    if (end == run_.size()) whole_end = end;
    gather(begin, first_block, &loose);
    for (size_t b = first_block; b < whole_end; b += kBlockEntries) {
      const size_t last = std::min(whole_end, b + kBlockEntries);
      merger->AddSorted(block_slots_.data() + b, block_slots_.data() + last);
    }
    gather(std::max(whole_end, first_block), end, &loose);
  }
  auto it = range.lo ? recent_.lower_bound(Below{*range.lo}) : recent_.begin();
  for (; it != recent_.end(); ++it) {
    const long double v = static_cast<long double>(it->value);
    if (range.hi && (range.hi->inclusive ? v > range.hi->value : v >= range.hi->value)) break;
    loose.push_back(it->slot);
  }
  merger->AddUnsorted(std::move(loose));
}

template <typename T>
size_t SortedNumberRun<T>::EstimateBlocks(const NumberRange& range) const {
  const auto [begin, end] = RunSpan(range);
  return (end - begin) / kBlockEntries;
}

}  // namespace fathom
