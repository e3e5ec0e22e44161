// Executor: where engine code gets threads (DESIGN.md section 1: engine code reaches
// threads only through io/). Background jobs are submitted to one; loops over build work
// (k-means, index assignment) share their iterations between the calling thread and it.
//
// Like usearch's pluggable executors and leveldb's Env::Schedule: the engine says what
// runs, the executor decides on which thread. Implementations: ThreadPool (a fixed set of
// threads), InlineExecutor (runs each job on the submitting thread; deterministic tests),
// and DefaultExecutor(), the process-wide pool that build loops use unless told otherwise.
// Thread-safety: every implementation is safe for concurrent use.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace fathom {

class Executor {
 public:
  virtual ~Executor() = default;

  // Runs `job` once, later, on a thread of the executor. Jobs must not throw. A job may
  // run for long (a database's compaction loop runs for the database's life): it holds
  // its thread meanwhile.
  virtual void Submit(std::function<void()> job) = 0;
  // How many jobs run at once, at most.
  virtual size_t threads() const = 0;

  // Calls fn(i) once for every i in [0, count), on the calling thread and up to
  // `parallelism - 1` jobs of this executor at once, each claiming the next index, and
  // returns when every call has returned. Which thread runs which index is unspecified:
  // results must not depend on it. The calling thread can finish the loop alone, so this
  // is safe from a job of the same executor, and a busy executor only slows it down.
  void ParallelFor(size_t count, size_t parallelism, const std::function<void(size_t)>& fn);
};

// A fixed number of threads, started by the constructor, taking jobs in submission order.
// The destructor runs every job already submitted, then joins the threads: a long-running
// job must have been told to stop before.
class ThreadPool final : public Executor {
 public:
  explicit ThreadPool(size_t threads);
  ~ThreadPool() override;
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void Submit(std::function<void()> job) override;
  size_t threads() const override { return workers_.size(); }

 private:
  void Work();

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;  // GUARDED_BY(mu_)
  bool stopping_ = false;                   // GUARDED_BY(mu_)
  std::vector<std::thread> workers_;
};

// Runs every job on the thread that submits it, before Submit returns. ParallelFor on it
// is a plain loop in index order.
class InlineExecutor final : public Executor {
 public:
  void Submit(std::function<void()> job) override { job(); }
  size_t threads() const override { return 1; }
};

// The process-wide pool for build loops whose caller names no executor: one thread per
// CPU, started on first use, never stopped.
Executor& DefaultExecutor();

}  // namespace fathom
