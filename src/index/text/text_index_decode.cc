// DecodeTextIndexObject: the text index object's decoder (docs/format/text-index.md);
// the encoder is text_index_format.cc, the layout both share text_index_layout.h.
#include "index/text/text_index_format.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "common/coding.h"
#include "index/text/postings.h"
#include "index/text/text_index_layout.h"
#include "index/text/trigram_section.h"

namespace fathom {
namespace {

using namespace text_index_layout;

// A (term id, slot) pair's contribution to a multiset hash: the postings and the
// per-document term ids must hold the same pairs, and their sums agree exactly when they
// do (up to 2^-64 per damaged file).
inline uint64_t PairHash(uint32_t id, uint32_t slot) {
  uint64_t x = (uint64_t{id} << 32 | slot) + 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

Status Corrupt(const std::string& what) { return Status::Corruption("text index object: " + what); }

Status DecodeAnalyzer(std::string_view bytes, AnalyzerOptions* a) {
  Decoder in(bytes);
  uint32_t version;
  uint8_t diacritics;
  std::string_view stemmer;
  uint64_t words;
  if (!in.GetFixed32(&version)) return Corrupt("truncated analyzer section");
  if (version != kTextAnalyzerVersion) {
    return Corrupt("made by analyzer version " + std::to_string(version) + ", this build's is " +
                   std::to_string(kTextAnalyzerVersion));
  }
  if (!in.GetU8(&diacritics) || diacritics > 1 || !in.GetLengthPrefixed(&stemmer, kTextIndexStemmerBytesMax) ||
      !in.GetVarint64(&words) || words > kAnalyzerStopWordsMax || words > in.remaining()) {
    return Corrupt("malformed analyzer section");
  }
  a->remove_diacritics = diacritics == 1;
  a->stemmer.assign(stemmer);
  a->stop_words.clear();
  a->stop_words.reserve(words);
  for (uint64_t i = 0; i < words; ++i) {
    std::string_view w;
    if (!in.GetLengthPrefixed(&w, kAnalyzerStopWordBytesMax)) return Corrupt("malformed stop word");
    a->stop_words.emplace_back(w);
  }
  if (!in.empty()) return Corrupt("trailing bytes in the analyzer section");
  return Status::Ok();
}

// Reads one varint of at most 32 bits from bytes[*at, end).
inline bool GetVarint32(const uint8_t* bytes, size_t end, size_t* at, uint32_t* v) {
  uint64_t result = 0;
  for (unsigned shift = 0; shift < 35; shift += 7) {
    if (*at >= end) return false;
    const uint8_t byte = bytes[(*at)++];
    result |= uint64_t{byte & 0x7fu} << shift;
    if (byte < 0x80) {
      if (result > UINT32_MAX) return false;
      *v = static_cast<uint32_t>(result);
      return true;
    }
  }
  return false;
}

// Decoding steps, in the order DecodeTextIndexObject takes them. Each refuses bad bytes
// with Corruption before anything it sizes is allocated.

// The header's fields, checked against the limits and the header checksum.
struct Header {
  uint32_t version;
  uint64_t rows, documents, total_length, terms, block_count;
  uint64_t offsets_hash, documents_hash;
};

Result<Header> DecodeHeader(std::string_view bytes) {
  if (bytes.size() < TextIndexHeaderBytes(1)) return Corrupt("truncated header");
  if (std::memcmp(bytes.data(), kTextIndexMagic, 8) != 0) return Corrupt("bad magic");
  const char* h = bytes.data();
  // The version (checked by the header checksum below) fixes the header's size.
  Header header;
  header.version = DecodeFixed32(h + kVersionAt);
  if (header.version != 1 && header.version != kTextIndexFormatVersion) {
    return Corrupt("unsupported format version " + std::to_string(header.version));
  }
  const size_t checksum_at = HeaderChecksumAt(header.version);
  if (bytes.size() < TextIndexHeaderBytes(header.version)) return Corrupt("truncated header");
  if (DecodeFixed64(h + checksum_at) != Checksum64(bytes.substr(0, checksum_at))) {
    return Corrupt("header checksum mismatch");
  }
  if (DecodeFixed32(h + kFlagsAt) != 0) return Corrupt("unknown flags");
  header.rows = DecodeFixed64(h + kRowsAt);
  header.documents = DecodeFixed64(h + kDocumentsAt);
  header.total_length = DecodeFixed64(h + kTotalLengthAt);
  header.terms = DecodeFixed64(h + kTermsAt);
  header.block_count = DecodeFixed64(h + kBlocksAt);
  if (header.rows > kTextIndexRowsMax || header.documents > header.rows || header.terms > kTextIndexTermsMax ||
      header.block_count > UINT32_MAX) {
    return Corrupt("counts out of range");
  }
  header.offsets_hash = DecodeFixed64(h + kOffsetsHashAt);
  header.documents_hash = DecodeFixed64(h + kDocumentsHashAt);
  return header;
}

// The sections the table names: contiguous from the header to the end, each behind its
// checksum. Damage confined to the trigram section only sets *trigram_status (which
// starts NotFound for a version 1 object, which has none).
Status SplitSections(std::string_view bytes, const Header& header, std::string_view (&section)[kTextIndexSections],
                     Status* trigram_status) {
  const char* h = bytes.data();
  uint64_t expected_at = TextIndexHeaderBytes(header.version);
  *trigram_status = header.version == 1 ? Status::NotFound("text index object: version 1 has no trigram section")
                                        : Status::Ok();
  for (size_t i = 0; i < TextIndexSections(header.version); ++i) {
    const char* e = h + kSectionTableAt + i * 24;
    const uint64_t offset = DecodeFixed64(e);
    const uint64_t size = DecodeFixed64(e + 8);
    const uint64_t checksum = DecodeFixed64(e + 16);
    if (offset != expected_at || size > bytes.size() - offset) return Corrupt("section " + std::to_string(i) + " out of bounds");
    section[i] = bytes.substr(offset, size);
    expected_at = offset + size;
    if (i == kPostingsSection ? checksum != 0 : checksum != Checksum64(section[i])) {
      if (i == kTrigramSection) {
        *trigram_status = Corrupt("section 7 (trigrams) checksum mismatch");
        continue;
      }
      return Corrupt("section " + std::to_string(i) + " checksum mismatch");
    }
  }
  if (expected_at != bytes.size()) return Corrupt("trailing bytes");
  // Sizes the counts fix (each count is bounded by its section's bytes before it sizes
  // an allocation).
  if (section[kDictionarySection].size() != header.terms * kTextIndexDictionaryEntryBytes ||
      section[kBlockSection].size() != header.block_count * kTextIndexBlockEntryBytes ||
      section[kDocumentSection].size() != (header.rows + 7) / 8 + header.rows * 4) {
    return Corrupt("section sizes disagree with the header's counts");
  }
  return Status::Ok();
}

// Documents: presence bits, then lengths (0 where absent), adding up to the header's
// counts. Fills the image's slot_count, has_document and length.
Status DecodeDocuments(std::string_view bytes, const Header& header, InvertedIndex::SealedImage* image) {
  const uint64_t rows = header.rows;
  const uint32_t slot_count = static_cast<uint32_t>(rows);
  image->slot_count = slot_count;
  const auto* bits = reinterpret_cast<const uint8_t*>(bytes.data());
  const char* lengths = bytes.data() + (rows + 7) / 8;
  if (rows % 8 != 0 && (bits[rows / 8] >> (rows % 8)) != 0) return Corrupt("presence bits past the last row");
  image->has_document.resize(slot_count);
  image->length.resize(slot_count);
  uint64_t present = 0;
  uint64_t total = 0;
  for (uint32_t s = 0; s < slot_count; ++s) {
    image->has_document[s] = (bits[s / 8] >> (s % 8)) & 1;
    image->length[s] = DecodeFixed32(lengths + size_t{s} * 4);
    if (!image->has_document[s] && image->length[s] != 0) return Corrupt("a length for a row without a document");
    present += image->has_document[s];
    total += image->length[s];
  }
  if (present != header.documents || total != header.total_length) {
    return Corrupt("document count or total length disagrees");
  }
  return Status::Ok();
}

// A dictionary entry's postings fields, by term id.
struct DictionaryEntry {
  uint32_t doc_freq, first_block, block_count, checksum;
  uint64_t postings_offset, postings_bytes;
};

// Dictionary, in text order: texts contiguous and strictly increasing; ids a permutation.
// Fills the image's term texts (in id order) and *by_id.
Status DecodeDictionary(std::string_view dictionary, std::string_view texts, uint64_t terms,
                        InvertedIndex::SealedImage* image, std::vector<DictionaryEntry>* by_id) {
  std::vector<uint32_t> position_of(terms, UINT32_MAX);
  by_id->assign(terms, DictionaryEntry{});
  const char* d = dictionary.data();
  uint64_t text_at = 0;
  std::string_view previous;
  for (uint64_t i = 0; i < terms; ++i, d += kTextIndexDictionaryEntryBytes) {
    const uint32_t text_offset = DecodeFixed32(d);
    const uint32_t text_length = DecodeFixed32(d + 4);
    const uint32_t id = DecodeFixed32(d + 8);
    if (text_offset != text_at || text_length > kTextIndexTermBytesMax || text_length > texts.size() - text_at) {
      return Corrupt("term text out of bounds");
    }
    const std::string_view text = texts.substr(text_at, text_length);
    if (i > 0 && !(previous < text)) return Corrupt("terms not strictly increasing");
    previous = text;
    text_at += text_length;
    if (id >= terms || position_of[id] != UINT32_MAX) return Corrupt("term ids are not a permutation");
    position_of[id] = static_cast<uint32_t>(i);
    DictionaryEntry& e = (*by_id)[id];
    e.doc_freq = DecodeFixed32(d + 12);
    e.first_block = DecodeFixed32(d + 16);
    e.block_count = DecodeFixed32(d + 20);
    e.postings_offset = DecodeFixed64(d + 24);
    e.postings_bytes = DecodeFixed64(d + 32);
    e.checksum = DecodeFixed32(d + 40);
    if (DecodeFixed32(d + 44) != 0) return Corrupt("reserved dictionary field set");
  }
  if (text_at != texts.size()) return Corrupt("term text section has unused bytes");
  image->term_offset.reserve(terms + 1);
  image->term_chars.reserve(texts.size());
  image->term_offset.push_back(0);
  for (uint64_t id = 0; id < terms; ++id) {
    const char* e = dictionary.data() + size_t{position_of[id]} * kTextIndexDictionaryEntryBytes;
    image->term_chars.append(texts.substr(DecodeFixed32(e), DecodeFixed32(e + 4)));
    image->term_offset.push_back(static_cast<uint32_t>(image->term_chars.size()));
  }
  return Status::Ok();
}

// Where DecodeTermPostings reads: the postings arena (at `postings_at` in the object) and
// the block table, and the next block and arena byte the next term must start at.
struct PostingsCursor {
  std::string_view arena;
  uint64_t postings_at;
  const char* block_table;
  uint64_t block_count;
  uint64_t next_block = 0;
  uint64_t next_byte = 0;  // relative to the arena
};

// One term's postings: its run in place, behind its checksum, every block decoded and its
// skip data checked against it, the postings of rows with documents. Fills the term's
// blocks in the image, adds its (id, slot) pairs to *postings_hash and advances the
// cursor past it.
Status DecodeTermPostings(uint32_t id, const DictionaryEntry& e, PostingsCursor* cursor,
                          InvertedIndex::SealedImage* image, uint64_t* postings_hash) {
  auto corrupt = [&](const std::string& what) { return Corrupt("term " + std::to_string(id) + ": " + what); };
  if (e.first_block != cursor->next_block || e.block_count > cursor->block_count - cursor->next_block ||
      e.postings_offset != cursor->postings_at + cursor->next_byte ||
      e.postings_bytes > cursor->arena.size() - cursor->next_byte) {
    return corrupt("postings out of place");
  }
  const std::string_view run = cursor->arena.substr(cursor->next_byte, e.postings_bytes);
  if (TermChecksum(run) != e.checksum) return corrupt("postings checksum mismatch");
  if ((e.block_count == 0) != (e.doc_freq == 0) || (e.block_count == 0) != run.empty()) {
    return corrupt("blocks disagree with its document count");
  }
  PostingsBlock block;
  uint64_t at = 0;  // within the run
  uint64_t postings = 0;
  int64_t last_slot = -1;
  for (uint32_t b = 0; b < e.block_count; ++b) {
    const char* entry = cursor->block_table + (cursor->next_block + b) * kTextIndexBlockEntryBytes;
    InvertedIndex::BlockMeta meta{DecodeFixed32(entry), DecodeFixed32(entry + 4), 0, DecodeFixed32(entry + 8),
                                  DecodeFixed32(entry + 12)};
    if (DecodeFixed64(entry + 16) != cursor->postings_at + cursor->next_byte + at) {
      return Corrupt("block offset out of place");
    }
    size_t consumed = 0;
    Status s = DecodeBlock(run.substr(at), &block, &consumed);
    if (!s.ok()) return corrupt(s.message());
    if (block.slots[0] != meta.first_slot || block.slots[block.count - 1] != meta.last_slot ||
        static_cast<int64_t>(meta.first_slot) <= last_slot) {
      return corrupt("block slots disagree with the skip data");
    }
    uint32_t max_tf = 0;
    uint32_t min_length = UINT32_MAX;
    for (uint32_t i = 0; i < block.count; ++i) {
      const uint32_t slot = block.slots[i];
      if (slot >= image->slot_count || !image->has_document[slot]) return Corrupt("a posting of a row without a document");
      max_tf = std::max(max_tf, block.tfs[i]);
      min_length = std::min(min_length, image->length[slot]);
      *postings_hash += PairHash(id, slot);
    }
    if (max_tf != meta.max_tf || min_length != meta.min_length) {
      return corrupt("block bounds disagree with its postings");
    }
    meta.offset = cursor->next_byte + at;
    image->blocks[cursor->next_block + b] = meta;
    last_slot = meta.last_slot;
    postings += block.count;
    at += consumed;
  }
  if (at != run.size()) return corrupt("bytes after its last block");
  if (postings != e.doc_freq) return corrupt("document count disagrees");
  InvertedIndex::Term& t = image->terms[id];
  t.first_block = e.first_block;
  t.block_count = e.block_count;
  t.live_docs = e.doc_freq;
  cursor->next_block += e.block_count;
  cursor->next_byte += run.size();
  return Status::Ok();
}

// Postings, term by term in id order, tiling the arena. Fills the image's terms, blocks
// and postings (the arena and its padding); *postings_hash sums their (id, slot) pairs.
Status DecodePostings(PostingsCursor cursor, const std::vector<DictionaryEntry>& by_id,
                      InvertedIndex::SealedImage* image, uint64_t* postings_hash) {
  image->terms.resize(by_id.size());
  image->blocks.resize(cursor.block_count);
  for (uint64_t id = 0; id < by_id.size(); ++id) {
    FATHOM_RETURN_IF_ERROR(DecodeTermPostings(static_cast<uint32_t>(id), by_id[id], &cursor, image, postings_hash));
  }
  if (cursor.next_block != cursor.block_count || cursor.next_byte != cursor.arena.size()) {
    return Corrupt("blocks or postings left over");
  }
  image->postings.reserve(cursor.arena.size() + kUnpackPaddingBytes);
  image->postings.assign(cursor.arena);
  image->postings.append(kUnpackPaddingBytes, '\0');
  return Status::Ok();
}

// Per-document term ids: run lengths, then runs; each run ascending ids < terms, and all
// runs together the same (id, slot) pairs as the postings (whose hash is postings_hash).
// Fills the image's forward and forward_begin.
Status DecodeForward(std::string_view forward, const Header& header, uint64_t postings_hash,
                     InvertedIndex::SealedImage* image) {
  const auto* p = reinterpret_cast<const uint8_t*>(forward.data());
  size_t at = 0;
  std::vector<uint32_t> run_bytes;
  run_bytes.reserve(header.documents);
  uint64_t sum = 0;
  for (uint64_t d = 0; d < header.documents; ++d) {
    uint32_t n;
    if (!GetVarint32(p, forward.size(), &at, &n)) return Corrupt("malformed term id run length");
    run_bytes.push_back(n);
    sum += n;
  }
  if (sum != forward.size() - at) return Corrupt("term id runs disagree with their lengths");
  const uint32_t slot_count = image->slot_count;
  image->forward.assign(forward.substr(at));
  image->forward_begin.assign(size_t{slot_count} + 1, 0);
  const auto* runs = reinterpret_cast<const uint8_t*>(image->forward.data());
  uint64_t forward_hash = 0;
  size_t next = 0;
  size_t document = 0;
  for (uint32_t s = 0; s < slot_count; ++s) {
    image->forward_begin[s] = next;
    if (!image->has_document[s]) continue;
    const size_t end = next + run_bytes[document++];
    uint32_t id = 0;
    size_t count = 0;
    while (next < end) {
      uint32_t delta;
      if (!GetVarint32(runs, end, &next, &delta)) return Corrupt("malformed term id");
      if (count > 0 && delta == 0) return Corrupt("term ids not ascending");
      if (delta >= header.terms - id) return Corrupt("term id out of range");
      id += delta;
      forward_hash += PairHash(id, s);
      ++count;
    }
    if (count > image->length[s] || (count == 0) != (image->length[s] == 0)) {
      return Corrupt("distinct terms disagree with the document's length");
    }
  }
  image->forward_begin[slot_count] = next;
  if (forward_hash != postings_hash) return Corrupt("per-document term ids disagree with the postings");
  return Status::Ok();
}

}  // namespace

Result<TextIndexObject> DecodeTextIndexObject(std::string_view bytes) {
  FATHOM_ASSIGN_OR_RETURN(const Header header, DecodeHeader(bytes));
  std::string_view section[kTextIndexSections];
  Status trigram_status;
  FATHOM_RETURN_IF_ERROR(SplitSections(bytes, header, section, &trigram_status));

  TextIndexObject object;
  object.offsets_hash = header.offsets_hash;
  object.documents_hash = header.documents_hash;
  FATHOM_RETURN_IF_ERROR(DecodeAnalyzer(section[kAnalyzerSection], &object.analyzer));
  InvertedIndex::SealedImage& image = object.image;
  FATHOM_RETURN_IF_ERROR(DecodeDocuments(section[kDocumentSection], header, &image));
  std::vector<DictionaryEntry> by_id;
  FATHOM_RETURN_IF_ERROR(
      DecodeDictionary(section[kDictionarySection], section[kTermTextSection], header.terms, &image, &by_id));
  const PostingsCursor postings{section[kPostingsSection],
                                static_cast<uint64_t>(section[kPostingsSection].data() - bytes.data()),
                                section[kBlockSection].data(), header.block_count};
  uint64_t postings_hash = 0;
  FATHOM_RETURN_IF_ERROR(DecodePostings(postings, by_id, &image, &postings_hash));
  FATHOM_RETURN_IF_ERROR(DecodeForward(section[kForwardSection], header, postings_hash, &image));
  if (trigram_status.ok()) {
    TrigramIndex::SortedPostings trigrams;
    trigram_status = DecodeTrigramSection(section[kTrigramSection], image.has_document, &trigrams);
    if (trigram_status.ok()) object.trigrams = std::move(trigrams);
  }
  object.trigram_status = std::move(trigram_status);
  return object;
}

}  // namespace fathom
