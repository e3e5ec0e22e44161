// The public API (include/fathom/db.h): thin wrappers over DatabaseImpl / CollectionImpl.
#include "fathom/db.h"

#include "db/database_impl.h"

namespace fathom {

const char* DistanceSpaceName(DistanceSpace space) {
  switch (space) {
    case DistanceSpace::kL2: return "l2";
    case DistanceSpace::kCosine: return "cosine";
    case DistanceSpace::kInnerProduct: return "ip";
  }
  return "l2";
}

std::optional<DistanceSpace> ParseDistanceSpace(const std::string& name) {
  if (name == "l2") return DistanceSpace::kL2;
  if (name == "cosine") return DistanceSpace::kCosine;
  if (name == "ip") return DistanceSpace::kInnerProduct;
  return std::nullopt;
}

// ---- Collection -------------------------------------------------------------------------

Collection::Collection(std::shared_ptr<CollectionImpl> impl) : impl_(std::move(impl)) {}
Collection::~Collection() = default;

const std::string& Collection::id() const { return impl_->id(); }
Result<CollectionInfo> Collection::Info() const { return impl_->Info(); }
Status Collection::Add(std::vector<WriteRecord> records) { return impl_->Write(OpType::kAdd, std::move(records)); }
Status Collection::Upsert(std::vector<WriteRecord> records) {
  return impl_->Write(OpType::kUpsert, std::move(records));
}
Status Collection::Update(std::vector<WriteRecord> records) {
  return impl_->Write(OpType::kUpdate, std::move(records));
}
Result<uint64_t> Collection::Delete(const DeleteRequest& request) { return impl_->Delete(request); }
Result<GetResult> Collection::Get(const GetRequest& request) const {
  CollectionImpl::ReadAfterCheck checked(*impl_, lookup_check_.exchange(kNoCheck));
  return impl_->Get(request);
}
Result<QueryResult> Collection::Query(const QueryRequest& request) const {
  CollectionImpl::ReadAfterCheck checked(*impl_, lookup_check_.exchange(kNoCheck));
  return impl_->Query(request);
}
Result<uint64_t> Collection::Count(ReadLevel level) const {
  CollectionImpl::ReadAfterCheck checked(*impl_, lookup_check_.exchange(kNoCheck));
  return impl_->Count(CountRequest{.read_level = level});
}
Result<uint64_t> Collection::Count(const CountRequest& request) const {
  CollectionImpl::ReadAfterCheck checked(*impl_, lookup_check_.exchange(kNoCheck));
  return impl_->Count(request);
}
Status Collection::Compact() { return impl_->Compact(); }
Result<VectorIndexStats> Collection::IndexStats() const { return impl_->IndexStats(); }

// ---- Database ---------------------------------------------------------------------------

namespace {
Result<std::shared_ptr<Collection>> Wrap(Result<std::shared_ptr<CollectionImpl>> impl) {
  if (!impl.ok()) return impl.status();
  return std::make_shared<Collection>(std::move(impl).value());
}
}  // namespace

Database::Database(std::unique_ptr<DatabaseImpl> impl) : impl_(std::move(impl)) {}
Database::~Database() = default;

Result<std::unique_ptr<Database>> Database::Open(const DatabaseOptions& options) {
  FATHOM_ASSIGN_OR_RETURN(std::unique_ptr<DatabaseImpl> impl, DatabaseImpl::Open(options));
  return std::unique_ptr<Database>(new Database(std::move(impl)));
}

Status Database::CreateTenant(const std::string& name) { return impl_->CreateTenant(name); }
Result<TenantInfo> Database::GetTenant(const std::string& name) const { return impl_->GetTenant(name); }
Status Database::CreateDatabase(const std::string& tenant, const std::string& name) {
  return impl_->CreateDatabase(tenant, name);
}
Result<DatabaseInfo> Database::GetDatabase(const std::string& tenant, const std::string& name) const {
  return impl_->GetDatabase(tenant, name);
}
Result<std::vector<DatabaseInfo>> Database::ListDatabases(const std::string& tenant, std::optional<uint32_t> limit,
                                                          uint32_t offset) const {
  return impl_->ListDatabases(tenant, limit, offset);
}
Status Database::DeleteDatabase(const std::string& tenant, const std::string& name) {
  return impl_->DeleteDatabase(tenant, name);
}
Result<std::shared_ptr<Collection>> Database::CreateCollection(const std::string& tenant, const std::string& database,
                                                               const CreateCollectionRequest& request, bool* created) {
  return Wrap(impl_->CreateCollection(tenant, database, request, created));
}
Result<std::shared_ptr<Collection>> Database::GetCollection(const std::string& tenant, const std::string& database,
                                                            const std::string& name) const {
  return Wrap(impl_->GetCollection(tenant, database, name));
}
Result<std::shared_ptr<Collection>> Database::GetCollectionById(const std::string& tenant,
                                                                const std::string& database, const std::string& id,
                                                                CollectionLookup lookup) const {
  uint64_t checked = Collection::kNoCheck;
  auto collection = Wrap(impl_->GetCollectionById(tenant, database, id, lookup.read_at_once ? &checked : nullptr));
  if (collection.ok()) (*collection)->lookup_check_.store(checked);
  return collection;
}
Result<std::vector<CollectionInfo>> Database::ListCollections(const std::string& tenant, const std::string& database,
                                                              std::optional<uint32_t> limit, uint32_t offset) const {
  return impl_->ListCollections(tenant, database, limit, offset);
}
Result<uint64_t> Database::CountCollections(const std::string& tenant, const std::string& database) const {
  return impl_->CountCollections(tenant, database);
}
Status Database::ModifyCollection(const std::string& tenant, const std::string& database, const std::string& id,
                                  const ModifyCollectionRequest& request) {
  return impl_->ModifyCollection(tenant, database, id, request);
}
Status Database::DeleteCollection(const std::string& tenant, const std::string& database, const std::string& name) {
  return impl_->DeleteCollection(tenant, database, name);
}
Status Database::Reset() { return impl_->Reset(); }
void Database::WaitIdle() { impl_->WaitIdle(); }
Status Database::CompactAll() { return impl_->CompactAll(); }

}  // namespace fathom
