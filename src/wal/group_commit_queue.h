// GroupCommitQueue: many writers, one log append per group (leveldb's DBImpl::Write
// writer queue, apart from the log itself).
//
// A writer queues and waits. The writer at the front leads: it takes a group from the
// front of the queue (up to `group_bytes_max` of estimated bytes; a writer marked `alone`
// forms a group of its own, because it must see the state everything before it leaves),
// commits the whole group through the caller's function outside the queue's lock, then
// marks the group done, wakes its writers and hands leadership to the next in line.
// The queue holds at most `writers_max` writers; a writer that finds no room within its
// timeout is refused (Unavailable), so a stalled log backs writers up into errors rather
// than unbounded memory.
// Thread-safety: all methods may be called concurrently. The commit function runs on the
// leader's thread without the queue's lock, one group at a time.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "fathom/status.h"
#include "io/clock.h"

namespace fathom {

class GroupCommitQueue {
 public:
  struct Writer {
    size_t bytes = 0;    // estimated log bytes
    bool alone = false;  // commits in a group of its own
    Status status;       // set by the commit function

   private:
    friend class GroupCommitQueue;
    bool done = false;
    std::condition_variable cv;
  };
  using CommitFn = std::function<void(const std::vector<Writer*>& group)>;

  // `name` names the queue in errors ("write queue of collection X is full"); waits for
  // room are timed by `clock` (which must outlive the queue), and a queued writer waits
  // for its turn on it too, without a deadline (so a ManualClock counts it as a waiter).
  GroupCommitQueue(std::string name, size_t writers_max, size_t group_bytes_max, Clock* clock)
      : name_(std::move(name)), writers_max_(writers_max), group_bytes_max_(group_bytes_max), clock_(clock) {}

  // Queues `writer` and returns once its group is committed: writer->status. Waits up to
  // `timeout` for room; `admit` is asked after that wait (under the queue's lock) whether
  // the writer may still go in (a non-OK status is returned as is, e.g. the collection
  // was dropped meanwhile).
  Status Submit(Writer* writer, std::chrono::milliseconds timeout, const std::function<Status()>& admit,
                const CommitFn& commit);

  // Wakes writers waiting for room so they re-check `admit` (after a drop or close).
  void WakeWaiters();

 private:
  const std::string name_;
  const size_t writers_max_;
  const size_t group_bytes_max_;
  Clock* const clock_;
  std::mutex mu_;
  std::deque<Writer*> queue_;
  std::condition_variable space_cv_;
  bool waking_ = false;  // WakeWaiters was called: waiters stop waiting for room
};

}  // namespace fathom
