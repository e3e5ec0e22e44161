// The embedded fathom engine: Database (catalog of tenants, databases and collections)
// and Collection (records, reads and writes).
//
//   auto db = fathom::Database::Open({.path = "./data"});
//   auto col = (*db)->CreateCollection("default_tenant", "default_database", {.name = "docs"});
//   (*col)->Add({{.id = "a", .embedding = std::vector<float>{1, 0, 0}}});
//
// Thread-safety: Database and Collection are safe to use from many threads at once.
// Writes to one collection are group-committed: concurrent writers share one durable
// write-ahead-log object. A write that returns OK is durable and visible to every later read.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fathom/options.h"
#include "fathom/status.h"
#include "fathom/search.h"
#include "fathom/types.h"

namespace fathom {

class CollectionImpl;
class DatabaseImpl;

// How a collection lookup will be used (Database::GetCollectionById).
struct CollectionLookup {
  // The caller reads through the returned handle at once, at the default read level (an
  // HTTP get, query, search or count does). On a shared store the lookup then sends that
  // read's freshness check (the next WAL object) together with its own catalog check, and
  // the first strong read through the handle uses that check instead of making its own:
  // one round trip before the read instead of two. Both checks start after the lookup
  // does, so the read still sees every write acknowledged before the lookup began. Leave
  // it false for a handle kept for later reads (they would see only the writes
  // acknowledged before the lookup).
  bool read_at_once = false;
};

// A handle to one collection. Handles stay valid after the collection is deleted; every
// operation on a deleted collection then returns NotFound.
class Collection {
 public:
  explicit Collection(std::shared_ptr<CollectionImpl> impl);
  ~Collection();

  const std::string& id() const;
  // Catalog view: name, metadata, configuration, current dimension.
  Result<CollectionInfo> Info() const;

  // Adds records; an id that already exists is left unchanged (Chroma semantics).
  Status Add(std::vector<WriteRecord> records);
  // Inserts new ids; for existing ids behaves like Update (metadata merged key by key).
  Status Upsert(std::vector<WriteRecord> records);
  // Changes the given fields of existing ids; missing ids are ignored.
  Status Update(std::vector<WriteRecord> records);
  // Deletes by ids and/or filter. Returns Chroma's count: ids sent when deleting by ids
  // alone, else the number of records matched (capped by limit).
  Result<uint64_t> Delete(const DeleteRequest& request);

  Result<GetResult> Get(const GetRequest& request) const;
  // A candidate id (QueryRequest::ids) that names no record is NotFound, with a message
  // that starts with kMissingQueryIdMessage and names the id.
  Result<QueryResult> Query(const QueryRequest& request) const;
  static constexpr std::string_view kMissingQueryIdMessage = "Error finding id ";
  // The number of records. On a shared store (DatabaseOptions::sharing) the default
  // read level first applies what other nodes committed; kIndexOnly answers from what
  // this node has already applied (Chroma's `read_level=index_only`).
  Result<uint64_t> Count(ReadLevel level = ReadLevel::kIndexAndWal) const;
  // The records a filtered Get would return, counted without reading them: the filter is
  // evaluated on the metadata index as a bitmap and its cardinality taken (document
  // predicates are still verified per candidate). Chroma's count has no filter; this is
  // fathom's (the C++ API only).
  Result<uint64_t> Count(const CountRequest& request) const;
  // The Search API (include/fathom/search.h, docs/design/search-api.md): one result per
  // search, in request order. A filter's invalid regex or a rank leaf over a missing index
  // is InvalidArgument.
  Result<std::vector<SearchResult>> Search(const SearchRequest& request) const;

  // Brings the vector index up to date and folds the WAL tail into a segment now
  // (normally done in the background).
  Status Compact();
  // How much of the collection the vector index covers.
  Result<VectorIndexStats> IndexStats() const;

 private:
  friend class Database;
  static constexpr uint64_t kNoCheck = UINT64_MAX;

  std::shared_ptr<CollectionImpl> impl_;
  // The freshness check a CollectionLookup::read_at_once lookup made (the arrival number
  // it serves, see CollectionImpl::CheckFreshAhead), used once by the first strong read.
  mutable std::atomic<uint64_t> lookup_check_{kNoCheck};
};

class Database {
 public:
  static constexpr const char* kDefaultTenant = "default_tenant";
  static constexpr const char* kDefaultDatabase = "default_database";

  // Opens (creating if needed) the store named by options, checks that it honours
  // create-only writes, loads the catalog and recovers every collection.
  static Result<std::unique_ptr<Database>> Open(const DatabaseOptions& options);
  ~Database();

  Status CreateTenant(const std::string& name);
  Result<TenantInfo> GetTenant(const std::string& name) const;

  Status CreateDatabase(const std::string& tenant, const std::string& name);
  Result<DatabaseInfo> GetDatabase(const std::string& tenant, const std::string& name) const;
  // In creation order. limit nullopt = all.
  Result<std::vector<DatabaseInfo>> ListDatabases(const std::string& tenant,
                                                  std::optional<uint32_t> limit,
                                                  uint32_t offset) const;
  // Deletes the database and every collection in it.
  Status DeleteDatabase(const std::string& tenant, const std::string& name);

  // Creates a collection, or with get_or_create returns the existing one unchanged.
  // `created` (optional out) tells which happened.
  Result<std::shared_ptr<Collection>> CreateCollection(const std::string& tenant,
                                                       const std::string& database,
                                                       const CreateCollectionRequest& request,
                                                       bool* created = nullptr);
  Result<std::shared_ptr<Collection>> GetCollection(const std::string& tenant,
                                                    const std::string& database,
                                                    const std::string& name) const;
  // By UUID, within a tenant and database (the Chroma routes always name both).
  Result<std::shared_ptr<Collection>> GetCollectionById(const std::string& tenant,
                                                        const std::string& database,
                                                        const std::string& id,
                                                        CollectionLookup lookup = {}) const;
  // In creation order.
  Result<std::vector<CollectionInfo>> ListCollections(const std::string& tenant,
                                                      const std::string& database,
                                                      std::optional<uint32_t> limit,
                                                      uint32_t offset) const;
  Result<uint64_t> CountCollections(const std::string& tenant, const std::string& database) const;
  Status ModifyCollection(const std::string& tenant, const std::string& database,
                          const std::string& id, const ModifyCollectionRequest& request);
  Status DeleteCollection(const std::string& tenant, const std::string& database,
                          const std::string& name);

  // Deletes everything and recreates the default tenant and database.
  Status Reset();

  // Waits for background work (compaction) to go idle. For tests and clean shutdown.
  void WaitIdle();

  // Compacts every collection now (Collection::Compact: index maintenance, then the WAL
  // tail folded into a segment). Returns the first error; the others still run.
  Status CompactAll();

 private:
  explicit Database(std::unique_ptr<DatabaseImpl> impl);
  std::unique_ptr<DatabaseImpl> impl_;
};

}  // namespace fathom
