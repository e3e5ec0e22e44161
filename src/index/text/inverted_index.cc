// InvertedIndex: changes (insert, erase, bulk load, renumber) and the rebuild of the
// sealed part. The search is in inverted_index_search.cc.
#include "index/text/inverted_index.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <memory>

#include "common/assert.h"
#include "common/checksum.h"  // XXH3, the term hash
#include "index/text/postings.h"

namespace fathom {
namespace {

// Rebuild when the tail or the erased sealed documents pass this share of the sealed
// documents (1/8, like NumberColumn), but not for fewer than kRebuildMinDocs of them: a
// small index is cheap to search from its tail.
constexpr uint64_t kRebuildShareDivisor = 8;
constexpr uint64_t kRebuildMinDocs = 4096;

// Releases a vector's memory (`v = {}` would keep its capacity).
template <typename T>
void Free(std::vector<T>& v) {
  std::vector<T>().swap(v);
}

void PutVarint(uint32_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// Calls fn(term id) for each id of a run written by PutVarint as ascending deltas.
template <typename Fn>
void ForEachDelta(const std::string& bytes, uint64_t begin, uint64_t end, Fn fn) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  uint32_t id = 0;
  for (uint64_t i = begin; i < end;) {
    uint32_t v = 0;
    for (unsigned shift = 0;; shift += 7) {
      const uint8_t byte = p[i++];
      v |= static_cast<uint32_t>(byte & 0x7f) << shift;
      if (byte < 0x80) break;
    }
    id += v;
    fn(id);
  }
}

}  // namespace

uint64_t InvertedIndex::HashTerm(std::string_view term) { return XXH3_64bits(term.data(), term.size()); }

namespace {

// A term of up to 8 bytes, zero-padded, as one word.
inline uint64_t ShortText(std::string_view term) {
  uint64_t word = 0;
  std::memcpy(&word, term.data(), term.size());
  return word;
}

}  // namespace

InvertedIndex::TableEntry InvertedIndex::MakeEntry(uint64_t hash, std::string_view term, uint32_t id) const {
  TableEntry e;
  e.id_plus_one = id + 1;
  e.tag_length = Tag(hash, term.size());
  e.text = term.size() <= 8 ? ShortText(term) : uint64_t{term_offset_[id]};
  return e;
}

bool InvertedIndex::EntryMatches(const TableEntry& e, uint32_t tag_length, std::string_view term) const {
  if (e.tag_length != tag_length) return false;
  if (term.size() <= 8) return e.text == ShortText(term);
  if (term.size() >= 0xffff && TermText(e.id_plus_one - 1).size() != term.size()) return false;
  return std::memcmp(term_chars_.data() + e.text, term.data(), term.size()) == 0;
}

uint32_t InvertedIndex::FindId(std::string_view term) const {
  if (term_table_.empty()) return UINT32_MAX;
  const uint64_t hash = HashTerm(term);
  const size_t mask = term_table_.size() - 1;
  const uint32_t tag_length = Tag(hash, term.size());
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    const TableEntry& e = term_table_[i];
    if (e.id_plus_one == 0) return UINT32_MAX;
    if (EntryMatches(e, tag_length, term)) return e.id_plus_one - 1;
  }
}

void InvertedIndex::GrowTable() { FillTable(std::max<size_t>(1024, term_table_.size() * 2)); }

void InvertedIndex::FillTable(size_t size) {
  std::vector<TableEntry> table(size);
  const size_t mask = size - 1;
  for (uint32_t id = 0; id < terms_.size(); ++id) {
    const std::string_view term = TermText(id);
    const uint64_t hash = HashTerm(term);
    size_t i = hash & mask;
    while (table[i].id_plus_one != 0) i = (i + 1) & mask;
    table[i] = MakeEntry(hash, term, id);
  }
  term_table_ = std::move(table);
}

uint32_t InvertedIndex::TermIdOrAdd(std::string_view term) { return TermIdOrAdd(term, HashTerm(term)); }

