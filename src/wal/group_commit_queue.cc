#include "wal/group_commit_queue.h"

namespace fathom {

Status GroupCommitQueue::Submit(Writer* writer, std::chrono::milliseconds timeout,
                                const std::function<Status()>& admit, const CommitFn& commit) {
  std::unique_lock<std::mutex> lock(mu_);
  const bool has_room =
      clock_->WaitFor(space_cv_, lock, timeout, [&] { return queue_.size() < writers_max_ || waking_; });
  FATHOM_RETURN_IF_ERROR(admit());
  if (!has_room || queue_.size() >= writers_max_) {
    return Status::Unavailable(name_ + " is full; retry later");
  }
  queue_.push_back(writer);
  // On the clock, so that a test clock counts the writers queued behind a leader (a test
  // meets them through ManualClock::AwaitWaiters instead of sleeping). No deadline: the
  // wait ends when the writer's group is committed or the writer leads.
  clock_->WaitUntil(writer->cv, lock, Clock::TimePoint::max(),
                    [&] { return writer->done || queue_.front() == writer; });
  if (writer->done) return writer->status;

  // This writer leads: take a group from the front of the queue.
  std::vector<Writer*> group;
  size_t bytes = 0;
  for (Writer* w : queue_) {
    if (!group.empty() && (w->alone || bytes + w->bytes > group_bytes_max_)) break;
    group.push_back(w);
    bytes += w->bytes;
    if (w->alone) break;
  }
  lock.unlock();
  commit(group);
  lock.lock();
  for (Writer* w : group) {
    queue_.pop_front();
    w->done = true;
    if (w != writer) w->cv.notify_one();
  }
  if (!queue_.empty()) queue_.front()->cv.notify_one();
  space_cv_.notify_all();
  return writer->status;
}

void GroupCommitQueue::WakeWaiters() {
  std::lock_guard<std::mutex> lock(mu_);
  waking_ = true;
  space_cv_.notify_all();
}

}  // namespace fathom
