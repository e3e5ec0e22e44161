// RecallMonitor: the recall that a collection's vector queries actually get, measured on a
// sample of real queries (as turbopuffer and Chroma Cloud do): one query in
// `sample_interval` hands its query vector and the distances it returned to the monitor;
// the background job later runs the same query exactly and records the tie-aware
// recall@k (search_calibration.h) of what was returned. A sample whose collection changed
// in between (another WAL sequence applied) is discarded, so every recorded figure
// compares an answer with the truth of the very state that produced it. Design:
// docs/design/recall-calibration.md, "Monitor".
//
// Only unfiltered queries on a collection with an index are sampled (without one every
// query is exact; a filtered query's truth would need its filter kept). The report covers the last
// limits::kRecallWindowSamples recorded samples.
//
// Thread-safety: every method is safe from any thread (one internal mutex; ShouldSample is
// a lock-free counter).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <vector>

#include "common/limits.h"

namespace fathom {

class RecallMonitor {
 public:
  // `sample_interval`: one query in this many is sampled; 0 = by the collection's size
  // (SampleInterval), so that the exact checks, which scan every row, stay a few percent
  // of the work the sampled queries do.
  explicit RecallMonitor(uint32_t sample_interval = 0);
  static uint64_t SampleInterval(size_t rows) {
    return std::max<uint64_t>(limits::kRecallSampleIntervalMin, rows / limits::kRecallSampleRowsPerQuery);
  }

  struct Sample {
    std::vector<float> query;
    uint32_t k = 0;
    std::vector<float> distances;  // what the query returned, nearest first
    uint64_t sequence = 0;         // the collection's last applied WAL sequence then
  };

  // Whether this query, on a collection of `rows` rows, is one to sample (counts queries).
  bool ShouldSample(size_t rows) {
    const uint64_t interval = interval_ != 0 ? interval_ : SampleInterval(rows);
    return counter_.fetch_add(1, std::memory_order_relaxed) % interval == 0;
  }
  // Queues a sample; dropped (and counted) when limits::kRecallPendingSamplesMax wait.
  void Offer(Sample sample);
  // Whether enough samples wait for the background job to be worth scheduling.
  bool BatchReady() const;
  std::vector<Sample> TakePending();

  // One evaluated sample's recall, or one discarded because the collection changed.
  void Record(double recall);
  void Discard();

  struct Report {
    uint64_t samples = 0;       // recorded, in the window
    double mean_recall = 0.0;   // over the window (0 without samples)
    double lower_bound = 0.0;   // its one-sided 95% lower confidence bound
    uint64_t recorded_total = 0;
    uint64_t discarded_total = 0;  // the collection changed before the check, or the queue was full
  };
  Report report() const;

 private:
  const uint32_t interval_;  // 0: by size
  std::atomic<uint64_t> counter_{0};
  mutable std::mutex mu_;
  std::vector<Sample> pending_;
  std::deque<double> window_;
  double window_sum_ = 0.0;
  double window_sum_squares_ = 0.0;
  uint64_t recorded_total_ = 0;
  uint64_t discarded_total_ = 0;
};

}  // namespace fathom
