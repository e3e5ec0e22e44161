#include "db/text_index_persistence.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "index/text/text_index_format.h"

namespace fathom {
namespace {

bool SameAnalyzer(const AnalyzerOptions& a, const AnalyzerOptions& b) {
  return a.remove_diacritics == b.remove_diacritics && a.stemmer == b.stemmer && a.stop_words == b.stop_words;
}

// Rank of each live row in slot order, and what the object records of the rows (their
// documents' checksums: stored with a document kept in a segment, computed for one in RAM).
struct LiveRows : LiveRanks {
  bool any_document = false;
  LiveRowChecksums identity;
};

LiveRows ScanLiveRows(const RecordTable& table) {
  LiveRows out;
  out.identity.Reserve(table.live_count());
  RankLiveRows(table, &out, [&](size_t slot, const Row& row) {
    out.any_document = out.any_document || row.has_document();
    out.identity.Add(row.offset, table.DocumentChecksum(slot));
  });
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
  snapshot.rows = std::move(rows.identity);
  const TrigramIndex* trigram = table.trigram_index();
  snapshot.trigrams = trigram->CopySortedPostings();
  snapshot.trigram_stale = trigram->stale_slots();
  for (uint32_t slot : snapshot.trigram_stale) {
    if (slot >= table.slot_count() || !table.live()[slot] || !table.row(slot).has_document()) continue;
    const Row& r = table.row(slot);
    Row copy;
    copy.id = r.id;
    copy.document = r.document;
    copy.document_segment = r.document_segment;
    copy.document_at = r.document_at;
    copy.document_checksum = r.document_checksum;
    snapshot.stale_documents.emplace_back(slot, std::move(copy));
  }
  if (!snapshot.stale_documents.empty()) snapshot.segments = table.segments();
  return snapshot;
}

namespace {

// The snapshot's trigram postings without stale entries, renumbered to ranks and
// run-optimized: the stale slots leave every list, then go back into their current
// documents' lists.
Result<TrigramIndex::SortedPostings> FreshTrigramsByRank(TextIndexSnapshot& snapshot) {
  TrigramIndex::SortedPostings postings = std::move(snapshot.trigrams);
  if (!snapshot.trigram_stale.isEmpty()) {
    std::vector<Row*> rows;
    for (auto& [slot, row] : snapshot.stale_documents) rows.push_back(&row);
    FATHOM_RETURN_IF_ERROR(RecordTable::FetchDocuments(snapshot.segments, rows));
    std::vector<std::pair<uint32_t, uint32_t>> added;  // (trigram, slot)
    for (const auto& [slot, row] : snapshot.stale_documents) {
      for (uint32_t key : TrigramIndex::DocumentTrigrams(*row.document)) added.emplace_back(key, slot);
    }
    std::sort(added.begin(), added.end());
    for (auto& [key, slots] : postings) slots -= snapshot.trigram_stale;
    // Both lists are sorted by key: merge the additions in.
    size_t next = 0;
    const size_t known = postings.size();
    for (size_t i = 0; i < added.size();) {
      const uint32_t key = added[i].first;
      size_t end = i;
      std::vector<uint32_t> slots;
      for (; end < added.size() && added[end].first == key; ++end) slots.push_back(added[end].second);
      while (next < known && postings[next].first < key) ++next;
      if (next < known && postings[next].first == key) {
        postings[next].second.addMany(slots.size(), slots.data());
      } else {
        postings.emplace_back(key, Roaring(slots.size(), slots.data()));
      }
      i = end;
    }
    std::sort(postings.begin(), postings.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  }
  TrigramIndex::SortedPostings out;
  out.reserve(postings.size());
  std::vector<uint32_t> ranks;
  for (auto& [key, slots] : postings) {
    if (!snapshot.dense) {
      ranks.clear();
      for (uint32_t slot : slots) {
        const uint32_t rank = slot < snapshot.rank_of_slot.size() ? snapshot.rank_of_slot[slot] : RecordTable::kNoSlot;
        if (rank != RecordTable::kNoSlot) ranks.push_back(rank);
      }
      slots = Roaring(ranks.size(), ranks.data());
    }
    if (slots.isEmpty()) continue;
    slots.runOptimize();
    out.emplace_back(key, std::move(slots));
  }
  return out;
}

}  // namespace

Result<std::string> EncodeTextIndexSnapshot(TextIndexSnapshot snapshot) {
  TextIndexObject object;
  FATHOM_ASSIGN_OR_RETURN(object.trigrams, FreshTrigramsByRank(snapshot));
  if (!snapshot.dense || !snapshot.index.sealed_only()) snapshot.index.Renumber(snapshot.rank_of_slot);
  object.analyzer = std::move(snapshot.analyzer);
  const LiveRowChecksums::Hashes hashes = snapshot.rows.Hash();
  object.offsets_hash = hashes.offsets;
  object.documents_hash = hashes.contents;
  object.image = snapshot.index.TakeSealed(snapshot.live_rows);
  return EncodeTextIndexObject(object);
}

RecordTable::DocumentIndexLoad LoadTextIndex(std::string_view bytes, const RecordTable& table, TextIndex* text,
                                             TrigramIndex* trigram) {
  RecordTable::DocumentIndexLoad out;
  auto refuse_both = [&](Status why) {
    out.text = why;
    out.trigram = std::move(why);
    return out;
  };
  auto object = DecodeTextIndexObject(bytes);
  if (!object.ok()) return refuse_both(object.status());
  if (object->image.slot_count != table.live_count()) {
    return refuse_both(Status::Corruption("text index object: made for " + std::to_string(object->image.slot_count) +
                                          " rows, the segments hold " + std::to_string(table.live_count())));
  }
  LiveRows rows = ScanLiveRows(table);
  const LiveRowChecksums::Hashes hashes = rows.identity.Hash();
  if (object->offsets_hash != hashes.offsets) {
    return refuse_both(Status::Corruption("text index object: made for other rows than the segments hold"));
  }
  if (object->documents_hash != hashes.contents) {
    return refuse_both(Status::Corruption("text index object: made for other documents than the segments hold"));
  }
  const bool dense = rows.live == table.slot_count();
  // The trigram index does not depend on the analyzer.
  if (object->trigrams) {
    trigram->LoadSealed(std::move(*object->trigrams));
    if (!dense) (void)trigram->Renumber(rows.slot_of_rank);
    out.trigram = Status::Ok();
  } else {
    out.trigram = object->trigram_status;
  }
  if (!SameAnalyzer(object->analyzer, text->analyzer().options())) {
    out.text = Status::Corruption("text index object: made with other analyzer options than the collection's");
  } else {
    text->LoadSealed(std::move(object->image), dense ? nullptr : &rows.slot_of_rank);
    out.text = Status::Ok();
  }
  return out;
}

// ---- PersistedTextIndex ----------------------------------------------------------------

const PersistedIndexKind PersistedTextIndex::kKind = {"text index", &Manifest::text_index, &TextIndexPrefix,
                                                   &TextIndexKey};

Status PersistedTextIndex::LoadObject(RecordTable& table, const std::string& key, std::string bytes) {
  // A text index object that is missing, damaged or made for other rows or another
  // analyzer costs a rebuild (reading the compacted documents) of the document indexes it
  // cannot give, never the collection. The bytes live until the seal has used them.
  table.OfferDocumentIndexes([this, key, bytes = std::move(bytes)](const RecordTable& sealed, TextIndex* text,
                                                                    TrigramIndex* trigram) {
    RecordTable::DocumentIndexLoad loaded = LoadTextIndex(bytes, sealed, text, trigram);
    if (!loaded.text.ok()) {
      spdlog::warn("ignoring text index {} ({}); rebuilt from the documents", key, loaded.text.ToString());
    } else if (!loaded.trigram.ok()) {
      spdlog::warn("no trigram index in text index {} ({}); rebuilt from the documents", key,
                   loaded.trigram.ToString());
    }
    object_current_ = loaded.all_loaded();
    return loaded;
  });
  return Status::Ok();
}

bool PersistedTextIndex::ObjectStale(const RecordTable& table) const {
  return !object_current_ && table.text_index() != nullptr && table.text_index()->inverted_index().doc_count() != 0;
}

std::unique_ptr<IndexSnapshot> PersistedTextIndex::SnapshotObject(const RecordTable& table) {
  std::optional<TextIndexSnapshot> snapshot = TakeTextIndexSnapshot(table);
  if (!snapshot) return nullptr;
  const uint64_t rows = snapshot->live_rows;
  return std::make_unique<EncodedLaterSnapshot<TextIndexSnapshot, &EncodeTextIndexSnapshot>>(std::move(*snapshot),
                                                                                              rows);
}

}  // namespace fathom
