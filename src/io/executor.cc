#include "io/executor.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>

#include "common/assert.h"

namespace fathom {

namespace {

// What the threads of one ParallelFor share. Owned jointly: a helper job that starts
// after the loop is over finds no index left and touches nothing but this.
struct ParallelLoop {
  ParallelLoop(size_t count, const std::function<void(size_t)>& fn) : count(count), fn(&fn) {}

  // Claims and runs indexes until none is left.
  void Run() {
    size_t ran = 0;
    for (size_t i = next.fetch_add(1); i < count; i = next.fetch_add(1)) {
      (*fn)(i);
      ++ran;
    }
    if (ran == 0) return;
    std::lock_guard<std::mutex> lock(mu);
    done += ran;
    if (done == count) all_done.notify_all();
  }

  const size_t count;
  const std::function<void(size_t)>* fn;  // valid while some index is unclaimed or running
  std::atomic<size_t> next{0};
  std::mutex mu;
  std::condition_variable all_done;
  size_t done = 0;  // GUARDED_BY(mu)
};

}  // namespace

void Executor::ParallelFor(size_t count, size_t parallelism, const std::function<void(size_t)>& fn) {
  if (count == 0) return;
  const size_t helpers = std::min({parallelism > 0 ? parallelism - 1 : 0, count - 1, threads()});
  if (helpers == 0) {
    for (size_t i = 0; i < count; ++i) fn(i);
    return;
  }
  auto loop = std::make_shared<ParallelLoop>(count, fn);
  for (size_t h = 0; h < helpers; ++h) Submit([loop] { loop->Run(); });
  loop->Run();
  std::unique_lock<std::mutex> lock(loop->mu);
  loop->all_done.wait(lock, [&] { return loop->done == loop->count; });
}

ThreadPool::ThreadPool(size_t threads) {
  FATHOM_CHECK(threads > 0);
  workers_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { Work(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& worker : workers_) worker.join();
}

void ThreadPool::Submit(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    FATHOM_CHECK(!stopping_);
    jobs_.push_back(std::move(job));
  }
  wake_.notify_one();
}

void ThreadPool::Work() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    wake_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // stopping, and nothing left to run
    std::function<void()> job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    job();
    job = nullptr;  // what the job holds is released before the next wait
    lock.lock();
  }
}

Executor& DefaultExecutor() {
  // Leaked on purpose: a static pool would be joined during exit while other static
  // destructors, or threads that outlive main, may still submit to it.
  //
  // A child of fork() has none of its parent's threads, but a pool made before the fork
  // comes along with its condition variable still recording them as waiters; glibc's
  // pthread_cond_signal may wait for such waiters, so the child's first Submit could hang
  // (the benchmarks run each mode in a forked child; docs/design/io.md). The child makes
  // a pool of its own; the parent's, whose lock a vanished thread may hold, is never
  // touched again. No lock here for the same reason: a thread that loses the race to
  // install its pool drops it.
  struct Instance {
    pid_t pid;
    ThreadPool* pool;
  };
  static std::atomic<Instance*> current{nullptr};
  const pid_t pid = getpid();
  Instance* seen = current.load(std::memory_order_acquire);
  if (seen != nullptr && seen->pid == pid) return *seen->pool;
  auto* mine = new Instance{pid, new ThreadPool(std::max(1u, std::thread::hardware_concurrency()))};
  while (!current.compare_exchange_weak(seen, mine, std::memory_order_acq_rel, std::memory_order_acquire)) {
    if (seen != nullptr && seen->pid == pid) {  // another thread of this process won
      delete mine->pool;
      delete mine;
      return *seen->pool;
    }
  }
  return *mine->pool;
}

}  // namespace fathom
