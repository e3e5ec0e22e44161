// EncodeTextIndexObject: the text index object's encoder (docs/format/text-index.md);
// the decoder is text_index_decode.cc, the layout both share text_index_layout.h.
#include "index/text/text_index_format.h"

#include <algorithm>
#include <numeric>
#include <vector>

#include "common/assert.h"
#include "common/coding.h"
#include "index/text/postings.h"
#include "index/text/text_index_layout.h"
#include "index/text/trigram_section.h"

namespace fathom {
namespace {

using namespace text_index_layout;

std::string EncodeAnalyzer(const AnalyzerOptions& a) {
  std::string out;
  PutFixed32(&out, kTextAnalyzerVersion);
  out.push_back(a.remove_diacritics ? 1 : 0);
  PutLengthPrefixed(&out, a.stemmer);
  PutVarint64(&out, a.stop_words.size());
  for (const std::string& w : a.stop_words) PutLengthPrefixed(&out, w);
  return out;
}

Status CheckAnalyzer(const AnalyzerOptions& a) {
  if (a.stemmer.size() > kTextIndexStemmerBytesMax) {
    return Status::InvalidArgument("text index: stemmer name longer than kTextIndexStemmerBytesMax");
  }
  if (a.stop_words.size() > kAnalyzerStopWordsMax) {
    return Status::InvalidArgument("text index: more stop words than kAnalyzerStopWordsMax");
  }
  for (const std::string& w : a.stop_words) {
    if (w.size() > kAnalyzerStopWordBytesMax) {
      return Status::InvalidArgument("text index: a stop word longer than kAnalyzerStopWordBytesMax");
    }
  }
  return Status::Ok();
}

}  // namespace

TextIndexRowsHasher::TextIndexRowsHasher() {
  XXH3_64bits_reset(&offsets_);
  XXH3_64bits_reset(&documents_);
}

void TextIndexRowsHasher::AddRow(uint64_t offset, const std::string* document) {
  AddRowChecksum(offset, document != nullptr ? std::optional<uint64_t>(Checksum64(*document)) : std::nullopt);
}

void TextIndexRowsHasher::AddRowChecksum(uint64_t offset, std::optional<uint64_t> document_checksum) {
  char bytes[8];
  EncodeFixed64(bytes, offset);
  XXH3_64bits_update(&offsets_, bytes, sizeof(bytes));
  char entry[9] = {};
  if (document_checksum) {
    entry[0] = 1;
    EncodeFixed64(entry + 1, *document_checksum);
  }
  XXH3_64bits_update(&documents_, entry, sizeof(entry));
}

uint64_t TextIndexRowsHasher::offsets_hash() const { return XXH3_64bits_digest(&offsets_); }
uint64_t TextIndexRowsHasher::documents_hash() const { return XXH3_64bits_digest(&documents_); }

namespace {

// Encoding steps, in the order EncodeTextIndexObject takes them.

std::string_view TermText(const InvertedIndex::SealedImage& image, uint32_t id) {
  return std::string_view(image.term_chars.data() + image.term_offset[id],
                          image.term_offset[size_t{id} + 1] - image.term_offset[id]);
}

// The image's counts within the format's limits and its arrays of consistent sizes (the
// latter is the caller's promise, checked).
Status CheckImage(const InvertedIndex::SealedImage& image) {
  if (image.slot_count > kTextIndexRowsMax) return Status::InvalidArgument("text index: more rows than kTextIndexRowsMax");
  const size_t terms = image.terms.size();
  if (terms > kTextIndexTermsMax) return Status::InvalidArgument("text index: more terms than kTextIndexTermsMax");
  FATHOM_CHECK(image.term_offset.size() == terms + 1 && image.has_document.size() == image.slot_count &&
               image.length.size() == image.slot_count && image.forward_begin.size() == size_t{image.slot_count} + 1);
  return Status::Ok();
}

// Term ids in the dictionary's order (by text); refuses a term longer than
// kTextIndexTermBytesMax or a repeated one, which the decoder would refuse.
Result<std::vector<uint32_t>> TermsInTextOrder(const InvertedIndex::SealedImage& image) {
  const size_t terms = image.terms.size();
  std::vector<uint32_t> sorted(terms);
  std::iota(sorted.begin(), sorted.end(), 0u);
  std::sort(sorted.begin(), sorted.end(),
            [&](uint32_t a, uint32_t b) { return TermText(image, a) < TermText(image, b); });
  for (size_t i = 0; i < terms; ++i) {
    if (TermText(image, sorted[i]).size() > kTextIndexTermBytesMax) {
      return Status::InvalidArgument("text index: a term longer than kTextIndexTermBytesMax");
    }
    if (i > 0 && TermText(image, sorted[i]) == TermText(image, sorted[i - 1])) {
      return Status::InvalidArgument("text index: a repeated term");
    }
  }
  return sorted;
}

// The header's document count and total length, which the document section adds up.
struct DocumentTotals {
  uint64_t documents = 0;
  uint64_t total_length = 0;
};

// The document section: presence bits, then every slot's length (0 where absent).
std::string EncodeDocuments(const InvertedIndex::SealedImage& image, DocumentTotals* totals) {
  std::string out((size_t{image.slot_count} + 7) / 8, '\0');
  for (uint32_t s = 0; s < image.slot_count; ++s) {
    if (!image.has_document[s]) continue;
    out[s / 8] = static_cast<char>(out[s / 8] | (1 << (s % 8)));
    totals->documents += 1;
    totals->total_length += image.length[s];
  }
  for (uint32_t s = 0; s < image.slot_count; ++s) PutFixed32(&out, image.has_document[s] ? image.length[s] : 0);
  return out;
}

// The forward section: each document's run length, then the runs (its term ids).
std::string EncodeForward(const InvertedIndex::SealedImage& image) {
  std::string out;
  for (uint32_t s = 0; s < image.slot_count; ++s) {
    if (image.has_document[s]) PutVarint64(&out, image.forward_begin[size_t{s} + 1] - image.forward_begin[s]);
  }
  for (uint32_t s = 0; s < image.slot_count; ++s) {
    if (!image.has_document[s]) continue;
    out.append(image.forward, image.forward_begin[s], image.forward_begin[size_t{s} + 1] - image.forward_begin[s]);
  }
  return out;
}

// Each term's bytes in the postings arena, by term id.
struct PostingsRuns {
  std::vector<uint64_t> begin;
  std::vector<uint64_t> end;
};

// A term's blocks are [offset of its first block, offset of the next term's first block)
// in an arena of `postings_bytes` (a term without blocks has an empty run where the next
// one starts).
PostingsRuns TermPostingsRuns(const InvertedIndex::SealedImage& image, size_t postings_bytes) {
  const size_t terms = image.terms.size();
  auto term_begin = [&](uint32_t id) -> uint64_t {
    const InvertedIndex::Term& t = image.terms[id];
    return t.block_count == 0 ? UINT64_MAX : image.blocks[t.first_block].offset;
  };
  PostingsRuns runs{std::vector<uint64_t>(terms), std::vector<uint64_t>(terms)};
  uint64_t next = postings_bytes;
  for (size_t id = terms; id-- > 0;) {
    const uint64_t b = term_begin(static_cast<uint32_t>(id));
    runs.begin[id] = b == UINT64_MAX ? next : b;
    runs.end[id] = next;
    next = runs.begin[id];
  }
  return runs;
}

// Where each term's blocks start in the block table: terms are in id order there, so a
// running sum (a term without postings, left in the dictionary by an erased tail
// document, starts where the next one does).
std::vector<uint32_t> TermFirstBlocks(const InvertedIndex::SealedImage& image) {
  std::vector<uint32_t> first_block(image.terms.size());
  uint64_t next = 0;
  for (size_t id = 0; id < image.terms.size(); ++id) {
    const InvertedIndex::Term& t = image.terms[id];
    FATHOM_CHECK(t.block_count == 0 || t.first_block == next);
    first_block[id] = static_cast<uint32_t>(next);
    next += t.block_count;
  }
  FATHOM_CHECK(next == image.blocks.size());
  return first_block;
}

// Offsets and sizes of the sections (the dictionary's, texts' and blocks' sizes are known
// before their bytes).
struct SectionLayout {
  uint64_t offset[kTextIndexSections];
  uint64_t size[kTextIndexSections];
  uint64_t end;  // the object's size
};

SectionLayout LayOutSections(uint32_t version, const std::string (&sections)[kTextIndexSections],
                             const InvertedIndex::SealedImage& image, size_t postings_bytes) {
  SectionLayout layout{{}, {sections[kAnalyzerSection].size(), image.terms.size() * kTextIndexDictionaryEntryBytes,
                            image.term_chars.size(), image.blocks.size() * kTextIndexBlockEntryBytes,
                            sections[kDocumentSection].size(), sections[kForwardSection].size(), postings_bytes,
                            sections[kTrigramSection].size()},
                       0};
  uint64_t at = TextIndexHeaderBytes(version);
  for (size_t i = 0; i < TextIndexSections(version); ++i) {
    layout.offset[i] = at;
    at += layout.size[i];
  }
  layout.end = at;
  return layout;
}

// The dictionary (entries in text order) and the term texts it points into; postings
// offsets are absolute, the arena starting at `postings_at`.
void EncodeDictionary(const InvertedIndex::SealedImage& image, const std::vector<uint32_t>& sorted,
                      const std::vector<uint32_t>& first_block, const PostingsRuns& runs, uint64_t postings_at,
                      std::string* out, std::string* chars) {
  out->reserve(image.terms.size() * kTextIndexDictionaryEntryBytes);
  chars->reserve(image.term_chars.size());
  for (uint32_t id : sorted) {
    const InvertedIndex::Term& t = image.terms[id];
    const std::string_view text = TermText(image, id);
    const uint64_t begin = runs.begin[id];
    const uint64_t length = runs.end[id] - begin;
    PutFixed32(out, static_cast<uint32_t>(chars->size()));
    PutFixed32(out, static_cast<uint32_t>(text.size()));
    chars->append(text);
    PutFixed32(out, id);
    PutFixed32(out, t.live_docs);
    PutFixed32(out, first_block[id]);
    PutFixed32(out, t.block_count);
    PutFixed64(out, postings_at + begin);
    PutFixed64(out, length);
    PutFixed32(out, TermChecksum(std::string_view(image.postings).substr(begin, length)));
    PutFixed32(out, 0);
  }
}

// The block table: each block's skip data and absolute offset.
std::string EncodeBlockTable(const InvertedIndex::SealedImage& image, uint64_t postings_at) {
  std::string out;
  out.reserve(image.blocks.size() * kTextIndexBlockEntryBytes);
  for (const InvertedIndex::BlockMeta& b : image.blocks) {
    PutFixed32(&out, b.first_slot);
    PutFixed32(&out, b.last_slot);
    PutFixed32(&out, b.max_tf);
    PutFixed32(&out, b.min_length);
    PutFixed64(&out, postings_at + b.offset);
  }
  return out;
}

// The header: counts, row hashes, the section table (the postings section's checksum is
// 0: each term's run has its own) and the header's checksum.
std::string EncodeHeader(const TextIndexObject& object, uint32_t version, const DocumentTotals& totals,
                         const std::string (&sections)[kTextIndexSections], const SectionLayout& layout) {
  const InvertedIndex::SealedImage& image = object.image;
  std::string out(kTextIndexMagic, 8);
  PutFixed32(&out, version);
  PutFixed32(&out, 0);
  PutFixed64(&out, image.slot_count);
  PutFixed64(&out, object.offsets_hash);
  PutFixed64(&out, object.documents_hash);
  PutFixed64(&out, totals.documents);
  PutFixed64(&out, totals.total_length);
  PutFixed64(&out, image.terms.size());
  PutFixed64(&out, image.blocks.size());
  for (size_t i = 0; i < TextIndexSections(version); ++i) {
    FATHOM_CHECK(i == kPostingsSection || sections[i].size() == layout.size[i]);
    PutFixed64(&out, layout.offset[i]);
    PutFixed64(&out, layout.size[i]);
    PutFixed64(&out, i == kPostingsSection ? 0 : Checksum64(sections[i]));
  }
  PutFixed64(&out, Checksum64(out));
  FATHOM_CHECK(out.size() == TextIndexHeaderBytes(version));
  return out;
}

}  // namespace

Result<std::string> EncodeTextIndexObject(const TextIndexObject& object) {
  const InvertedIndex::SealedImage& image = object.image;
  FATHOM_RETURN_IF_ERROR(CheckAnalyzer(object.analyzer));
  FATHOM_RETURN_IF_ERROR(CheckImage(image));
  FATHOM_ASSIGN_OR_RETURN(const std::vector<uint32_t> sorted, TermsInTextOrder(image));

  // Without a trigram index, a version 1 object (the first seven sections).
  const uint32_t version = object.trigrams.has_value() ? kTextIndexFormatVersion : 1;
  // Section contents except the postings, which are copied straight from the image.
  std::string sections[kTextIndexSections];
  sections[kAnalyzerSection] = EncodeAnalyzer(object.analyzer);
  if (object.trigrams) sections[kTrigramSection] = EncodeTrigramSection(*object.trigrams, image.slot_count);
  DocumentTotals totals;
  sections[kDocumentSection] = EncodeDocuments(image, &totals);
  sections[kForwardSection] = EncodeForward(image);
  // The postings arena is the image's, without its padding.
  FATHOM_CHECK(image.postings.size() >= kUnpackPaddingBytes);
  const size_t postings_bytes = image.postings.size() - kUnpackPaddingBytes;
  const SectionLayout layout = LayOutSections(version, sections, image, postings_bytes);
  const uint64_t postings_at = layout.offset[kPostingsSection];
  EncodeDictionary(image, sorted, TermFirstBlocks(image), TermPostingsRuns(image, postings_bytes), postings_at,
                   &sections[kDictionarySection], &sections[kTermTextSection]);
  sections[kBlockSection] = EncodeBlockTable(image, postings_at);

  std::string out = EncodeHeader(object, version, totals, sections, layout);
  out.reserve(layout.end);
  for (size_t i = 0; i < TextIndexSections(version); ++i) {
    if (i == kPostingsSection) {
      out.append(image.postings, 0, postings_bytes);
    } else {
      out.append(sections[i]);
    }
  }
  FATHOM_CHECK(out.size() == layout.end);
  return out;
}

void RecomputeTextIndexChecksumsForTesting(std::string* bytes) {
  if (bytes->size() < kVersionAt + 4) return;
  char* h = bytes->data();
  const uint32_t version = DecodeFixed32(h + kVersionAt);
  const size_t section_count = TextIndexSections(version);
  if (bytes->size() < TextIndexHeaderBytes(version)) return;
  uint64_t offset[kTextIndexSections], size[kTextIndexSections];
  bool in_bounds[kTextIndexSections];
  for (size_t i = 0; i < section_count; ++i) {
    char* e = h + kSectionTableAt + i * 24;
    offset[i] = DecodeFixed64(e);
    size[i] = DecodeFixed64(e + 8);
    in_bounds[i] = offset[i] <= bytes->size() && size[i] <= bytes->size() - offset[i];
  }
  // Per-term checksums first: they are inside the dictionary section.
  if (in_bounds[kDictionarySection]) {
    for (uint64_t at = 0; at + kTextIndexDictionaryEntryBytes <= size[kDictionarySection];
         at += kTextIndexDictionaryEntryBytes) {
      char* d = h + offset[kDictionarySection] + at;
      const uint64_t postings = DecodeFixed64(d + 24);
      const uint64_t length = DecodeFixed64(d + 32);
      if (postings <= bytes->size() && length <= bytes->size() - postings) {
        EncodeFixed32(d + 40, TermChecksum(std::string_view(h + postings, length)));
      }
    }
  }
  for (size_t i = 0; i < section_count; ++i) {
    if (i != kPostingsSection && in_bounds[i]) {
      EncodeFixed64(h + kSectionTableAt + i * 24 + 16, Checksum64(std::string_view(h + offset[i], size[i])));
    }
  }
  const size_t checksum_at = HeaderChecksumAt(version);
  EncodeFixed64(h + checksum_at, Checksum64(std::string_view(h, checksum_at)));
}

}  // namespace fathom
