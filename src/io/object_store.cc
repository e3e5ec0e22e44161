#include "io/object_store.h"

#include "io/store_probe.h"

#include "common/random.h"

namespace fathom {

Status ValidateObjectKey(std::string_view key) {
  if (key.empty() || key.size() > 1024) return Status::InvalidArgument("object key length out of range");
  size_t start = 0;
  while (start <= key.size()) {
    size_t end = key.find('/', start);
    if (end == std::string_view::npos) end = key.size();
    std::string_view segment = key.substr(start, end - start);
    if (segment.empty() || segment[0] == '.') {
      return Status::InvalidArgument("invalid object key: " + std::string(key));
    }
    for (char c : segment) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '_' || c == '-';
      if (!ok) return Status::InvalidArgument("invalid character in object key: " + std::string(key));
    }
    start = end + 1;
  }
  return Status::Ok();
}

namespace {

// With `leftover`, a passed probe leaves its key (see ProbeCreateOnlyLeavingKey).
Status Probe(ObjectStore& store, std::string* leftover) {
  const std::string key = "probe/" + NewUuidV4();
  Status first = store.Put(key, "probe", PutMode::kCreateOnly);
  if (!first.ok()) return first.WithContext("store probe: first create-only put failed");
  // Other bytes than the first: a store that settles an uncertain outcome by reading back
  // (S3Store) must not take the first write for its own and answer OK.
  Status second = store.Put(key, "probe 2", PutMode::kCreateOnly);
  Status cleanup;
  if (leftover != nullptr && second.IsAlreadyExists()) {
    *leftover = key;  // the caller deletes it
  } else {
    cleanup = store.Delete(key);
  }
  if (second.ok()) {
    return Status::FailedPrecondition(
        "store " + store.Describe() +
        " accepted a second create-only write of one key; fathom needs create-only "
        "(If-None-Match: *) writes to order commits safely and refuses to start");
  }
  if (!second.IsAlreadyExists()) return second.WithContext("store probe: second put");
  if (!cleanup.ok()) return cleanup.WithContext("store probe: delete");
  return Status::Ok();
}

}  // namespace

Status ProbeCreateOnly(ObjectStore& store) { return Probe(store, nullptr); }

Status ProbeCreateOnlyLeavingKey(ObjectStore& store, std::string* leftover) { return Probe(store, leftover); }

}  // namespace fathom
