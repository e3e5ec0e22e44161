#include "index/sparse/sparse_index.h"

#include <algorithm>
#include <limits>
#include <variant>

#include "common/assert.h"
#include "index/sparse/sparse_index_format.h"

namespace fathom {

namespace {

// A rebuild waits for this many changed vectors at least, so that a small collection is
// not rebuilt on every write.
constexpr uint64_t kRebuildChangesMin = 16;

// The largest contribution q * w of a posting whose weight lies in [min_weight, max_weight],
// floored at 0 (see index/maxscore.h: bounds are non-negative). Products of two floats are
// exact in double; the slight inflation keeps a sum of bounds above the sum of the
// contributions it bounds when the two sums round differently.
inline double Bound(double q, float max_weight, float min_weight) {
  const double b = q >= 0 ? q * static_cast<double>(max_weight) : q * static_cast<double>(min_weight);
  return b > 0 ? b * (1.0 + 1e-12) : 0.0;
}

}  // namespace

const SparseVector* SparseIndex::VectorOf(const RecordView& row) const {
  if (!row.metadata) return nullptr;
  auto it = row.metadata->find(key_);
  if (it == row.metadata->end()) return nullptr;
  return std::get_if<SparseVector>(&it->second);
}

uint32_t SparseIndex::DimensionIdOrAdd(uint32_t dimension) {
  auto [it, added] = dimension_ids_.try_emplace(dimension, static_cast<uint32_t>(dimensions_.size()));
  if (added) dimensions_.emplace_back();
  return it->second;
}

void SparseIndex::EnsureSlot(uint32_t slot) {
  if (slot >= state_.size()) {
    state_.resize(size_t{slot} + 1, kEmpty);
    checksums_.resize(state_.size(), 0);
  }
}

void SparseIndex::Add(uint32_t slot, const RecordView& row) {
  const SparseVector* v = VectorOf(row);
  if (v == nullptr) return;
  EnsureSlot(slot);
  FATHOM_DCHECK(state_[slot] == kEmpty);
  for (size_t i = 0; i < v->indices.size(); ++i) {
    Dimension& d = dimensions_[DimensionIdOrAdd(v->indices[i])];
    const float w = v->values[i];
    if (d.tail.empty()) {
      d.tail_max = d.tail_min = w;
    } else {
      d.tail_max = std::max(d.tail_max, w);
      d.tail_min = std::min(d.tail_min, w);
    }
    // Usually an append: new rows get new, larger slots.
    auto at = d.tail.end();
    if (!d.tail.empty() && d.tail.back().slot > slot) {
      at = std::lower_bound(d.tail.begin(), d.tail.end(), slot,
                            [](const Posting& p, uint32_t s) { return p.slot < s; });
    }
    d.tail.insert(at, Posting{slot, w});
  }
  tail_postings_ += v->indices.size();
  state_[slot] = kTail;
  checksums_[slot] = SparseVectorChecksum(*v);
  ++tail_docs_;
  MaybeRebuild();
}

void SparseIndex::Remove(uint32_t slot, const RecordView& row) {
  const SparseVector* v = VectorOf(row);
  if (v == nullptr || slot >= state_.size()) return;
  if (state_[slot] == kSealed) {
    // The sealed postings stay until the next rebuild; the state hides them.
    state_[slot] = kEmpty;
    --sealed_docs_;
    ++sealed_dead_;
    MaybeRebuild();
    return;
  }
  if (state_[slot] != kTail) return;
  for (uint32_t index : v->indices) {
    auto id = dimension_ids_.find(index);
    FATHOM_DCHECK(id != dimension_ids_.end());
    if (id == dimension_ids_.end()) continue;
    std::vector<Posting>& tail = dimensions_[id->second].tail;
    auto at = std::lower_bound(tail.begin(), tail.end(), slot, [](const Posting& p, uint32_t s) { return p.slot < s; });
    if (at != tail.end() && at->slot == slot) tail.erase(at);
  }
  tail_postings_ -= std::min<uint64_t>(tail_postings_, v->indices.size());
  state_[slot] = kEmpty;
  --tail_docs_;
}

void SparseIndex::Clear() {
  dimension_ids_.clear();
  dimensions_.clear();
  blocks_.clear();
  slots_.clear();
  weights_.clear();
  state_.clear();
  checksums_.clear();
  bulk_.clear();
  sealed_docs_ = sealed_dead_ = tail_docs_ = tail_postings_ = 0;
}

void SparseIndex::BulkAdd(uint32_t slot, const RecordView& row) {
  const SparseVector* v = VectorOf(row);
  if (v == nullptr) return;
  EnsureSlot(slot);
  FATHOM_DCHECK(state_[slot] == kEmpty);
  FATHOM_DCHECK(bulk_.empty() || bulk_.back().slot < slot || v->indices.empty());
  for (size_t i = 0; i < v->indices.size(); ++i) {
    bulk_.push_back(BulkPosting{DimensionIdOrAdd(v->indices[i]), slot, v->values[i]});
  }
  state_[slot] = kBulk;
  checksums_[slot] = SparseVectorChecksum(*v);
}

void SparseIndex::Seal() {
  bool bulk_slots = false;
  for (uint8_t s : state_) {
    if (s == kBulk) {
      bulk_slots = true;
      break;
    }
  }
  if (!bulk_slots && tail_docs_ == 0 && sealed_dead_ == 0) return;
  // Counting sort by dimension id; stable, so each dimension's postings stay in the
  // increasing slot order BulkAdd received them in.
  std::vector<BulkPosting> sorted(bulk_.size());
  std::vector<uint64_t> start(dimensions_.size() + 1, 0);
  for (const BulkPosting& p : bulk_) ++start[size_t{p.dimension_id} + 1];
  for (size_t d = 1; d < start.size(); ++d) start[d] += start[d - 1];
  for (const BulkPosting& p : bulk_) sorted[start[p.dimension_id]++] = p;
  bulk_.clear();
  bulk_.shrink_to_fit();
  Rebuild(sorted);
}

void SparseIndex::MaybeRebuild() {
  const uint64_t changed = tail_docs_ + sealed_dead_;
  if (changed >= kRebuildChangesMin && changed > sealed_docs_ / 8) Rebuild({});
}

void SparseIndex::Rebuild(const std::vector<BulkPosting>& bulk) {
  std::vector<Block> blocks;
  std::vector<uint32_t> slots;
  std::vector<float> weights;
  slots.reserve(slots_.size() + tail_postings_ + bulk.size());
  weights.reserve(slots.capacity());
  std::vector<Posting> list;
  size_t b = 0;  // next bulk posting
  for (uint32_t id = 0; id < dimensions_.size(); ++id) {
    Dimension& d = dimensions_[id];
    LivePostings(d, &list);
    const size_t tail_end = list.size();
    for (; b < bulk.size() && bulk[b].dimension_id == id; ++b) list.push_back(Posting{bulk[b].slot, bulk[b].weight});
    std::inplace_merge(list.begin(), list.begin() + static_cast<ptrdiff_t>(tail_end), list.end(),
                       [](const Posting& x, const Posting& y) { return x.slot < y.slot; });
    d.first_block = static_cast<uint32_t>(blocks.size());
    d.block_count = AppendBlocks(list, &blocks, &slots, &weights);
    d.tail.clear();
    d.tail.shrink_to_fit();
  }
  FATHOM_CHECK(b == bulk.size());
  blocks_ = std::move(blocks);
  slots_ = std::move(slots);
  weights_ = std::move(weights);
  uint64_t live = 0;
  for (uint8_t& s : state_) {
    if (s == kTail || s == kBulk) s = kSealed;
    live += s == kSealed;
  }
  sealed_docs_ = live;
  sealed_dead_ = 0;
  tail_docs_ = 0;
  tail_postings_ = 0;
}

void SparseIndex::LivePostings(const Dimension& d, std::vector<Posting>* list) const {
  list->clear();
  for (uint32_t k = d.first_block; k < d.first_block + d.block_count; ++k) {
    const Block& block = blocks_[k];
    for (uint64_t p = block.begin; p < block.begin + block.count; ++p) {
      if (state_[slots_[p]] == kSealed) list->push_back(Posting{slots_[p], weights_[p]});
    }
  }
  const size_t sealed_end = list->size();
  list->insert(list->end(), d.tail.begin(), d.tail.end());
  std::inplace_merge(list->begin(), list->begin() + static_cast<ptrdiff_t>(sealed_end), list->end(),
                     [](const Posting& x, const Posting& y) { return x.slot < y.slot; });
}

uint32_t SparseIndex::AppendBlocks(const std::vector<Posting>& list, std::vector<Block>* blocks,
                                   std::vector<uint32_t>* slots, std::vector<float>* weights) {
  uint32_t added = 0;
  for (size_t at = 0; at < list.size(); at += kSparseBlockSize) {
    const size_t count = std::min<size_t>(kSparseBlockSize, list.size() - at);
    Block block{list[at].slot, list[at + count - 1].slot, slots->size(), static_cast<uint32_t>(count),
                -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::infinity()};
    for (size_t i = at; i < at + count; ++i) {
      FATHOM_DCHECK(i == at || list[i].slot > list[i - 1].slot);
      slots->push_back(list[i].slot);
      weights->push_back(list[i].weight);
      block.max_weight = std::max(block.max_weight, list[i].weight);
      block.min_weight = std::min(block.min_weight, list[i].weight);
    }
    blocks->push_back(block);
    ++added;
  }
  return added;
}

SparseIndex::Image SparseIndex::MakeImage(const std::vector<uint32_t>* rank_of_slot, uint64_t slot_count) const {
  FATHOM_CHECK(bulk_.empty());
  std::vector<std::pair<uint32_t, uint32_t>> order(dimension_ids_.begin(), dimension_ids_.end());
  std::sort(order.begin(), order.end());  // by dimension
  Image image;
  image.slot_count = slot_count;
  image.slots.reserve(slots_.size() + tail_postings_);
  image.weights.reserve(image.slots.capacity());
  std::vector<Posting> list;
  for (const auto& [dimension, id] : order) {
    LivePostings(dimensions_[id], &list);
    if (list.empty()) continue;
    for (Posting& p : list) {
      if (rank_of_slot != nullptr) p.slot = (*rank_of_slot)[p.slot];
      FATHOM_CHECK(p.slot < slot_count);
    }
    const uint32_t first_block = static_cast<uint32_t>(image.blocks.size());
    const uint32_t block_count = AppendBlocks(list, &image.blocks, &image.slots, &image.weights);
    image.dimensions.push_back(ImageList{dimension, first_block, block_count});
  }
  return image;
}

void SparseIndex::LoadImage(Image image, const std::vector<uint32_t>* slot_of_rank,
                            const std::vector<uint32_t>& vector_slots, const std::vector<uint64_t>& vector_checksums,
                            size_t slot_count) {
  Clear();
  FATHOM_CHECK(vector_checksums.size() == vector_slots.size());
  FATHOM_CHECK(slot_of_rank == nullptr || slot_of_rank->size() == image.slot_count);
  FATHOM_CHECK(slot_of_rank != nullptr || image.slot_count <= slot_count);
  if (slot_of_rank != nullptr) {
    for (uint32_t& slot : image.slots) slot = (*slot_of_rank)[slot];
    for (Block& block : image.blocks) {
      block.first_slot = (*slot_of_rank)[block.first_slot];
      block.last_slot = (*slot_of_rank)[block.last_slot];
    }
  }
  dimensions_.resize(image.dimensions.size());
  dimension_ids_.reserve(image.dimensions.size());
  for (size_t id = 0; id < image.dimensions.size(); ++id) {
    const ImageList& list = image.dimensions[id];
    dimension_ids_.emplace(list.dimension, static_cast<uint32_t>(id));
    dimensions_[id].first_block = list.first_block;
    dimensions_[id].block_count = list.block_count;
  }
  blocks_ = std::move(image.blocks);
  slots_ = std::move(image.slots);
  weights_ = std::move(image.weights);
  state_.assign(slot_count, kEmpty);
  checksums_.assign(slot_count, 0);
  for (size_t i = 0; i < vector_slots.size(); ++i) {
    const uint32_t slot = vector_slots[i];
    FATHOM_CHECK(slot < slot_count);
    state_[slot] = kSealed;
    checksums_[slot] = vector_checksums[i];
  }
  for (uint32_t slot : slots_) FATHOM_CHECK(slot < slot_count);
  sealed_docs_ = vector_slots.size();
}

size_t SparseIndex::MemoryBytes() const {
  size_t bytes = sizeof(*this) + blocks_.capacity() * sizeof(Block) + slots_.capacity() * sizeof(uint32_t) +
                 weights_.capacity() * sizeof(float) + state_.capacity() +
                 checksums_.capacity() * sizeof(uint64_t) + bulk_.capacity() * sizeof(BulkPosting) +
                 dimension_ids_.size() * (sizeof(uint32_t) * 2 + 16) + dimensions_.capacity() * sizeof(Dimension);
  for (const Dimension& d : dimensions_) bytes += d.tail.capacity() * sizeof(Posting);
  return bytes;
}

// One search: a cursor per query dimension present in the index, as MaxScoreWindow's
// Terms (index/maxscore.h).
class SparseIndexSearch {
 public:
  SparseIndexSearch(const SparseIndex& index, const Roaring* filter, uint32_t k)
      : index_(index), filter_(filter), top_(k, -std::numeric_limits<double>::infinity()) {}