uint32_t InvertedIndex::TermIdOrAdd(std::string_view term, uint64_t hash) {
  if ((terms_.size() + 1) * 2 > term_table_.size()) GrowTable();
  const size_t mask = term_table_.size() - 1;
  const uint32_t tag_length = Tag(hash, term.size());
  size_t i = hash & mask;
  for (;; i = (i + 1) & mask) {
    const TableEntry& e = term_table_[i];
    if (e.id_plus_one == 0) break;
    if (EntryMatches(e, tag_length, term)) return e.id_plus_one - 1;
  }
  FATHOM_CHECK(terms_.size() < UINT32_MAX - 1);
  FATHOM_CHECK(term_chars_.size() + term.size() <= UINT32_MAX);
  const uint32_t id = static_cast<uint32_t>(terms_.size());
  terms_.emplace_back();
  term_chars_.append(term);
  term_offset_.push_back(static_cast<uint32_t>(term_chars_.size()));
  term_table_[i] = MakeEntry(hash, term, id);
  return id;
}

const InvertedIndex::Term* InvertedIndex::FindTerm(std::string_view term) const {
  const uint32_t id = FindId(term);
  return id == UINT32_MAX ? nullptr : &terms_[id];
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
  FATHOM_CHECK(slot != UINT32_MAX);
  EnsureSlot(slot);
  if (state_[slot] != kEmpty) Erase(slot);  // a slot holds one document
  FATHOM_CHECK(tokens.size() <= UINT32_MAX);
  FATHOM_CHECK(bulk_slot_.size() < UINT32_MAX - 1);
  // The document's term ids, sorted, become (term id, tf) runs. Document frequencies of
  // bulk-loaded terms are counted at Seal, in the transposition.
  // Hashes first, with the table entries prefetched, so that the cache misses of a
  // document's rare terms overlap instead of queueing one after the other.
  std::vector<uint64_t>& hashes = bulk_hashes_;
  hashes.resize(tokens.size());
  while ((terms_.size() + tokens.size()) * 2 > term_table_.size()) GrowTable();  // no growth below
  const size_t mask = term_table_.size() - 1;
  for (size_t i = 0; i < tokens.size(); ++i) {
    hashes[i] = HashTerm(tokens[i]);
    __builtin_prefetch(&term_table_[hashes[i] & mask]);
  }
  std::vector<uint32_t>& ids = bulk_scratch_;
  ids.clear();
  for (size_t i = 0; i < tokens.size(); ++i) ids.push_back(TermIdOrAdd(tokens[i], hashes[i]));
  std::sort(ids.begin(), ids.end());
  for (size_t i = 0; i < ids.size();) {
    size_t j = i + 1;
    while (j < ids.size() && ids[j] == ids[i]) ++j;
    bulk_ids_.push_back(ids[i]);
    bulk_tfs_.push_back(static_cast<uint32_t>(j - i));
    i = j;
  }
  const uint32_t doc = static_cast<uint32_t>(bulk_slot_.size());
  bulk_slot_.push_back(slot);
  bulk_begin_.push_back(bulk_ids_.size());
  if (bulk_doc_of_slot_.size() < state_.size()) bulk_doc_of_slot_.resize(state_.size(), 0);
  bulk_doc_of_slot_[slot] = doc;
  const uint32_t length = static_cast<uint32_t>(tokens.size());
  state_[slot] = kBulk;
  length_[slot] = length;
  live_docs_ += 1;
  total_length_ += length;
  bulk_docs_ += 1;
}

