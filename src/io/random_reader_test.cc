#include "io/random_reader.h"

#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "test_util.h"

namespace fathom {
namespace {

// ReadMany on a local file (io_uring batches, more requests than one ring holds) returns
// the same bytes as ReadAt, and a range past the end is Corruption for that request only.
TEST(RandomReaderTest, LocalReadManyMatchesReadAt) {
  const uint64_t seed = testing::SeedForTest("RandomReaderTest.LocalReadManyMatchesReadAt");
  std::mt19937_64 rng(seed);
  testing::TempDir dir;
  const std::string path = dir.path() + "/bytes";
  std::string content(1 << 20, '\0');
  for (char& c : content) c = static_cast<char>(rng());
  {
    std::ofstream out(path, std::ios::binary);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
  }
  auto reader = LocalFileReader::Open(path);
  ASSERT_TRUE(reader.ok());
  for (size_t count : {1u, 2u, 7u, 64u, 65u, 200u}) {
    std::vector<ReadRequest> requests(count);
    std::vector<std::string> buffers(count);
    for (size_t i = 0; i < count; ++i) {
      const size_t length = rng() % 9000;
      buffers[i].assign(length, '\0');
      requests[i].offset = rng() % (content.size() - length + 1);
      requests[i].length = length;
      requests[i].dst = buffers[i].data();
    }
    // One request runs past the end of the file.
    const size_t past = count / 2;
    buffers[past].assign(100, '\0');
    requests[past].offset = content.size() - 40;
    requests[past].length = 100;
    requests[past].dst = buffers[past].data();
    (*reader)->ReadMany(requests.data(), count);
    for (size_t i = 0; i < count; ++i) {
      if (i == past) {
        EXPECT_TRUE(requests[i].status.IsCorruption()) << requests[i].status.ToString();
        continue;
      }
      ASSERT_TRUE(requests[i].status.ok()) << requests[i].status.ToString();
      EXPECT_EQ(buffers[i], content.substr(requests[i].offset, requests[i].length)) << "request " << i;
    }
  }
}

}  // namespace
}  // namespace fathom
