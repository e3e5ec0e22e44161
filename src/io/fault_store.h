// FaultStore: wraps any ObjectStore and injects failures, for crash and fault tests.
//
// Faults are drawn from a seeded PRNG so a seed reproduces a run:
//   - fail before: the operation does nothing and returns IOError;
//   - fail after (lost ack): a Put/Delete takes effect, then returns IOError;
//   - torn read: a Get returns a truncated or bit-flipped copy of the object;
//   - latency: every operation sleeps first; a GetRanges batch sleeps once (its reads
//     are modelled as parallel requests, as S3Store sends them), and draws its faults per
//     read: any failed read fails the batch, a torn read tears that read's bytes.
// Crash simulation: CrashAfterOps(n) lets n more mutating operations (Put, Delete) through;
// the next one and every operation after it fail, as if the process had died. With
// `crash_takes_effect` the fatal operation is applied before failing (the write reached
// the disk but the process died before learning so).
// Thread-safe (one mutex around the PRNG and counters).
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <random>

#include "io/object_store.h"

namespace fathom {

struct FaultOptions {
  uint64_t seed = 1;
  double fail_before_probability = 0.0;
  double fail_after_probability = 0.0;
  double torn_read_probability = 0.0;
  std::chrono::microseconds latency{0};
};

class FaultStore : public ObjectStore {
 public:
  FaultStore(std::shared_ptr<ObjectStore> base, FaultOptions options);

  Status Put(const std::string& key, std::string_view bytes, PutMode mode) override;
  Result<std::string> Get(const std::string& key, std::optional<ByteRange> range) override;
  Result<std::vector<std::string>> GetRanges(const std::vector<RangedRead>& reads) override;
  Result<ObjectInfo> Head(const std::string& key) override;
  Result<std::vector<ObjectInfo>> List(const std::string& prefix, const std::string& start_after,
                                       size_t max_keys) override;
  Status Delete(const std::string& key) override;
  // One latency for the batch (the requests go out at once); faults decided per key.
  std::vector<Status> DeleteMany(const std::vector<std::string>& keys) override;
  std::string Describe() const override { return "fault(" + base_->Describe() + ")"; }

  void SetOptions(FaultOptions options);
  void CrashAfterOps(uint64_t mutating_ops, bool crash_takes_effect);
  bool crashed() const;
  uint64_t mutating_ops() const;

 private:
  enum class Fault { kNone, kFailBefore, kFailAfter };
  // Decides the fate of one operation; `mutating` for Put/Delete.
  Fault Decide(bool mutating);
  void Sleep() const;
  // With torn_read_probability, truncates or flips a bit of `bytes`.
  void MaybeTear(std::string& bytes);

  std::shared_ptr<ObjectStore> base_;
  mutable std::mutex mu_;
  FaultOptions options_;
  std::mt19937_64 rng_;
  uint64_t mutating_ops_ = 0;
  uint64_t crash_after_ = UINT64_MAX;
  bool crash_takes_effect_ = false;
  bool crashed_ = false;
};

}  // namespace fathom
