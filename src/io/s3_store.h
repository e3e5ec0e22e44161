// S3Store: an ObjectStore on an S3-compatible object store (AWS S3, Ceph RGW, MinIO, ...),
// through libcurl with its built-in SigV4 signing. docs/design/object-storage.md has the
// request mapping, the retry policy, the unknown-outcome protocol of create-only Puts and
// the server quirks handled.
//
// Every key lives under `bucket/prefix/`. Requests run on pooled curl easy handles, so
// connections are kept alive and reused across calls. Transient failures (5xx, 429,
// 503 SlowDown, connection errors, timeouts) are retried with jittered exponential backoff
// up to `retry.attempts_max` attempts; other 4xx answers map to a Status at once.
//
// Thread-safety: safe for concurrent use from any number of threads (each request takes
// its own handle from the pool; the pool has one mutex).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "io/object_store.h"
#include "io/s3_request.h"

namespace fathom {

struct S3RetryPolicy {
  // Attempts per operation, the first included. A create-only Put whose outcome is
  // unknown spends further attempts on reading the object back.
  int attempts_max = 6;
  std::chrono::milliseconds backoff_initial{50};
  std::chrono::milliseconds backoff_max{2000};
};

struct S3StoreOptions {
  std::string bucket;
  // Keys are stored under "prefix/" ("" = the bucket's root). Same characters as keys.
  std::string prefix;
  // "http(s)://host[:port]". Empty: FATHOM_S3_ENDPOINT, else AWS_ENDPOINT_URL, else
  // https://s3.<region>.amazonaws.com.
  std::string endpoint;
  // Empty: AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1.
  std::string region;
  // Empty: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN. Without an
  // access key, requests are sent unsigned (public buckets, tests).
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
  // Path style (endpoint/bucket/key) works with every S3-compatible server; virtual-host
  // style (bucket.endpoint/key) is what AWS prefers for new buckets.
  bool virtual_host_style = false;
  std::chrono::milliseconds connect_timeout{5000};
  // Whole request, transfer included.
  std::chrono::milliseconds request_timeout{60000};
  S3RetryPolicy retry;
  // Idle handles (and so idle connections) kept for reuse.
  size_t idle_handles_max = 64;
  // Keys asked for per ListObjectsV2 page, 1..1000 (S3's maximum, the default). Tests
  // lower it to page through continuation tokens without writing 1000 objects.
  size_t list_page_keys_max = 1000;

  // Fills every empty field that has an environment variable (see above) and the
  // defaults. InvalidArgument if the result cannot work (no bucket, bad endpoint).
  Status ResolveFromEnvironment();
};

// Counters since the store was opened, for tests and metrics.
struct S3StoreStats {
  uint64_t requests = 0;  // HTTP exchanges attempted, retries and read-backs included
  uint64_t retries = 0;   // attempts after a transient failure
  uint64_t unknown_outcomes = 0;  // create-only Puts resolved by reading back
};

// One read of a GetMany batch.
using S3RangedRead = RangedRead;

// Reads per GetMany call; a larger batch is the caller's bug or a hostile input.
inline constexpr size_t kS3GetManyReadsMax = kGetRangesReadsMax;

class S3Store : public ObjectStore {
 public:
  // Resolves options from the environment and checks them; does not contact the server
  // (Database::Open probes the store).
  static Result<std::shared_ptr<S3Store>> Open(S3StoreOptions options);

  Status Put(const std::string& key, std::string_view bytes, PutMode mode) override;
  Result<std::string> Get(const std::string& key, std::optional<ByteRange> range) override;
  // GetMany with the default parallelism.
  Result<std::vector<std::string>> GetRanges(const std::vector<RangedRead>& reads) override {
    return GetMany(reads);
  }
  Result<ObjectInfo> Head(const std::string& key) override;
  Result<std::vector<ObjectInfo>> List(const std::string& prefix, const std::string& start_after,
                                       size_t max_keys) override;
  Status Delete(const std::string& key) override;
  // The deletes at once, at most 16 requests in flight (curl multi), in batches of
  // kS3GetManyReadsMax; a delete that fails transiently is retried on its own (as Delete).
  std::vector<Status> DeleteMany(const std::vector<std::string>& keys) override;
  std::string Describe() const override;

  // The reads at once, at most `parallelism` requests in flight (curl multi): the
  // remote counterpart of io_uring batched reads. Results in the order of `reads`, each as
  // Get would return it. A read whose request fails transiently is retried on its own
  // (as Get); any read that fails for good fails the whole call with its error.
  Result<std::vector<std::string>> GetMany(const std::vector<S3RangedRead>& reads, size_t parallelism = 16);

  S3StoreStats stats() const;
  const S3StoreOptions& options() const { return options_; }

 private:
  explicit S3Store(S3StoreOptions options);

  std::string FullKey(const std::string& key) const;
  // Runs `request` with retries of transient failures; the last response otherwise.
  S3Response Execute(const S3Request& request);
  Status PutCreateOnly(const std::string& key, std::string_view bytes);
  S3Request GetRequest(const std::string& key, const std::optional<ByteRange>& range) const;
  // A Get's result from its final response.
  Result<std::string> GetResult(S3Response& response, const S3Request& request,
                                const std::optional<ByteRange>& range) const;
  // A Delete's result from its final response.
  Status DeleteResult(const S3Response& response, const S3Request& request) const;
  // Reads `key` back after a create-only Put of `bytes` with an unknown outcome: OK (the
  // bytes are there), AlreadyExists (other bytes), NotFound (nothing), another error.
  Status ReadBack(const std::string& key, std::string_view bytes);
  void Backoff(int attempt);

  const S3StoreOptions options_;
  S3Client client_;
  std::atomic<uint64_t> retries_{0};
  std::atomic<uint64_t> unknown_outcomes_{0};
};

}  // namespace fathom
