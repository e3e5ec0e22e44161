// DatabaseImpl: the catalog (tenants, databases, collections), the open collections,
// and the background compaction loop (one job on a one-thread executor of its own, which
// waits on options.clock between jobs).
//
// Catalog changes are serialised by mu_ and committed as catalog snapshots (see
// catalog/catalog.h) before they take effect in memory. Collections open lazily on
// first use. Thread-safety: all methods are safe to call concurrently.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "catalog/catalog.h"
#include "db/collection_impl.h"
#include "fathom/db.h"
#include "io/clock.h"
#include "io/executor.h"
#include "io/local_store.h"
#include "io/object_store.h"

namespace fathom {

// Threads that send a lookup's freshness check beside its catalog check on a shared
// store (CollectionLookup::read_at_once); lookups beyond them make both checks in turn.
inline constexpr size_t kLookupCheckThreads = 4;

class DatabaseImpl {
 public:
  static Result<std::unique_ptr<DatabaseImpl>> Open(const DatabaseOptions& options);
  ~DatabaseImpl();

  Status CreateTenant(const std::string& name);
  Result<TenantInfo> GetTenant(const std::string& name);
  Status CreateDatabase(const std::string& tenant, const std::string& name);
  Result<DatabaseInfo> GetDatabase(const std::string& tenant, const std::string& name);
  Result<std::vector<DatabaseInfo>> ListDatabases(const std::string& tenant, std::optional<uint32_t> limit,
                                                  uint32_t offset);
  Status DeleteDatabase(const std::string& tenant, const std::string& name);

  Result<std::shared_ptr<CollectionImpl>> CreateCollection(const std::string& tenant, const std::string& database,
                                                           const CreateCollectionRequest& request, bool* created);
  Result<std::shared_ptr<CollectionImpl>> GetCollection(const std::string& tenant, const std::string& database,
                                                        const std::string& name);
  // With `checked_ahead` (CollectionLookup::read_at_once), on a shared store and for a
  // collection already open here, the collection's freshness check runs together with
  // the catalog check, and *checked_ahead is set to its arrival number
  // (CollectionImpl::CheckFreshAhead; unchanged if it was not made or failed).
  Result<std::shared_ptr<CollectionImpl>> GetCollectionById(const std::string& tenant, const std::string& database,
                                                            const std::string& id, uint64_t* checked_ahead = nullptr);
  Result<std::vector<CollectionInfo>> ListCollections(const std::string& tenant, const std::string& database,
                                                      std::optional<uint32_t> limit, uint32_t offset);
  Result<uint64_t> CountCollections(const std::string& tenant, const std::string& database);
  Status ModifyCollection(const std::string& tenant, const std::string& database, const std::string& id,
                          const ModifyCollectionRequest& request);
  Status DeleteCollection(const std::string& tenant, const std::string& database, const std::string& name);
  Status Reset();
  void WaitIdle();
  Status CompactAll();

