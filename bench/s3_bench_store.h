// The bucket the S3 benchmarks run against, and a store wrapper that counts what reaches
// it. Settings from the environment as the tests' (FATHOM_S3_ENDPOINT, AWS_*,
// FATHOM_S3_BUCKET; `scripts/with-s3.sh` provides them).
#pragma once

#include <atomic>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

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

// Requests by type (S3 prices PUT and LIST alike, GET and HEAD alike), the sequential
// rounds they took (a batch is one round) and the bytes read.
struct StoreRequests {
  uint64_t puts = 0, gets = 0, heads = 0, lists = 0, deletes = 0, rounds = 0, bytes_read = 0;
  uint64_t total() const { return puts + gets + heads + lists + deletes; }
  StoreRequests& operator+=(const StoreRequests& o) {
    puts += o.puts, gets += o.gets, heads += o.heads, lists += o.lists, deletes += o.deletes;
    rounds += o.rounds, bytes_read += o.bytes_read;
    return *this;
  }
  StoreRequests operator-(const StoreRequests& o) const {
    return {puts - o.puts,       gets - o.gets,     heads - o.heads,          lists - o.lists,
            deletes - o.deletes, rounds - o.rounds, bytes_read - o.bytes_read};
  }
};

// Counts the requests, rounds and bytes that reach the store below it. Every call counts
// as one round, a batch (GetRanges, DeleteMany) too; rounds are sequential only when one
// thread calls the store. With `split_background`, the requests of the thread that made
// the CountingStore (the benchmark's: its open and its queries, in sequence) are counted
// apart from every other thread's (the database's background work, which the benchmark's
// thread does not wait for): Snapshot() and BackgroundSnapshot(). With `trace`, prints
// each round to stderr ("round N: REQUEST key [range] -> bytes"; "background:" before
// the other threads').
class CountingStore final : public ForwardingStore {
 public:
  explicit CountingStore(std::shared_ptr<ObjectStore> base, bool trace = false, bool split_background = false)
      : ForwardingStore(std::move(base)),
        trace_(trace),
        split_background_(split_background),
        foreground_(std::this_thread::get_id()) {}

  Status Put(const std::string& key, std::string_view bytes, PutMode mode) override {
    InFlight flight(this);
    Count(&Mine().puts, 1);
    last_put_bytes = bytes.size();
    Trace("PUT", key, std::nullopt, bytes.size());
    return ForwardingStore::Put(key, bytes, mode);
  }
  Result<std::string> Get(const std::string& key, std::optional<ByteRange> range) override {
    InFlight flight(this);
    Count(&Mine().gets, 1);
    auto r = ForwardingStore::Get(key, range);
    if (r.ok()) Mine().bytes_read += r->size();
    Trace("GET", key, range, r.ok() ? r->size() : 0);
    return r;
  }
  Result<std::vector<std::string>> GetRanges(const std::vector<RangedRead>& reads) override {
    InFlight flight(this);
    Count(&Mine().gets, reads.size());  // sent together: one round
    auto r = ForwardingStore::GetRanges(reads);
    uint64_t got = 0;
    if (r.ok()) {
      for (const std::string& b : *r) got += b.size();
    }
    Mine().bytes_read += got;
    Trace("GetRanges of " + std::to_string(reads.size()) + " reads, first", reads.empty() ? "-" : reads[0].key,
          std::nullopt, got);
    return r;
  }
  Result<ObjectInfo> Head(const std::string& key) override {
    InFlight flight(this);
    Count(&Mine().heads, 1);
    Trace("HEAD", key, std::nullopt, 0);
    return ForwardingStore::Head(key);
  }
  Result<std::vector<ObjectInfo>> List(const std::string& prefix, const std::string& start_after,
                                       size_t max_keys) override {
    InFlight flight(this);
    Count(&Mine().lists, 1);
    auto r = ForwardingStore::List(prefix, start_after, max_keys);
    Trace("LIST", prefix + " after " + start_after + " max " + std::to_string(max_keys), std::nullopt,
          r.ok() ? r->size() : 0);
    return r;
  }
  Status Delete(const std::string& key) override {
    InFlight flight(this);
    Count(&Mine().deletes, 1);
    Trace("DELETE", key, std::nullopt, 0);
    return ForwardingStore::Delete(key);
  }
  std::vector<Status> DeleteMany(const std::vector<std::string>& keys) override {
    InFlight flight(this);
    Count(&Mine().deletes, keys.size());
    Trace("DeleteMany of " + std::to_string(keys.size()) + " keys, first", keys.empty() ? "-" : keys[0],
          std::nullopt, 0);
    return ForwardingStore::DeleteMany(keys);
  }

  // The benchmark thread's requests, and the other threads'.
  StoreRequests Snapshot() const { return foreground_counts_.Load(); }
  StoreRequests BackgroundSnapshot() const { return background_counts_.Load(); }
  // Rounds of every thread's calls taken together: a call that starts while another is
  // in flight (two checks sent side by side) joins that one's round.
  uint64_t OverlappedRounds() const { return overlapped_rounds_.load(); }
  void set_trace(bool on) { trace_ = on; }

  std::atomic<size_t> last_put_bytes{0};  // the size of the latest Put

 private:
  // Counts a call in flight for OverlappedRounds.
  class InFlight {
   public:
    explicit InFlight(CountingStore* store) : store_(store) {
      if (store_->in_flight_.fetch_add(1) == 0) ++store_->overlapped_rounds_;
    }
    ~InFlight() { store_->in_flight_.fetch_sub(1); }

   private:
    CountingStore* store_;
  };
  struct Counters {
    std::atomic<uint64_t> puts{0}, gets{0}, heads{0}, lists{0}, deletes{0}, rounds{0}, bytes_read{0};
    StoreRequests Load() const {
      return {puts.load(), gets.load(), heads.load(), lists.load(), deletes.load(), rounds.load(), bytes_read.load()};
    }
  };
  bool Foreground() const { return !split_background_ || std::this_thread::get_id() == foreground_; }
  Counters& Mine() { return Foreground() ? foreground_counts_ : background_counts_; }
  void Count(std::atomic<uint64_t>* counter, uint64_t requests) {
    *counter += requests;
    if (requests > 0) ++Mine().rounds;  // an empty batch sends nothing
  }
  void Trace(const std::string& what, const std::string& key, std::optional<ByteRange> range, uint64_t size) {
    if (!trace_) return;
    std::string span;
    if (range) span = " [" + std::to_string(range->offset) + ", +" + std::to_string(range->length) + ")";
    std::fprintf(stderr, "  %sround %llu: %s %s%s -> %llu\n", Foreground() ? "" : "background: ",
                 static_cast<unsigned long long>(Mine().rounds.load()), what.c_str(), key.c_str(), span.c_str(),
                 static_cast<unsigned long long>(size));
  }

  std::atomic<bool> trace_;
  const bool split_background_;
  const std::thread::id foreground_;
  Counters foreground_counts_, background_counts_;
  std::atomic<uint64_t> in_flight_{0}, overlapped_rounds_{0};
};

}  // namespace fathom::bench
