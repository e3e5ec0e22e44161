// RecallMonitor on its own: sampling rate, the bounded queue, the window's mean and bound.
#include "db/recall_monitor.h"

#include <gtest/gtest.h>

#include "common/limits.h"

namespace fathom {
namespace {

TEST(RecallMonitorTest, SamplesOneQueryInEachInterval) {
  RecallMonitor monitor(4);
  int sampled = 0;
  for (int i = 0; i < 40; ++i) sampled += monitor.ShouldSample(1000000) ? 1 : 0;
  EXPECT_EQ(sampled, 10);
  RecallMonitor every(1);
  EXPECT_TRUE(every.ShouldSample(10));
  EXPECT_TRUE(every.ShouldSample(10));
  // By size: 1% of small collections' queries, fewer of large ones'.
  EXPECT_EQ(RecallMonitor::SampleInterval(5000), 100u);
  EXPECT_EQ(RecallMonitor::SampleInterval(100000), 781u);
  RecallMonitor by_size;
  sampled = 0;
  for (int i = 0; i < 7810; ++i) sampled += by_size.ShouldSample(1000000) ? 1 : 0;
  EXPECT_EQ(sampled, 1);
}

TEST(RecallMonitorTest, QueueIsBoundedAndBatched) {
  RecallMonitor monitor(1);
  for (size_t i = 0; i + 1 < limits::kRecallSampleBatch; ++i) monitor.Offer({{1.0f}, 1, {0.0f}, 7});
  EXPECT_FALSE(monitor.BatchReady());
  monitor.Offer({{1.0f}, 1, {0.0f}, 7});
  EXPECT_TRUE(monitor.BatchReady());
  for (size_t i = 0; i < limits::kRecallPendingSamplesMax; ++i) monitor.Offer({{1.0f}, 1, {0.0f}, 7});
  EXPECT_EQ(monitor.TakePending().size(), limits::kRecallPendingSamplesMax);
  EXPECT_EQ(monitor.report().discarded_total, limits::kRecallSampleBatch);
  EXPECT_TRUE(monitor.TakePending().empty());
}

TEST(RecallMonitorTest, WindowKeepsTheLatestSamples) {
  RecallMonitor monitor;
  EXPECT_EQ(monitor.report().samples, 0u);
  EXPECT_EQ(monitor.report().mean_recall, 0.0);
  for (size_t i = 0; i < limits::kRecallWindowSamples; ++i) monitor.Record(0.5);
  for (size_t i = 0; i < limits::kRecallWindowSamples; ++i) monitor.Record(1.0);
  const RecallMonitor::Report r = monitor.report();
  EXPECT_EQ(r.samples, limits::kRecallWindowSamples);
  EXPECT_EQ(r.recorded_total, 2 * limits::kRecallWindowSamples);
  EXPECT_NEAR(r.mean_recall, 1.0, 1e-9);
  EXPECT_NEAR(r.lower_bound, 1.0, 1e-6);
  monitor.Record(0.0);
  EXPECT_NEAR(monitor.report().mean_recall, 1.0 - 1.0 / limits::kRecallWindowSamples, 1e-9);
  EXPECT_LT(monitor.report().lower_bound, monitor.report().mean_recall);
  monitor.Discard();
  EXPECT_EQ(monitor.report().discarded_total, 1u);
}

}  // namespace
}  // namespace fathom
