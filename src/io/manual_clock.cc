#include "io/manual_clock.h"

#include <algorithm>

#include "common/assert.h"

namespace fathom {

Clock::TimePoint ManualClock::Now() const {
  std::lock_guard<std::mutex> lock(mu_);
  return now_;
}

// A wait registers itself, then waits on the caller's condition variable, which both the
// caller's notifier and AdvanceTo signal. AdvanceTo sets `fired` under the caller's mutex,
// so a wake-up cannot fall between the waiter's check and its wait. Leaving needs the
// caller's mutex released (AdvanceTo may be about to take it): the waiter waits until
// AdvanceTo is done with the entry, closes it to further wake-ups, and only unregisters
// once it holds the caller's mutex again, which is when AdvanceTo returns.
bool ManualClock::WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, TimePoint deadline,
                            const std::function<bool()>& ready) {
  FATHOM_CHECK(lock.owns_lock());
  while (true) {
    if (ready()) return true;
    Waiter* waiter = nullptr;
    uint64_t id = 0;
    {
      std::lock_guard<std::mutex> guard(mu_);
      if (now_ >= deadline) return false;
      id = next_waiter_id_++;
      waiter = &waiters_[id];
      waiter->deadline = deadline;
      waiter->cv = &cv;
      waiter->cv_mutex = lock.mutex();
    }
    changed_.notify_all();
    cv.wait(lock, [&] { return waiter->fired || ready(); });
    lock.unlock();
    {
      std::unique_lock<std::mutex> guard(mu_);
      changed_.wait(guard, [&] { return !waiter->waking; });
      waiter->woken = true;  // closed: no AdvanceTo takes it up any more
    }
    lock.lock();
    {
      std::lock_guard<std::mutex> guard(mu_);
      waiters_.erase(id);
    }
    changed_.notify_all();
  }
}

void ManualClock::SleepUntil(TimePoint deadline) {
  std::unique_lock<std::mutex> guard(mu_);
  const uint64_t id = next_waiter_id_++;
  waiters_[id].deadline = deadline;
  changed_.notify_all();
  changed_.wait(guard, [&] { return now_ >= deadline; });
  waiters_.erase(id);
  changed_.notify_all();
}

void ManualClock::AdvanceTo(TimePoint time) {
  std::vector<uint64_t> ended;
  std::vector<Waiter*> to_wake;
  {
    std::lock_guard<std::mutex> guard(mu_);
    now_ = std::max(now_, time);
    for (auto& [id, waiter] : waiters_) {
      if (waiter.woken || waiter.deadline > now_) continue;
      waiter.woken = true;
      ended.push_back(id);
      if (waiter.cv != nullptr) {
        waiter.waking = true;
        to_wake.push_back(&waiter);
      }
    }
  }
  changed_.notify_all();  // sleepers see the new time
  for (Waiter* waiter : to_wake) {
    {
      std::lock_guard<std::mutex> caller(*waiter->cv_mutex);
      waiter->fired = true;
    }
    waiter->cv->notify_all();
  }
  if (ended.empty()) return;
  std::unique_lock<std::mutex> guard(mu_);
  for (Waiter* waiter : to_wake) waiter->waking = false;
  changed_.notify_all();
  // Returns once every wait and sleep it ended has returned (a wait: holds its mutex
  // again), so that what the woken threads do next is ordered after this call.
  changed_.wait(guard, [&] {
    return std::none_of(ended.begin(), ended.end(), [&](uint64_t id) { return waiters_.count(id) != 0; });
  });
}

void ManualClock::AdvanceBy(Duration duration) {
  FATHOM_CHECK(duration >= Duration::zero());
  AdvanceTo(Now() + duration);
}

std::vector<Clock::TimePoint> ManualClock::PendingDeadlinesLocked() const {
  std::vector<TimePoint> deadlines;
  for (const auto& [id, waiter] : waiters_) {
    if (!waiter.woken && waiter.deadline > now_) deadlines.push_back(waiter.deadline);
  }
  std::sort(deadlines.begin(), deadlines.end());
  return deadlines;
}

std::vector<Clock::TimePoint> ManualClock::AwaitWaiters(size_t count, std::chrono::milliseconds real_timeout) {
  std::unique_lock<std::mutex> guard(mu_);
  changed_.wait_for(guard, real_timeout, [&] { return PendingDeadlinesLocked().size() >= count; });
  return PendingDeadlinesLocked();
}

size_t ManualClock::waiters() const {
  std::lock_guard<std::mutex> guard(mu_);
  return PendingDeadlinesLocked().size();
}

}  // namespace fathom