void InvertedIndex::Erase(uint32_t slot) {
  if (slot >= state_.size() || state_[slot] == kEmpty) return;
  if (state_[slot] == kSealed) {
    ForEachDelta(sealed_terms_, sealed_terms_begin_[slot], sealed_terms_begin_[size_t{slot} + 1],
                 [&](uint32_t id) { terms_[id].live_docs -= 1; });
    sealed_docs_ -= 1;
    sealed_dead_ += 1;
  } else if (state_[slot] == kBulk) {
    bulk_slot_[bulk_doc_of_slot_[slot]] = UINT32_MAX;
    bulk_docs_ -= 1;
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
  if (tail_docs_ != 0 || sealed_dead_ != 0 || !bulk_slot_.empty()) Rebuild(nullptr);
}

void InvertedIndex::Clear() { *this = InvertedIndex(); }

void InvertedIndex::Renumber(const std::vector<uint32_t>& old_to_new) { Rebuild(&old_to_new); }

void InvertedIndex::MaybeRebuild() {
  if (bulk_loading_) return;
  const uint64_t threshold = std::max(kRebuildMinDocs, sealed_docs_ / kRebuildShareDivisor);
  if (tail_docs_ > threshold || sealed_dead_ > threshold) Rebuild(nullptr);
}

// Rebuild's job: the new sealed part, built step by step from every live posting of the
// index (sealed blocks, tail lists, bulk-loaded runs) with slots moved by `old_to_new`
// when non-null, then adopted by the index. The steps run in the order Rebuild calls
// them; each one's results are members the later ones read. It borrows the index for one
// Rebuild, with the exclusive access every mutation has; what it builds it owns until
// Adopt moves it into the index.
class InvertedIndexRebuild {
  using Term = InvertedIndex::Term;
  using BlockMeta = InvertedIndex::BlockMeta;
  using TailPosting = InvertedIndex::TailPosting;

 public:
  InvertedIndexRebuild(InvertedIndex* index, const std::vector<uint32_t>* old_to_new)
      : index_(*index), old_to_new_(old_to_new) {}

  // Slots: every live document becomes sealed at its new place.
  void PlaceSlots();
  // Bulk-loaded postings by term: a counting sort of the (term id, tf) runs. Documents
  // come in insertion order, so each term's run is sorted when the slots were loaded in
  // increasing order (the usual case; otherwise EncodeTerms sorts it). Releases the
  // bulk tfs.
  void TransposeBulk();
  // Live terms renumbered by live document count, most frequent first: a document's term
  // ids then cluster near zero and their varint deltas (the per-slot term ids) are short.
  // Counts the bulk-loaded documents into the terms' live_docs. Old ids in new id order.
  std::vector<uint32_t> TermsByLiveDocs();
  // Terms: live postings of each, moved, encoded in blocks; terms with none are dropped.
  // Releases the bulk transposition.
  void EncodeTerms(const std::vector<uint32_t>& order);
  // Per-slot term ids in the new numbering, from each live document's old list (sealed:
  // the varint runs; tail: tail_terms_; bulk: its run), sorted and written as varint
  // deltas in new slot order.
  void WritePerSlotTermIds();
  // Releases the bulk-loaded documents (all of them are in the new sealed part now).
  void ReleaseBulkDocuments();
  // The dictionary, rebuilt in new id order; then everything built replaces the index's
  // sealed part, its tail and its counts.
  void Adopt();

 private:
  uint32_t Moved(uint32_t slot) const {
    if (old_to_new_ == nullptr) return slot;
    return slot < old_to_new_->size() ? (*old_to_new_)[slot] : UINT32_MAX;
  }
  void TransposeBulkRuns();
  // Term t's live postings from its sealed blocks and its tail list, at their new slots,
  // appended to *list.
  void GatherPostings(uint32_t t, std::vector<TailPosting>* list) const;
  // Encodes `count` postings (sorted by slot) as the blocks of a new term.
  Term EncodeBlocks(const TailPosting* postings, size_t count);

  InvertedIndex& index_;
  const std::vector<uint32_t>* old_to_new_;

  // PlaceSlots.
  size_t new_slots_ = 0;
  std::vector<uint8_t> new_state_;
  std::vector<uint32_t> new_length_;
  uint64_t live_ = 0;
  uint64_t total_ = 0;
  // TransposeBulk: term t's bulk postings are [bulk_by_term_[t], bulk_by_term_[t + 1]) in
  // bulk_postings_ (empty without bulk-loaded documents).
  std::vector<uint64_t> bulk_by_term_;
  std::unique_ptr<TailPosting[]> bulk_postings_;  // not zero-filled: every entry is written
  // EncodeTerms.
  std::vector<uint32_t> kept_;  // old ids in new id order
  std::vector<uint32_t> new_id_;
  std::vector<Term> new_terms_;
  std::vector<BlockMeta> new_blocks_;
  std::string new_bytes_;
  // WritePerSlotTermIds.
  std::vector<uint64_t> forward_begin_;
  std::string forward_;
};

void InvertedIndexRebuild::PlaceSlots() {
  const std::vector<uint8_t>& state = index_.state_;
  new_slots_ = old_to_new_ == nullptr ? state.size() : 0;
  if (old_to_new_ != nullptr) {
    for (size_t s = 0; s < state.size(); ++s) {
      const uint32_t to = Moved(static_cast<uint32_t>(s));
      if (state[s] != InvertedIndex::kEmpty && to != UINT32_MAX) new_slots_ = std::max(new_slots_, size_t{to} + 1);
    }
  }
  new_state_.assign(new_slots_, InvertedIndex::kEmpty);
  new_length_.assign(new_slots_, 0);
  for (size_t s = 0; s < state.size(); ++s) {
    if (state[s] == InvertedIndex::kEmpty) continue;
    const uint32_t to = Moved(static_cast<uint32_t>(s));
    if (to == UINT32_MAX) continue;
    FATHOM_CHECK(new_state_[to] == InvertedIndex::kEmpty);  // new slots are distinct
    new_state_[to] = InvertedIndex::kSealed;
    new_length_[to] = index_.length_[s];
    live_ += 1;
    total_ += index_.length_[s];
  }
}

void InvertedIndexRebuild::TransposeBulk() {
  if (index_.bulk_docs_ != 0) TransposeBulkRuns();
  Free(index_.bulk_tfs_);  // the term ids stay until the per-slot term ids are written
}

void InvertedIndexRebuild::TransposeBulkRuns() {
  const std::vector<uint32_t>& bulk_slot = index_.bulk_slot_;
  const std::vector<uint64_t>& bulk_begin = index_.bulk_begin_;
  const std::vector<uint32_t>& bulk_ids = index_.bulk_ids_;
  const size_t term_total = index_.terms_.size();
  bulk_by_term_.assign(term_total + 1, 0);
  for (size_t d = 0; d < bulk_slot.size(); ++d) {
    if (bulk_slot[d] == UINT32_MAX || Moved(bulk_slot[d]) == UINT32_MAX) continue;
    for (uint64_t i = bulk_begin[d]; i < bulk_begin[d + 1]; ++i) bulk_by_term_[size_t{bulk_ids[i]} + 1] += 1;
  }
  for (size_t t = 0; t < term_total; ++t) bulk_by_term_[t + 1] += bulk_by_term_[t];
  bulk_postings_.reset(new TailPosting[bulk_by_term_[term_total]]);
  std::vector<uint64_t> fill(bulk_by_term_.begin(), bulk_by_term_.end() - 1);
  for (size_t d = 0; d < bulk_slot.size(); ++d) {
    if (bulk_slot[d] == UINT32_MAX) continue;
    const uint32_t to = Moved(bulk_slot[d]);
    if (to == UINT32_MAX) continue;
    for (uint64_t i = bulk_begin[d]; i < bulk_begin[d + 1]; ++i) {
      bulk_postings_[fill[bulk_ids[i]]++] = {to, index_.bulk_tfs_[i]};
    }
  }
}

std::vector<uint32_t> InvertedIndexRebuild::TermsByLiveDocs() {
  std::vector<Term>& terms = index_.terms_;
  const uint32_t term_total = static_cast<uint32_t>(terms.size());
  if (!bulk_by_term_.empty()) {
    for (uint32_t t = 0; t < term_total; ++t) {
      terms[t].live_docs += static_cast<uint32_t>(bulk_by_term_[size_t{t} + 1] - bulk_by_term_[t]);
    }
  }
  std::vector<uint32_t> order;
  for (uint32_t t = 0; t < term_total; ++t) {
    if (terms[t].live_docs != 0) order.push_back(t);
  }
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    return terms[a].live_docs > terms[b].live_docs || (terms[a].live_docs == terms[b].live_docs && a < b);
  });
  return order;
}

