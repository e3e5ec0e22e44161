// RowSource: what the query layer sees of a collection's records. The query layer plans
// and evaluates reads against this narrow view (live slots, a row's fields, id lookup,
// the metadata, trigram and text indexes), never against the storage that holds the rows.
// Thread-safety: callers hold whatever lock the implementation's owner requires for reads.
#pragma once

#include <roaring/roaring.hh>

#include <cstdint>
#include <optional>
#include <string>

#include "index/meta/filter.h"
#include "index/meta/metadata_index.h"
#include "index/text/text_index.h"
#include "index/text/trigram_index.h"

namespace fathom {

class RowSource {
 public:
  virtual ~RowSource() = default;
  // Slots of live records, in insertion order (slot order is the order reads return).
  virtual const Roaring& live_slots() const = 0;
  // One live record's fields. The view is used at once: it may refer to storage that the
  // next few views reuse (a document read on demand, db/document_reads.h).
  virtual RecordView view(uint32_t slot) const = 0;
  // view(slot) for a caller that reads only the id and metadata: the document may be
  // absent from it even when the record has one (no read on demand for it).
  virtual RecordView metadata_view(uint32_t slot) const { return view(slot); }
  // A hint that the documents of `slots` are about to be viewed: an implementation that
  // reads them on demand may read them in one batch now. Errors surface at view().
  virtual void PrefetchDocuments(const Roaring& slots) const { (void)slots; }
  virtual std::optional<uint32_t> FindSlot(const std::string& id) const = 0;
  virtual const MetadataIndex& metadata_index() const = 0;
  // Candidates for document predicates; null when the rows have none (every document is
  // then tested).
  virtual const TrigramIndex* trigram_index() const { return nullptr; }
  // BM25 over the documents; null when the rows have none.
  virtual const TextIndex* text_index() const { return nullptr; }
};

}  // namespace fathom
