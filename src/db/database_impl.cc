#include "db/database_impl.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <unordered_set>

#include "common/limits.h"
#include "common/random.h"
#include "catalog/drop_record.h"
#include "db/memory_budget.h"
#include "db/validate.h"
#include "io/commit_object.h"
#include "io/local_store.h"
#include "io/store_factory.h"
#include "io/store_probe.h"
#include "storage/manifest.h"

namespace fathom {

namespace {

Status CollectionNotFound(const std::string& name) {
  return Status::NotFound("Collection [" + name + "] does not exist");
}

template <typename T>
std::vector<T> Page(const std::vector<T>& all, std::optional<uint32_t> limit, uint32_t offset) {
  std::vector<T> out;
  for (size_t i = offset; i < all.size() && (!limit || out.size() < *limit); ++i) out.push_back(all[i]);
  return out;
}

// Fills in what the engine relies on being set.
DatabaseOptions WithDefaults(DatabaseOptions options) {
  if (!options.clock) options.clock = RealClock();
  return options;
}

}  // namespace

DatabaseImpl::DatabaseImpl(std::shared_ptr<ObjectStore> store, const DatabaseOptions& options)
    : store_(std::move(store)),
      options_(WithDefaults(options)),
      vector_caches_(std::make_shared<BlockCachePool>(MemoryBudget::Resolve(options).vector_cache_bytes)),
      catalog_store_(store_, options_.clock.get(), options_.gc_grace),
      shared_(options_.sharing == DatabaseOptions::Sharing::kShared) {}

Result<std::unique_ptr<DatabaseImpl>> DatabaseImpl::Open(const DatabaseOptions& options) {
  std::shared_ptr<ObjectStore> store = options.store;
  std::unique_ptr<DirectoryLock> lock;
  if (!store) {
    if (options.path.empty() && options.store_url.empty()) {
      return Status::InvalidArgument("DatabaseOptions needs a path, a store_url or a store");
    }
    if (!options.path.empty() && !options.store_url.empty()) {
      return Status::InvalidArgument("DatabaseOptions takes a path or a store_url, not both");
    }
  }
  // Checked before the store is touched; the constructor and collections divide it again.
  FATHOM_RETURN_IF_ERROR(MemoryBudget::Plan(options).status());
  if (!(options.vector_recall_target >= 0.0 && options.vector_recall_target <= 1.0)) {
    return Status::InvalidArgument("DatabaseOptions::vector_recall_target must be in (0, 1] (0 = the default 0.95)");
  }
  if (!store) {
    // A path is a directory even if it contains "://"; only store_url is parsed.
    Result<StoreLocation> location =
        options.path.empty() ? ParseStoreUrl(options.store_url) : Result<StoreLocation>(StoreLocation::Local(options.path));
    FATHOM_RETURN_IF_ERROR(location.status());
    location->endpoint = options.store_endpoint;
    location->cache_dir = options.store_cache_dir;
    location->cache_bytes = options.store_cache_bytes;
    location->cache_filter = [](const std::string& key) { return IsCollectionDataKey(key); };
    FATHOM_ASSIGN_OR_RETURN(OpenedStore opened, OpenStore(*location));
    store = std::move(opened.store);
    lock = std::move(opened.lock);
  }
  // With a background thread, the probe key's delete is sent after the open, by that
  // thread (FinishOpen): it decides nothing, and costs a round trip on the open's path.
  std::string probe_leftover;
  if (Status probe = options.background_compaction ? ProbeCreateOnlyLeavingKey(*store, &probe_leftover)
                                                     : ProbeCreateOnly(*store);
      !probe.ok()) {
    // A full or read-only store cannot take the probe's write, but its data can still be
    // served; its writes fail with the same clear error until it can take them.
    if (probe.code() != StatusCode::kStorageFull && probe.code() != StatusCode::kUnavailable) return probe;
    spdlog::warn("{}; opening anyway: reads are served, writes fail until the store takes them",
                 probe.ToString());
  }
  // Sharing: s3:// is meant for several nodes; a directory has one owner (its lock), and
  // a caller's store is shared only when the caller says so.
  DatabaseOptions resolved = options;
  if (resolved.sharing == DatabaseOptions::Sharing::kAuto) {
    const bool s3 = !options.store && options.path.empty() && options.store_url.rfind("s3://", 0) == 0;
    resolved.sharing = s3 ? DatabaseOptions::Sharing::kShared : DatabaseOptions::Sharing::kSingleNode;
  }
  if (resolved.gc_grace.count() < 0) {
    resolved.gc_grace = resolved.sharing == DatabaseOptions::Sharing::kShared ? limits::kSharedGcGraceDefault
                                                                               : std::chrono::milliseconds(0);
  }
  std::unique_ptr<DatabaseImpl> db(new DatabaseImpl(store, resolved));
  db->directory_lock_ = std::move(lock);
  if (db->shared_) db->check_executor_ = std::make_unique<ThreadPool>(kLookupCheckThreads);
  if (Status loaded = db->Load(); !loaded.ok()) {
    if (!probe_leftover.empty()) (void)store->Delete(probe_leftover);
    return loaded;
  }
  if (options.background_compaction) {
    // What the open needs no answer from (the probe key's delete, the orphan sweep: two
    // LISTs and more) runs first on the background thread, while the database answers;
    // WaitIdle waits for it.
    db->compaction_running_ = true;
    db->compaction_executor_ = std::make_unique<ThreadPool>(1);
    db->compaction_executor_->Submit([raw = db.get(), probe_leftover] {
      raw->FinishOpen(probe_leftover);
      raw->CompactionLoop();
    });
  } else {
    db->RemoveOrphans();
  }
  return db;
}

void DatabaseImpl::FinishOpen(const std::string& probe_key) {
  if (!probe_key.empty()) (void)store_->Delete(probe_key);  // a leftover costs a few bytes, nothing else
  bool stopping;
  {
    std::lock_guard<std::mutex> lock(compaction_mu_);
    stopping = stopping_;
  }
  if (!stopping) RemoveOrphans();
  {
    std::lock_guard<std::mutex> lock(compaction_mu_);
    compaction_running_ = false;
  }
  idle_cv_.notify_all();
}

DatabaseImpl::~DatabaseImpl() {
  {
    std::lock_guard<std::mutex> lock(compaction_mu_);
    stopping_ = true;
  }
  compaction_cv_.notify_all();
  compaction_executor_.reset();  // waits for CompactionLoop to return
  std::vector<std::shared_ptr<CollectionImpl>> handles;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, handle] : open_) {
      handle->MarkClosed();
      handles.push_back(handle);
    }
  }
  // Calls already running (a write, a Compact() on another thread) finish before the
  // directory lock is released: the next owner must not see them commit afterwards.
  for (const auto& handle : handles) handle->WaitForCalls();
  for (const auto& handle : dropped_handles_) handle->WaitForCalls();
}

