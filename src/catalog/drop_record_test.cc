#include "catalog/drop_record.h"

#include <gtest/gtest.h>

#include "common/checksum.h"
#include "common/coding.h"
#include "common/random.h"

namespace fathom {
namespace {

TEST(DropRecordTest, RoundTrips) {
  const std::vector<std::string> ids = {NewUuidV4(), NewUuidV4(), NewUuidV4()};
  auto bytes = EncodeDropRecord(ids);
  ASSERT_TRUE(bytes.ok());
  auto decoded = DecodeDropRecord(*bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, ids);
  EXPECT_EQ(DropRecordKey("x"), "dropped/x");
}

TEST(DropRecordTest, TheEncoderRefusesWhatTheDecoderWould) {
  auto bytes = EncodeDropRecord({NewUuidV4(), "not-a-uuid"});
  EXPECT_EQ(bytes.status().code(), StatusCode::kInvalidArgument);
}

TEST(DropRecordTest, EveryFlippedBitIsCorruption) {
  const std::string good = *EncodeDropRecord({NewUuidV4()});
  for (size_t i = 0; i < good.size() * 8; ++i) {
    std::string bad = good;
    bad[i / 8] ^= static_cast<char>(1 << (i % 8));
    EXPECT_TRUE(DecodeDropRecord(bad).status().IsCorruption()) << "bit " << i;
  }
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_TRUE(DecodeDropRecord(good.substr(0, n)).status().IsCorruption()) << "truncated to " << n;
  }
}

// A count the remaining bytes cannot hold is refused before it sizes anything.
TEST(DropRecordTest, AHugeCountIsCorruption) {
  std::string body("FDRP", 4);
  PutFixed16(&body, 1);
  PutFixed16(&body, 0);
  PutVarint64(&body, uint64_t{1} << 60);
  PutFixed64(&body, Checksum64(body));
  EXPECT_TRUE(DecodeDropRecord(body).status().IsCorruption());
}

}  // namespace
}  // namespace fathom
