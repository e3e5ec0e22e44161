#include "server/search_writer.h"

namespace fathom::server {

namespace {

// One column across the searches: null for a search that did not select it.
template <typename Selected, typename WriteRow>
void Column(JsonWriter& w, const char* name, const std::vector<SearchResult>& results, Selected selected,
            WriteRow write_row) {
  w.Key(name);
  w.StartArray();
  for (const SearchResult& r : results) {
    if (!selected(r)) {
      w.Null();
      continue;
    }
    w.StartArray();
    for (size_t i = 0; i < r.ids.size(); ++i) write_row(r, i);
    w.EndArray();
  }
  w.EndArray();
}

}  // namespace

void WriteSearchResults(JsonWriter& w, const std::vector<SearchResult>& results) {
  w.StartObject();
  w.Key("ids");
  w.StartArray();
  for (const SearchResult& r : results) w.StringArray(r.ids);
  w.EndArray();
  Column(
      w, "documents", results, [](const SearchResult& r) { return r.select.document; },
      [&](const SearchResult& r, size_t i) {
        if (i < r.documents.size()) {
          w.OptionalString(r.documents[i]);
        } else {
          w.Null();
        }
      });
  Column(
      w, "embeddings", results, [](const SearchResult& r) { return r.select.embedding; },
      [&](const SearchResult& r, size_t i) {
        if (i < r.embeddings.size() && r.embeddings[i].has_value()) {
          w.FloatArray(*r.embeddings[i]);
        } else {
          w.Null();
        }
      });
  Column(
      w, "metadatas", results,
      [](const SearchResult& r) { return r.select.metadata || !r.select.metadata_keys.empty(); },
      [&](const SearchResult& r, size_t i) {
        if (i < r.metadatas.size()) {
          w.OptionalMetadata(r.metadatas[i]);
        } else {
          w.Null();
        }
      });
  Column(
      w, "scores", results, [](const SearchResult& r) { return r.select.score; },
      [&](const SearchResult& r, size_t i) {
        if (i < r.scores.size() && r.scores[i].has_value()) {
          w.Float(*r.scores[i]);
        } else {
          w.Null();
        }
      });
  w.Key("select");
  w.StartArray();
  for (const SearchResult& r : results) w.StringArray(r.select.keys);
  w.EndArray();
  w.EndObject();
}

}  // namespace fathom::server