Status DatabaseImpl::Load() {
  std::lock_guard<std::mutex> lock(mu_);
  FATHOM_ASSIGN_OR_RETURN(catalog_, catalog_store_.Load());
  if (catalog_.version == 0) {
    // No catalog yet: a new database, unless collection data is already there (a partial
    // copy or restore). A fresh catalog would orphan that data, so refuse instead.
    FATHOM_ASSIGN_OR_RETURN(std::vector<ObjectInfo> data, store_->List("c/", "", 1));
    if (!data.empty()) {
      return Status::FailedPrecondition(
          "the data directory " + store_->Describe() + " holds collection data (" + data[0].key +
          ") but no catalog (catalog/ is missing or empty): it looks like a partial copy or restore. fathom "
          "will not open it, so that nothing is lost: restore catalog/ from the same copy, or move c/ away to "
          "start an empty database");
    }
    CatalogState initial;
    initial.tenants.push_back({Database::kDefaultTenant});
    initial.databases.push_back({NewUuidV4(), Database::kDefaultDatabase, Database::kDefaultTenant});
    FATHOM_RETURN_IF_ERROR(CommitLocked(std::move(initial)));
  }
  return Status::Ok();
}

Status DatabaseImpl::CommitLocked(CatalogState next) {
  FATHOM_RETURN_IF_ERROR(FreshLocked());
  Status s = catalog_store_.Commit(&next);
  if (!s.ok()) {
    // The commit may have landed. Collections it removes may be gone: their handles take
    // no more writes (an acknowledged write to a deleted collection would be lost), and
    // nothing is decided on the catalog in memory until the stored one is read back.
    std::vector<std::string> removed;
    for (const CatalogCollection& c : catalog_.collections) {
      if (std::none_of(next.collections.begin(), next.collections.end(),
                       [&](const CatalogCollection& n) { return n.id == c.id; })) {
        removed.push_back(c.id);
      }
    }
    KeepDroppedLocked(DropHandlesLocked(removed));
    catalog_stale_ = true;
    (void)FreshLocked();
    return s.WithContext("catalog commit");
  }
  catalog_ = std::move(next);
  for (const CatalogCollection& c : catalog_.collections) {
    auto it = metas_.find(c.id);
    if (it != metas_.end()) {
      std::lock_guard<std::mutex> meta_lock(it->second->mu);
      it->second->entry = c;
    }
  }
  return Status::Ok();
}

