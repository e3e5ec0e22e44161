#include "io/commit_object.h"

#include <gtest/gtest.h>

#include "io/mem_store.h"

namespace fathom {
namespace {

// A MemStore whose next `lost_acks` Puts land but report an error, and whose next
// `failed_gets` Gets fail.
class FlakyStore : public MemStore {
 public:
  int lost_acks = 0;
  int failed_gets = 0;
  int puts = 0;
  Status Put(const std::string& key, std::string_view bytes, PutMode mode) override {
    ++puts;
    Status s = MemStore::Put(key, bytes, mode);
    if (s.ok() && lost_acks > 0) {
      --lost_acks;
      return Status::IOError("acknowledgement lost");
    }
    return s;
  }
  Result<std::string> Get(const std::string& key, std::optional<ByteRange> range) override {
    if (failed_gets > 0) {
      --failed_gets;
      return Status::IOError("get failed");
    }
    return MemStore::Get(key, range);
  }
};

TEST(CommitObjectTest, ALostAcknowledgementIsResolvedByReadingBack) {
  FlakyStore store;
  store.lost_acks = 1;
  EXPECT_TRUE(CommitObject(store, "a/1", "bytes").ok());
  EXPECT_EQ(store.puts, 2) << "the retry met AlreadyExists and read the object back";
  EXPECT_EQ(*store.MemStore::Get("a/1", std::nullopt), "bytes");
}

TEST(CommitObjectTest, AnotherWritersObjectIsAlreadyExists) {
  FlakyStore store;
  ASSERT_TRUE(store.MemStore::Put("a/1", "theirs", PutMode::kCreateOnly).ok());
  EXPECT_TRUE(CommitObject(store, "a/1", "mine").IsAlreadyExists());
  EXPECT_EQ(*store.MemStore::Get("a/1", std::nullopt), "theirs");
}

TEST(CommitObjectTest, AnEqualObjectFoundByTheFirstAttemptIsAnotherWriters) {
  // Two nodes can log byte-identical WAL objects (the same delete at the same sequence
  // number): with no earlier attempt of ours that may have landed, the key is theirs.
  FlakyStore store;
  ASSERT_TRUE(store.MemStore::Put("a/1", "same", PutMode::kCreateOnly).ok());
  EXPECT_TRUE(CommitObject(store, "a/1", "same").IsAlreadyExists());
  EXPECT_EQ(store.puts, 1);
}

TEST(CommitObjectTest, AnOutcomeThatCannotBeReadBackStaysAnError) {
  FlakyStore store;
  store.lost_acks = 100;
  store.failed_gets = 100;
  Status s = CommitObject(store, "a/1", "bytes");
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(s.IsAlreadyExists()) << "unknown, not someone else's: " << s.ToString();
  // Once the store answers again, the outcome is learned.
  store.failed_gets = 0;
  EXPECT_TRUE(ResolveObject(store, "a/1", "bytes").ok());
  EXPECT_TRUE(ResolveObject(store, "a/2", "bytes").IsNotFound());
  EXPECT_TRUE(ResolveObject(store, "a/1", "other").IsAlreadyExists());
}

}  // namespace
}  // namespace fathom
