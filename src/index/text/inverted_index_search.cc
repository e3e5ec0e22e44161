// InvertedIndex::Search: block-max MaxScore over windows of slots.
//
// Slots are visited in windows of kWindowSlots, in increasing order. In each window:
//   1. every query term's window bound = the largest upper bound of its blocks (and of its
//      tail, when it has tail postings) overlapping the window, from the blocks' max tf
//      and min length under the current N, avgdl, k1 and b;
//   2. if the bounds sum to no more than the current k-th score (theta), the window is
//      skipped without decoding anything;
//   3. otherwise terms are sorted by window bound; the longest prefix whose bounds sum to
//      no more than theta is "non-essential" (a document matching only those cannot
//      enter the top k); the essential terms are added term-at-a-time into a dense
//      accumulator for the window;
//   4. each accumulated document is completed by probing the non-essential terms from the
//      largest bound down, stopping as soon as its score plus the remaining bounds cannot
//      beat theta; the filter is tested only for documents that survive the first check.
// Documents are offered to the heap in increasing slot order, so a later document with a
// score equal to theta always loses the tie (slot ascending): pruning on `<= theta` is
// exact. See docs/design/text-index.md.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "common/assert.h"
#include "index/text/inverted_index.h"
#include "index/text/postings.h"

namespace fathom {
namespace {

constexpr uint32_t kWindowSlots = 4096;
constexpr size_t kWindowWords = kWindowSlots / 64;

struct Candidate {
  double score;
  uint32_t slot;
};
// Better = higher score, then lower slot. As the heap's comparator it keeps the worst on top.
inline bool Better(const Candidate& a, const Candidate& b) {
  return a.score > b.score || (a.score == b.score && a.slot < b.slot);
}

}  // namespace

class InvertedIndexSearch {
 public:
  using BlockMeta = InvertedIndex::BlockMeta;
  using TailPosting = InvertedIndex::TailPosting;

  struct Cursor {
    Bm25TermScorer scorer;
    const BlockMeta* blocks = nullptr;
    uint32_t block_count = 0;
    uint32_t block = 0;        // first block not wholly before the window
    uint32_t probe_block = 0;  // block of the last probe (>= block)
    uint32_t decoded = UINT32_MAX;  // block whose slots are in buffer
    bool tfs_decoded = false;       // and whether its frequencies are too
    uint32_t pos = 0;  // probe position in the decoded block
    PostingsBlock* buffer = nullptr;
    const TailPosting* tail = nullptr;
    size_t tail_size = 0;
    size_t tail_pos = 0;    // first tail posting not before the window
    size_t tail_probe = 0;  // >= tail_pos
    double tail_bound = 0;
    double window_bound = 0;

    explicit Cursor(const Bm25TermScorer& s) : scorer(s) {}
  };

  InvertedIndexSearch(const InvertedIndex& index, const Roaring* filter, uint32_t k)
      : index_(index), filter_(filter), k_(k), has_dead_(index.sealed_dead_ != 0) {}

  std::vector<ScoredSlot> Run(const std::vector<std::string>& query_terms, const Bm25Params& raw_params);

 private:
  const uint8_t* Bytes() const { return reinterpret_cast<const uint8_t*>(index_.sealed_bytes_.data()); }
  bool SealedLive(uint32_t slot) const { return !has_dead_ || index_.state_[slot] == InvertedIndex::kSealed; }
  double Theta() const { return heap_.size() == k_ ? heap_.front().score : -1.0; }

  // Decodes block b's slots into the cursor's buffer (its frequencies on demand).
  void Decode(Cursor& c, uint32_t b) {
    if (c.decoded == b) return;
    DecodeSlotsTrusted(Bytes() + c.blocks[b].offset, c.buffer);
    c.decoded = b;
    c.tfs_decoded = false;
    c.pos = 0;
  }
  void DecodeTfs(Cursor& c) {
    if (c.tfs_decoded) return;
    DecodeTfsTrusted(Bytes() + c.blocks[c.decoded].offset, c.buffer);
    c.tfs_decoded = true;
  }