Status DatabaseImpl::FreshLocked() {
  if (!catalog_stale_) return Status::Ok();
  auto reloaded = catalog_store_.Load();
  if (!reloaded.ok()) {
    return Status::Unavailable("the catalog could not be read back after a failed commit; retry (" +
                               reloaded.status().ToString() + ")");
  }
  catalog_ = std::move(*reloaded);
  catalog_stale_ = false;
  // Entries whose catalog row changed or vanished must not keep stale handles.
  std::vector<std::string> vanished;
  for (auto& [entry_id, meta] : metas_) {
    const std::string& id = entry_id;  // a structured binding cannot be captured before C++20 in clang 14
    auto found = std::find_if(catalog_.collections.begin(), catalog_.collections.end(),
                              [&](const CatalogCollection& c) { return c.id == id; });
    if (found == catalog_.collections.end()) {
      vanished.push_back(id);
    } else {
      std::lock_guard<std::mutex> meta_lock(meta->mu);
      meta->entry = *found;
    }
  }
  KeepDroppedLocked(DropHandlesLocked(vanished));
  return Status::Ok();
}

void DatabaseImpl::KeepDroppedLocked(std::vector<std::shared_ptr<CollectionImpl>> handles) {
  // Handles nobody else holds run no calls and can be forgotten.
  std::erase_if(dropped_handles_, [](const std::shared_ptr<CollectionImpl>& h) { return h.use_count() == 1; });
  for (auto& handle : handles) dropped_handles_.push_back(std::move(handle));
}

Result<std::unique_lock<std::mutex>> DatabaseImpl::LockFresh(CatalogRead read) {
  std::unique_lock<std::mutex> lock(mu_);
  // Another node may have changed the catalog: on a shared store, read it again (kStored),
  // or when a newer version exists (kChecked: one GET of the next version, or a LIST when
  // the last confirmation is half a grace old; CatalogStore::NewerExists).
  if (read == CatalogRead::kStored && shared_) catalog_stale_ = true;
  if (read == CatalogRead::kChecked && shared_ && !catalog_stale_) {
    FATHOM_ASSIGN_OR_RETURN(bool newer, catalog_store_.NewerExists(catalog_.version));
    if (newer) catalog_stale_ = true;
  }
  FATHOM_RETURN_IF_ERROR(FreshLocked());
  return lock;
}

void DatabaseImpl::RemoveOrphans() {
  // Collections whose deletion was committed but whose data was not (all) deleted: a
  // crash in between. Only what a drop record names is deleted, and only when the
  // catalog does not name it (the record of a delete whose catalog commit failed names
  // live collections).
  //
  // The records are listed before the catalog is read: a delete writes its record before
  // its catalog commit, so a collection a listed record names is either still in the
  // catalog read after (its delete not committed, or failed) or truly deleted. Read the
  // other way round, a collection created and then deleted (commit failed) by another
  // node in between would look deleted. On a shared store the catalog is read from the
  // store for this (the open runs this in the background, after requests may have
  // started).
  auto records = store_->List(std::string(kDropRecordPrefix));
  if (!records.ok()) return;  // tried again at the next open
  std::unordered_set<std::string> known;
  {
    auto lock = LockFresh(CatalogRead::kStored);
    if (!lock.ok()) return;
    for (const CatalogCollection& c : catalog_.collections) known.insert(c.id);
  }
  for (const ObjectInfo& record : *records) {
    auto bytes = store_->Get(record.key);
    if (!bytes.ok()) continue;
    auto ids = DecodeDropRecord(*bytes);
    if (!ids.ok()) {
      spdlog::warn("ignoring drop record {} ({}); the collections it names keep their data", record.key,
                   ids.status().ToString());
      continue;
    }
    std::vector<std::string> gone;
    for (const std::string& id : *ids) {
      if (known.count(id) == 0) gone.push_back(id);
    }
    if (DeleteCollectionData(gone, {})) (void)store_->Delete(record.key);
  }
  // Data nothing accounts for is kept, and said.
  auto objects = store_->List("c/");
  if (!objects.ok()) return;
  std::unordered_set<std::string> unknown;
  for (const ObjectInfo& o : *objects) {
    size_t slash = o.key.find('/', 2);
    if (slash == std::string::npos) continue;
    std::string id = o.key.substr(2, slash - 2);
    if (known.count(id) == 0 && unknown.insert(id).second) {
      spdlog::warn("keeping the objects of collection {}: the catalog does not name it and no drop record does "
                   "(a partial copy or restore?)",
                   id);
    }
  }
}

