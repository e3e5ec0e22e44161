// Decoders for the two XML documents an S3 server sends S3Store: ListBucketResult (the
// answer to ListObjectsV2) and Error (the body of a 4xx/5xx answer).
//
// The bytes come from the network, so the decoder is small and strict: it accepts the
// subset of XML 1.0 that S3 servers write (an optional <?xml?> declaration, comments,
// elements with attributes, text with the five named entities and numeric character
// references, CDATA) and refuses everything else (DOCTYPE, unbalanced or mismatched tags,
// unknown entities, trailing bytes) with Corruption, never a crash. Input size and nesting
// depth are bounded by kS3XmlBytesMax and kS3XmlDepthMax. Fuzzed by
// tests/fuzz/libfuzzer/s3_xml_fuzzer.cc. Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fathom/object_store.h"
#include "fathom/status.h"

namespace fathom {

// A ListObjectsV2 page of 1000 keys of 1024 bytes is about 1.5 MB; anything far larger is
// not an answer to a request of ours.
inline constexpr size_t kS3XmlBytesMax = 32u << 20;
// S3 documents nest three levels deep (ListBucketResult/Contents/Key).
inline constexpr int kS3XmlDepthMax = 16;

// One element: its name (with any namespace prefix), its unescaped text (the
// concatenation of its direct text children) and its child elements.
struct XmlElement {
  std::string name;
  std::string text;
  std::vector<XmlElement> children;

  // The first child named `name`, or null.
  const XmlElement* Child(std::string_view child_name) const;
};

// Parses one XML document into its root element.
Result<XmlElement> ParseXml(std::string_view bytes);

// Replaces &lt; &gt; &amp; &quot; &apos; &#N; &#xH; by the characters they stand for
// (numeric references as UTF-8). Corruption on an unknown or malformed reference.
Result<std::string> XmlUnescape(std::string_view text);

struct ListBucketPage {
  // Keys as the server sent them (with the store's root prefix), sizes in bytes.
  std::vector<ObjectInfo> objects;
  bool is_truncated = false;
  // Set when is_truncated: pass as continuation-token to get the next page.
  std::string next_continuation_token;
};

Result<ListBucketPage> ParseListBucketResult(std::string_view bytes);

struct S3ErrorDocument {
  std::string code;     // e.g. "NoSuchKey", "AccessDenied", "SlowDown"
  std::string message;  // may be empty
};

Result<S3ErrorDocument> ParseS3Error(std::string_view bytes);

}  // namespace fathom
