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
  bool maybe_landed = false;  // an earlier attempt failed in a way that may have written
  for (int attempt = 0; attempt < limits::kStorePutAttemptsMax; ++attempt) {
    last = store.Put(key, bytes, PutMode::kCreateOnly);
    if (last.ok()) return last;
    if (last.IsAlreadyExists()) {
      // Another writer owns the key, or an earlier attempt of ours landed. Without such
      // an attempt the object is another writer's even if its bytes equal ours: two
      // nodes can log byte-identical WAL objects (the same delete at the same sequence
      // number), and taking the other's as ours would acknowledge a write validated
      // against a state that was not the newest. The store makes an existing object
      // durable before answering AlreadyExists.
      if (!maybe_landed) return last;
      Status resolved = ResolveObject(store, key, bytes);
      if (resolved.ok() || resolved.IsAlreadyExists()) return resolved;
      last = resolved;
    }
    // Retry other failures: if the put landed, the next attempt meets AlreadyExists.
    maybe_landed = true;
  }
  // Out of attempts: one last look, so that a landed put is not reported as lost.
  Status resolved = ResolveObject(store, key, bytes);
  if (resolved.ok() || resolved.IsAlreadyExists()) return resolved;
  return last;
}

}  // namespace fathom