std::shared_ptr<CollectionImpl> DatabaseImpl::HandleLocked(const CatalogCollection& entry) {
  auto it = open_.find(entry.id);
  if (it != open_.end()) return it->second;
  auto meta = std::make_shared<CollectionMeta>();
  meta->entry = entry;
  metas_[entry.id] = meta;
  auto handle = std::make_shared<CollectionImpl>(
      meta, store_, options_, vector_caches_, [this](std::weak_ptr<CollectionImpl> c) { ScheduleCompaction(std::move(c)); });
  // A dropped handle of the same collection (a failed commit dropped it, and the
  // collection turned out to exist) must be finished before the new one recovers; the
  // new handle waits for it in its first call, outside mu_.
  for (const auto& old : dropped_handles_) {
    if (old->id() == entry.id) handle->set_predecessor(old);
  }
  open_[entry.id] = handle;
  return handle;
}

std::vector<std::shared_ptr<CollectionImpl>> DatabaseImpl::DropHandlesLocked(const std::vector<std::string>& ids) {
  std::vector<std::shared_ptr<CollectionImpl>> dropped;
  for (const std::string& id : ids) {
    if (auto it = open_.find(id); it != open_.end()) {
      it->second->MarkDropped();
      dropped.push_back(std::move(it->second));
      open_.erase(it);
    }
    metas_.erase(id);
  }
  return dropped;
}

bool DatabaseImpl::DeleteCollectionData(const std::vector<std::string>& ids,
                                        const std::vector<std::shared_ptr<CollectionImpl>>& handles) {
  // A compaction still running on a dropped handle could write after the deletion.
  for (const auto& handle : handles) handle->WaitForCalls();
  bool all = true;
  for (const std::string& id : ids) {
    auto objects = store_->List(CollectionPrefix(id));
    if (!objects.ok()) {
      all = false;  // the drop record stays; the next open tries again
      continue;
    }
    std::vector<std::string> keys;
    keys.reserve(objects->size());
    for (const ObjectInfo& o : *objects) keys.push_back(o.key);
    for (const Status& s : store_->DeleteMany(keys)) all = s.ok() && all;
  }
  return all;
}

Status DatabaseImpl::CommitDrop(std::unique_lock<std::mutex>* lock, CatalogState next,
                                const std::vector<std::string>& ids) {
  std::string record_key;
  if (!ids.empty()) {
    FATHOM_ASSIGN_OR_RETURN(std::string record, EncodeDropRecord(ids));
    record_key = DropRecordKey(NewUuidV4());
    FATHOM_RETURN_IF_ERROR(CommitObject(*store_, record_key, record).WithContext("drop record"));
  }
  // On failure the record stays: it names collections the catalog still holds (unless
  // the commit landed after all), which the next open tells apart.
  FATHOM_RETURN_IF_ERROR(CommitLocked(std::move(next)));
  std::vector<std::shared_ptr<CollectionImpl>> handles = DropHandlesLocked(ids);
  // Handles an earlier failed commit dropped may still be running too.
  for (const auto& old : dropped_handles_) {
    if (std::find(ids.begin(), ids.end(), old->id()) != ids.end()) handles.push_back(old);
  }
  lock->unlock();
  if (DeleteCollectionData(ids, handles) && !record_key.empty()) (void)store_->Delete(record_key);
  return Status::Ok();
}

bool DatabaseImpl::DatabaseExistsLocked(const std::string& tenant, const std::string& name) const {
  return std::any_of(catalog_.databases.begin(), catalog_.databases.end(),
                     [&](const DatabaseInfo& d) { return d.tenant == tenant && d.name == name; });
}

// ---- tenants and databases --------------------------------------------------------------

Status DatabaseImpl::CreateTenant(const std::string& name) {
  FATHOM_RETURN_IF_ERROR(ValidateTenantName(name));
  FATHOM_ASSIGN_OR_RETURN(std::unique_lock<std::mutex> lock, LockFresh(CatalogRead::kStored));
  for (const TenantInfo& t : catalog_.tenants) {
    if (t.name == name) return Status::AlreadyExists("Tenant [" + name + "] already exists");
  }
  CatalogState next = catalog_;
  next.tenants.push_back({name});
  return CommitLocked(std::move(next));
}

