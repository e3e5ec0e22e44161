// RealClock and ManualClock: waits end on readiness or on the deadline, and a manual
// clock's deadlines are reached only when the test advances it.
#include "io/clock.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "io/manual_clock.h"

namespace fathom {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(RealClockTest, NowIsMonotonic) {
  const Clock& clock = *RealClock();
  const Clock::TimePoint first = clock.Now();
  EXPECT_LE(first, clock.Now());
  EXPECT_GT(clock.NowSeconds(), 0.0);
}

TEST(RealClockTest, WaitEndsAtThePastDeadline) {
  std::mutex mu;
  std::condition_variable cv;
  std::unique_lock<std::mutex> lock(mu);
  Clock& clock = *RealClock();
  EXPECT_FALSE(clock.WaitUntil(cv, lock, clock.Now() - milliseconds(1), [] { return false; }));
  EXPECT_TRUE(lock.owns_lock());
  EXPECT_TRUE(clock.WaitFor(cv, lock, seconds(60), [] { return true; }));
}

TEST(ManualClockTest, TimeMovesOnlyWhenAdvanced) {
  ManualClock clock;
  EXPECT_EQ(clock.Now(), ManualClock::kStart);
  clock.AdvanceBy(seconds(3));
  EXPECT_EQ(clock.Now(), ManualClock::kStart + seconds(3));
  clock.AdvanceTo(ManualClock::kStart);  // never back
  EXPECT_EQ(clock.Now(), ManualClock::kStart + seconds(3));
}

TEST(ManualClockTest, WaitEndsWhenTheClockReachesTheDeadline) {
  ManualClock clock;
  std::mutex mu;
  std::condition_variable cv;
  bool result = true;
  std::thread waiter([&] {
    std::unique_lock<std::mutex> lock(mu);
    result = clock.WaitFor(cv, lock, seconds(5), [] { return false; });
    EXPECT_TRUE(lock.owns_lock());
  });
  EXPECT_EQ(clock.AwaitWaiters(1), std::vector<Clock::TimePoint>{ManualClock::kStart + seconds(5)});
  clock.AdvanceBy(seconds(4));
  // Not due: the waiter is still there with the same deadline (AdvanceBy did not touch it).
  EXPECT_EQ(clock.waiters(), 1u);
  clock.AdvanceBy(seconds(1));
  waiter.join();
  EXPECT_FALSE(result);
  EXPECT_EQ(clock.waiters(), 0u);
}

TEST(ManualClockTest, WaitEndsWhenReadyBeforeTheDeadline) {
  ManualClock clock;
  std::mutex mu;
  std::condition_variable cv;
  bool ready = false;
  bool result = false;
  std::thread waiter([&] {
    std::unique_lock<std::mutex> lock(mu);
    result = clock.WaitFor(cv, lock, seconds(10), [&] { return ready; });
  });
  ASSERT_EQ(clock.AwaitWaiters(1).size(), 1u);
  {
    std::lock_guard<std::mutex> lock(mu);
    ready = true;
  }
  cv.notify_all();
  waiter.join();
  EXPECT_TRUE(result);
  EXPECT_EQ(clock.Now(), ManualClock::kStart);
}

TEST(ManualClockTest, AWaitAlreadyPastItsDeadlineReturnsAtOnce) {
  ManualClock clock;
  std::mutex mu;
  std::condition_variable cv;
  std::unique_lock<std::mutex> lock(mu);
  EXPECT_FALSE(clock.WaitUntil(cv, lock, clock.Now(), [] { return false; }));
  EXPECT_TRUE(clock.WaitUntil(cv, lock, clock.Now(), [] { return true; }));
}

TEST(ManualClockTest, SleepEndsWhenTheClockReachesTheDeadline) {
  ManualClock clock;
  std::thread sleeper([&] { clock.SleepFor(milliseconds(250)); });
  EXPECT_EQ(clock.AwaitWaiters(1), std::vector<Clock::TimePoint>{ManualClock::kStart + milliseconds(250)});
  clock.AdvanceBy(milliseconds(250));
  sleeper.join();
  EXPECT_EQ(clock.waiters(), 0u);
}

// Many waiters on one condition variable, with staggered deadlines: each step of the
// clock ends exactly the waits it reaches, while notifications for readiness come and go.
TEST(ManualClockTest, StaggeredWaitersEndInDeadlineOrder) {
  constexpr int kWaiters = 8;
  ManualClock clock;
  std::mutex mu;
  std::condition_variable cv;
  int ended = 0;
  std::vector<std::thread> threads;
  for (int i = 0; i < kWaiters; ++i) {
    threads.emplace_back([&, i] {
      std::unique_lock<std::mutex> lock(mu);
      EXPECT_FALSE(clock.WaitFor(cv, lock, seconds(i + 1), [] { return false; }));
      ++ended;
      cv.notify_all();  // a notification that is not readiness: the others wait on
    });
  }
  ASSERT_EQ(clock.AwaitWaiters(kWaiters).size(), static_cast<size_t>(kWaiters));
  for (int i = 0; i < kWaiters; ++i) {
    clock.AdvanceBy(seconds(1));
    std::unique_lock<std::mutex> lock(mu);
    // No real-time bound is needed: the waiter whose deadline this step reached has been
    // told (AdvanceBy returns after that) and ends without anything else happening.
    cv.wait(lock, [&] { return ended == i + 1; });
    EXPECT_EQ(clock.waiters(), static_cast<size_t>(kWaiters - i - 1));
  }
  for (std::thread& t : threads) t.join();
}

}  // namespace
}  // namespace fathom
