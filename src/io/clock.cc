#include "io/clock.h"

#include <thread>

namespace fathom {

namespace {

class SteadyClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::steady_clock::now(); }

  bool WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, TimePoint deadline,
                 const std::function<bool()>& ready) override {
    return cv.wait_until(lock, deadline, ready);
  }

  void SleepUntil(TimePoint deadline) override { std::this_thread::sleep_until(deadline); }
};

}  // namespace

const std::shared_ptr<Clock>& RealClock() {
  // Leaked on purpose: threads still running at exit may read it.
  static const auto* clock = new std::shared_ptr<Clock>(std::make_shared<SteadyClock>());
  return *clock;
}

}  // namespace fathom