Result<TenantInfo> DatabaseImpl::GetTenant(const std::string& name) {
  for (CatalogRead read : {CatalogRead::kCached, CatalogRead::kStored}) {
    FATHOM_ASSIGN_OR_RETURN(std::unique_lock<std::mutex> lock, LockFresh(read));
    for (const TenantInfo& t : catalog_.tenants) {
      if (t.name == name) return t;
    }
    if (!shared_) break;  // a miss on a shared store reads the catalog again (another node's change)
  }
  return Status::NotFound("Tenant [" + name + "] not found");
}

Status DatabaseImpl::CreateDatabase(const std::string& tenant, const std::string& name) {
  FATHOM_RETURN_IF_ERROR(ValidateName(name));
  FATHOM_ASSIGN_OR_RETURN(std::unique_lock<std::mutex> lock, LockFresh(CatalogRead::kStored));
  if (DatabaseExistsLocked(tenant, name)) return Status::AlreadyExists("Database [" + name + "] already exists");
  CatalogState next = catalog_;
  next.databases.push_back({NewUuidV4(), name, tenant});
  return CommitLocked(std::move(next));
}

Result<DatabaseInfo> DatabaseImpl::GetDatabase(const std::string& tenant, const std::string& name) {
  for (CatalogRead read : {CatalogRead::kCached, CatalogRead::kStored}) {
    FATHOM_ASSIGN_OR_RETURN(std::unique_lock<std::mutex> lock, LockFresh(read));
    for (const DatabaseInfo& d : catalog_.databases) {
      if (d.tenant == tenant && d.name == name) return d;
    }
    if (!shared_) break;
  }
  return Status::NotFound("Database [" + name + "] not found. Are you sure it exists?");
}

Result<std::vector<DatabaseInfo>> DatabaseImpl::ListDatabases(const std::string& tenant, std::optional<uint32_t> limit,
                                                              uint32_t offset) {
  FATHOM_ASSIGN_OR_RETURN(std::unique_lock<std::mutex> lock, LockFresh(CatalogRead::kStored));
  std::vector<DatabaseInfo> all;
  for (const DatabaseInfo& d : catalog_.databases) {
    if (d.tenant == tenant) all.push_back(d);
  }
  return Page(all, limit, offset);
}

Status DatabaseImpl::DeleteDatabase(const std::string& tenant, const std::string& name) {
  FATHOM_ASSIGN_OR_RETURN(std::unique_lock<std::mutex> lock, LockFresh(CatalogRead::kStored));
  if (!DatabaseExistsLocked(tenant, name)) {
    return Status::NotFound("Database [" + name + "] not found. Are you sure it exists?");
  }
  std::vector<std::string> dropped;
  CatalogState next = catalog_;
  std::erase_if(next.databases, [&](const DatabaseInfo& d) { return d.tenant == tenant && d.name == name; });
  std::erase_if(next.collections, [&](const CatalogCollection& c) {
    bool gone = c.tenant == tenant && c.database == name;
    if (gone) dropped.push_back(c.id);
    return gone;
  });
  return CommitDrop(&lock, std::move(next), dropped);
}

// ---- collections ------------------------------------------------------------------------

