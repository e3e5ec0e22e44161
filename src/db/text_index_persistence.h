// A collection's persisted full-text index (docs/format/text-index.md): compaction
// snapshots the table's TextIndex with the state the manifest will describe and encodes it
// later, without the table's lock; recovery loads it in place of analyzing every
// compacted document again, after checking that it was made by the collection's analyzer
// for exactly the rows the segments gave (docs/design/text-index.md, "Persistence").
// Derived data: a caller that gets an error from LoadTextIndex rebuilds the index.
// Thread-safety: TakeTextIndexSnapshot and LoadTextIndex read the table (the caller holds
// its lock); EncodeTextIndexSnapshot touches only its argument.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "db/record_table.h"
#include "fathom/status.h"
#include "index/text/analyzer.h"
#include "index/text/inverted_index.h"
#include "index/text/text_index.h"

namespace fathom {

struct TextIndexSnapshot {
  InvertedIndex index;                // a copy of the table's inverted index
  std::vector<uint32_t> rank_of_slot;  // table slot -> rank among live rows (kNoSlot for dead)
  bool dense = false;                 // every slot live: ranks are slots
  uint32_t live_rows = 0;
  AnalyzerOptions analyzer;
  uint64_t offsets_hash = 0;
  uint64_t documents_hash = 0;
};

// The table's text index and what identifies its rows, or nullopt when no live row has a
// document (nothing worth persisting). Copies the inverted index: O(its memory).
std::optional<TextIndexSnapshot> TakeTextIndexSnapshot(const RecordTable& table);
// Renumbers the copy to ranks (a rebuild of its sealed part, skipped when it is sealed and
// dense) and encodes the object.
Result<std::string> EncodeTextIndexSnapshot(TextIndexSnapshot snapshot);

// Decodes `bytes` and, when it was made by `index`'s analyzer for exactly the table's live
// rows (count, record offsets, documents), loads it into `index`. Corruption naming the
// first difference otherwise, leaving `index` untouched.
Status LoadTextIndex(std::string_view bytes, const RecordTable& table, TextIndex* index);

}  // namespace fathom
