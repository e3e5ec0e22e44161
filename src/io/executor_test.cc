// ThreadPool and ParallelFor: every index runs exactly once, on several threads, and a
// loop finishes even when the executor's threads are all busy.
#include "io/executor.h"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <set>
#include <thread>
#include <vector>

namespace fathom {
namespace {

TEST(ThreadPoolTest, RunsEveryJobBeforeItIsDestroyed) {
  std::atomic<int> ran{0};
  {
    ThreadPool pool(3);
    EXPECT_EQ(pool.threads(), 3u);
    for (int i = 0; i < 100; ++i) pool.Submit([&] { ran.fetch_add(1); });
  }
  EXPECT_EQ(ran.load(), 100);
}

TEST(ThreadPoolTest, RunsJobsOnItsOwnThreads) {
  ThreadPool pool(1);
  std::promise<std::thread::id> where;
  pool.Submit([&] { where.set_value(std::this_thread::get_id()); });
  EXPECT_NE(where.get_future().get(), std::this_thread::get_id());
}

TEST(ExecutorTest, ParallelForRunsEachIndexOnce) {
  ThreadPool pool(3);
  for (size_t parallelism : {size_t{0}, size_t{1}, size_t{2}, size_t{4}, size_t{64}}) {
    for (size_t count : {size_t{0}, size_t{1}, size_t{7}, size_t{1000}}) {
      std::vector<std::atomic<int>> runs(count);
      pool.ParallelFor(count, parallelism, [&](size_t i) { runs[i].fetch_add(1); });
      for (size_t i = 0; i < count; ++i) {
        ASSERT_EQ(runs[i].load(), 1) << "index " << i << " of " << count << ", parallelism " << parallelism;
      }
    }
  }
}

// Two indexes that each wait for the other can only finish if two threads run them.
TEST(ExecutorTest, ParallelForUsesTheExecutorsThreads) {
  ThreadPool pool(1);
  std::promise<void> first;
  std::promise<void> second;
  std::shared_future<void> first_started = first.get_future().share();
  std::shared_future<void> second_started = second.get_future().share();
  std::set<std::thread::id> threads;
  std::mutex mu;
  pool.ParallelFor(2, 2, [&](size_t i) {
    {
      std::lock_guard<std::mutex> lock(mu);
      threads.insert(std::this_thread::get_id());
    }
    if (i == 0) {
      first.set_value();
      second_started.wait();
    } else {
      second.set_value();
      first_started.wait();
    }
  });
  EXPECT_EQ(threads.size(), 2u);
}

// Every thread of the pool is held by a job that waits for the loop to end: the calling
// thread runs the whole loop alone.
TEST(ExecutorTest, ParallelForFinishesWhenTheExecutorIsBusy) {
  ThreadPool pool(2);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  for (size_t i = 0; i < pool.threads(); ++i) pool.Submit([released] { released.wait(); });
  std::atomic<size_t> ran{0};
  pool.ParallelFor(100, 8, [&](size_t) { ran.fetch_add(1); });
  EXPECT_EQ(ran.load(), 100u);
  release.set_value();
}

TEST(ExecutorTest, ParallelForFromInsideAJobOfTheSameExecutor) {
  ThreadPool pool(1);
  std::promise<size_t> total;
  pool.Submit([&] {
    std::atomic<size_t> sum{0};
    pool.ParallelFor(10, 4, [&](size_t i) { sum.fetch_add(i); });
    total.set_value(sum.load());
  });
  EXPECT_EQ(total.get_future().get(), 45u);
}

TEST(ExecutorTest, InlineExecutorRunsInIndexOrderOnTheCallingThread) {
  InlineExecutor inline_executor;
  const std::thread::id caller = std::this_thread::get_id();
  std::vector<size_t> order;
  inline_executor.ParallelFor(5, 4, [&](size_t i) {
    EXPECT_EQ(std::this_thread::get_id(), caller);
    order.push_back(i);
  });
  EXPECT_EQ(order, (std::vector<size_t>{0, 1, 2, 3, 4}));
}

TEST(ExecutorTest, DefaultExecutorIsOnePoolWithAThreadPerCpu) {
  Executor& pool = DefaultExecutor();
  EXPECT_EQ(&pool, &DefaultExecutor());
  EXPECT_GE(pool.threads(), 1u);
  std::atomic<size_t> ran{0};
  pool.ParallelFor(50, pool.threads() + 1, [&](size_t) { ran.fetch_add(1); });
  EXPECT_EQ(ran.load(), 50u);
}

// A forked child has none of the pool's threads. Signalling the pool's condition
// variable from the child could wait forever for them: glibc's pthread_cond_signal waits
// for the waiters of the group it switches away from, and a worker forked in the middle of
// waking never confirms. The old code hung in about 8 % of forks taken right after a
// ParallelFor (so 100 forks catch it); the child now makes a pool of its own.
TEST(ExecutorTest, DefaultExecutorWorksInAForkedChild) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "ThreadSanitizer refuses to start threads in the child of a multi-threaded fork";
#endif
  constexpr int kForks = 100;
  int hung = 0, failed = 0;
  for (int t = 0; t < kForks; ++t) {
    std::atomic<size_t> ran{0};
    for (int i = 0; i < 20; ++i) DefaultExecutor().ParallelFor(8, 8, [&](size_t) { ran.fetch_add(1); });
    ASSERT_EQ(ran.load(), 160u);
    const pid_t child = fork();  // at once: workers may be waking
    ASSERT_GE(child, 0);
    if (child == 0) {
      alarm(10);  // a hang ends the child by SIGALRM
      std::atomic<size_t> child_ran{0};
      Executor& pool = DefaultExecutor();
      for (int i = 0; i < 5; ++i) pool.ParallelFor(64, pool.threads() + 1, [&](size_t) { child_ran.fetch_add(1); });
      _exit(child_ran.load() == 320 ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    hung += WIFSIGNALED(status);
    failed += WIFEXITED(status) && WEXITSTATUS(status) != 0;
  }
  EXPECT_EQ(hung, 0) << "children that hung, of " << kForks;
  EXPECT_EQ(failed, 0);
}

}  // namespace
}  // namespace fathom
