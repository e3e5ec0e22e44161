#include "wal/group_commit_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace fathom {
namespace {

using Writer = GroupCommitQueue::Writer;

Status Admit() { return Status::Ok(); }

TEST(GroupCommitQueueTest, EveryWriterIsCommittedOnceInGroupsWithinTheByteLimit) {
  GroupCommitQueue queue("test queue", /*writers_max=*/64, /*group_bytes_max=*/100, RealClock().get());
  std::mutex mu;
  std::vector<std::vector<int>> groups;  // writer ids per committed group
  std::atomic<bool> committing{false};
  constexpr int kWriters = 200;
  std::vector<std::thread> threads;
  std::vector<int> committed(kWriters, 0);
  // The first commit waits until most writers are submitting: on a loaded machine threads
  // start so slowly that each could otherwise commit alone before the next arrives.
  std::atomic<int> submitting{0};
  std::atomic<bool> first_commit{true};
  for (int i = 0; i < kWriters; ++i) {
    threads.emplace_back([&, i] {
      struct Tagged : Writer {
        int id = 0;
      } w;
      w.id = i;
      w.bytes = 10 + static_cast<size_t>(i % 7) * 10;
      w.alone = i % 13 == 0;
      ++submitting;
      Status s = queue.Submit(&w, std::chrono::seconds(60), Admit, [&](const std::vector<Writer*>& group) {
        EXPECT_FALSE(committing.exchange(true)) << "two groups committed at once";
        if (first_commit.exchange(false)) {
          const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
          while (submitting.load() < kWriters / 2 && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let them queue
        }
        size_t bytes = 0;
        std::vector<int> ids;
        for (Writer* g : group) {
          bytes += g->bytes;
          ids.push_back(static_cast<Tagged*>(g)->id);
          if (g->alone) {
            EXPECT_EQ(group.size(), 1u);
          }
          g->status = Status::Ok();
        }
        if (group.size() > 1) {
          EXPECT_LE(bytes, 100u);
        }
        {
          std::lock_guard<std::mutex> lock(mu);
          groups.push_back(ids);
          for (int id : ids) ++committed[id];
        }
        committing.store(false);
      });
      EXPECT_TRUE(s.ok()) << s.ToString();
    });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < kWriters; ++i) EXPECT_EQ(committed[i], 1) << "writer " << i;
  EXPECT_LT(groups.size(), static_cast<size_t>(kWriters)) << "no writes were grouped";
}

TEST(GroupCommitQueueTest, AFullQueueRefusesAfterItsTimeoutAndAdmitIsAsked) {
  GroupCommitQueue queue("test queue", /*writers_max=*/1, /*group_bytes_max=*/100, RealClock().get());
  std::mutex gate;
  gate.lock();  // holds the first writer's commit
  std::atomic<bool> in_commit{false};
  std::thread leader([&] {
    Writer w;
    Status s = queue.Submit(&w, std::chrono::seconds(60), Admit, [&](const std::vector<Writer*>& group) {
      in_commit.store(true);
      std::lock_guard<std::mutex> hold(gate);
      for (Writer* g : group) g->status = Status::Ok();
    });
    EXPECT_TRUE(s.ok());
  });
  while (!in_commit.load()) std::this_thread::yield();
  Writer second;
  Status full = queue.Submit(&second, std::chrono::milliseconds(1), Admit, [](const std::vector<Writer*>&) {
    ADD_FAILURE() << "a refused writer must not commit";
  });
  EXPECT_EQ(full.code(), StatusCode::kUnavailable) << full.ToString();

  Writer third;
  Status refused = queue.Submit(&third, std::chrono::milliseconds(1),
                                [] { return Status::NotFound("dropped"); }, [](const std::vector<Writer*>&) {});
  EXPECT_TRUE(refused.IsNotFound()) << refused.ToString();
  gate.unlock();
  leader.join();
}

}  // namespace
}  // namespace fathom
