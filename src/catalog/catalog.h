// The catalog: tenants, databases and collections (with their configuration).
//
// Stored as a sequence of immutable snapshots, catalog/<version:020>, each the whole
// catalog; a change commits version+1 with a create-only Put, so two writers cannot both
// win. Old versions beyond limits::kCatalogVersionsKept are deleted. Byte layout:
// docs/format/catalog.md. Thread-safety: CatalogStore is not synchronised; DatabaseImpl
// serialises catalog changes under its own mutex.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fathom/status.h"
#include "fathom/types.h"
#include "io/object_store.h"

namespace fathom {

inline constexpr char kCatalogMagic[4] = {'F', 'C', 'A', 'T'};
// Version 2 adds a collection's text analyzer options, version 3 its sparse vector key.
// A catalog is written at the lowest version that holds what it has (version 1 when no
// collection has either), which older binaries can read.
inline constexpr uint16_t kCatalogFormatVersion = 3;
inline constexpr uint16_t kCatalogFormatVersionMin = 1;
// A stemmer language's name (libstemmer's are at most a dozen bytes).
inline constexpr size_t kCatalogStemmerBytesMax = 64;

struct CatalogCollection {
  std::string id;
  std::string name;
  std::string tenant;
  std::string database;
  std::optional<Metadata> metadata;
  DistanceSpace space = DistanceSpace::kL2;
  std::string configuration_json;
  // nullopt: the default analyzer. Bounded by kCatalogStemmerBytesMax and the analyzer's
  // kAnalyzerStopWordsMax / kAnalyzerStopWordBytesMax; validated by Analyzer::Make when
  // the collection is created and again when it opens, not here.
  std::optional<TextAnalyzerOptions> text_analyzer;
  // The metadata key of the collection's sparse vector index (at most
  // limits::kMetadataKeyBytesMax bytes); nullopt: none.
  std::optional<std::string> sparse_key;
};

struct CatalogState {
  uint64_t version = 0;                        // 0 = nothing committed yet
  std::vector<TenantInfo> tenants;             // creation order
  std::vector<DatabaseInfo> databases;         // creation order
  std::vector<CatalogCollection> collections;  // creation order
};

// InvalidArgument naming the limit (nothing encoded) when `state` breaks a limit that
// DecodeCatalog enforces: limits::kCatalogStringBytesMax for ids and names,
// limits::kCatalogConfigurationBytesMax for a configuration, the metadata limits, the
// text analyzer bounds above.
Result<std::string> EncodeCatalog(const CatalogState& state);
Result<CatalogState> DecodeCatalog(std::string_view bytes);

class CatalogStore {
 public:
  explicit CatalogStore(std::shared_ptr<ObjectStore> store) : store_(std::move(store)) {}

  // The latest committed catalog, or an empty state with version 0.
  Result<CatalogState> Load();
  // Commits `next` as version current+1 (next->version is set). On AlreadyExists another
  // writer got there first: the caller must reload.
  Status Commit(CatalogState* next);

 private:
  std::shared_ptr<ObjectStore> store_;
  uint64_t current_version_ = 0;
};

std::string CatalogKey(uint64_t version);

}  // namespace fathom
