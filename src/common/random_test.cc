// Tests of common/random.h: UUIDs and RandomU64, and that a forked child never draws its
// parent's numbers (WAL writer nonces and object ids must differ between processes).
#include "common/random.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <set>

namespace fathom {
namespace {

TEST(RandomTest, UuidsAreWellFormedAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = NewUuidV4();
    ASSERT_TRUE(IsUuid(id)) << id;
    EXPECT_EQ(id[14], '4') << id;
    EXPECT_TRUE(seen.insert(id).second) << id;
  }
  EXPECT_FALSE(IsUuid("not-a-uuid"));
}

// The generator is per thread and was seeded in the parent: without reseeding, the child's
// next number is the parent's next number.
TEST(RandomTest, AForkedChildDrawsOtherNumbersThanItsParent) {
  (void)RandomU64();  // the parent's generator exists before the fork
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const uint64_t drawn = RandomU64();
    const bool written = write(fds[1], &drawn, sizeof(drawn)) == static_cast<ssize_t>(sizeof(drawn));
    _exit(written ? 0 : 1);
  }
  close(fds[1]);
  const uint64_t parents = RandomU64();
  uint64_t childs = 0;
  ASSERT_EQ(read(fds[0], &childs, sizeof(childs)), static_cast<ssize_t>(sizeof(childs)));
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_NE(childs, parents);
}

}  // namespace
}  // namespace fathom