  std::vector<ScoredSlot> Run(const SparseVector& query) {
    if (top_.k() == 0) return {};
    for (size_t i = 0; i < query.indices.size(); ++i) {
      auto id = index_.dimension_ids_.find(query.indices[i]);
      if (id == index_.dimension_ids_.end()) continue;
      const SparseIndex::Dimension& d = index_.dimensions_[id->second];
      if (d.block_count == 0 && d.tail.empty()) continue;
      Cursor c;
      c.q = static_cast<double>(query.values[i]);
      c.blocks = index_.blocks_.data() + d.first_block;
      c.block_count = d.block_count;
      c.tail = d.tail.data();
      c.tail_size = d.tail.size();
      if (!d.tail.empty()) c.tail_bound = Bound(c.q, d.tail_max, d.tail_min);
      cursors_.push_back(c);
    }
    if (cursors_.empty()) return {};
    WindowAccumulator acc;
    MaxScoreScratch scratch;
    top_.Reserve(index_.vector_count());
    for (uint32_t start = Advance(0); start != UINT32_MAX;
         start = Advance(uint64_t{start} + kMaxScoreWindowSlots)) {
      MaxScoreWindow(*this, start, filter_, acc, top_, scratch);
      if (uint64_t{start} + kMaxScoreWindowSlots > UINT32_MAX) break;
    }
    return top_.Sorted();
  }

