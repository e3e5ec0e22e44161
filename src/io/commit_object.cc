#include "io/commit_object.h"

#include "common/limits.h"

namespace fathom {

Status ResolveObject(ObjectStore& store, const std::string& key, std::string_view bytes) {
  auto existing = store.Get(key);
  if (!existing.ok()) return existing.status();
  if (*existing == bytes) return Status::Ok();
  return Status::AlreadyExists("object exists with other contents: " + key);
}

Status CommitObject(ObjectStore& store, const std::string& key, std::string_view bytes) {
  Status last;
  for (int attempt = 0; attempt < limits::kStorePutAttemptsMax; ++attempt) {
    last = store.Put(key, bytes, PutMode::kCreateOnly);
    if (last.ok()) return last;
    if (last.IsAlreadyExists()) {
      // An earlier attempt of ours landed, or another writer owns the key. The store
      // makes an existing object durable before answering AlreadyExists.
      Status resolved = ResolveObject(store, key, bytes);
      if (resolved.ok() || resolved.IsAlreadyExists()) return resolved;
      last = resolved;
    }
    // Retry other failures: if the put landed, the next attempt meets AlreadyExists.
  }
  // Out of attempts: one last look, so that a landed put is not reported as lost.
  Status resolved = ResolveObject(store, key, bytes);
  if (resolved.ok() || resolved.IsAlreadyExists()) return resolved;
  return last;
}

}  // namespace fathom