Result<std::shared_ptr<CollectionImpl>> DatabaseImpl::CreateCollection(const std::string& tenant,
                                                                       const std::string& database,
                                                                       const CreateCollectionRequest& request,
                                                                       bool* created) {
  FATHOM_RETURN_IF_ERROR(ValidateName(request.name));
  if (request.metadata) FATHOM_RETURN_IF_ERROR(ValidateMetadataKeys(*request.metadata, "metadata", 0));
  if (request.sparse_key) {
    const std::string& key = *request.sparse_key;
    if (key.empty() || key[0] == '#' || key[0] == '$' || key.size() > limits::kMetadataKeyBytesMax) {
      return Status::InvalidArgument("a sparse vector index key must be a metadata key: non-empty, at most " +
                                     std::to_string(limits::kMetadataKeyBytesMax) +
                                     " bytes, not starting with '#' or '$'");
    }
  }
  if (request.text_analyzer) {
    // Refused options never reach the catalog, where they would fail every open.
    FATHOM_RETURN_IF_ERROR(CollectionImpl::MakeTextAnalyzer(request.text_analyzer).status());
  }
  std::shared_ptr<CollectionImpl> handle;
  {
    FATHOM_ASSIGN_OR_RETURN(std::unique_lock<std::mutex> lock, LockFresh(CatalogRead::kStored));
    if (!DatabaseExistsLocked(tenant, database)) {
      return Status::InvalidArgument("Database [" + database + "] does not exist");
    }
    for (const CatalogCollection& c : catalog_.collections) {
      if (c.tenant == tenant && c.database == database && c.name == request.name) {
        if (!request.get_or_create) return Status::AlreadyExists("Collection [" + request.name + "] already exists");
        if (created) *created = false;
        handle = HandleLocked(c);
        break;
      }
    }
    if (!handle) {
      if (catalog_.collections.size() >= limits::kCollectionsMax) {
        return Status::ResourceExhausted("too many collections (limit " + std::to_string(limits::kCollectionsMax) + ")");
      }
      CatalogCollection entry;
      entry.id = NewUuidV4();
      entry.name = request.name;
      entry.tenant = tenant;
      entry.database = database;
      if (request.metadata && !request.metadata->empty()) entry.metadata = request.metadata;
      entry.space = request.space;
      entry.configuration_json = request.configuration_json;
      entry.text_analyzer = request.text_analyzer;
      entry.sparse_key = request.sparse_key;
      CatalogState next = catalog_;
      next.collections.push_back(entry);
      FATHOM_RETURN_IF_ERROR(CommitLocked(std::move(next)));
      if (created) *created = true;
      handle = HandleLocked(entry);
    }
  }
  FATHOM_RETURN_IF_ERROR(handle->EnsureOpen());
  return handle;
}

Result<std::shared_ptr<CollectionImpl>> DatabaseImpl::FindOpen(
    const std::function<bool(const CatalogCollection&)>& match, Status not_found) {
  std::shared_ptr<CollectionImpl> handle;
  // A collection another node deleted or changed must not be served from this node's copy.
  for (CatalogRead read : {CatalogRead::kChecked, CatalogRead::kStored}) {
    FATHOM_ASSIGN_OR_RETURN(std::unique_lock<std::mutex> lock, LockFresh(read));
    auto it = std::find_if(catalog_.collections.begin(), catalog_.collections.end(), match);
    if (it != catalog_.collections.end()) {
      handle = HandleLocked(*it);
      break;
    }
    if (!shared_) break;  // a miss on a shared store reads the catalog again (another node's change)
  }
  if (!handle) return not_found;
  FATHOM_RETURN_IF_ERROR(handle->EnsureOpen());
  return handle;
}

Result<std::shared_ptr<CollectionImpl>> DatabaseImpl::GetCollection(const std::string& tenant,
                                                                    const std::string& database,
                                                                    const std::string& name) {
  return FindOpen(
      [&](const CatalogCollection& c) { return c.tenant == tenant && c.database == database && c.name == name; },
      CollectionNotFound(name));
}

Result<std::shared_ptr<CollectionImpl>> DatabaseImpl::GetCollectionById(const std::string& tenant,
                                                                        const std::string& database,
                                                                        const std::string& id,
                                                                        uint64_t* checked_ahead) {
  auto match = [&](const CatalogCollection& c) { return c.id == id && c.tenant == tenant && c.database == database; };
  Status not_found = Status::NotFound("Collection [" + id + "] does not exist.");
  if (checked_ahead != nullptr && shared_) return FindOpenCheckingAhead(match, std::move(not_found), checked_ahead);
  return FindOpen(match, std::move(not_found));
}

Result<std::shared_ptr<CollectionImpl>> DatabaseImpl::FindOpenCheckingAhead(
    const std::function<bool(const CatalogCollection&)>& match, Status not_found, uint64_t* checked_ahead) {
  // The handle the cached catalog names, if this node has it open: a collection not open
  // yet is loaded by the lookup, and a load is a freshness check of its own.
  std::shared_ptr<CollectionImpl> open;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = std::find_if(catalog_.collections.begin(), catalog_.collections.end(), match);
    if (it != catalog_.collections.end()) {
      if (auto found = open_.find(it->id); found != open_.end() && found->second->IsOpen()) open = found->second;
    }
  }
  if (!open) return FindOpen(match, std::move(not_found));
  // The two checks are independent: each starts after the lookup began, so each sees
  // what was committed before it (the catalog: deletes and changes of the collection;
  // the WAL: writes to it); neither's answer changes what the other must read
  // (docs/design/object-storage.md, "A lookup and a strong read, in one round").
  Result<std::shared_ptr<CollectionImpl>> found = Status::Unavailable("not looked up");
  Result<uint64_t> ahead = Status::Unavailable("not checked");
  check_executor_->ParallelFor(2, 2, [&](size_t i) {
    if (i == 0) {
      found = FindOpen(match, not_found);
    } else {
      ahead = open->CheckFreshAhead();
    }
  });
  // A check that failed is not reported here: the read makes its own and reports it.
  if (found.ok() && found->get() == open.get() && ahead.ok()) *checked_ahead = *ahead;
  return found;
}

