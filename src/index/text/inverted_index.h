// InvertedIndex: one collection's analyzed documents by slot, for BM25 top-k search.
//
// Documents arrive as already-analyzed tokens (index/text/analyzer.h makes them); a slot
// holds at most one document. The index has two parts:
//   sealed  per term, postings in blocks of 128 (slot, tf) pairs, bit-packed
//           (index/text/postings.h, docs/format/text-postings.md), with per-block
//           maximum tf and minimum document length, from which an upper bound of the
//           block's BM25 contribution is computed at query time (so bounds stay valid as
//           N and avgdl change with writes);
//   tail    documents inserted since the last rebuild, per term as a sorted vector of
//           (slot, tf), searched together with the sealed blocks.
// Erasing a sealed document only marks its slot (the sealed postings of a slot count only
// while the slot's state says "sealed"); per-slot term ids (varint deltas, term ids
// numbered by document frequency so the deltas are small) are kept so that document
// frequencies stay exact without the document text. When the tail or the erased sealed
// documents pass 1/8 of the sealed documents, everything is rebuilt into the sealed part.
// BulkInsert bypasses the tail: documents are appended as (term id, tf) runs to one flat
// buffer and transposed into postings lists by a counting sort at Seal.
// Exact document lengths are stored per slot. Search is block-max MaxScore over windows
// of slots (docs/design/text-index.md).
//
// The owner (the RecordTable) keeps it in step with its rows, like the MetadataIndex:
// Insert / Erase as writes apply, Clear + BulkInsert every row + Seal at open, Renumber
// when slots are reclaimed.
// Thread-safety: const methods may run concurrently with each other; mutation needs
// exclusive access (the owner's lock).
#pragma once

#include <roaring/roaring.hh>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "index/text/bm25.h"

namespace fathom {

class InvertedIndex {
 public:
  // Adds the document of `slot` (which must hold none). Repeated tokens are the term
  // frequency; an empty document has length 0 and still counts in N.
  void Insert(uint32_t slot, const std::vector<std::string>& tokens);
  // Removes the document of `slot`; a no-op if it holds none.
  void Erase(uint32_t slot);
  // Loading many documents at once: BulkInsert each (any slot order), then Seal(); no
  // searches in between. No rebuild happens until Seal; doc_freq counts bulk-loaded
  // documents only once they are sealed.
  void BulkInsert(uint32_t slot, const std::vector<std::string>& tokens);
  // Folds the tail and the erased documents into the sealed part (ends a bulk load).
  void Seal();
  void Clear();
  // Moves the document of slot s to old_to_new[s]; UINT32_MAX (or s past the vector's
  // end) drops it. New slots of kept documents must be distinct.
  void Renumber(const std::vector<uint32_t>& old_to_new);

  uint64_t doc_count() const { return live_docs_; }
  double average_length() const {
    return live_docs_ == 0 ? 0.0 : static_cast<double>(total_length_) / static_cast<double>(live_docs_);
  }
  uint64_t doc_freq(std::string_view term) const;

  // The k best documents by BM25 for the distinct terms of `query_terms` (duplicates count
  // once), restricted to slots in `filter` when non-null, by score descending then slot
  // ascending. Documents matching no query term are never returned. k1 is clamped to
  // >= 0 and b to [0, 1] (the block bounds rely on it).
  std::vector<ScoredSlot> Search(const std::vector<std::string>& query_terms, uint32_t k, const Roaring* filter,
                                 const Bm25Params& params) const;

  size_t MemoryBytes() const;

  // The sealed part as plain arrays, by slot: what a persisted text index stores
  // (index/text/text_index_format.h, docs/format/text-index.md) and LoadSealed adopts.
  struct SealedImage;
  // Whether the index is exactly its sealed part: no tail, no erased sealed document, no
  // bulk load in progress (true after Seal or Renumber until the next change).
  bool sealed_only() const {
    return tail_docs_ == 0 && sealed_dead_ == 0 && bulk_docs_ == 0 && bulk_slot_.empty() && !bulk_loading_;
  }
  // Requires sealed_only() and no document at a slot >= slot_count. Moves the sealed part
  // out into an image of `slot_count` slots and leaves the index empty.
  SealedImage TakeSealed(uint32_t slot_count);
  // Replaces everything by `image` (which the caller validated: DecodeTextIndexObject
  // does), image slot r becoming slot_of[r] when `slot_of` is non-null (strictly
  // increasing, one entry per image slot), else slot r. With identity slots the postings
  // arena is adopted as is; otherwise each block is re-encoded with its new slots (the
  // mapping keeps their order, so nothing is sorted).
  void LoadSealed(SealedImage image, const std::vector<uint32_t>* slot_of);

  // For tests and diagnostics.
  size_t tail_doc_count() const { return tail_docs_; }
  size_t term_count() const { return terms_.size(); }

  // Per-block skip data of the sealed part (the bytes are in sealed_bytes_).
  struct BlockMeta {
    uint32_t first_slot;
    uint32_t last_slot;
    uint64_t offset;      // of the encoded block in sealed_bytes_
    uint32_t max_tf;      // over the block's postings
    uint32_t min_length;  // over the block's documents
  };
  struct TailPosting {
    uint32_t slot;
    uint32_t tf;
  };
  struct Term {
    uint32_t first_block = 0;  // blocks [first_block, first_block + block_count) in blocks_
    uint32_t block_count = 0;
    uint32_t live_docs = 0;  // n_t: live documents containing the term
    // Bounds over the tail postings (never lowered by erases: they stay upper bounds).
    uint32_t tail_max_tf = 0;
    uint32_t tail_min_length = UINT32_MAX;
  };

