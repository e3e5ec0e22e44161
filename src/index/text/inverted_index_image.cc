// InvertedIndex: the sealed part as an image (SealedImage), out of the index for a
// persisted text index and back in at open. Design: docs/design/text-index.md,
// "Persistence".
#include <bit>
#include <utility>

#include "common/assert.h"
#include "index/text/inverted_index.h"
#include "index/text/postings.h"

namespace fathom {

void InvertedIndex::RebuildTable() { FillTable(std::max<size_t>(1024, std::bit_ceil(2 * (terms_.size() + 1)))); }

InvertedIndex::SealedImage InvertedIndex::TakeSealed(uint32_t slot_count) {
  FATHOM_CHECK(sealed_only());
  FATHOM_CHECK(state_.size() <= slot_count);
  SealedImage image;
  image.slot_count = slot_count;
  image.has_document.assign(slot_count, 0);
  for (size_t s = 0; s < state_.size(); ++s) image.has_document[s] = state_[s] == kSealed ? 1 : 0;
  image.length = std::move(length_);
  image.length.resize(slot_count, 0);
  image.term_chars = std::move(term_chars_);
  image.term_offset = std::move(term_offset_);
  image.terms = std::move(terms_);
  for (Term& t : image.terms) {
    t.tail_max_tf = 0;
    t.tail_min_length = UINT32_MAX;
  }
  image.blocks = std::move(blocks_);
  image.postings = std::move(sealed_bytes_);
  if (image.postings.empty()) image.postings.assign(kUnpackPaddingBytes, '\0');  // never sealed
  image.forward = std::move(sealed_terms_);
  image.forward_begin = std::move(sealed_terms_begin_);
  // A rebuild leaves state_.size() + 1 starts; slots past them hold nothing.
  const uint64_t end = image.forward_begin.empty() ? 0 : image.forward_begin.back();
  image.forward_begin.resize(size_t{slot_count} + 1, end);
  if (state_.empty()) image.forward_begin.assign(size_t{slot_count} + 1, 0);
  Clear();
  return image;
}

void InvertedIndex::LoadSealed(SealedImage image, const std::vector<uint32_t>* slot_of) {
  FATHOM_CHECK(image.has_document.size() == image.slot_count && image.length.size() == image.slot_count);
  FATHOM_CHECK(image.forward_begin.size() == size_t{image.slot_count} + 1);
  FATHOM_CHECK(image.term_offset.size() == image.terms.size() + 1);
  FATHOM_CHECK(slot_of == nullptr || slot_of->size() == image.slot_count);
  Clear();
  auto moved = [&](uint32_t slot) { return slot_of == nullptr ? slot : (*slot_of)[slot]; };
  // Slots, lengths and per-slot term ids at their new places.
  uint32_t last_document = 0;
  bool any = false;
  for (uint32_t s = 0; s < image.slot_count; ++s) {
    if (image.has_document[s]) {
      last_document = s;
      any = true;
    }
  }
  const size_t slots = any ? size_t{moved(last_document)} + 1 : 0;
  state_.assign(slots, kEmpty);
  length_.assign(slots, 0);
  if (slot_of == nullptr) {
    sealed_terms_ = std::move(image.forward);
    sealed_terms_begin_ = std::move(image.forward_begin);
    sealed_terms_begin_.resize(slots + 1);
  } else {
    sealed_terms_begin_.assign(slots + 1, 0);
    sealed_terms_.reserve(image.forward.size());
  }
  for (uint32_t s = 0; s < image.slot_count; ++s) {
    if (!image.has_document[s]) continue;
    const uint32_t to = moved(s);
    state_[to] = kSealed;
    length_[to] = image.length[s];
    live_docs_ += 1;
    total_length_ += image.length[s];
  }
  if (slot_of != nullptr) {
    // Runs in slot order either way (the mapping is increasing): each run is copied, and
    // the starts of the slots between two documents repeat the previous end.
    size_t next = 0;  // first new slot whose start is not set yet
    for (uint32_t s = 0; s < image.slot_count; ++s) {
      if (!image.has_document[s]) continue;
      const uint32_t to = moved(s);
      for (; next <= to; ++next) sealed_terms_begin_[next] = sealed_terms_.size();
      sealed_terms_.append(image.forward, image.forward_begin[s], image.forward_begin[size_t{s} + 1] -
                                                                          image.forward_begin[s]);
    }
    for (; next <= slots; ++next) sealed_terms_begin_[next] = sealed_terms_.size();
  }
  sealed_docs_ = live_docs_;

  term_chars_ = std::move(image.term_chars);
  term_offset_ = std::move(image.term_offset);
  terms_ = std::move(image.terms);
  RebuildTable();

  if (slot_of == nullptr) {
    blocks_ = std::move(image.blocks);
    sealed_bytes_ = std::move(image.postings);
  } else {
    // Each block again with its slots moved: same postings, same order, new gaps.
    blocks_.reserve(image.blocks.size());
    sealed_bytes_.reserve(image.postings.size() + image.postings.size() / 8);
    const auto* bytes = reinterpret_cast<const uint8_t*>(image.postings.data());
    PostingsBlock block;
    for (const BlockMeta& meta : image.blocks) {
      DecodeBlockTrusted(bytes + meta.offset, &block);
      for (uint32_t i = 0; i < block.count; ++i) block.slots[i] = moved(block.slots[i]);
      BlockMeta fresh = meta;
      fresh.first_slot = block.slots[0];
      fresh.last_slot = block.slots[block.count - 1];
      fresh.offset = sealed_bytes_.size();
      EncodeBlock(block.slots, block.tfs, block.count, &sealed_bytes_);
      blocks_.push_back(fresh);
    }
    sealed_bytes_.append(kUnpackPaddingBytes, '\0');
  }
}

}  // namespace fathom
