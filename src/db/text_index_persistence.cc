#include "db/text_index_persistence.h"

#include <utility>

#include "index/text/text_index_format.h"

namespace fathom {
namespace {

bool SameAnalyzer(const AnalyzerOptions& a, const AnalyzerOptions& b) {
  return a.remove_diacritics == b.remove_diacritics && a.stemmer == b.stemmer && a.stop_words == b.stop_words;
}

// Rank of each live row in slot order, and the hashes the object records of the rows.
struct LiveRows {
  std::vector<uint32_t> rank_of_slot;
  std::vector<uint32_t> slot_of_rank;
  uint32_t live = 0;
  bool any_document = false;
  uint64_t offsets_hash = 0;
  uint64_t documents_hash = 0;
};

LiveRows ScanLiveRows(const RecordTable& table) {
  LiveRows out;
  out.rank_of_slot.assign(table.slot_count(), RecordTable::kNoSlot);
  out.slot_of_rank.reserve(table.live_count());
  TextIndexRowsHasher hasher;
  for (size_t slot = 0; slot < table.slot_count(); ++slot) {
    if (!table.live()[slot]) continue;
    const Row& row = table.row(slot);
    out.rank_of_slot[slot] = out.live++;
    out.slot_of_rank.push_back(static_cast<uint32_t>(slot));
    out.any_document = out.any_document || row.has_document();
    hasher.AddRowChecksum(row.offset, table.DocumentChecksum(slot));
  }
  out.offsets_hash = hasher.offsets_hash();
  out.documents_hash = hasher.documents_hash();
  return out;
}

}  // namespace

std::optional<TextIndexSnapshot> TakeTextIndexSnapshot(const RecordTable& table) {
  const TextIndex* text = table.text_index();
  if (text == nullptr || table.live_count() > kTextIndexRowsMax) return std::nullopt;
  LiveRows rows = ScanLiveRows(table);
  if (!rows.any_document) return std::nullopt;
  TextIndexSnapshot snapshot;
  snapshot.index = text->inverted_index();
  snapshot.dense = rows.live == table.slot_count();
  snapshot.rank_of_slot = std::move(rows.rank_of_slot);
  snapshot.live_rows = rows.live;
  snapshot.analyzer = text->analyzer().options();
  snapshot.offsets_hash = rows.offsets_hash;
  snapshot.documents_hash = rows.documents_hash;
  return snapshot;
}

Result<std::string> EncodeTextIndexSnapshot(TextIndexSnapshot snapshot) {
  if (!snapshot.dense || !snapshot.index.sealed_only()) snapshot.index.Renumber(snapshot.rank_of_slot);
  TextIndexObject object;
  object.analyzer = std::move(snapshot.analyzer);
  object.offsets_hash = snapshot.offsets_hash;
  object.documents_hash = snapshot.documents_hash;
  object.image = snapshot.index.TakeSealed(snapshot.live_rows);
  return EncodeTextIndexObject(object);
}

Status LoadTextIndex(std::string_view bytes, const RecordTable& table, TextIndex* index) {
  FATHOM_ASSIGN_OR_RETURN(TextIndexObject object, DecodeTextIndexObject(bytes));
  if (!SameAnalyzer(object.analyzer, index->analyzer().options())) {
    return Status::Corruption("text index object: made with other analyzer options than the collection's");
  }
  if (object.image.slot_count != table.live_count()) {
    return Status::Corruption("text index object: made for " + std::to_string(object.image.slot_count) +
                              " rows, the segments hold " + std::to_string(table.live_count()));
  }
  LiveRows rows = ScanLiveRows(table);
  if (object.offsets_hash != rows.offsets_hash) {
    return Status::Corruption("text index object: made for other rows than the segments hold");
  }
  if (object.documents_hash != rows.documents_hash) {
    return Status::Corruption("text index object: made for other documents than the segments hold");
  }
  const bool dense = rows.live == table.slot_count();
  index->LoadSealed(std::move(object.image), dense ? nullptr : &rows.slot_of_rank);
  return Status::Ok();
}

}  // namespace fathom
