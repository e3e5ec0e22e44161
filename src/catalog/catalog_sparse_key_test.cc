// The catalog's per-collection sparse vector key (format version 3): round trip, the
// version the writer picks, and the encoder refusing what the decoder would.
#include <gtest/gtest.h>

#include "catalog/catalog.h"
#include "common/coding.h"
#include "common/limits.h"

namespace fathom {
namespace {

CatalogState State() {
  CatalogState s;
  s.version = 5;
  s.tenants = {{"default_tenant"}};
  s.databases = {{"11111111-1111-4111-8111-111111111111", "default_database", "default_tenant"}};
  for (const char* name : {"plain", "stemmed", "sparse"}) {
    CatalogCollection c;
    c.id = std::string("22222222-2222-4222-8222-22222222222") + std::to_string(std::string(name).size() % 10);
    c.name = name;
    c.tenant = "default_tenant";
    c.database = "default_database";
    c.configuration_json = "{}";
    s.collections.push_back(c);
  }
  s.collections[1].text_analyzer = TextAnalyzerOptions{true, "english", {}};
  s.collections[2].sparse_key = "sp";
  return s;
}

uint16_t FormatVersionOf(const std::string& bytes) { return DecodeFixed16(bytes.data() + 4); }

TEST(CatalogSparseKeyTest, RoundTripIsVersionThree) {
  auto bytes = EncodeCatalog(State());
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  EXPECT_EQ(FormatVersionOf(*bytes), 3);
  auto decoded = DecodeCatalog(*bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  ASSERT_EQ(decoded->collections.size(), 3u);
  EXPECT_FALSE(decoded->collections[0].sparse_key.has_value());
  EXPECT_FALSE(decoded->collections[1].sparse_key.has_value());
  EXPECT_EQ(decoded->collections[1].text_analyzer, (TextAnalyzerOptions{true, "english", {}}));
  EXPECT_EQ(decoded->collections[2].sparse_key, std::optional<std::string>("sp"));
}

TEST(CatalogSparseKeyTest, WithoutAKeyTheOlderVersionIsWritten) {
  CatalogState s = State();
  s.collections[2].sparse_key.reset();
  auto bytes = EncodeCatalog(s);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(FormatVersionOf(*bytes), 2);
}

TEST(CatalogSparseKeyTest, TruncationAndOverlongKeysAreRefused) {
  const std::string bytes = EncodeCatalog(State()).value();
  for (size_t cut = 1; cut < 16; ++cut) {
    EXPECT_FALSE(DecodeCatalog(bytes.substr(0, bytes.size() - 8 - cut) + bytes.substr(bytes.size() - 8)).ok());
  }
  CatalogState s = State();
  s.collections[2].sparse_key = std::string(limits::kMetadataKeyBytesMax + 1, 'k');
  auto refused = EncodeCatalog(s);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fathom
