// The catalog's per-collection text analyzer options (format version 2) and the reading
// of version 1 catalogs written before them.
#include <gtest/gtest.h>

#include "catalog/catalog.h"
#include "common/checksum.h"
#include "common/coding.h"
#include "index/text/analyzer.h"

namespace fathom {
namespace {

CatalogCollection Collection(std::string name) {
  CatalogCollection c;
  c.id = "22222222-2222-4222-8222-22222222222" + std::to_string(name.size() % 10);
  c.name = std::move(name);
  c.tenant = "default_tenant";
  c.database = "default_database";
  c.space = DistanceSpace::kInnerProduct;
  c.configuration_json = "{}";
  return c;
}

CatalogState WithAnalyzer() {
  CatalogState s;
  s.version = 3;
  s.tenants = {{"default_tenant"}};
  s.databases = {{"11111111-1111-4111-8111-111111111111", "default_database", "default_tenant"}};
  CatalogCollection plain = Collection("plain");
  CatalogCollection stemmed = Collection("stemmed");
  stemmed.text_analyzer = TextAnalyzerOptions{false, "english", {"the", "a", "of"}};
  CatalogCollection defaulted = Collection("defaults-explicitly");
  defaulted.text_analyzer = TextAnalyzerOptions{};
  s.collections = {plain, stemmed, defaulted};
  return s;
}

uint16_t FormatVersionOf(const std::string& bytes) { return DecodeFixed16(bytes.data() + 4); }

TEST(CatalogTextAnalyzerTest, RoundTripKeepsEachCollectionsOptions) {
  auto bytes = EncodeCatalog(WithAnalyzer());
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  EXPECT_EQ(FormatVersionOf(*bytes), 2);
  auto decoded = DecodeCatalog(*bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  ASSERT_EQ(decoded->collections.size(), 3u);
  EXPECT_FALSE(decoded->collections[0].text_analyzer.has_value());
  ASSERT_TRUE(decoded->collections[1].text_analyzer.has_value());
  EXPECT_EQ(*decoded->collections[1].text_analyzer, (TextAnalyzerOptions{false, "english", {"the", "a", "of"}}));
  ASSERT_TRUE(decoded->collections[2].text_analyzer.has_value());
  EXPECT_EQ(*decoded->collections[2].text_analyzer, TextAnalyzerOptions{});
  EXPECT_EQ(decoded->collections[1].space, DistanceSpace::kInnerProduct);
  EXPECT_EQ(decoded->collections[1].configuration_json, "{}");
}

TEST(CatalogTextAnalyzerTest, WithoutOptionsTheCatalogStaysVersionOne) {
  CatalogState s = WithAnalyzer();
  for (CatalogCollection& c : s.collections) c.text_analyzer.reset();
  auto bytes = EncodeCatalog(s);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  EXPECT_EQ(FormatVersionOf(*bytes), 1);
  auto decoded = DecodeCatalog(*bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->collections.size(), 3u);
}

// Version 1 bytes laid out by hand as the version 1 writer wrote them, so the check does
// not depend on today's encoder.
TEST(CatalogTextAnalyzerTest, VersionOneBytesStillDecode) {
  std::string out(kCatalogMagic, 4);
  PutFixed16(&out, 1);
  PutFixed16(&out, 0);
  PutFixed64(&out, 7);
  PutVarint64(&out, 1);
  PutLengthPrefixed(&out, "default_tenant");
  PutVarint64(&out, 1);
  PutLengthPrefixed(&out, "11111111-1111-4111-8111-111111111111");
  PutLengthPrefixed(&out, "default_database");
  PutLengthPrefixed(&out, "default_tenant");
  PutVarint64(&out, 1);
  PutLengthPrefixed(&out, "33333333-3333-4333-8333-333333333333");
  PutLengthPrefixed(&out, "old");
  PutLengthPrefixed(&out, "default_tenant");
  PutLengthPrefixed(&out, "default_database");
  out.push_back(0);  // no metadata
  out.push_back(1);  // cosine
  PutLengthPrefixed(&out, R"({"format":1})");
  PutFixed64(&out, Checksum64(out));
  auto decoded = DecodeCatalog(out);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->version, 7u);
  ASSERT_EQ(decoded->collections.size(), 1u);
  EXPECT_EQ(decoded->collections[0].name, "old");
  EXPECT_EQ(decoded->collections[0].space, DistanceSpace::kCosine);
  EXPECT_EQ(decoded->collections[0].configuration_json, R"({"format":1})");
  EXPECT_FALSE(decoded->collections[0].text_analyzer.has_value());
}

TEST(CatalogTextAnalyzerTest, UnknownVersionsAreRefused) {
  std::string bytes = EncodeCatalog(WithAnalyzer()).value();
  for (uint16_t version : {uint16_t{0}, uint16_t{4}}) {
    std::string bad = bytes;
    bad[4] = static_cast<char>(version & 0xff);
    bad[5] = static_cast<char>(version >> 8);
    EncodeFixed64(bad.data() + bad.size() - 8, Checksum64(std::string_view(bad).substr(0, bad.size() - 8)));
    auto decoded = DecodeCatalog(bad);
    EXPECT_TRUE(decoded.status().IsCorruption()) << version << ": " << decoded.status().ToString();
  }
}

TEST(CatalogTextAnalyzerTest, EveryFlippedByteIsCorruption) {
  std::string bytes = EncodeCatalog(WithAnalyzer()).value();
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] ^= 0x10;
    EXPECT_TRUE(DecodeCatalog(bad).status().IsCorruption()) << "byte " << i;
  }
}

