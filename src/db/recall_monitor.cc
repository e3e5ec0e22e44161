#include "db/recall_monitor.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "common/limits.h"
#include "index/vector/search_calibration.h"

namespace fathom {

RecallMonitor::RecallMonitor(uint32_t sample_interval) : interval_(sample_interval) {}

void RecallMonitor::Offer(Sample sample) {
  std::lock_guard<std::mutex> lock(mu_);
  if (pending_.size() >= limits::kRecallPendingSamplesMax) {
    ++discarded_total_;
    return;
  }
  pending_.push_back(std::move(sample));
}

bool RecallMonitor::BatchReady() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_.size() >= limits::kRecallSampleBatch;
}

std::vector<RecallMonitor::Sample> RecallMonitor::TakePending() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(pending_, {});
}

void RecallMonitor::Record(double recall) {
  std::lock_guard<std::mutex> lock(mu_);
  window_.push_back(recall);
  window_sum_ += recall;
  window_sum_squares_ += recall * recall;
  if (window_.size() > limits::kRecallWindowSamples) {
    const double old = window_.front();
    window_.pop_front();
    window_sum_ -= old;
    window_sum_squares_ -= old * old;
  }
  ++recorded_total_;
}

void RecallMonitor::Discard() {
  std::lock_guard<std::mutex> lock(mu_);
  ++discarded_total_;
}

RecallMonitor::Report RecallMonitor::report() const {
  std::lock_guard<std::mutex> lock(mu_);
  Report r;
  r.samples = window_.size();
  r.recorded_total = recorded_total_;
  r.discarded_total = discarded_total_;
  if (window_.empty()) return r;
  const double n = static_cast<double>(window_.size());
  // Recomputed from the sums; clamp the rounding drift of the running sums.
  r.mean_recall = std::clamp(window_sum_ / n, 0.0, 1.0);
  constexpr double kZ95 = 1.645;  // one-sided 95%
  r.lower_bound = std::clamp(ConfidenceBound(window_sum_, window_sum_squares_, n, -kZ95), 0.0, r.mean_recall);
  return r;
}

}  // namespace fathom
