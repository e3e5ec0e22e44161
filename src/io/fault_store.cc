#include "io/fault_store.h"

#include <thread>

namespace fathom {

namespace {
Status Injected(const char* what) { return Status::IOError(std::string("injected fault: ") + what); }
}  // namespace

FaultStore::FaultStore(std::shared_ptr<ObjectStore> base, FaultOptions options)
    : base_(std::move(base)), options_(options), rng_(options.seed) {}

void FaultStore::SetOptions(FaultOptions options) {
  std::lock_guard<std::mutex> lock(mu_);
  options_ = options;
  rng_.seed(options.seed);
}

void FaultStore::CrashAfterOps(uint64_t mutating_ops, bool crash_takes_effect) {
  std::lock_guard<std::mutex> lock(mu_);
  crash_after_ = mutating_ops_ + mutating_ops;
  crash_takes_effect_ = crash_takes_effect;
}

bool FaultStore::crashed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return crashed_;
}

uint64_t FaultStore::mutating_ops() const {
  std::lock_guard<std::mutex> lock(mu_);
  return mutating_ops_;
}

void FaultStore::Sleep() const {
  std::chrono::microseconds latency;
  {
    std::lock_guard<std::mutex> lock(mu_);  // SetOptions may run concurrently
    latency = options_.latency;
  }
  if (latency.count() > 0) std::this_thread::sleep_for(latency);
}

FaultStore::Fault FaultStore::Decide(bool mutating) {
  std::lock_guard<std::mutex> lock(mu_);
  if (crashed_) return Fault::kFailBefore;
  if (mutating) {
    if (mutating_ops_ >= crash_after_) {
      crashed_ = true;
      return crash_takes_effect_ ? Fault::kFailAfter : Fault::kFailBefore;
    }
    ++mutating_ops_;
  }
  std::uniform_real_distribution<double> coin(0.0, 1.0);
  if (coin(rng_) < options_.fail_before_probability) return Fault::kFailBefore;
  if (mutating && coin(rng_) < options_.fail_after_probability) return Fault::kFailAfter;
  return Fault::kNone;
}

Status FaultStore::Put(const std::string& key, std::string_view bytes, PutMode mode) {
  Sleep();
  Fault fault = Decide(true);
  if (fault == Fault::kFailBefore) return Injected("put failed");
  Status s = base_->Put(key, bytes, mode);
  if (fault == Fault::kFailAfter && s.ok()) return Injected("put applied, ack lost");
  return s;
}

void FaultStore::MaybeTear(std::string& bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  std::uniform_real_distribution<double> coin(0.0, 1.0);
  if (!bytes.empty() && coin(rng_) < options_.torn_read_probability) {
    std::uniform_int_distribution<size_t> pos(0, bytes.size() - 1);
    if (coin(rng_) < 0.5) {
      bytes.resize(pos(rng_));
    } else {
      bytes[pos(rng_)] ^= static_cast<char>(1u << (rng_() % 8));
    }
  }
}

Result<std::string> FaultStore::Get(const std::string& key, std::optional<ByteRange> range) {
  Sleep();
  if (Decide(false) != Fault::kNone) return Injected("get failed");
  auto result = base_->Get(key, range);
  if (!result.ok()) return result;
  MaybeTear(result.value());
  return result;
}

Result<std::vector<std::string>> FaultStore::GetRanges(const std::vector<RangedRead>& reads) {
  Sleep();  // once: the batch's requests are in flight together
  // Every read draws its fault, so a batch of n reads fails about as often as n Gets.
  bool failed = false;
  for (size_t i = 0; i < reads.size(); ++i) failed = Decide(false) != Fault::kNone || failed;
  if (failed) return Injected("batched get failed");
  auto result = base_->GetRanges(reads);
  if (!result.ok()) return result;
  for (std::string& bytes : result.value()) MaybeTear(bytes);
  return result;
}

Result<ObjectInfo> FaultStore::Head(const std::string& key) {
  Sleep();
  if (Decide(false) != Fault::kNone) return Injected("head failed");
  return base_->Head(key);
}

Result<std::vector<ObjectInfo>> FaultStore::List(const std::string& prefix,
                                                 const std::string& start_after, size_t max_keys) {
  Sleep();
  if (Decide(false) != Fault::kNone) return Injected("list failed");
  return base_->List(prefix, start_after, max_keys);
}

std::vector<Status> FaultStore::DeleteMany(const std::vector<std::string>& keys) {
  Sleep();  // the deletes are sent at once: one latency for the batch
  std::vector<Status> statuses(keys.size());
  std::vector<Fault> faults(keys.size());
  std::vector<std::string> sent;
  std::vector<size_t> sent_index;
  for (size_t i = 0; i < keys.size(); ++i) {
    faults[i] = Decide(true);
    if (faults[i] == Fault::kFailBefore) {
      statuses[i] = Injected("delete failed");
      continue;
    }
    sent.push_back(keys[i]);
    sent_index.push_back(i);
  }
  std::vector<Status> done = base_->DeleteMany(sent);
  for (size_t j = 0; j < sent.size(); ++j) {
    const size_t i = sent_index[j];
    statuses[i] = faults[i] == Fault::kFailAfter && done[j].ok() ? Injected("delete applied, ack lost") : done[j];
  }
  return statuses;
}

Status FaultStore::Delete(const std::string& key) {
  Sleep();
  Fault fault = Decide(true);
  if (fault == Fault::kFailBefore) return Injected("delete failed");
  Status s = base_->Delete(key);
  if (fault == Fault::kFailAfter && s.ok()) return Injected("delete applied, ack lost");
  return s;
}

}  // namespace fathom
