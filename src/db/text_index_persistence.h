// A collection's persisted document indexes (docs/format/text-index.md): compaction
// snapshots the table's TextIndex and TrigramIndex with the state the manifest will
// describe and encodes them later, without the table's lock; recovery loads them in place
// of reading every compacted document again, after checking that they were made for
// exactly the rows the segments gave, and the BM25 part by the collection's analyzer
// (docs/design/text-index.md, "Persistence"). Derived data: an index LoadTextIndex does
// not load is rebuilt by the caller.
// Thread-safety: TakeTextIndexSnapshot and LoadTextIndex read the table (the caller holds
// its lock); EncodeTextIndexSnapshot touches only its argument. PersistedTextIndex: as
// PersistedIndex (db/collection_index.h) says.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <roaring/roaring.hh>

#include <memory>

#include "db/collection_index.h"
#include "db/table_index_object.h"
#include "db/record_table.h"
#include "fathom/status.h"
#include "index/text/analyzer.h"
#include "index/text/inverted_index.h"
#include "index/text/text_index.h"
#include "index/text/trigram_index.h"

namespace fathom {

struct TextIndexSnapshot {
  InvertedIndex index;                // a copy of the table's inverted index
  std::vector<uint32_t> rank_of_slot;  // table slot -> rank among live rows (kNoSlot for dead)
  bool dense = false;                 // every slot live: ranks are slots
  uint32_t live_rows = 0;
  AnalyzerOptions analyzer;
  LiveRowChecksums rows;  // the documents' checksums, hashed at encoding
  // A copy of the table's trigram index (slots), and what cleans it of stale entries (the
  // slots the index was not told of a removal for): their current documents, as the
  // rows hold them (in RAM, or stored in `segments`).
  TrigramIndex::SortedPostings trigrams;
  Roaring trigram_stale;
  std::vector<std::pair<uint32_t, Row>> stale_documents;  // live stale slots with a document
  std::vector<std::shared_ptr<const RecordsSegmentReader>> segments;
};

// The table's text index and what identifies its rows, or nullopt when no live row has a
// document (nothing worth persisting). Copies the inverted index: O(its memory).
std::optional<TextIndexSnapshot> TakeTextIndexSnapshot(const RecordTable& table);
// Hashes the rows' identity, renumbers the copies to ranks (for the inverted index a
// rebuild of its sealed part,
// skipped when it is sealed and dense), drops the trigram copy's stale entries (reading
// the stale slots' stored documents: IOError / Corruption when that fails) and encodes
// the object.
Result<std::string> EncodeTextIndexSnapshot(TextIndexSnapshot snapshot);

// Decodes `bytes` and, when it was made for exactly the table's live rows (count, record
// offsets, documents), loads its BM25 part into `text` if made by `text`'s analyzer, and
// its trigram part (version 2) into `trigram`. Per index, Ok when loaded, else Corruption
// (or NotFound: a version 1 object has no trigram part) naming the first difference, the
// index left untouched.
RecordTable::DocumentIndexLoad LoadTextIndex(std::string_view bytes, const RecordTable& table, TextIndex* text,
                                             TrigramIndex* trigram);

// The text index object as one of a collection's persisted indexes. The indexes it holds
// are the table's (its document indexes): at open the object is handed to the table's
// seal (RecordTable::OfferDocumentIndexes), which loads them from it beside the other
// row indexes' builds and builds from the documents those it could not load. Its state is
// whether the manifest's object describes the table's document indexes (TableIndexObject).
class PersistedTextIndex final : public TableIndexObject {
 public:
  static const PersistedIndexKind kKind;
  const PersistedIndexKind& kind() const override { return kKind; }
  Status LoadObject(RecordTable& table, const std::string& key, std::string bytes) override;
  // The manifest names no usable object although the table has documents.
  bool ObjectStale(const RecordTable& table) const override;
  std::unique_ptr<IndexSnapshot> SnapshotObject(const RecordTable& table) override;
};

}  // namespace fathom
