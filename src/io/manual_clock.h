// ManualClock: a Clock whose time moves only when a test moves it (AdvanceBy, AdvanceTo),
// for driving timeouts and retry delays without real-time sleeps.
//
// A WaitUntil or SleepUntil on it blocks until the clock is advanced to its deadline
// (a WaitUntil also returns as soon as its `ready()` holds, as with the real clock).
// Tests meet the threads that wait on it through AwaitWaiters, never by sleeping:
//
//   ManualClock clock;                        // shared with the code under test
//   auto deadlines = clock.AwaitWaiters(1);   // a thread now waits, until deadlines[0]
//   clock.AdvanceTo(deadlines[0]);            // ... and wakes up
//
// Thread-safety: all methods are safe to call concurrently. AdvanceBy / AdvanceTo take
// the mutex of each wait whose deadline they reach, so they must not be called with such
// a mutex held.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

#include "io/clock.h"

namespace fathom {

class ManualClock final : public Clock {
 public:
  // Time starts at an arbitrary non-zero point (code must not treat a zero time point as
  // special).
  static constexpr TimePoint kStart = TimePoint(std::chrono::hours(1));

  explicit ManualClock(TimePoint start = kStart) : now_(start) {}

  TimePoint Now() const override;
  bool WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, TimePoint deadline,
                 const std::function<bool()>& ready) override;
  void SleepUntil(TimePoint deadline) override;

  // Moves time forward (never back) and ends every wait and sleep whose deadline it
  // reaches. Returns once each of them has returned (a wait holding its mutex again), so
  // that what those threads do next under their mutex is ordered after the advance.
  void AdvanceTo(TimePoint time);
  void AdvanceBy(Duration duration);

  // Blocks until at least `count` threads wait on this clock for a deadline still ahead,
  // then returns those deadlines, earliest first. A safety net, not a synchronisation
  // means: after `real_timeout` of real time it returns what there is (a test then fails
  // on the count instead of hanging).
  std::vector<TimePoint> AwaitWaiters(size_t count,
                                      std::chrono::milliseconds real_timeout = std::chrono::seconds(60));
  // Threads waiting now for a deadline still ahead.
  size_t waiters() const;

 private:
  // One thread in WaitUntil (cv set) or SleepUntil (cv null).
  struct Waiter {
    TimePoint deadline;
    std::condition_variable* cv = nullptr;
    std::mutex* cv_mutex = nullptr;
    bool fired = false;   // the deadline was reached; GUARDED_BY(*cv_mutex)
    bool waking = false;  // AdvanceTo is telling it (uses cv); GUARDED_BY(mu_)
    bool woken = false;   // ended, or leaving: no AdvanceTo takes it up; GUARDED_BY(mu_)
  };
  std::vector<TimePoint> PendingDeadlinesLocked() const;  // REQUIRES: mu_ held

  mutable std::mutex mu_;
  // Time moved, a waiter came or went, a wake-up finished.
  std::condition_variable changed_;
  TimePoint now_;                         // GUARDED_BY(mu_)
  uint64_t next_waiter_id_ = 0;           // GUARDED_BY(mu_)
  std::map<uint64_t, Waiter> waiters_;    // GUARDED_BY(mu_); nodes stay put while waiting
};

}  // namespace fathom
