// The catalog: tenants, databases and collections (with their configuration).
//
// Stored as a sequence of immutable snapshots, catalog/<version:020>, each the whole
// catalog; a change commits version+1 with a create-only Put, so two writers cannot both
// win. A superseded version is deleted once it is older than the last
// limits::kCatalogVersionsKept and this process has seen it superseded for the grace
// period (DatabaseOptions::gc_grace), so that a node can learn whether a newer catalog
// exists from one GET of the next version (NewerExists). Byte layout:
// docs/format/catalog.md; the protocol: docs/design/object-storage.md, "The catalog".
// Thread-safety: CatalogStore is not synchronised; DatabaseImpl serialises its calls
// under its own mutex.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fathom/status.h"
#include "fathom/types.h"
#include "io/clock.h"
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
  // `clock` outlives the store; `grace` is how long a superseded version is kept after
  // this process first saw it superseded (0: at once, for a store with one owner).
  CatalogStore(std::shared_ptr<ObjectStore> store, Clock* clock, Clock::Duration grace)
      : store_(std::move(store)), clock_(clock), grace_(grace) {}

  // The latest committed catalog, or an empty state with version 0. One LIST and one GET.
  Result<CatalogState> Load();
  // Commits `next` as version current+1 (next->version is set). On AlreadyExists another
  // writer got there first: the caller must reload.
  Status Commit(CatalogState* next);
  // Whether a catalog newer than `version` (the one loaded or committed last) is stored.
  // One GET of catalog/<version+1> (404: none) while the last confirmation that `version`
  // was the newest (a Load, a Commit, or a check that found none) started less than half
  // a grace ago: a version is deleted only a grace period after it was superseded, so a
  // newer version written since that confirmation still has its successor-of-`version`
  // key in the store. Past that, one LIST after `version` (max-keys 1).
  Result<bool> NewerExists(uint64_t version);

 private:
  // Deletes the superseded versions whose time is up (failures are retried next commit).
  void DeleteSuperseded();

  std::shared_ptr<ObjectStore> store_;
  Clock* const clock_;
  const Clock::Duration grace_;
  uint64_t current_version_ = 0;
  // When the last Load, Commit or NewerExists that found current_version_ the newest
  // started; nullopt before the first.
  std::optional<Clock::TimePoint> confirmed_at_;
  // Superseded versions waiting out the grace period, and when this process first saw
  // them superseded (never earlier than they were: a restart only delays deletion).
  std::unordered_map<std::string, Clock::TimePoint> superseded_since_;
};

std::string CatalogKey(uint64_t version);

}  // namespace fathom