void InvertedIndexRebuild::GatherPostings(uint32_t t, std::vector<TailPosting>* list) const {
  const Term& term = index_.terms_[t];
  const auto* old_bytes = reinterpret_cast<const uint8_t*>(index_.sealed_bytes_.data());
  PostingsBlock block;
  for (uint32_t b = term.first_block; b < term.first_block + term.block_count; ++b) {
    DecodeBlockTrusted(old_bytes + index_.blocks_[b].offset, &block);
    for (uint32_t i = 0; i < block.count; ++i) {
      const uint32_t slot = block.slots[i];
      if (index_.state_[slot] != InvertedIndex::kSealed) continue;
      const uint32_t to = Moved(slot);
      if (to != UINT32_MAX) list->push_back({to, block.tfs[i]});
    }
  }
  if (auto tail = index_.tails_.find(t); tail != index_.tails_.end()) {
    for (const TailPosting& p : tail->second) {
      const uint32_t to = Moved(p.slot);
      if (to != UINT32_MAX) list->push_back({to, p.tf});
    }
  }
}

InvertedIndex::Term InvertedIndexRebuild::EncodeBlocks(const TailPosting* postings, size_t count) {
  uint32_t block_slots[kPostingsBlockSize];
  uint32_t block_tfs[kPostingsBlockSize];
  Term fresh;
  fresh.first_block = static_cast<uint32_t>(new_blocks_.size());
  fresh.live_docs = static_cast<uint32_t>(count);
  for (size_t begin = 0; begin < count; begin += kPostingsBlockSize) {
    const size_t n = std::min(kPostingsBlockSize, count - begin);
    BlockMeta meta{postings[begin].slot, postings[begin + n - 1].slot, new_bytes_.size(), 0, UINT32_MAX};
    for (size_t i = 0; i < n; ++i) {
      const TailPosting& p = postings[begin + i];
      block_slots[i] = p.slot;
      block_tfs[i] = p.tf;
      meta.max_tf = std::max(meta.max_tf, p.tf);
      meta.min_length = std::min(meta.min_length, new_length_[p.slot]);
    }
    EncodeBlock(block_slots, block_tfs, n, &new_bytes_);
    new_blocks_.push_back(meta);
  }
  fresh.block_count = static_cast<uint32_t>(new_blocks_.size() - fresh.first_block);
  return fresh;
}