  // Terms.
  size_t size() const { return cursors_.size(); }

  double WindowBound(size_t t, uint64_t end) const {
    const Cursor& c = cursors_[t];
    double bound = 0;
    for (uint32_t b = c.block; b < c.block_count && c.blocks[b].first_slot < end; ++b) {
      bound = std::max(bound, Bound(c.q, c.blocks[b].max_weight, c.blocks[b].min_weight));
    }
    if (c.tail_pos < c.tail_size && c.tail[c.tail_pos].slot < end) bound = std::max(bound, c.tail_bound);
    return bound;
  }

  void Accumulate(size_t t, uint32_t start, uint64_t end, double others, double theta, WindowAccumulator& acc) {
    const Cursor& c = cursors_[t];
    const uint32_t* slots = index_.slots_.data();
    const float* weights = index_.weights_.data();
    for (uint32_t b = c.block; b < c.block_count && c.blocks[b].first_slot < end; ++b) {
      const SparseIndex::Block& block = c.blocks[b];
      if (Bound(c.q, block.max_weight, block.min_weight) + others <= theta) continue;
      const uint32_t* first = slots + block.begin;
      const uint32_t* last = first + block.count;
      const uint32_t* p = block.first_slot < start ? std::lower_bound(first, last, start) : first;
      for (; p < last && *p < end; ++p) {
        if (!SealedLive(*p)) continue;
        acc.Add(*p - start, c.q * static_cast<double>(weights[p - slots]));
      }
    }
    for (size_t p = c.tail_pos; p < c.tail_size && c.tail[p].slot < end; ++p) {
      acc.Add(c.tail[p].slot - start, c.q * static_cast<double>(c.tail[p].weight));
    }
  }

