#include "storage/manifest.h"

#include <gtest/gtest.h>

#include "common/random.h"

namespace fathom {
namespace {

Manifest Sample() {
  Manifest m;
  m.version = 3;
  m.wal_sequence_covered = 99;
  m.next_offset = 1234;
  m.dimension = 128;
  m.segments.push_back({NewUuidV4(), 10, 2, 4096});
  m.segments.push_back({NewUuidV4(), 0, 5, 100});
  return m;
}

TEST(ManifestTest, RoundTrip) {
  Manifest m = Sample();
  auto d = DecodeManifest(EncodeManifest(m));
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->version, 3u);
  EXPECT_EQ(d->wal_sequence_covered, 99u);
  EXPECT_EQ(d->next_offset, 1234u);
  EXPECT_EQ(d->dimension, 128u);
  ASSERT_EQ(d->segments.size(), 2u);
  EXPECT_EQ(d->segments[1].id, m.segments[1].id);
  EXPECT_EQ(d->segments[0].rows, 10u);
}

TEST(ManifestTest, EveryFlippedByteAndTruncationIsCorruption) {
  std::string bytes = EncodeManifest(Sample());
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] ^= 0x01;
    EXPECT_TRUE(DecodeManifest(bad).status().IsCorruption()) << "byte " << i;
    EXPECT_TRUE(DecodeManifest(std::string_view(bytes).substr(0, i)).status().IsCorruption()) << "length " << i;
  }
}

TEST(ManifestTest, KeysSortNumerically) {
  EXPECT_LT(ManifestKey("x", 9), ManifestKey("x", 10));
  EXPECT_EQ(SegmentKey("x", "s"), "c/x/seg/s.records");
}

}  // namespace
}  // namespace fathom