  // Moves every cursor to its first posting at or after `from`; returns the smallest such
  // slot, or UINT32_MAX when no term has one.
  uint32_t Advance(uint64_t from) {
    uint32_t next = UINT32_MAX;
    for (Cursor& c : cursors_) {
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

  // The term's bound over [start, end).
  double WindowBound(const Cursor& c, uint64_t end) const {
    double bound = 0;
    for (uint32_t b = c.block; b < c.block_count && c.blocks[b].first_slot < end; ++b) {
      bound = std::max(bound, c.scorer.Bound(c.blocks[b].max_tf, c.blocks[b].min_length));
    }
    if (c.tail_pos < c.tail_size && c.tail[c.tail_pos].slot < end) bound = std::max(bound, c.tail_bound);
    return bound;
  }

  // Adds the term's postings in [start, end) into the accumulator, except in blocks whose
  // bound plus `others` (the other terms' window bounds) is at most theta: no document
  // there can enter the top k, and leaving this term's part out of its partial score
  // only lowers a score that is already too low.
  void Accumulate(Cursor& c, uint32_t start, uint64_t end, double others, double theta) {
    const uint32_t* length = index_.length_.data();
    for (uint32_t b = c.block; b < c.block_count && c.blocks[b].first_slot < end; ++b) {
      if (c.scorer.Bound(c.blocks[b].max_tf, c.blocks[b].min_length) + others <= theta) continue;
      Decode(c, b);
      DecodeTfs(c);
      const PostingsBlock& blk = *c.buffer;
      uint32_t i = 0;
      if (blk.slots[0] < start) i = static_cast<uint32_t>(std::lower_bound(blk.slots, blk.slots + blk.count, start) - blk.slots);
      for (; i < blk.count && blk.slots[i] < end; ++i) {
        const uint32_t slot = blk.slots[i];
        if (!SealedLive(slot)) continue;
        const uint32_t at = slot - start;
        acc_[at] += c.scorer.Score(blk.tfs[i], length[slot]);
        matched_[at >> 6] |= uint64_t{1} << (at & 63);
      }
    }
    for (size_t p = c.tail_pos; p < c.tail_size && c.tail[p].slot < end; ++p) {
      const uint32_t slot = c.tail[p].slot;
      const uint32_t at = slot - start;
      acc_[at] += c.scorer.Score(c.tail[p].tf, length[slot]);
      matched_[at >> 6] |= uint64_t{1} << (at & 63);
    }
  }

  // The term's score for `slot`; probes come in increasing slot order.
  double Probe(Cursor& c, uint32_t slot) {
    uint32_t b = c.probe_block;
    while (b < c.block_count && c.blocks[b].last_slot < slot) ++b;
    c.probe_block = b;
    if (b < c.block_count && c.blocks[b].first_slot <= slot) {
      Decode(c, b);
      const PostingsBlock& blk = *c.buffer;
      uint32_t pos = c.pos;
      if (pos >= blk.count || blk.slots[pos] > slot) pos = 0;  // a probe behind the last one
      // last_slot >= slot: the search ends inside the block.
      // A few steps forward first (probes of a dense term land close together), then a
      // binary search over the rest.
      const uint32_t near = std::min(pos + 8, blk.count - 1);
      while (pos < near && blk.slots[pos] < slot) ++pos;
      if (blk.slots[pos] < slot) {
        pos = static_cast<uint32_t>(std::lower_bound(blk.slots + pos, blk.slots + blk.count, slot) - blk.slots);
      }
      c.pos = pos;
      if (blk.slots[pos] == slot && SealedLive(slot)) {
        DecodeTfs(c);
        return c.scorer.Score(blk.tfs[pos], index_.length_[slot]);
      }
    }
    size_t p = c.tail_probe;
    while (p < c.tail_size && c.tail[p].slot < slot) ++p;
    c.tail_probe = p;
    if (p < c.tail_size && c.tail[p].slot == slot) return c.scorer.Score(c.tail[p].tf, index_.length_[slot]);
    return 0;
  }

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

  void SearchWindow(uint32_t start);

  const InvertedIndex& index_;
  const Roaring* filter_;
  const uint32_t k_;
  const bool has_dead_;
  std::vector<Cursor> cursors_;
  std::vector<PostingsBlock> buffers_;
  std::vector<Candidate> heap_;
  std::vector<uint32_t> order_;   // cursor indexes by window bound ascending
  std::vector<double> prefix_;    // prefix_[i] = sum of the bounds of order_[0..i]
  std::vector<double> acc_;       // kWindowSlots
  std::vector<uint64_t> matched_;  // kWindowWords
};

void InvertedIndexSearch::SearchWindow(uint32_t start) {
  const uint64_t end = uint64_t{start} + kWindowSlots;
  double total = 0;
  for (Cursor& c : cursors_) {
    c.window_bound = WindowBound(c, end);
    total += c.window_bound;
  }
  double theta = Theta();
  if (total <= theta) return;

  const size_t m = cursors_.size();
  order_.resize(m);
  prefix_.resize(m);
  for (size_t i = 0; i < m; ++i) order_[i] = static_cast<uint32_t>(i);
  std::sort(order_.begin(), order_.end(),
            [&](uint32_t a, uint32_t b) { return cursors_[a].window_bound < cursors_[b].window_bound; });
  double sum = 0;
  for (size_t i = 0; i < m; ++i) {
    sum += cursors_[order_[i]].window_bound;
    prefix_[i] = sum;
  }
  size_t essential = 0;  // order_[0, essential) are non-essential
  while (essential < m && prefix_[essential] <= theta) ++essential;
  FATHOM_DCHECK(essential < m);

  for (size_t j = essential; j < m; ++j) {
    Cursor& c = cursors_[order_[j]];
    Accumulate(c, start, end, total - c.window_bound, theta);
  }

  const double non_essential = essential == 0 ? 0.0 : prefix_[essential - 1];
  for (size_t w = 0; w < kWindowWords; ++w) {
    uint64_t bits = matched_[w];
    if (bits == 0) continue;
    matched_[w] = 0;
    while (bits != 0) {
      const uint32_t at = static_cast<uint32_t>(w * 64 + static_cast<size_t>(__builtin_ctzll(bits)));
      bits &= bits - 1;
      double score = acc_[at];
      acc_[at] = 0;
      if (score + non_essential <= theta) continue;
      const uint32_t slot = start + at;
      if (filter_ != nullptr && !filter_->contains(slot)) continue;
      bool pruned = false;
      for (size_t j = essential; j-- > 0;) {
        if (score + prefix_[j] <= theta) {
          pruned = true;
          break;
        }
        score += Probe(cursors_[order_[j]], slot);
      }
      if (pruned || score <= theta) continue;
      Offer(score, slot);
      theta = Theta();
    }
  }
}

std::vector<ScoredSlot> InvertedIndexSearch::Run(const std::vector<std::string>& query_terms,
                                                 const Bm25Params& raw_params) {
  std::vector<ScoredSlot> out;
  if (k_ == 0 || index_.live_docs_ == 0) return out;
  Bm25Params params;
  params.k1 = std::isnan(raw_params.k1) ? 0.0f : std::max(0.0f, raw_params.k1);
  params.b = std::isnan(raw_params.b) ? 0.0f : std::clamp(raw_params.b, 0.0f, 1.0f);

  std::vector<uint32_t> ids;
  for (const std::string& term : query_terms) {
    const uint32_t id = index_.FindId(term);
    if (id == UINT32_MAX || index_.terms_[id].live_docs == 0) continue;
    ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  if (ids.empty()) return out;

  const double average_length = index_.average_length();
  buffers_.resize(ids.size());
  cursors_.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    const InvertedIndex::Term& term = index_.terms_[ids[i]];
    Cursor c(Bm25TermScorer(Bm25Idf(index_.live_docs_, term.live_docs), average_length, params));
    c.blocks = index_.blocks_.data() + term.first_block;
    c.block_count = term.block_count;
    c.buffer = &buffers_[i];
    if (auto tail = index_.tails_.find(ids[i]); tail != index_.tails_.end()) {
      c.tail = tail->second.data();
      c.tail_size = tail->second.size();
      c.tail_bound = c.scorer.Bound(term.tail_max_tf, term.tail_min_length);
    }
    cursors_.push_back(c);
  }

  acc_.assign(kWindowSlots, 0.0);
  matched_.assign(kWindowWords, 0);
  heap_.reserve(std::min<uint64_t>(k_, index_.live_docs_));
  for (uint32_t start = Advance(0); start != UINT32_MAX; start = Advance(uint64_t{start} + kWindowSlots)) {
    SearchWindow(start);
    if (uint64_t{start} + kWindowSlots > UINT32_MAX) break;
  }

  out.reserve(heap_.size());
  for (const Candidate& c : heap_) out.push_back({c.slot, static_cast<float>(c.score)});
  std::sort(out.begin(), out.end(), [](const ScoredSlot& a, const ScoredSlot& b) {
    return a.score > b.score || (a.score == b.score && a.slot < b.slot);
  });
  return out;
}

std::vector<ScoredSlot> InvertedIndex::Search(const std::vector<std::string>& query_terms, uint32_t k,
                                              const Roaring* filter, const Bm25Params& params) const {
  InvertedIndexSearch search(*this, filter, k);
  return search.Run(query_terms, params);
}

}  // namespace fathom
