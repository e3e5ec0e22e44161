// Clock: where engine code reads the time and waits for it (DESIGN.md section 1: engine
// code reaches time only through io/, so tests can drive it).
//
// Modelled on RocksDB's SystemClock, whose TimedWait exists for the same reason: a wait
// with a deadline is a clock operation, not a condition-variable one, or a test clock
// could not end it. Time points live on the steady clock's timeline type so that
// std::chrono arithmetic works unchanged; only points of one Clock are comparable.
//
// Implementations: RealClock() (std::chrono::steady_clock) and ManualClock
// (io/manual_clock.h, time moves only when a test advances it).
// Thread-safety: every implementation is safe for concurrent use.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>

namespace fathom {

class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  using Duration = std::chrono::steady_clock::duration;

  virtual ~Clock() = default;

  // The current time: monotonic, from an origin of the clock's choosing.
  virtual TimePoint Now() const = 0;

  // Waits on `cv`, whose mutex `lock` holds, until `ready()` is true or this clock reaches
  // `deadline`, like cv.wait_until(lock, deadline, ready); returns ready() as evaluated
  // last, with the lock held. Whoever makes `ready()` true notifies `cv` under the mutex,
  // as with any condition variable. The lock may be released and re-taken in between
  // (as a condition-variable wait does), never returned released.
  virtual bool WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, TimePoint deadline,
                         const std::function<bool()>& ready) = 0;
  bool WaitFor(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, Duration timeout,
               const std::function<bool()>& ready) {
    return WaitUntil(cv, lock, Now() + timeout, ready);
  }

  // Blocks the calling thread until this clock reaches `deadline`.
  virtual void SleepUntil(TimePoint deadline) = 0;
  void SleepFor(Duration duration) { SleepUntil(Now() + duration); }

  // Now() in seconds from the clock's origin, for measuring how long something took.
  double NowSeconds() const { return std::chrono::duration<double>(Now().time_since_epoch()).count(); }
};

// The process's steady clock: real time. One shared instance, never destroyed.
const std::shared_ptr<Clock>& RealClock();

}  // namespace fathom
