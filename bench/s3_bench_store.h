// The bucket the S3 benchmarks run against, and a store wrapper that counts what reaches
// it. Settings from the environment as the tests' (FATHOM_S3_ENDPOINT, AWS_*,
// FATHOM_S3_BUCKET; `scripts/with-s3.sh` provides them).
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "bench_util.h"
#include "io/forwarding_store.h"
#include "io/s3_store.h"

namespace fathom::bench {

inline std::shared_ptr<S3Store> OpenBucket(const std::string& prefix) {
  const char* bucket = std::getenv("FATHOM_S3_BUCKET");
  if (bucket == nullptr) Die("FATHOM_S3_BUCKET is not set: run under scripts/with-s3.sh");
  S3StoreOptions options;
  options.bucket = bucket;
  options.prefix = prefix;
  auto store = S3Store::Open(options);
  Check(store.status(), "open bucket");
  return *store;
}

// Requests by type (S3 prices PUT and LIST alike, GET and HEAD alike), and bytes read.
struct StoreRequests {
  uint64_t puts = 0, gets = 0, heads = 0, lists = 0, deletes = 0, bytes_read = 0;
  uint64_t total() const { return puts + gets + heads + lists + deletes; }
  StoreRequests& operator+=(const StoreRequests& o) {
    puts += o.puts, gets += o.gets, heads += o.heads, lists += o.lists, deletes += o.deletes;
    bytes_read += o.bytes_read;
    return *this;
  }
  StoreRequests operator-(const StoreRequests& o) const {
    return {puts - o.puts, gets - o.gets, heads - o.heads, lists - o.lists, deletes - o.deletes,
            bytes_read - o.bytes_read};
  }
};

// Counts the requests and bytes that reach the store below it.
class CountingStore final : public ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  Status Put(const std::string& key, std::string_view bytes, PutMode mode) override {
    ++puts_;
    last_put_bytes = bytes.size();
    return ForwardingStore::Put(key, bytes, mode);
  }
  Result<std::string> Get(const std::string& key, std::optional<ByteRange> range) override {
    ++gets_;
    auto r = ForwardingStore::Get(key, range);
    if (r.ok()) bytes_read_ += r->size();
    return r;
  }
  Result<ObjectInfo> Head(const std::string& key) override {
    ++heads_;
    return ForwardingStore::Head(key);
  }
  Result<std::vector<ObjectInfo>> List(const std::string& prefix, const std::string& start_after,
                                       size_t max_keys) override {
    ++lists_;
    return ForwardingStore::List(prefix, start_after, max_keys);
  }
  Status Delete(const std::string& key) override {
    ++deletes_;
    return ForwardingStore::Delete(key);
  }
  std::vector<Status> DeleteMany(const std::vector<std::string>& keys) override {
    deletes_ += keys.size();
    return ForwardingStore::DeleteMany(keys);
  }

  StoreRequests Snapshot() const {
    return {puts_.load(), gets_.load(), heads_.load(), lists_.load(), deletes_.load(), bytes_read_.load()};
  }
  uint64_t requests() const { return Snapshot().total(); }
  uint64_t bytes() const { return bytes_read_.load(); }

  std::atomic<size_t> last_put_bytes{0};  // the size of the latest Put

 private:
  std::atomic<uint64_t> puts_{0}, gets_{0}, heads_{0}, lists_{0}, deletes_{0}, bytes_read_{0};
};

}  // namespace fathom::bench