  double Probe(size_t t, uint32_t slot) {
    Cursor& c = cursors_[t];
    uint32_t b = c.probe_block;
    while (b < c.block_count && c.blocks[b].last_slot < slot) ++b;
    c.probe_block = b;
    if (b < c.block_count && c.blocks[b].first_slot <= slot) {
      const uint32_t* first = index_.slots_.data() + c.blocks[b].begin;
      const uint32_t* last = first + c.blocks[b].count;
      const uint32_t* p = std::lower_bound(first, last, slot);
      if (p < last && *p == slot && SealedLive(slot)) {
        return c.q * static_cast<double>(index_.weights_[static_cast<size_t>(p - index_.slots_.data())]);
      }
    }
    size_t p = c.tail_probe;
    while (p < c.tail_size && c.tail[p].slot < slot) ++p;
    c.tail_probe = p;
    if (p < c.tail_size && c.tail[p].slot == slot) return c.q * static_cast<double>(c.tail[p].weight);
    return 0;
  }

 private:
  struct Cursor {
    double q = 0;
    const SparseIndex::Block* blocks = nullptr;
    uint32_t block_count = 0;
    uint32_t block = 0;        // first block not wholly before the window
    uint32_t probe_block = 0;  // block of the last probe (>= block)
    const SparseIndex::Posting* tail = nullptr;
    size_t tail_size = 0;
    size_t tail_pos = 0;    // first tail posting not before the window
    size_t tail_probe = 0;  // >= tail_pos
    double tail_bound = 0;
  };

  bool SealedLive(uint32_t slot) const { return index_.state_[slot] == SparseIndex::kSealed; }

  uint32_t Advance(uint64_t from) { return AdvanceCursors(cursors_, from); }

  const SparseIndex& index_;
  const Roaring* filter_;
  TopKSlots top_;
  std::vector<Cursor> cursors_;
};

std::vector<ScoredSlot> SparseIndex::Search(const SparseVector& query, uint32_t k, const Roaring* filter) const {
  SparseIndexSearch search(*this, filter, k);
  return search.Run(query);
}

}  // namespace fathom