void InvertedIndexRebuild::EncodeTerms(const std::vector<uint32_t>& order) {
  new_id_.assign(index_.terms_.size(), UINT32_MAX);
  std::vector<TailPosting> list;
  for (const uint32_t t : order) {
    list.clear();
    GatherPostings(t, &list);
    // The postings to encode: `list`, or a term's bulk run in place when it is all there is
    // (the whole of a first load).
    TailPosting* postings = list.data();
    size_t posting_count = list.size();
    if (!bulk_by_term_.empty()) {
      TailPosting* run = bulk_postings_.get() + bulk_by_term_[t];
      TailPosting* run_end = bulk_postings_.get() + bulk_by_term_[size_t{t} + 1];
      if (list.empty()) {
        postings = run;
        posting_count = static_cast<size_t>(run_end - run);
      } else {
        list.insert(list.end(), run, run_end);
        postings = list.data();
        posting_count = list.size();
      }
    }
    if (posting_count == 0) continue;
    auto by_slot = [](const TailPosting& a, const TailPosting& b) { return a.slot < b.slot; };
    if (!std::is_sorted(postings, postings + posting_count, by_slot)) std::sort(postings, postings + posting_count, by_slot);
    new_terms_.push_back(EncodeBlocks(postings, posting_count));
    new_id_[t] = static_cast<uint32_t>(kept_.size());
    kept_.push_back(t);
  }
  new_bytes_.append(kUnpackPaddingBytes, '\0');
  bulk_postings_.reset();
  Free(bulk_by_term_);
}

void InvertedIndexRebuild::WritePerSlotTermIds() {
  const std::vector<uint8_t>& state = index_.state_;
  forward_begin_.assign(new_slots_ + 1, 0);
  std::vector<uint32_t> new_to_old(new_slots_, UINT32_MAX);
  for (size_t s = 0; s < state.size(); ++s) {
    if (state[s] == InvertedIndex::kEmpty) continue;
    const uint32_t to = Moved(static_cast<uint32_t>(s));
    if (to != UINT32_MAX) new_to_old[to] = static_cast<uint32_t>(s);
  }
  forward_.reserve(index_.sealed_terms_.size() + index_.bulk_ids_.size() * 2);
  std::vector<uint32_t> doc_ids;
  for (size_t to = 0; to < new_slots_; ++to) {
    forward_begin_[to] = forward_.size();
    const uint32_t from = new_to_old[to];
    if (from == UINT32_MAX) continue;
    doc_ids.clear();
    if (state[from] == InvertedIndex::kSealed) {
      ForEachDelta(index_.sealed_terms_, index_.sealed_terms_begin_[from], index_.sealed_terms_begin_[size_t{from} + 1],
                   [&](uint32_t id) { doc_ids.push_back(new_id_[id]); });
    } else if (state[from] == InvertedIndex::kTail) {
      for (uint32_t id : index_.tail_terms_.at(from)) doc_ids.push_back(new_id_[id]);
    } else {
      const uint32_t d = index_.bulk_doc_of_slot_[from];
      for (uint64_t i = index_.bulk_begin_[d]; i < index_.bulk_begin_[size_t{d} + 1]; ++i) {
        doc_ids.push_back(new_id_[index_.bulk_ids_[i]]);
      }
    }
    std::sort(doc_ids.begin(), doc_ids.end());
    uint32_t previous = 0;
    for (uint32_t id : doc_ids) {
      FATHOM_DCHECK(id != UINT32_MAX);
      PutVarint(id - previous, &forward_);
      previous = id;
    }
  }
  forward_begin_[new_slots_] = forward_.size();
  forward_.shrink_to_fit();
}

