// CommitObject: a create-only Put whose outcome is never left unknown when it can be
// learned.
//
// A Put that returns an error may still have landed (its acknowledgement was lost), and
// a retry of it then meets AlreadyExists. Every create-only commit in fathom (WAL objects,
// manifests, catalogs, segments, vector index and cold part files) goes through here, so
// each resolves that case the same way: read the object back and compare bytes.
//   OK            an object with exactly `bytes` is durable at `key` (ours, maybe from an
//                 earlier attempt whose acknowledgement was lost);
//   AlreadyExists another object holds `key` (another writer got there first), or the
//                 first attempt met an existing object: bytes are compared only after an
//                 attempt of this call may have landed, so an equal object another writer
//                 put first is theirs, not ours;
//   other         the outcome is unknown: the object may or may not exist. Callers must
//                 resolve it (read back) before reusing `key` or anything that depends on it.
#pragma once

#include <string>
#include <string_view>

#include "io/object_store.h"

namespace fathom {

Status CommitObject(ObjectStore& store, const std::string& key, std::string_view bytes);

// What is at `key` now, relative to `bytes`: OK if those bytes are there, NotFound if
// nothing is, AlreadyExists if other bytes are, another error if the store cannot say.
Status ResolveObject(ObjectStore& store, const std::string& key, std::string_view bytes);

}  // namespace fathom