Result<std::vector<CollectionInfo>> DatabaseImpl::ListCollections(const std::string& tenant,
                                                                  const std::string& database,
                                                                  std::optional<uint32_t> limit, uint32_t offset) {
  std::vector<std::shared_ptr<CollectionImpl>> handles;
  {
    FATHOM_ASSIGN_OR_RETURN(std::unique_lock<std::mutex> lock, LockFresh(CatalogRead::kStored));
    std::vector<CatalogCollection> all;
    for (const CatalogCollection& c : catalog_.collections) {
      if (c.tenant == tenant && c.database == database) all.push_back(c);
    }
    for (const CatalogCollection& c : Page(all, limit, offset)) handles.push_back(HandleLocked(c));
  }
  std::vector<CollectionInfo> out;
  for (const auto& h : handles) {
    FATHOM_ASSIGN_OR_RETURN(CollectionInfo info, h->Info());
    out.push_back(std::move(info));
  }
  return out;
}

Result<uint64_t> DatabaseImpl::CountCollections(const std::string& tenant, const std::string& database) {
  FATHOM_ASSIGN_OR_RETURN(std::unique_lock<std::mutex> lock, LockFresh(CatalogRead::kStored));
  return static_cast<uint64_t>(std::count_if(
      catalog_.collections.begin(), catalog_.collections.end(),
      [&](const CatalogCollection& c) { return c.tenant == tenant && c.database == database; }));
}

Status DatabaseImpl::ModifyCollection(const std::string& tenant, const std::string& database, const std::string& id,
                                      const ModifyCollectionRequest& request) {
  if (request.new_name) FATHOM_RETURN_IF_ERROR(ValidateName(*request.new_name));
  if (request.new_metadata && *request.new_metadata) {
    FATHOM_RETURN_IF_ERROR(ValidateMetadataKeys(**request.new_metadata, "metadata", 0));
  }
  FATHOM_ASSIGN_OR_RETURN(std::unique_lock<std::mutex> lock, LockFresh(CatalogRead::kStored));
  CatalogState next = catalog_;
  auto it = std::find_if(next.collections.begin(), next.collections.end(), [&](const CatalogCollection& c) {
    return c.id == id && c.tenant == tenant && c.database == database;
  });
  if (it == next.collections.end()) return Status::NotFound("Collection [" + id + "] does not exist.");
  if (request.new_name && *request.new_name != it->name) {
    for (const CatalogCollection& c : next.collections) {
      if (c.tenant == tenant && c.database == database && c.name == *request.new_name) {
        return Status::AlreadyExists("Collection [" + *request.new_name + "] already exists");
      }
    }
    it->name = *request.new_name;
  }
  if (request.new_metadata) {
    it->metadata = *request.new_metadata;
    if (it->metadata && it->metadata->empty()) it->metadata.reset();
  }
  if (request.new_configuration_json) it->configuration_json = *request.new_configuration_json;
  return CommitLocked(std::move(next));
}

Status DatabaseImpl::DeleteCollection(const std::string& tenant, const std::string& database,
                                      const std::string& name) {
  FATHOM_ASSIGN_OR_RETURN(std::unique_lock<std::mutex> lock, LockFresh(CatalogRead::kStored));
  std::vector<std::string> dropped;
  CatalogState next = catalog_;
  std::erase_if(next.collections, [&](const CatalogCollection& c) {
    bool gone = c.tenant == tenant && c.database == database && c.name == name;
    if (gone) dropped.push_back(c.id);
    return gone;
  });
  if (dropped.empty()) return CollectionNotFound(name);
  return CommitDrop(&lock, std::move(next), dropped);
}