// With a valid checksum, every truncation of the analyzer fields (and a stop word count
// larger than the bytes left) is Corruption, never a read past the end.
TEST(CatalogTextAnalyzerTest, TruncatedOrInflatedFieldsAreCorruption) {
  std::string bytes = EncodeCatalog(WithAnalyzer()).value();
  std::string body = bytes.substr(0, bytes.size() - 8);
  for (size_t cut = 16; cut < body.size(); ++cut) {
    std::string bad = body.substr(0, cut);
    PutFixed64(&bad, Checksum64(bad));
    EXPECT_TRUE(DecodeCatalog(bad).status().IsCorruption()) << "cut at " << cut;
  }
  // The last collection's options: present, remove_diacritics, "" stemmer, stop word count.
  std::string inflated = body.substr(0, body.size() - 1);
  PutVarint64(&inflated, kAnalyzerStopWordsMax + 1);
  PutFixed64(&inflated, Checksum64(inflated));
  EXPECT_TRUE(DecodeCatalog(inflated).status().IsCorruption());
  std::string bad_flag = body;
  bad_flag[body.size() - 4] = 2;  // has_text_analyzer of the last collection
  PutFixed64(&bad_flag, Checksum64(bad_flag));
  EXPECT_TRUE(DecodeCatalog(bad_flag).status().IsCorruption());
}

TEST(CatalogTextAnalyzerTest, EncoderRefusesOptionsOverTheDecodersBounds) {
  auto refused = [](const TextAnalyzerOptions& options, const std::string& limit_name) {
    CatalogState s = WithAnalyzer();
    s.collections[1].text_analyzer = options;
    auto encoded = EncodeCatalog(s);
    ASSERT_FALSE(encoded.ok()) << limit_name;
    EXPECT_EQ(encoded.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(encoded.status().message().find(limit_name), std::string::npos) << encoded.status().ToString();
  };
  refused(TextAnalyzerOptions{true, std::string(kCatalogStemmerBytesMax + 1, 's'), {}}, "kCatalogStemmerBytesMax");
  refused(TextAnalyzerOptions{true, "", {std::string(kAnalyzerStopWordBytesMax + 1, 'w')}},
          "kAnalyzerStopWordBytesMax");
  refused(TextAnalyzerOptions{true, "", std::vector<std::string>(kAnalyzerStopWordsMax + 1, "w")},
          "kAnalyzerStopWordsMax");
  // At the bounds it encodes and decodes.
  CatalogState s = WithAnalyzer();
  s.collections[1].text_analyzer =
      TextAnalyzerOptions{true, std::string(kCatalogStemmerBytesMax, 's'),
                          {std::string(kAnalyzerStopWordBytesMax, 'w')}};
  auto encoded = EncodeCatalog(s);
  ASSERT_TRUE(encoded.ok()) << encoded.status().ToString();
  auto decoded = DecodeCatalog(*encoded);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->collections[1].text_analyzer, s.collections[1].text_analyzer);
}

}  // namespace
}  // namespace fathom
