// TrigramIndex: which documents hold which 3-byte sequences, so `where_document`
// $contains / $regex (and their negations) test only the documents that can match
// instead of every document (Russ Cox's "regular expression matching with a trigram
// index", the approach of Google Code Search). A RowIndex (index/row_index.h) over the
// rows' documents.
//
// Trigrams are taken from the document with ASCII letters lower-cased, and, for a
// document holding U+212A KELVIN SIGN or U+017F LONG S, also from the text with those
// replaced by 'k' / 's' (the only non-ASCII characters in the case-fold orbits of ASCII
// letters), so the candidates are a superset of the matches for
//   - $contains p: every trigram of p (ASCII-lower-cased) is in a matching document;
//   - $regex r: RE2's prefilter (re2::FilteredRE2) names the lower-cased literal atoms a
//     match must contain, as an AND/OR formula; atoms that are all ASCII are looked up
//     here, others are assumed present. Case-insensitive parts of r can only match, for
//     an ASCII atom character, that character, its ASCII case pair, K or ſ.
// The caller verifies every candidate (query/filter_eval.cc). Compaction persists the
// postings in the text index object (trigram_section.h) and an open loads them
// (LoadSealed) instead of building them from the documents. Design:
// docs/design/where-document.md.
// Thread-safety: const methods are safe concurrently; changes are exclusive.
#pragma once

#include <roaring/roaring.hh>

#include <cstdint>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "index/row_index.h"

namespace re2 {
class RE2;
}

namespace fathom {

class TrigramIndex final : public RowIndex {
 public:
  Field field() const override { return Field::kDocument; }
  void Add(uint32_t slot, const RecordView& row) override;
  void Remove(uint32_t slot, const RecordView& row) override;
  void Clear() override;
  void BulkAdd(uint32_t slot, const RecordView& row) override;
  void Seal() override;
  bool Renumber(const std::vector<uint32_t>& old_to_new) override;
  size_t MemoryBytes() const override;
  // The row's old document was not at hand, so its entries stay (a false candidate each):
  // remembered in stale_slots() until a rebuild, so that a persisted copy can drop them.
  void RemoveSkipped(uint32_t slot) override { stale_slots_.add(slot); }

  // The postings by trigram key, ascending: what the text index object persists
  // (docs/format/text-index.md, section 7). Every bitmap is non-empty.
  using SortedPostings = std::vector<std::pair<uint32_t, Roaring>>;
  SortedPostings CopySortedPostings() const;
  // Replaces everything by `postings` (checked by the caller: keys unique, bitmaps
  // non-empty), as a bulk build would have left it.
  void LoadSealed(SortedPostings postings);
  // Slots that may hold entries of a document they no longer have (RemoveSkipped).
  const Roaring& stale_slots() const { return stale_slots_; }
  // Whether both indexes hold the same postings (tests).
  bool SamePostings(const TrigramIndex& other) const;

  // A superset of the slots whose document contains `pattern` (bytes, case-sensitive),
  // or nullopt when the index cannot narrow it (fewer than 3 bytes).
  std::optional<Roaring> ContainsCandidates(std::string_view pattern) const;
  // A superset of the slots whose document `regex` matches somewhere (RE2::PartialMatch),
  // or nullopt when the index cannot narrow it.
  std::optional<Roaring> RegexCandidates(const re2::RE2& regex) const;
  // Whether RegexCandidates(regex) may narrow (cheap: the prefilter's atoms only).
  bool MayNarrowRegex(const re2::RE2& regex) const;
  // An upper bound of ContainsCandidates(pattern)'s size (nullopt: no narrowing), cheap.
  std::optional<uint64_t> EstimateContains(std::string_view pattern) const;

  size_t trigram_count() const { return postings_.size(); }

  // The distinct trigram keys of `text` as indexed (exposed for tests).
  static std::vector<uint32_t> DocumentTrigrams(std::string_view text);

 private:
  // The intersection of the postings of `trigrams` (rarest first); an absent trigram
  // makes it empty.
  Roaring Intersect(std::vector<uint32_t> trigrams) const;

  // Appends the bulk lists to the postings and empties them.
  void FlushBulk();

  std::unordered_map<uint32_t, Roaring> postings_;
  Roaring stale_slots_;

  // A bulk build past kBulkDirectAfter documents collects slots per trigram in plain
  // vectors (slots arrive in increasing order, so a repeat within a document is the
  // list's last slot), found through a direct table over every trigram key, and appends
  // them to the bitmaps once per 65536-slot chunk. Freed at Seal.
  struct BulkList {
    uint32_t key;
    std::vector<uint32_t> slots;
  };
  size_t bulk_docs_ = 0;
  std::vector<uint32_t> bulk_id_of_;  // trigram key -> index in bulk_lists_; 2^24 entries
  std::vector<BulkList> bulk_lists_;
  uint32_t bulk_chunk_ = UINT32_MAX;
};

}  // namespace fathom
