// Block-max MaxScore top-k over windows of slots: the part of the search that does not
// depend on what a posting holds. Shared by the BM25 inverted index
// (index/text/inverted_index_search.cc) and the sparse vector index
// (index/sparse/sparse_index.cc); each brings its own posting lists as a `Terms` type
// and scores documents as a sum of per-term contributions, higher is better.
//
// Slots are visited in windows of kMaxScoreWindowSlots, in increasing order. In each
// window (MaxScoreWindow):
//   1. every term's window bound (an upper bound, >= 0, of its contribution to any
//      document in the window) is asked of the Terms;
//   2. if the bounds sum to no more than the current k-th score (theta), the window is
//      skipped;
//   3. otherwise terms are sorted by window bound; the longest prefix whose bounds sum to
//      no more than theta is "non-essential" (a document matching only those cannot
//      enter the top k); the essential terms are added term-at-a-time into a dense
//      accumulator for the window;
//   4. each accumulated document is completed by probing the non-essential terms from the
//      largest bound down, stopping as soon as its score plus the remaining bounds cannot
//      beat theta; the filter is tested only for documents that survive the first check.
// Documents are offered in increasing slot order, so a later document with a score equal
// to theta always loses the tie (slot ascending): pruning on `<= theta` is exact.
// Bounds must be >= 0 even when contributions can be negative (a document gets nothing
// from a term it lacks, so the sum of the non-negative bounds of the terms it has still
// bounds its score). See docs/design/text-index.md and docs/design/sparse-vectors.md.
// Thread-safety: per-search scratch objects, one search at a time.
#pragma once

#include <roaring/roaring.hh>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/assert.h"

namespace fathom {

struct ScoredSlot {
  uint32_t slot;
  float score;  // higher is better
};

inline constexpr uint32_t kMaxScoreWindowSlots = 4096;

// The k best (score, slot) pairs offered: higher score first, then lower slot.
class TopKSlots {
 public:
  // `floor`: theta while fewer than k are held, below every score a search can offer.
  TopKSlots(uint32_t k, double floor) : k_(k), floor_(floor) {}

  uint32_t k() const { return k_; }
  double Theta() const { return heap_.size() == k_ ? heap_.front().score : floor_; }
  void Reserve(size_t n) { heap_.reserve(std::min<size_t>(n, k_)); }

  void Offer(double score, uint32_t slot) {
    const Candidate candidate{score, slot};
    if (heap_.size() < k_) {
      heap_.push_back(candidate);
      std::push_heap(heap_.begin(), heap_.end(), Better);
    } else if (Better(candidate, heap_.front())) {
      std::pop_heap(heap_.begin(), heap_.end(), Better);
      heap_.back() = candidate;
      std::push_heap(heap_.begin(), heap_.end(), Better);
    }
  }

  // The held pairs with scores rounded to float, by score descending then slot ascending.
  std::vector<ScoredSlot> Sorted() const {
    std::vector<ScoredSlot> out;
    out.reserve(heap_.size());
    for (const Candidate& c : heap_) out.push_back({c.slot, static_cast<float>(c.score)});
    std::sort(out.begin(), out.end(), [](const ScoredSlot& a, const ScoredSlot& b) {
      return a.score > b.score || (a.score == b.score && a.slot < b.slot);
    });
    return out;
  }

 private:
  struct Candidate {
    double score;
    uint32_t slot;
  };
  // Better = higher score, then lower slot. As the heap's comparator it keeps the worst on top.
  static bool Better(const Candidate& a, const Candidate& b) {
    return a.score > b.score || (a.score == b.score && a.slot < b.slot);
  }

  const uint32_t k_;
  const double floor_;
  std::vector<Candidate> heap_;
};

// A dense per-window score accumulator with a bitmap of the documents touched.
class WindowAccumulator {
 public:
  static constexpr size_t kWords = kMaxScoreWindowSlots / 64;

  WindowAccumulator() : acc_(kMaxScoreWindowSlots, 0.0), matched_(kWords, 0) {}

  // `at` = slot - window start.
  void Add(uint32_t at, double score) {
    acc_[at] += score;
    matched_[at >> 6] |= uint64_t{1} << (at & 63);
  }

  // Calls fn(at, score) for each touched document in increasing order and resets it.
  template <typename Fn>
  [[gnu::always_inline]] void Drain(Fn&& fn) {
    for (size_t w = 0; w < kWords; ++w) {
      uint64_t bits = matched_[w];
      if (bits == 0) continue;
      matched_[w] = 0;
      while (bits != 0) {
        const uint32_t at = static_cast<uint32_t>(w * 64 + static_cast<size_t>(__builtin_ctzll(bits)));
        bits &= bits - 1;
        const double score = acc_[at];
        acc_[at] = 0;
        fn(at, score);
      }
    }
  }

