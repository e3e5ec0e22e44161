// CollectionImpl, several nodes on one store: catching up with WAL objects other nodes
// committed, strong reads, reloading after another node's compaction
// (docs/design/object-storage.md, "Several nodes on one store").
#include <spdlog/spdlog.h>

#include <algorithm>

#include "db/collection_impl.h"
#include "wal/wal_format.h"

namespace fathom {

namespace {
// The read in progress on this thread that a check made ahead serves (ReadAfterCheck).
thread_local const CollectionImpl* read_after_check_collection = nullptr;
thread_local uint64_t read_after_check_arrival = 0;
}  // namespace

CollectionImpl::ReadAfterCheck::ReadAfterCheck(const CollectionImpl& collection, uint64_t arrival)
    : previous_collection_(read_after_check_collection), previous_arrival_(read_after_check_arrival) {
  if (arrival == UINT64_MAX) return;  // Collection::kNoCheck
  read_after_check_collection = &collection;
  read_after_check_arrival = arrival;
}

CollectionImpl::ReadAfterCheck::~ReadAfterCheck() {
  read_after_check_collection = previous_collection_;
  read_after_check_arrival = previous_arrival_;
}

Result<uint64_t> CollectionImpl::CheckFreshAhead() {
  CallScope call(*this);
  FATHOM_RETURN_IF_ERROR(call.status());
  // EnsureFresh returns once a check numbered above its own arrival, which is at least
  // this one, has finished.
  const uint64_t arrival = checks_started_.load();
  FATHOM_RETURN_IF_ERROR(EnsureFresh(ReadLevel::kIndexAndWal));
  return arrival;
}

Status CollectionImpl::EnsureFresh(ReadLevel level) {
  // Even index_only must not read a table a failed reload left half loaded.
  if (!reload_failed_.load() && (!shared_ || level == ReadLevel::kIndexOnly)) return Status::Ok();
  // A check that starts after this read arrived sees every write acknowledged before it.
  // A read whose check was made ahead, after its request arrived (CheckFreshAhead),
  // counts as arrived then.
  uint64_t arrival = checks_started_.load();
  if (read_after_check_collection == this) arrival = std::min(arrival, read_after_check_arrival);
  for (int attempt = 0;; ++attempt) {
    bool reload = false;
    {
      std::lock_guard<std::mutex> sync(sync_mu_);
      if (checks_finished_ > arrival) return Status::Ok();
      FATHOM_RETURN_IF_ERROR(CatchUpLocked(/*check=*/true, /*full=*/attempt > 0, &reload));
      if (!reload) return Status::Ok();
    }
    // A reload is bounded by the store: after it, this node knows the newest manifest, so
    // the next check reloads again only if yet another one landed meanwhile.
    if (attempt + 1 == limits::kWalCommitRacesMax) {
      return Status::Unavailable("collection " + id_ + ": other nodes keep compacting it; retry the read");
    }
    FATHOM_RETURN_IF_ERROR(Reload());
  }
}

Status CollectionImpl::CatchUpLocked(bool check, bool full, bool* reload) {
  *reload = reload_failed_.load();
  if (*reload) return Status::Ok();
  if (!check && !wal_uncertain_) return Status::Ok();
  const uint64_t number = checks_started_.fetch_add(1) + 1;
  const Clock::TimePoint started = clock_->Now();
  // WAL objects are deleted a grace period after a manifest covering them was committed.
  // While the last listing of manifests (which found none newer) is less than half a
  // grace old, every WAL object after last_sequence_ is still in the store if it was ever
  // written, so reading the next one is the whole check.
  const bool list_manifests = shared_ && (full || started - manifests_checked_at_ >= gc_grace_ / 2);
  if (list_manifests) {
    FATHOM_ASSIGN_OR_RETURN(
        std::vector<ObjectInfo> newer,
        store_->List(ManifestPrefix(id_), ManifestKey(id_, known_manifest_version_.load()), 1));
    if (!newer.empty()) {
      *reload = true;
      return Status::Ok();
    }
  }
  for (;;) {
    const uint64_t sequence = last_sequence_ + 1;
    auto bytes = store_->Get(WalKey(id_, sequence));
    if (!bytes.ok()) {
      if (!bytes.status().IsNotFound()) return bytes.status().WithContext("write-ahead log catch-up");
      break;
    }
    FATHOM_ASSIGN_OR_RETURN(WalObject decoded, DecodeWalObjectAt(*bytes, WalKey(id_, sequence), sequence));
    std::unique_lock<std::shared_mutex> lock(state_mu_);
    FATHOM_RETURN_IF_ERROR(ApplyLocked(std::move(decoded.ops), sequence, bytes->size()));
  }
  wal_uncertain_ = false;
  if (list_manifests) manifests_checked_at_ = started;
  checks_finished_ = number;
  return Status::Ok();
}

Status CollectionImpl::Reload() {
  std::lock_guard<std::mutex> compaction_lock(compaction_mu_);
  return ReloadLocked();
}

Status CollectionImpl::ReloadLocked() {
  std::lock_guard<std::mutex> sync(sync_mu_);
  FATHOM_RETURN_IF_ERROR(CheckUsable());
  if (!reload_failed_.load()) {
    // Someone else may have reloaded (or this node committed the manifest) meanwhile.
    FATHOM_ASSIGN_OR_RETURN(std::vector<ObjectInfo> newer,
                            store_->List(ManifestPrefix(id_), ManifestKey(id_, known_manifest_version_.load()), 1));
    if (newer.empty()) return Status::Ok();
    spdlog::info("collection {}: another node committed {}; reloading", id_, newer[0].key);
  }
  // Whatever this node's uncertain manifest commit did, the newest manifest decides now.
  uncertain_manifest_.reset();
  Status s = Recover();
  // A failure may leave the table half loaded: no read is answered from it, and every
  // read or write tries the reload again first.
  reload_failed_.store(!s.ok());
  if (!s.ok()) spdlog::error("collection {}: reload failed: {}", id_, s.ToString());
  return s;
}

}  // namespace fathom
