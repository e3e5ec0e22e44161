// ObjectStore: the one kind of durable storage fathom uses (DESIGN.md section 2), public
// so that embedders can hand fathom a store of their own (DatabaseOptions::store).
//
// Objects are immutable byte strings named by '/'-separated keys. The commit primitive is
// a create-only Put: of two concurrent create-only Puts of one key exactly one succeeds,
// the other gets AlreadyExists. fathom's own implementations (src/io/): LocalStore (a
// directory), MemStore (RAM, tests), FaultStore (wraps another and injects failures);
// DatabaseOptions::store_url picks one by URL. Database::Open refuses a store whose
// create-only Put does not refuse a second write of one key.
//
// Keys fathom uses are 1..1024 bytes of [A-Za-z0-9._-/], with no empty segment and no
// segment starting with '.'. Thread-safety: every implementation must be safe for
// concurrent use; fathom calls a store from many threads at once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fathom/status.h"

namespace fathom {

enum class PutMode : uint8_t {
  kOverwrite,   // replace any existing object
  kCreateOnly,  // fail with AlreadyExists if the key exists (If-None-Match: *)
};

struct ByteRange {
  uint64_t offset = 0;
  uint64_t length = 0;
};

// One read of a batch (ObjectStore::GetRanges).
struct RangedRead {
  std::string key;
  std::optional<ByteRange> range;  // nullopt: the whole object
};

// Reads per GetRanges call; a larger batch is the caller's bug (InvalidArgument).
inline constexpr size_t kGetRangesReadsMax = 4096;

struct ObjectInfo {
  std::string key;
  uint64_t size_bytes = 0;
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  // Writes the whole object durably before returning OK. A create-only Put of an
  // existing key returns AlreadyExists only once the existing object is durable too
  // (callers treat "my bytes are there" as committed: io/commit_object.h).
  virtual Status Put(const std::string& key, std::string_view bytes, PutMode mode) = 0;
  // Reads the object, or `range` of it (clamped to the object's end). NotFound if missing.
  virtual Result<std::string> Get(const std::string& key,
                                  std::optional<ByteRange> range = std::nullopt) = 0;
  // Reads each of `reads` as Get would: the results in the order of `reads`, or the error
  // of the first read (in that order) that failed. A store that can overlap requests
  // sends them together (S3Store: parallel ranged GETs through curl multi; CacheStore:
  // the missing pages in one batch to the store it caches), so a batch costs about one
  // round trip where one Get after another costs one each: what a cold query's reads of
  // many blocks need. This default reads them one after another. More than
  // kGetRangesReadsMax reads is InvalidArgument.
  virtual Result<std::vector<std::string>> GetRanges(const std::vector<RangedRead>& reads) {
    if (reads.size() > kGetRangesReadsMax) {
      return Status::InvalidArgument("GetRanges of " + std::to_string(reads.size()) + " reads exceeds " +
                                     std::to_string(kGetRangesReadsMax));
    }
    std::vector<std::string> out;
    out.reserve(reads.size());
    for (const RangedRead& read : reads) {
      Result<std::string> bytes = Get(read.key, read.range);
      if (!bytes.ok()) return bytes.status();
      out.push_back(std::move(bytes).value());
    }
    return out;
  }
  virtual Result<ObjectInfo> Head(const std::string& key) = 0;
  // Keys that start with `prefix` and sort after `start_after`, in byte order; at most
  // `max_keys` of them (0 = all).
  virtual Result<std::vector<ObjectInfo>> List(const std::string& prefix,
                                               const std::string& start_after = "",
                                               size_t max_keys = 0) = 0;
  // Deleting a missing key is not an error.
  virtual Status Delete(const std::string& key) = 0;
  // Deletes every key, each as Delete would; one status per key, in order. Stores with
  // per-request latency (S3) send the requests at once; the default deletes one by one.
  virtual std::vector<Status> DeleteMany(const std::vector<std::string>& keys) {
    std::vector<Status> statuses;
    statuses.reserve(keys.size());
    for (const std::string& key : keys) statuses.push_back(Delete(key));
    return statuses;
  }
  // For messages: "local:/path", "mem", ...
  virtual std::string Describe() const = 0;
  // The local file holding `key`, for stores that are a directory (readers may then
  // keep the file open instead of issuing ranged Gets); nullopt otherwise.
  virtual std::optional<std::string> LocalPath(const std::string& key) const {
    (void)key;
    return std::nullopt;
  }
};

}  // namespace fathom
