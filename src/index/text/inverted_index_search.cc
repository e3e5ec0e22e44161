// InvertedIndex::Search: block-max MaxScore over windows of slots (index/maxscore.h runs
// the windows; this file supplies BM25 term cursors over the index's blocks and tail).
// A term's window bound is the largest upper bound of its blocks (and of its tail, when it
// has tail postings) overlapping the window, from the blocks' max tf and min length under
// the current N, avgdl, k1 and b. See docs/design/text-index.md.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "common/assert.h"
#include "index/text/inverted_index.h"
#include "index/text/postings.h"

namespace fathom {
namespace {
constexpr uint32_t kWindowSlots = kMaxScoreWindowSlots;
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

    explicit Cursor(const Bm25TermScorer& s) : scorer(s) {}
  };

  // BM25 scores are positive: -1 is below every one.
  InvertedIndexSearch(const InvertedIndex& index, const Roaring* filter, uint32_t k)
      : index_(index), filter_(filter), top_(k, -1.0), has_dead_(index.sealed_dead_ != 0) {}

  std::vector<ScoredSlot> Run(const std::vector<std::string>& query_terms, const Bm25Params& raw_params);

  // The Terms interface of MaxScoreWindow (index/maxscore.h).
  size_t size() const { return cursors_.size(); }
  double WindowBound(size_t t, uint64_t end) const { return WindowBound(cursors_[t], end); }
  void Accumulate(size_t t, uint32_t start, uint64_t end, double others, double theta, WindowAccumulator& acc) {
    Accumulate(cursors_[t], start, end, others, theta, acc);
  }
  double Probe(size_t t, uint32_t slot) { return Probe(cursors_[t], slot); }

 private:
  const uint8_t* Bytes() const { return reinterpret_cast<const uint8_t*>(index_.sealed_bytes_.data()); }
  bool SealedLive(uint32_t slot) const { return !has_dead_ || index_.state_[slot] == InvertedIndex::kSealed; }

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

  uint32_t Advance(uint64_t from) { return AdvanceCursors(cursors_, from); }

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
  void Accumulate(Cursor& c, uint32_t start, uint64_t end, double others, double theta, WindowAccumulator& acc) {
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
        acc.Add(slot - start, c.scorer.Score(blk.tfs[i], length[slot]));
      }
    }
    for (size_t p = c.tail_pos; p < c.tail_size && c.tail[p].slot < end; ++p) {
      const uint32_t slot = c.tail[p].slot;
      acc.Add(slot - start, c.scorer.Score(c.tail[p].tf, length[slot]));
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

  const InvertedIndex& index_;
  const Roaring* filter_;
  TopKSlots top_;
  const bool has_dead_;
  std::vector<Cursor> cursors_;
  std::vector<PostingsBlock> buffers_;
};

std::vector<ScoredSlot> InvertedIndexSearch::Run(const std::vector<std::string>& query_terms,
                                                 const Bm25Params& raw_params) {
  std::vector<ScoredSlot> out;
  if (top_.k() == 0 || index_.live_docs_ == 0) return out;
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

  WindowAccumulator acc;
  MaxScoreScratch scratch;
  top_.Reserve(index_.live_docs_);
  for (uint32_t start = Advance(0); start != UINT32_MAX; start = Advance(uint64_t{start} + kWindowSlots)) {
    MaxScoreWindow(*this, start, filter_, acc, top_, scratch);
    if (uint64_t{start} + kWindowSlots > UINT32_MAX) break;
  }
  return top_.Sorted();
}

std::vector<ScoredSlot> InvertedIndex::Search(const std::vector<std::string>& query_terms, uint32_t k,
                                              const Roaring* filter, const Bm25Params& params) const {
  InvertedIndexSearch search(*this, filter, k);
  return search.Run(query_terms, params);
}

}  // namespace fathom
