// InvertedIndex: changes (insert, erase, bulk load, renumber) and the rebuild of the
// sealed part. The search is in inverted_index_search.cc.
#include "index/text/inverted_index.h"

#include <algorithm>

#include "common/assert.h"
#include "index/text/postings.h"

namespace fathom {
namespace {

// Rebuild when the tail or the erased sealed documents pass this share of the sealed
// documents (1/8, like NumberColumn), but not for fewer than kRebuildMinDocs of them: a
// small index is cheap to search from its tail.
constexpr uint64_t kRebuildShareDivisor = 8;
constexpr uint64_t kRebuildMinDocs = 4096;

}  // namespace

uint32_t InvertedIndex::TermIdOrAdd(std::string_view term) {
  auto it = term_ids_.find(term);
  if (it != term_ids_.end()) return it->second;
  const uint32_t id = static_cast<uint32_t>(terms_.size());
  FATHOM_CHECK(terms_.size() < UINT32_MAX);
  terms_.emplace_back();
  term_ids_.emplace(std::string(term), id);
  return id;
}

const InvertedIndex::Term* InvertedIndex::FindTerm(std::string_view term) const {
  auto it = term_ids_.find(term);
  return it == term_ids_.end() ? nullptr : &terms_[it->second];
}

uint64_t InvertedIndex::doc_freq(std::string_view term) const {
  const Term* t = FindTerm(term);
  return t == nullptr ? 0 : t->live_docs;
}

void InvertedIndex::EnsureSlot(uint32_t slot) {
  if (slot >= state_.size()) {
    state_.resize(size_t{slot} + 1, kEmpty);
    length_.resize(size_t{slot} + 1, 0);
  }
}

void InvertedIndex::AddDocument(uint32_t slot, const std::vector<std::string>& tokens) {
  FATHOM_CHECK(slot != UINT32_MAX);
  EnsureSlot(slot);
  if (state_[slot] != kEmpty) Erase(slot);  // a slot holds one document
  FATHOM_CHECK(tokens.size() <= UINT32_MAX);
  const uint32_t length = static_cast<uint32_t>(tokens.size());

  std::vector<std::string_view> sorted(tokens.begin(), tokens.end());
  std::sort(sorted.begin(), sorted.end());
  std::vector<uint32_t> ids;
  for (size_t i = 0; i < sorted.size();) {
    size_t j = i + 1;
    while (j < sorted.size() && sorted[j] == sorted[i]) ++j;
    const uint32_t tf = static_cast<uint32_t>(j - i);
    const uint32_t id = TermIdOrAdd(sorted[i]);
    ids.push_back(id);
    Term& term = terms_[id];
    term.live_docs += 1;
    term.tail_max_tf = std::max(term.tail_max_tf, tf);
    term.tail_min_length = std::min(term.tail_min_length, length);
    std::vector<TailPosting>& list = tails_[id];
    if (list.empty() || list.back().slot < slot) {
      list.push_back({slot, tf});
    } else {
      auto at = std::lower_bound(list.begin(), list.end(), slot,
                                 [](const TailPosting& p, uint32_t s) { return p.slot < s; });
      list.insert(at, {slot, tf});
    }
    i = j;
  }
  tail_terms_[slot] = std::move(ids);
  state_[slot] = kTail;
  length_[slot] = length;
  live_docs_ += 1;
  total_length_ += length;
  tail_docs_ += 1;
}

void InvertedIndex::Insert(uint32_t slot, const std::vector<std::string>& tokens) {
  AddDocument(slot, tokens);
  MaybeRebuild();
}

void InvertedIndex::BulkInsert(uint32_t slot, const std::vector<std::string>& tokens) {
  bulk_loading_ = true;
  AddDocument(slot, tokens);
}

void InvertedIndex::Erase(uint32_t slot) {
  if (slot >= state_.size() || state_[slot] == kEmpty) return;
  if (state_[slot] == kSealed) {
    for (uint64_t i = sealed_terms_begin_[slot]; i < sealed_terms_begin_[size_t{slot} + 1]; ++i) {
      terms_[sealed_terms_[i]].live_docs -= 1;
    }
    sealed_docs_ -= 1;
    sealed_dead_ += 1;
  } else {
    auto doc = tail_terms_.find(slot);
    FATHOM_CHECK(doc != tail_terms_.end());
    for (uint32_t id : doc->second) {
      terms_[id].live_docs -= 1;
      auto list_it = tails_.find(id);
      FATHOM_CHECK(list_it != tails_.end());
      std::vector<TailPosting>& list = list_it->second;
      auto at = std::lower_bound(list.begin(), list.end(), slot,
                                 [](const TailPosting& p, uint32_t s) { return p.slot < s; });
      FATHOM_CHECK(at != list.end() && at->slot == slot);
      list.erase(at);
      if (list.empty()) tails_.erase(list_it);
    }
    tail_terms_.erase(doc);
    tail_docs_ -= 1;
  }
  state_[slot] = kEmpty;
  live_docs_ -= 1;
  total_length_ -= length_[slot];
  length_[slot] = 0;
  MaybeRebuild();
}

void InvertedIndex::Seal() {
  bulk_loading_ = false;
  if (tail_docs_ != 0 || sealed_dead_ != 0) Rebuild(nullptr);
}

void InvertedIndex::Clear() { *this = InvertedIndex(); }

void InvertedIndex::Renumber(const std::vector<uint32_t>& old_to_new) { Rebuild(&old_to_new); }

void InvertedIndex::MaybeRebuild() {
  if (bulk_loading_) return;
  const uint64_t threshold = std::max(kRebuildMinDocs, sealed_docs_ / kRebuildShareDivisor);
  if (tail_docs_ > threshold || sealed_dead_ > threshold) Rebuild(nullptr);
}

void InvertedIndex::Rebuild(const std::vector<uint32_t>* old_to_new) {
  auto moved = [&](uint32_t slot) -> uint32_t {
    if (old_to_new == nullptr) return slot;
    return slot < old_to_new->size() ? (*old_to_new)[slot] : UINT32_MAX;
  };

  // Slots: every live document becomes sealed at its new place.
  size_t new_slots = old_to_new == nullptr ? state_.size() : 0;
  if (old_to_new != nullptr) {
    for (size_t s = 0; s < state_.size(); ++s) {
      const uint32_t to = moved(static_cast<uint32_t>(s));
      if (state_[s] != kEmpty && to != UINT32_MAX) new_slots = std::max(new_slots, size_t{to} + 1);
    }
  }
  std::vector<uint8_t> new_state(new_slots, kEmpty);
  std::vector<uint32_t> new_length(new_slots, 0);
  uint64_t live = 0;
  uint64_t total = 0;
  for (size_t s = 0; s < state_.size(); ++s) {
    if (state_[s] == kEmpty) continue;
    const uint32_t to = moved(static_cast<uint32_t>(s));
    if (to == UINT32_MAX) continue;
    FATHOM_CHECK(new_state[to] == kEmpty);  // new slots are distinct
    new_state[to] = kSealed;
    new_length[to] = length_[s];
    live += 1;
    total += length_[s];
  }

  // Terms: live postings of each, moved, encoded in blocks; terms with none are dropped.
  std::vector<uint32_t> new_id(terms_.size(), UINT32_MAX);
  std::vector<Term> new_terms;
  std::vector<BlockMeta> new_blocks;
  std::string new_bytes;
  std::vector<TailPosting> list;
  std::vector<uint32_t> block_slots(kPostingsBlockSize);
  std::vector<uint32_t> block_tfs(kPostingsBlockSize);
  PostingsBlock block;
  const auto* old_bytes = reinterpret_cast<const uint8_t*>(sealed_bytes_.data());
  for (uint32_t t = 0; t < terms_.size(); ++t) {
    list.clear();
    const Term& term = terms_[t];
    if (term.live_docs == 0) continue;
    for (uint32_t b = term.first_block; b < term.first_block + term.block_count; ++b) {
      DecodeBlockTrusted(old_bytes + blocks_[b].offset, &block);
      for (uint32_t i = 0; i < block.count; ++i) {
        const uint32_t slot = block.slots[i];
        if (state_[slot] != kSealed) continue;
        const uint32_t to = moved(slot);
        if (to != UINT32_MAX) list.push_back({to, block.tfs[i]});
      }
    }
    if (auto tail = tails_.find(t); tail != tails_.end()) {
      for (const TailPosting& p : tail->second) {
        const uint32_t to = moved(p.slot);
        if (to != UINT32_MAX) list.push_back({to, p.tf});
      }
    }
    if (list.empty()) continue;
    auto by_slot = [](const TailPosting& a, const TailPosting& b) { return a.slot < b.slot; };
    if (!std::is_sorted(list.begin(), list.end(), by_slot)) std::sort(list.begin(), list.end(), by_slot);

    Term fresh;
    fresh.first_block = static_cast<uint32_t>(new_blocks.size());
    fresh.live_docs = static_cast<uint32_t>(list.size());
    for (size_t begin = 0; begin < list.size(); begin += kPostingsBlockSize) {
      const size_t count = std::min(kPostingsBlockSize, list.size() - begin);
      BlockMeta meta{list[begin].slot, list[begin + count - 1].slot, new_bytes.size(), 0, UINT32_MAX};
      for (size_t i = 0; i < count; ++i) {
        const TailPosting& p = list[begin + i];
        block_slots[i] = p.slot;
        block_tfs[i] = p.tf;
        meta.max_tf = std::max(meta.max_tf, p.tf);
        meta.min_length = std::min(meta.min_length, new_length[p.slot]);
      }
      EncodeBlock(block_slots.data(), block_tfs.data(), count, &new_bytes);
      new_blocks.push_back(meta);
    }
    fresh.block_count = static_cast<uint32_t>(new_blocks.size() - fresh.first_block);
    new_id[t] = static_cast<uint32_t>(new_terms.size());
    new_terms.push_back(fresh);
  }
  new_bytes.append(kUnpackPaddingBytes, '\0');

  for (auto it = term_ids_.begin(); it != term_ids_.end();) {
    const uint32_t id = new_id[it->second];
    if (id == UINT32_MAX) {
      it = term_ids_.erase(it);
    } else {
      it->second = id;
      ++it;
    }
  }
  terms_ = std::move(new_terms);
  terms_.shrink_to_fit();
  blocks_ = std::move(new_blocks);
  blocks_.shrink_to_fit();
  sealed_bytes_ = std::move(new_bytes);
  sealed_bytes_.shrink_to_fit();
  tails_.clear();
  tail_terms_.clear();
  state_ = std::move(new_state);
  length_ = std::move(new_length);

  // Per-slot term ids (CSR), counted then filled from the new blocks; term ids come out
  // ascending per slot because terms are visited in id order.
  std::vector<uint64_t> begin(new_slots + 1, 0);
  const auto* bytes = reinterpret_cast<const uint8_t*>(sealed_bytes_.data());
  for (const BlockMeta& meta : blocks_) {
    DecodeBlockTrusted(bytes + meta.offset, &block);
    for (uint32_t i = 0; i < block.count; ++i) begin[size_t{block.slots[i]} + 1] += 1;
  }
  for (size_t s = 0; s < new_slots; ++s) begin[s + 1] += begin[s];
  std::vector<uint32_t> ids(begin[new_slots]);
  std::vector<uint64_t> fill(begin.begin(), begin.end() - 1);
  for (uint32_t t = 0; t < terms_.size(); ++t) {
    for (uint32_t b = terms_[t].first_block; b < terms_[t].first_block + terms_[t].block_count; ++b) {
      DecodeBlockTrusted(bytes + blocks_[b].offset, &block);
      for (uint32_t i = 0; i < block.count; ++i) ids[fill[block.slots[i]]++] = t;
    }
  }
  sealed_terms_begin_ = std::move(begin);
  sealed_terms_ = std::move(ids);

  live_docs_ = live;
  total_length_ = total;
  sealed_docs_ = live;
  sealed_dead_ = 0;
  tail_docs_ = 0;
}

size_t InvertedIndex::MemoryBytes() const {
  // Hash containers: nodes (key, value, next pointer, cached hash) and bucket arrays.
  size_t bytes = sizeof(*this);
  for (const auto& [term, id] : term_ids_) {
    bytes += sizeof(std::string) + sizeof(uint32_t) + 2 * sizeof(void*);
    if (term.capacity() > 15) bytes += term.capacity() + 1;
  }
  bytes += term_ids_.bucket_count() * sizeof(void*);
  bytes += terms_.capacity() * sizeof(Term);
  bytes += blocks_.capacity() * sizeof(BlockMeta);
  bytes += sealed_bytes_.capacity();
  for (const auto& [id, list] : tails_) bytes += 4 * sizeof(void*) + list.capacity() * sizeof(TailPosting);
  bytes += tails_.bucket_count() * sizeof(void*);
  bytes += state_.capacity() + length_.capacity() * sizeof(uint32_t);
  bytes += sealed_terms_begin_.capacity() * sizeof(uint64_t) + sealed_terms_.capacity() * sizeof(uint32_t);
  for (const auto& [slot, ids] : tail_terms_) bytes += 4 * sizeof(void*) + ids.capacity() * sizeof(uint32_t);
  bytes += tail_terms_.bucket_count() * sizeof(void*);
  return bytes;
}

}  // namespace fathom
