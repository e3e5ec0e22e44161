#include "index/text/text_index.h"

#include <utility>

#include "common/assert.h"

namespace fathom {

TextIndex::TextIndex(std::shared_ptr<const Analyzer> analyzer) : analyzer_(std::move(analyzer)) {}

void TextIndex::set_analyzer(std::shared_ptr<const Analyzer> analyzer) {
  FATHOM_CHECK(analyzer != nullptr);
  FATHOM_CHECK(index_.doc_count() == 0 && index_.term_count() == 0);
  analyzer_ = std::move(analyzer);
}

void TextIndex::Add(uint32_t slot, const RecordView& row) {
  scratch_.clear();
  analyzer_->Tokenize(*row.document, &scratch_);
  index_.Insert(slot, scratch_);
}

void TextIndex::Remove(uint32_t slot, const RecordView& row) {
  (void)row;  // the inverted index remembers the slot's terms
  index_.Erase(slot);
}

void TextIndex::BulkAdd(uint32_t slot, const RecordView& row) {
  scratch_.clear();
  analyzer_->Tokenize(*row.document, &scratch_);
  index_.BulkInsert(slot, scratch_);
}

std::vector<ScoredSlot> TextIndex::Search(std::string_view text, uint32_t k, const Roaring* filter,
                                          const Bm25Params& params) const {
  std::vector<std::string> terms;
  analyzer_->Tokenize(text, &terms);
  if (terms.empty() || k == 0) return {};
  return index_.Search(terms, k, filter, params);
}

}  // namespace fathom