 private:
  enum SlotState : uint8_t { kEmpty = 0, kSealed = 1, kTail = 2, kBulk = 3 };

  // Term dictionary: term text in one arena, ids by an open-addressing table (linear
  // probing, load factor at most 1/2). An entry holds a term of up to 8 bytes itself, so
  // the usual lookup touches one cache line; longer terms are compared in the arena.
  struct TableEntry {
    uint32_t id_plus_one = 0;  // 0: empty
    uint32_t tag_length = 0;   // hash bits << 16 | min(length, 0xffff)
    uint64_t text = 0;         // the term's bytes (zero-padded) if <= 8, else its arena offset
  };
  static uint64_t HashTerm(std::string_view term);
  static uint32_t Tag(uint64_t hash, size_t length) {
    return static_cast<uint32_t>(hash >> 48) << 16 | static_cast<uint32_t>(std::min<size_t>(length, 0xffff));
  }
  TableEntry MakeEntry(uint64_t hash, std::string_view term, uint32_t id) const;
  bool EntryMatches(const TableEntry& e, uint32_t tag_length, std::string_view term) const;
  std::string_view TermText(uint32_t id) const {
    return std::string_view(term_chars_.data() + term_offset_[id], term_offset_[size_t{id} + 1] - term_offset_[id]);
  }
  // UINT32_MAX when absent.
  uint32_t FindId(std::string_view term) const;
  uint32_t TermIdOrAdd(std::string_view term);
  uint32_t TermIdOrAdd(std::string_view term, uint64_t hash);
  void GrowTable();
  const Term* FindTerm(std::string_view term) const;
  void AddDocument(uint32_t slot, const std::vector<std::string>& tokens);
  void EnsureSlot(uint32_t slot);
  void MaybeRebuild();
  // Rebuilds the sealed part from every live posting, moving slots by `old_to_new` when
  // non-null (the steps are InvertedIndexRebuild's).
  void Rebuild(const std::vector<uint32_t>* old_to_new);

  // Rebuilds term_table_ for terms 0..terms_.size()-1 from the term texts (FillTable at
  // the size the term count needs).
  void RebuildTable();
  // term_table_ of `size` entries (a power of two) holding terms 0..terms_.size()-1.
  void FillTable(size_t size);

  friend class InvertedIndexSearch;
  friend class InvertedIndexRebuild;  // Rebuild's steps (inverted_index.cc)

  std::string term_chars_;
  std::vector<uint32_t> term_offset_{0};  // term id -> start in term_chars_; one extra at the end
  std::vector<TableEntry> term_table_;    // power-of-two size
  std::vector<Term> terms_;               // by term id

  std::vector<BlockMeta> blocks_;
  std::string sealed_bytes_;  // encoded blocks, then kUnpackPaddingBytes of zeros
  std::unordered_map<uint32_t, std::vector<TailPosting>> tails_;  // term id -> sorted by slot

  // Per slot.
  std::vector<uint8_t> state_;     // SlotState
  std::vector<uint32_t> length_;   // tokens in the document
  // Distinct term ids of sealed documents: per slot, ascending, as varint deltas in
  // sealed_terms_ starting at sealed_terms_begin_[slot] (size slots + 1 after a rebuild).
  std::vector<uint64_t> sealed_terms_begin_;
  std::string sealed_terms_;
  std::unordered_map<uint32_t, std::vector<uint32_t>> tail_terms_;

  // Bulk-loaded documents not yet sealed: document d is slot bulk_slot_[d] (UINT32_MAX
  // once erased) with term ids and tfs in [bulk_begin_[d], bulk_begin_[d + 1]).
  std::vector<uint32_t> bulk_slot_;
  std::vector<uint64_t> bulk_begin_{0};
  std::vector<uint32_t> bulk_ids_;
  std::vector<uint32_t> bulk_tfs_;
  std::vector<uint32_t> bulk_doc_of_slot_;  // slot -> d while the slot is kBulk
  std::vector<uint32_t> bulk_scratch_;      // one document's term ids
  std::vector<uint64_t> bulk_hashes_;       // and their hashes

  uint64_t live_docs_ = 0;
  uint64_t total_length_ = 0;
  uint64_t sealed_docs_ = 0;  // live documents in the sealed part
  uint64_t sealed_dead_ = 0;  // sealed documents erased since the last rebuild
  uint64_t tail_docs_ = 0;
  uint64_t bulk_docs_ = 0;    // live bulk-loaded documents not yet sealed
  bool bulk_loading_ = false;
};

struct InvertedIndex::SealedImage {
  uint32_t slot_count = 0;             // slots [0, slot_count)
  std::vector<uint8_t> has_document;   // per slot: 1 when it holds a document
  std::vector<uint32_t> length;        // per slot: tokens in its document (0 without one)
  std::string term_chars;              // term texts, by term id
  std::vector<uint32_t> term_offset;   // term id -> start in term_chars; one extra at the end
  std::vector<Term> terms;             // by term id: blocks and live_docs (no tail bounds)
  std::vector<BlockMeta> blocks;       // by term id, then block; offsets into `postings`
  std::string postings;                // the encoded blocks, then kUnpackPaddingBytes zeros
  std::vector<uint64_t> forward_begin;  // slot_count + 1 starts in `forward`
  std::string forward;                 // per slot: its distinct term ids, ascending varint deltas
};

}  // namespace fathom