Status DatabaseImpl::Reset() {
  FATHOM_ASSIGN_OR_RETURN(std::unique_lock<std::mutex> lock, LockFresh(CatalogRead::kStored));
  std::vector<std::string> dropped;
  for (const CatalogCollection& c : catalog_.collections) dropped.push_back(c.id);
  CatalogState next;
  next.tenants.push_back({Database::kDefaultTenant});
  next.databases.push_back({NewUuidV4(), Database::kDefaultDatabase, Database::kDefaultTenant});
  return CommitDrop(&lock, std::move(next), dropped);
}

// ---- background compaction --------------------------------------------------------------

void DatabaseImpl::ScheduleCompaction(std::weak_ptr<CollectionImpl> collection) {
  {
    std::lock_guard<std::mutex> lock(compaction_mu_);
    if (stopping_ || !options_.background_compaction) return;
    compaction_queue_.push_back(std::move(collection));
  }
  compaction_cv_.notify_all();
}

void DatabaseImpl::CompactionLoop() {
  Clock& clock = *options_.clock;
  std::unique_lock<std::mutex> lock(compaction_mu_);
  while (true) {
    // Failed jobs whose delay is over are queued again.
    const Clock::TimePoint now = clock.Now();
    std::optional<Clock::TimePoint> next_retry;
    for (auto it = compaction_retries_.begin(); it != compaction_retries_.end();) {
      if (it->due <= now) {
        compaction_queue_.push_back(std::move(it->collection));
        it = compaction_retries_.erase(it);
      } else {
        next_retry = next_retry ? std::min(*next_retry, it->due) : it->due;
        ++it;
      }
    }
    if (stopping_) break;
    if (compaction_queue_.empty()) {
      auto ready = [&] { return stopping_ || !compaction_queue_.empty(); };
      if (next_retry) {
        clock.WaitUntil(compaction_cv_, lock, *next_retry, ready);
      } else {
        compaction_cv_.wait(lock, ready);
      }
      continue;
    }
    std::weak_ptr<CollectionImpl> next = std::move(compaction_queue_.front());
    compaction_queue_.pop_front();
    compaction_running_ = true;
    lock.unlock();
    std::shared_ptr<CollectionImpl> collection = next.lock();
    Status s = collection ? collection->BackgroundWork() : Status::Ok();
    lock.lock();
    if (collection) {
      const std::string& id = collection->id();
      // A failure that may pass (a full or read-only disk, an I/O error) is retried by
      // itself, with a growing delay: a collection's WAL must not wait for its next write.
      const bool retry = !s.ok() && s.code() != StatusCode::kNotFound && s.code() != StatusCode::kCorruption &&
                         s.code() != StatusCode::kInvalidArgument && !stopping_;
      if (retry) {
        // One pending retry per collection; the delay grows with the failures of the
        // retries themselves, not with those of jobs that writes scheduled meanwhile.
        const bool pending = std::any_of(compaction_retries_.begin(), compaction_retries_.end(),
                                         [&](const CompactionRetry& r) { return r.collection.lock() == collection; });
        if (!pending) {
          auto& delay = compaction_backoff_[id];
          delay = std::clamp(delay * 2, limits::kCompactionRetryDelayMin, limits::kCompactionRetryDelayMax);
          spdlog::warn("compaction of collection {} failed (retrying in {} ms): {}", id, delay.count(), s.ToString());
          compaction_retries_.push_back({clock.Now() + delay, next});
        }
      } else {
        if (!s.ok() && s.code() != StatusCode::kNotFound) {
          spdlog::warn("compaction of collection {} failed (retried after its next write): {}", id, s.ToString());
        }
        compaction_backoff_.erase(id);
      }
    }
    compaction_running_ = false;
    idle_cv_.notify_all();
  }
  compaction_running_ = false;
  idle_cv_.notify_all();
}

Status DatabaseImpl::CompactAll() {
  std::vector<std::shared_ptr<CollectionImpl>> collections;
  {
    FATHOM_ASSIGN_OR_RETURN(std::unique_lock<std::mutex> lock, LockFresh());
    for (const CatalogCollection& c : catalog_.collections) collections.push_back(HandleLocked(c));
  }
  Status first;
  for (const auto& collection : collections) {
    Status s = collection->Compact();
    if (!s.ok() && first.ok()) first = s.WithContext("collection " + collection->id());
  }
  return first;
}

void DatabaseImpl::WaitIdle() {
  std::unique_lock<std::mutex> lock(compaction_mu_);
  idle_cv_.wait(lock, [&] { return stopping_ || (compaction_queue_.empty() && !compaction_running_); });
}

}  // namespace fathom