 private:
  std::vector<double> acc_;
  std::vector<uint64_t> matched_;
};

// Moves every cursor to its first posting at or after `from` and returns the smallest such
// slot (UINT32_MAX when no cursor has one): the start of the next window. A Cursor has
// sealed blocks (`blocks[0, block_count)`, each with first_slot and last_slot; `block` is
// the first not wholly before the window, `probe_block` >= block) and a tail of postings
// sorted by `.slot` (`tail[0, tail_size)`, `tail_pos` the first not before the window,
// `tail_probe` >= tail_pos).
template <typename Cursor>
uint32_t AdvanceCursors(std::vector<Cursor>& cursors, uint64_t from) {
  uint32_t next = UINT32_MAX;
  for (Cursor& c : cursors) {
    while (c.block < c.block_count && c.blocks[c.block].last_slot < from) ++c.block;
    c.probe_block = std::max(c.probe_block, c.block);
    if (c.block < c.block_count) {
      next = static_cast<uint32_t>(std::min<uint64_t>(next, std::max<uint64_t>(from, c.blocks[c.block].first_slot)));
    }
    while (c.tail_pos < c.tail_size && c.tail[c.tail_pos].slot < from) ++c.tail_pos;
    c.tail_probe = std::max(c.tail_probe, c.tail_pos);
    if (c.tail_pos < c.tail_size) next = std::min(next, c.tail[c.tail_pos].slot);
  }
  return next;
}

// Scratch of MaxScoreWindow, kept across windows of one search.
struct MaxScoreScratch {
  std::vector<double> bounds;  // by term
  std::vector<uint32_t> order;  // term indexes by window bound ascending
  std::vector<double> prefix;   // prefix[i] = sum of the bounds of order[0..i]
};

// One window [start, start + kMaxScoreWindowSlots) of the search (steps 1-4 above).
// `Terms` provides, for term indexes t in [0, size()):
//   size_t size() const;
//   double WindowBound(size_t t, uint64_t end);   // >= 0, over [start, end)
//   void Accumulate(size_t t, uint32_t start, uint64_t end, double others, double theta,
//                   WindowAccumulator& acc);     // may skip blocks whose bound + others <= theta
//   double Probe(size_t t, uint32_t slot);       // the term's contribution; slots increase
template <typename Terms>
void MaxScoreWindow(Terms& terms, uint32_t start, const Roaring* filter, WindowAccumulator& acc, TopKSlots& top,
                    MaxScoreScratch& scratch) {
  const uint64_t end = uint64_t{start} + kMaxScoreWindowSlots;
  const size_t m = terms.size();
  scratch.bounds.resize(m);
  double total = 0;
  for (size_t t = 0; t < m; ++t) {
    scratch.bounds[t] = terms.WindowBound(t, end);
    total += scratch.bounds[t];
  }
  double theta = top.Theta();
  if (total <= theta) return;

  std::vector<uint32_t>& order = scratch.order;
  std::vector<double>& prefix = scratch.prefix;
  order.resize(m);
  prefix.resize(m);
  for (size_t i = 0; i < m; ++i) order[i] = static_cast<uint32_t>(i);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return scratch.bounds[a] < scratch.bounds[b]; });
  double sum = 0;
  for (size_t i = 0; i < m; ++i) {
    sum += scratch.bounds[order[i]];
    prefix[i] = sum;
  }
  size_t essential = 0;  // order[0, essential) are non-essential
  while (essential < m && prefix[essential] <= theta) ++essential;
  FATHOM_DCHECK(essential < m);

  for (size_t j = essential; j < m; ++j) {
    const uint32_t t = order[j];
    terms.Accumulate(t, start, end, total - scratch.bounds[t], theta, acc);
  }

  const double non_essential = essential == 0 ? 0.0 : prefix[essential - 1];
  acc.Drain([&](uint32_t at, double score) {
    if (score + non_essential <= theta) return;
    const uint32_t slot = start + at;
    if (filter != nullptr && !filter->contains(slot)) return;
    for (size_t j = essential; j-- > 0;) {
      if (score + prefix[j] <= theta) return;
      score += terms.Probe(order[j], slot);
    }
    if (score <= theta) return;
    top.Offer(score, slot);
    theta = top.Theta();
  });
}

}  // namespace fathom
