#include "index/text/trigram_index.h"

#include <re2/filtered_re2.h>
#include <re2/re2.h>

#include <algorithm>
#include <bit>
#include <string>

#include "common/assert.h"

namespace fathom {

namespace {

// Regexes whose prefilter names more atoms than this are not narrowed (the minimal
// satisfying atom sets are found by enumerating subsets).
constexpr size_t kRegexAtomsMax = 10;
// Bulk builds of more documents than this switch to the direct table (2^24 entries, 64 MiB
// while the build lasts); smaller ones add document by document.
constexpr size_t kBulkDirectAfter = 16384;
// Intersecting stops once this few candidates are left: verifying them is cheaper than
// more intersections, and the result stays a superset.
constexpr uint64_t kIntersectEnough = 32;

inline uint32_t LowerAscii(unsigned char c) { return c >= 'A' && c <= 'Z' ? c + 32u : c; }

// Calls fn(key) for every trigram of `text` in order (repeats included).
template <class Fn>
void ForEachTrigram(std::string_view text, Fn&& fn) {
  if (text.size() < 3) return;
  uint32_t key = (LowerAscii(text[0]) << 8) | LowerAscii(text[1]);
  for (size_t i = 2; i < text.size(); ++i) {
    key = ((key << 8) | LowerAscii(text[i])) & 0xFFFFFFu;
    fn(key);
  }
}

void AppendTrigrams(std::string_view text, std::vector<uint32_t>* out) {
  ForEachTrigram(text, [out](uint32_t key) { out->push_back(key); });
}

constexpr std::string_view kKelvin = "\xE2\x84\xAA";  // U+212A, folds to 'k'
constexpr std::string_view kLongS = "\xC5\xBF";       // U+017F, folds to 's'

// `text` with K and ſ replaced by their ASCII fold partners.
std::string FoldToAscii(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (text.substr(i, kKelvin.size()) == kKelvin) {
      out += 'k';
      i += kKelvin.size();
    } else if (text.substr(i, kLongS.size()) == kLongS) {
      out += 's';
      i += kLongS.size();
    } else {
      out += text[i++];
    }
  }
  return out;
}

bool IsAscii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

std::vector<uint32_t> PatternTrigrams(std::string_view pattern) {
  std::vector<uint32_t> out;
  AppendTrigrams(pattern, &out);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace

std::vector<uint32_t> TrigramIndex::DocumentTrigrams(std::string_view text) {
  std::vector<uint32_t> out;
  AppendTrigrams(text, &out);
  if (text.find(kKelvin) != std::string_view::npos || text.find(kLongS) != std::string_view::npos) {
    AppendTrigrams(FoldToAscii(text), &out);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void TrigramIndex::Add(uint32_t slot, const RecordView& row) {
  for (uint32_t t : DocumentTrigrams(*row.document)) postings_[t].add(slot);
}

void TrigramIndex::Remove(uint32_t slot, const RecordView& row) {
  for (uint32_t t : DocumentTrigrams(*row.document)) {
    auto it = postings_.find(t);
    FATHOM_CHECK(it != postings_.end());
    it->second.remove(slot);
    if (it->second.isEmpty()) postings_.erase(it);
  }
}

void TrigramIndex::Clear() {
  postings_.clear();
  stale_slots_ = Roaring();
  bulk_docs_ = 0;
  bulk_id_of_ = std::vector<uint32_t>();
  bulk_lists_ = std::vector<BulkList>();
  bulk_chunk_ = UINT32_MAX;
}

void TrigramIndex::BulkAdd(uint32_t slot, const RecordView& row) {
  if (++bulk_docs_ <= kBulkDirectAfter) {
    Add(slot, row);
    return;
  }
  if (bulk_id_of_.empty()) bulk_id_of_.assign(size_t{1} << 24, UINT32_MAX);
  if ((slot >> 16) != bulk_chunk_) {
    FlushBulk();
    bulk_chunk_ = slot >> 16;
  }
  auto take = [&](uint32_t key) {
    uint32_t& id = bulk_id_of_[key];
    if (id == UINT32_MAX) {
      id = static_cast<uint32_t>(bulk_lists_.size());
      bulk_lists_.push_back(BulkList{key, {}});
    }
    std::vector<uint32_t>& slots = bulk_lists_[id].slots;
    if (slots.empty() || slots.back() != slot) slots.push_back(slot);
  };
  const std::string_view text = *row.document;
  ForEachTrigram(text, take);
  if (text.find(kKelvin) != std::string_view::npos || text.find(kLongS) != std::string_view::npos) {
    ForEachTrigram(FoldToAscii(text), take);
  }
}

void TrigramIndex::FlushBulk() {
  for (BulkList& list : bulk_lists_) {
    if (list.slots.empty()) continue;
    // Slots of later chunks than any already in the bitmap: appended at its end.
    postings_[list.key].addMany(list.slots.size(), list.slots.data());
    list.slots.clear();
  }
}

void TrigramIndex::Seal() {
  FlushBulk();
  bulk_docs_ = 0;
  bulk_id_of_ = std::vector<uint32_t>();
  bulk_lists_ = std::vector<BulkList>();
  bulk_chunk_ = UINT32_MAX;
  for (auto& [t, slots] : postings_) {
    slots.runOptimize();
    slots.shrinkToFit();
  }
}

bool TrigramIndex::Renumber(const std::vector<uint32_t>& old_to_new) {
  // Renumbering keeps the order of surviving slots, so each list stays sorted.
  std::vector<uint32_t> moved;
  for (uint32_t slot : stale_slots_) {
    const uint32_t to = slot < old_to_new.size() ? old_to_new[slot] : UINT32_MAX;
    if (to != UINT32_MAX) moved.push_back(to);
  }
  stale_slots_ = Roaring(moved.size(), moved.data());
  for (auto it = postings_.begin(); it != postings_.end();) {
    moved.clear();
    for (uint32_t slot : it->second) {
      const uint32_t to = slot < old_to_new.size() ? old_to_new[slot] : UINT32_MAX;
      if (to != UINT32_MAX) moved.push_back(to);
    }
    if (moved.empty()) {
      it = postings_.erase(it);
      continue;
    }
    it->second = Roaring(moved.size(), moved.data());
    it->second.runOptimize();
    ++it;
  }
  return true;
}

TrigramIndex::SortedPostings TrigramIndex::CopySortedPostings() const {
  SortedPostings out(postings_.begin(), postings_.end());
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

void TrigramIndex::LoadSealed(SortedPostings postings) {
  Clear();
  postings_.reserve(postings.size());
  for (auto& [key, slots] : postings) {
    FATHOM_CHECK(!slots.isEmpty());
    FATHOM_CHECK(postings_.emplace(key, std::move(slots)).second);
  }
}

bool TrigramIndex::SamePostings(const TrigramIndex& other) const {
  if (postings_.size() != other.postings_.size()) return false;
  for (const auto& [key, slots] : postings_) {
    auto it = other.postings_.find(key);
    if (it == other.postings_.end() || !(it->second == slots)) return false;
  }
  return true;
}

size_t TrigramIndex::MemoryBytes() const {
  size_t bytes = postings_.bucket_count() * sizeof(void*);
  for (const auto& [t, slots] : postings_) {
    bytes += sizeof(std::pair<const uint32_t, Roaring>) + 2 * sizeof(void*) + slots.getSizeInBytes();
  }
  return bytes;
}

Roaring TrigramIndex::Intersect(std::vector<uint32_t> trigrams) const {
  std::vector<const Roaring*> lists;
  lists.reserve(trigrams.size());
  for (uint32_t t : trigrams) {
    auto it = postings_.find(t);
    if (it == postings_.end()) return Roaring();
    lists.push_back(&it->second);
  }
  FATHOM_CHECK(!lists.empty());
  std::vector<std::pair<uint64_t, const Roaring*>> by_size;
  for (const Roaring* r : lists) by_size.emplace_back(r->cardinality(), r);
  std::sort(by_size.begin(), by_size.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  Roaring result = *by_size[0].second;
  for (size_t i = 1; i < by_size.size() && result.cardinality() > kIntersectEnough; ++i) {
    result &= *by_size[i].second;
  }
  return result;
}

std::optional<Roaring> TrigramIndex::ContainsCandidates(std::string_view pattern) const {
  std::vector<uint32_t> trigrams = PatternTrigrams(pattern);
  if (trigrams.empty()) return std::nullopt;
  return Intersect(std::move(trigrams));
}

std::optional<uint64_t> TrigramIndex::EstimateContains(std::string_view pattern) const {
  const std::vector<uint32_t> trigrams = PatternTrigrams(pattern);
  if (trigrams.empty()) return std::nullopt;
  uint64_t least = UINT64_MAX;
  for (uint32_t t : trigrams) {
    auto it = postings_.find(t);
    least = std::min<uint64_t>(least, it == postings_.end() ? 0 : it->second.cardinality());
  }
  return least;
}

namespace {

// RE2's prefilter for one regex: its atoms and whether a set of them lets it pass.
class Prefilter {
 public:
  // False when the regex cannot be narrowed: it passes with no atom at all, or names too
  // many atoms.
  bool Init(const re2::RE2& regex) {
    int id = -1;
    if (filtered_.Add(regex.pattern(), regex.options(), &id) != re2::RE2::NoError) return false;
    filtered_.Compile(&atoms_);
    return !Passes({}) && atoms_.size() <= kRegexAtomsMax;
  }
  bool Passes(const std::vector<int>& matched) const {
    std::vector<int> potential;
    filtered_.AllPotentials(matched, &potential);
    return !potential.empty();
  }
  const std::vector<std::string>& atoms() const { return atoms_; }

 private:
  re2::FilteredRE2 filtered_{/*min_atom_len=*/3};
  std::vector<std::string> atoms_;
};

}  // namespace

bool TrigramIndex::MayNarrowRegex(const re2::RE2& regex) const {
  Prefilter prefilter;
  if (!prefilter.Init(regex)) return false;
  return std::any_of(prefilter.atoms().begin(), prefilter.atoms().end(),
                     [](const std::string& a) { return a.size() >= 3 && IsAscii(a); });
}

std::optional<Roaring> TrigramIndex::RegexCandidates(const re2::RE2& regex) const {
  Prefilter prefilter;
  if (!prefilter.Init(regex)) return std::nullopt;
  const std::vector<std::string>& atoms = prefilter.atoms();
  auto passes = [&](const std::vector<int>& matched) { return prefilter.Passes(matched); };

  // Each atom's documents; nullopt where the index cannot tell (assumed everywhere).
  std::vector<std::optional<Roaring>> atom_slots(atoms.size());
  for (size_t i = 0; i < atoms.size(); ++i) {
    if (atoms[i].size() >= 3 && IsAscii(atoms[i])) atom_slots[i] = Intersect(PatternTrigrams(atoms[i]));
  }
  // The formula is monotone in the atoms: its minimal satisfying sets, unioned, give the
  // candidates (each set's atoms intersected).
  const uint32_t n = static_cast<uint32_t>(atoms.size());
  std::vector<uint32_t> masks;
  for (uint32_t m = 1; m < (1u << n); ++m) masks.push_back(m);
  std::stable_sort(masks.begin(), masks.end(),
                   [](uint32_t a, uint32_t b) { return std::popcount(a) < std::popcount(b); });
  std::vector<uint32_t> minimal;
  for (uint32_t m : masks) {
    if (std::any_of(minimal.begin(), minimal.end(), [&](uint32_t s) { return (m & s) == s; })) continue;
    std::vector<int> matched;
    for (uint32_t i = 0; i < n; ++i) {
      if (m & (1u << i)) matched.push_back(static_cast<int>(i));
    }
    if (passes(matched)) minimal.push_back(m);
  }
  if (minimal.empty()) return std::nullopt;  // not expected: every atom present must pass
  Roaring result;
  for (uint32_t m : minimal) {
    std::optional<Roaring> part;
    for (uint32_t i = 0; i < n; ++i) {
      if (!(m & (1u << i)) || !atom_slots[i].has_value()) continue;
      if (part.has_value()) {
        *part &= *atom_slots[i];
      } else {
        part = *atom_slots[i];
      }
    }
    if (!part.has_value()) return std::nullopt;  // a set made of atoms the index cannot see
    result |= *part;
  }
  return result;
}

}  // namespace fathom