void InvertedIndexRebuild::Adopt() {
  InvertedIndex& index = index_;
  // The dictionary, rebuilt in new id order.
  std::string old_chars = std::move(index.term_chars_);
  std::vector<uint32_t> old_offset = std::move(index.term_offset_);
  index.term_chars_.clear();
  index.term_offset_.assign(1, 0);
  index.term_table_.assign(std::max<size_t>(1024, std::bit_ceil(2 * (kept_.size() + 1))), InvertedIndex::TableEntry{});
  index.terms_.clear();
  for (const uint32_t t : kept_) {
    index.TermIdOrAdd(std::string_view(old_chars.data() + old_offset[t], old_offset[size_t{t} + 1] - old_offset[t]));
  }
  index.term_chars_.shrink_to_fit();
  index.term_offset_.shrink_to_fit();

  // The new sealed part replaces the old one and the tail.
  index.terms_ = std::move(new_terms_);
  index.terms_.shrink_to_fit();
  index.blocks_ = std::move(new_blocks_);
  index.blocks_.shrink_to_fit();
  index.sealed_bytes_ = std::move(new_bytes_);
  index.sealed_bytes_.shrink_to_fit();
  index.tails_.clear();
  index.tail_terms_.clear();
  index.state_ = std::move(new_state_);
  index.length_ = std::move(new_length_);

  index.sealed_terms_begin_ = std::move(forward_begin_);
  index.sealed_terms_ = std::move(forward_);

  index.live_docs_ = live_;
  index.total_length_ = total_;
  index.sealed_docs_ = live_;
  index.sealed_dead_ = 0;
  index.tail_docs_ = 0;
}

void InvertedIndexRebuild::ReleaseBulkDocuments() {
  Free(index_.bulk_slot_);
  Free(index_.bulk_begin_);
  index_.bulk_begin_.push_back(0);
  Free(index_.bulk_ids_);
  Free(index_.bulk_doc_of_slot_);
  Free(index_.bulk_scratch_);
  Free(index_.bulk_hashes_);
  index_.bulk_docs_ = 0;
}

void InvertedIndex::Rebuild(const std::vector<uint32_t>* old_to_new) {
  InvertedIndexRebuild rebuild(this, old_to_new);
  rebuild.PlaceSlots();
  rebuild.TransposeBulk();
  rebuild.EncodeTerms(rebuild.TermsByLiveDocs());
  rebuild.WritePerSlotTermIds();
  rebuild.ReleaseBulkDocuments();
  rebuild.Adopt();
}

size_t InvertedIndex::MemoryBytes() const {
  size_t bytes = sizeof(*this);
  bytes += term_chars_.capacity() + term_offset_.capacity() * sizeof(uint32_t);
  bytes += term_table_.capacity() * sizeof(TableEntry);
  bytes += terms_.capacity() * sizeof(Term);
  bytes += blocks_.capacity() * sizeof(BlockMeta);
  bytes += sealed_bytes_.capacity();
  // Hash containers: nodes (key, value, next pointer, cached hash) and bucket arrays.
  for (const auto& [id, list] : tails_) bytes += 4 * sizeof(void*) + list.capacity() * sizeof(TailPosting);
  bytes += tails_.bucket_count() * sizeof(void*);
  bytes += state_.capacity() + length_.capacity() * sizeof(uint32_t);
  bytes += sealed_terms_begin_.capacity() * sizeof(uint64_t) + sealed_terms_.capacity();
  for (const auto& [slot, ids] : tail_terms_) bytes += 4 * sizeof(void*) + ids.capacity() * sizeof(uint32_t);
  bytes += tail_terms_.bucket_count() * sizeof(void*);
  bytes += (bulk_slot_.capacity() + bulk_ids_.capacity() + bulk_tfs_.capacity() + bulk_doc_of_slot_.capacity() +
            bulk_scratch_.capacity()) * sizeof(uint32_t);
  bytes += bulk_begin_.capacity() * sizeof(uint64_t);
  return bytes;
}

}  // namespace fathom
