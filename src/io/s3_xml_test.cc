// The S3 XML decoder: the documents S3 servers send, and what it must refuse.
#include "io/s3_xml.h"

#include <gtest/gtest.h>

namespace fathom {
namespace {

TEST(S3XmlTest, ParsesAListBucketResult) {
  // As Ceph RGW 16.2 writes it (one page of a truncated listing).
  const std::string xml =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
      "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name><Prefix>p/</Prefix>"
      "<MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>"
      "<Contents><Key>p/a&amp;b</Key><LastModified>2026-12-06T20:00:00.000Z</LastModified>"
      "<ETag>&quot;5d41&quot;</ETag><Size>5</Size><StorageClass>STANDARD</StorageClass></Contents>"
      "<Contents><Key>p/&#x3c;&#233;</Key><Size>0</Size></Contents>"
      "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
      "<KeyCount>2</KeyCount></ListBucketResult>";
  auto page = ParseListBucketResult(xml);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->objects.size(), 2u);
  EXPECT_EQ(page->objects[0].key, "p/a&b");
  EXPECT_EQ(page->objects[0].size_bytes, 5u);
  EXPECT_EQ(page->objects[1].key, "p/<\xC3\xA9");
  EXPECT_TRUE(page->is_truncated);
  EXPECT_EQ(page->next_continuation_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");

  auto empty = ParseListBucketResult(
      "<ListBucketResult><Name>b</Name><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>\n");
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_TRUE(empty->objects.empty());
  EXPECT_FALSE(empty->is_truncated);
}

TEST(S3XmlTest, ParsesAnErrorDocument) {
  auto error = ParseS3Error(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>\n  <Code>AccessDenied</Code>\n"
      "  <Message>Access Denied</Message>\n  <RequestId>tx0</RequestId><HostId>h</HostId>\n</Error>\n");
  ASSERT_TRUE(error.ok()) << error.status().ToString();
  EXPECT_EQ(error->code, "AccessDenied");
  EXPECT_EQ(error->message, "Access Denied");
  // RGW sends some errors without a Message.
  auto bare = ParseS3Error("<Error><Code>NoSuchKey</Code><BucketName>b</BucketName></Error>");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->message, "");
}

TEST(S3XmlTest, UnescapesEntities) {
  EXPECT_EQ(*XmlUnescape("a&lt;b&gt;c&amp;d&quot;e&apos;f"), "a<b>c&d\"e'f");
  EXPECT_EQ(*XmlUnescape("&#65;&#x42;&#x1F600;"), "AB\xF0\x9F\x98\x80");
  for (const char* bad : {"&", "&foo;", "&#;", "&#x;", "&#0;", "&#xD800;", "&#x110000;", "&#12a;", "&lt"}) {
    EXPECT_TRUE(XmlUnescape(bad).status().IsCorruption()) << bad;
  }
}

TEST(S3XmlTest, RefusesMalformedDocuments) {
  const char* not_xml[] = {
      "", "text", "<a>", "<a></b>", "<a><b></a></b>", "<a>x</a><b/>", "<a>x</a>trailing",
      "<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>", "<a attr></a>", "<a attr=\"x></a>", "<a b=\"1\"c=\"2\"/>",
      "<a><!-- unterminated </a>", "<a><![CDATA[ unterminated </a>", "<a><?pi?></a>", "<a>&bogus;</a>",
  };
  for (const char* xml : not_xml) EXPECT_TRUE(ParseXml(xml).status().IsCorruption()) << xml;
  const char* bad_lists[] = {
      "<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>",
      "<ListBucketResult><Contents><Key></Key><Size>1</Size></Contents></ListBucketResult>",
      "<ListBucketResult><Contents><Key>k</Key><Size>-1</Size></Contents></ListBucketResult>",
      "<ListBucketResult><Contents><Key>k</Key><Size>99999999999999999999</Size></Contents></ListBucketResult>",
      "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
      "<ListBucketResult><IsTruncated>maybe</IsTruncated></ListBucketResult>",
      "<Error><Code>x</Code></Error>",
  };
  for (const char* xml : bad_lists) EXPECT_TRUE(ParseListBucketResult(xml).status().IsCorruption()) << xml;
  EXPECT_TRUE(ParseS3Error("<Error><Message>no code</Message></Error>").status().IsCorruption());
  EXPECT_TRUE(ParseS3Error("<ListBucketResult/>").status().IsCorruption());
}

TEST(S3XmlTest, BoundsDepthAndSize) {
  std::string deep;
  for (int i = 0; i < kS3XmlDepthMax + 1; ++i) deep += "<a>";
  for (int i = 0; i < kS3XmlDepthMax + 1; ++i) deep += "</a>";
  EXPECT_TRUE(ParseXml(deep).status().IsCorruption());
  std::string ok_depth;
  for (int i = 0; i < kS3XmlDepthMax; ++i) ok_depth += "<a>";
  for (int i = 0; i < kS3XmlDepthMax; ++i) ok_depth += "</a>";
  EXPECT_TRUE(ParseXml(ok_depth).ok());
  EXPECT_TRUE(ParseXml(std::string(kS3XmlBytesMax + 1, ' ')).status().IsCorruption());
}

}  // namespace
}  // namespace fathom
