// TextIndex: a collection's full-text index over its documents, a RowIndex
// (index/row_index.h) kept in step with the rows: the analyzer (analyzer.h) turns each
// document into tokens, the inverted index (inverted_index.h) holds them and answers
// BM25 top-k. Queries are analyzed by the same analyzer, so a query token matches the
// document tokens it would have produced. Design: docs/design/text-index.md.
// Thread-safety: Search is safe concurrently; changes are exclusive (the table's lock).
#pragma once

#include <roaring/roaring.hh>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "index/row_index.h"
#include "index/text/analyzer.h"
#include "index/text/inverted_index.h"

namespace fathom {

class TextIndex final : public RowIndex {
 public:
  explicit TextIndex(std::shared_ptr<const Analyzer> analyzer = Analyzer::Default());

  Field field() const override { return Field::kDocument; }
  void Add(uint32_t slot, const RecordView& row) override;
  void Remove(uint32_t slot, const RecordView& row) override;
  // The inverted index remembers each slot's terms.
  bool RemoveReadsValue() const override { return false; }
  void Clear() override { index_.Clear(); }
  void BulkAdd(uint32_t slot, const RecordView& row) override;
  void Seal() override { index_.Seal(); }
  bool Renumber(const std::vector<uint32_t>& old_to_new) override {
    index_.Renumber(old_to_new);
    return true;
  }
  size_t MemoryBytes() const override { return index_.MemoryBytes(); }

  // The k best documents for `text` by BM25 (higher score first), among `filter` when
  // non-null. Empty when the text has no token.
  std::vector<ScoredSlot> Search(std::string_view text, uint32_t k, const Roaring* filter,
                                 const Bm25Params& params) const;

  const Analyzer& analyzer() const { return *analyzer_; }
  // Replaces the analyzer. Only while the index holds no document: documents already
  // indexed would keep the old analyzer's tokens.
  void set_analyzer(std::shared_ptr<const Analyzer> analyzer);
  const InvertedIndex& inverted_index() const { return index_; }
  // Replaces the documents by a persisted sealed part (InvertedIndex::LoadSealed), which
  // the caller checked was made by this analyzer for these rows.
  void LoadSealed(InvertedIndex::SealedImage image, const std::vector<uint32_t>* slot_of) {
    index_.LoadSealed(std::move(image), slot_of);
  }

 private:
  std::shared_ptr<const Analyzer> analyzer_;
  InvertedIndex index_;
  std::vector<std::string> scratch_;  // tokens of the document being added (writers only)
};

}  // namespace fathom