 private:
  DatabaseImpl(std::shared_ptr<ObjectStore> store, const DatabaseOptions& options);
  Status Load();
  // Commits `next` as the new catalog; on failure reloads the stored catalog so memory
  // matches what is durable. Requires mu_.
  Status CommitLocked(CatalogState next);
  // After a commit whose outcome is unknown, reloads the stored catalog (and drops the
  // handles of collections it no longer names); Unavailable while it cannot be read.
  Status FreshLocked();
  // Keeps handles dropped outside a delete (their running calls are waited for by a later
  // delete, a re-created handle and close); forgets those nobody else holds.
  void KeepDroppedLocked(std::vector<std::shared_ptr<CollectionImpl>> handles);
  // mu_, with a catalog known to be the stored one. kStored on a shared store reads the
  // catalog again first (another node may have changed it): for lists, counts, changes,
  // and lookups that missed; kChecked reads it again only if a newer version is listed
  // (collection lookups).
  enum class CatalogRead { kCached, kChecked, kStored };
  Result<std::unique_lock<std::mutex>> LockFresh(CatalogRead read = CatalogRead::kCached);
  // The open handle for a catalog entry, opening it if needed. Requires mu_.
  std::shared_ptr<CollectionImpl> HandleLocked(const CatalogCollection& entry);
  // Marks the handles of `ids` dropped and forgets them; returns them, so that their
  // running calls can be waited for before their data is deleted.
  std::vector<std::shared_ptr<CollectionImpl>> DropHandlesLocked(const std::vector<std::string>& ids);
  // Waits for `handles`' running calls, then deletes every object of the given
  // collections (after the catalog no longer names them). True if every object is gone.
  bool DeleteCollectionData(const std::vector<std::string>& ids,
                            const std::vector<std::shared_ptr<CollectionImpl>>& handles);
  // Deletes collections `ids` by committing `next` (the catalog without them): a drop
  // record first (catalog/drop_record.h), then the catalog, then, with mu_ released, the
  // data and the record. `lock` holds mu_ on entry.
  Status CommitDrop(std::unique_lock<std::mutex>* lock, CatalogState next, const std::vector<std::string>& ids);
  // Deletes the collections that drop records name and the catalog does not (a delete
  // interrupted after its catalog commit); warns about data nothing names.
  void RemoveOrphans();
  // The open's work that the first answer does not wait for, on the background thread:
  // deletes the probe key `probe_key` (if not empty), then RemoveOrphans; clears
  // compaction_running_ (set by Open) so that WaitIdle returns after it.
  void FinishOpen(const std::string& probe_key);
  // The open handle of the first catalog entry `match` accepts, or `not_found`.
  Result<std::shared_ptr<CollectionImpl>> FindOpen(const std::function<bool(const CatalogCollection&)>& match,
                                                   Status not_found);
  // FindOpen with the found collection's freshness check sent at the same time as the
  // catalog check (see GetCollectionById).
  Result<std::shared_ptr<CollectionImpl>> FindOpenCheckingAhead(
      const std::function<bool(const CatalogCollection&)>& match, Status not_found, uint64_t* checked_ahead);
  bool DatabaseExistsLocked(const std::string& tenant, const std::string& name) const;
  void ScheduleCompaction(std::weak_ptr<CollectionImpl> collection);
  void CompactionLoop();

  std::shared_ptr<ObjectStore> store_;
  std::unique_ptr<DirectoryLock> directory_lock_;  // held while open (local directories only)
  DatabaseOptions options_;  // options_.clock is never null
  std::shared_ptr<BlockCachePool> vector_caches_;  // cold vectors of every collection

  std::mutex mu_;
  CatalogStore catalog_store_;
  const bool shared_;  // DatabaseOptions::Sharing::kShared
  CatalogState catalog_;
  bool catalog_stale_ = false;  // a commit failed and the stored catalog was not read back
  std::unordered_map<std::string, std::shared_ptr<CollectionMeta>> metas_;          // by id
  std::unordered_map<std::string, std::shared_ptr<CollectionImpl>> open_;           // by id
  // Handles dropped because a failed catalog commit removed their entry; closing waits
  // for their running calls too.
  std::vector<std::shared_ptr<CollectionImpl>> dropped_handles_;

  std::mutex compaction_mu_;
  std::condition_variable compaction_cv_;
  std::condition_variable idle_cv_;
  std::deque<std::weak_ptr<CollectionImpl>> compaction_queue_;
  struct CompactionRetry {
    Clock::TimePoint due;
    std::weak_ptr<CollectionImpl> collection;
  };
  std::vector<CompactionRetry> compaction_retries_;  // failed jobs, queued again when due
  std::unordered_map<std::string, std::chrono::milliseconds> compaction_backoff_;  // by collection id
  bool compaction_running_ = false;
  bool stopping_ = false;
  // Runs CompactionLoop while the database is open (background_compaction only).
  std::unique_ptr<Executor> compaction_executor_;
  // Runs a lookup's freshness check while the lookup's thread checks the catalog (shared
  // stores only). When all its threads are busy the lookup's thread makes both checks,
  // one after the other (Executor::ParallelFor).
  std::unique_ptr<Executor> check_executor_;
};

}  // namespace fathom
