// Unit tests of the HTTP layer's codecs: base64, number formatting, metadata and
// embedding decoding, error mapping.
#include <cmath>
#include <cstring>

#include <gtest/gtest.h>

#include "server/base64.h"
#include "server/errors.h"
#include "server/json_reader.h"
#include "server/json_writer.h"

namespace fathom::server {
namespace {

TEST(Base64Test, RoundTripsAndRejectsLikeTheRustCrate) {
  const float v[3] = {1.0f, 0.0f, 0.0f};
  EXPECT_EQ(Base64Encode(v, sizeof(v)), "AACAPwAAAAAAAAAA");
  std::vector<uint8_t> out;
  std::string error;
  ASSERT_TRUE(Base64Decode("AACAPwAAAAAAAAAA", out, error));
  ASSERT_EQ(out.size(), 12u);
  float back[3];
  std::memcpy(back, out.data(), 12);
  EXPECT_EQ(back[0], 1.0f);
  for (size_t len = 0; len < 20; ++len) {
    std::vector<uint8_t> bytes(len);
    for (size_t i = 0; i < len; ++i) bytes[i] = static_cast<uint8_t>(i * 37 + 11);
    out.clear();
    ASSERT_TRUE(Base64Decode(Base64Encode(bytes.data(), bytes.size()), out, error)) << error;
    EXPECT_EQ(out, bytes);
  }
  auto fails = [](std::string_view text) {
    std::vector<uint8_t> o;
    std::string e;
    EXPECT_FALSE(Base64Decode(text, o, e)) << text;
    return e;
  };
  EXPECT_EQ(fails("AACAPwAAAAAAAAA"), "Invalid padding");
  EXPECT_EQ(fails("AAA=A==="), "Invalid padding");
  EXPECT_EQ(fails("A"), "Invalid input length.");
  EXPECT_EQ(fails("AA!A"), "Invalid symbol 33, offset 2.");
  EXPECT_EQ(fails("AB=="), "Invalid last symbol 66, offset 1.");
}

std::string WriteDouble(double v) {
  JsonWriter w;
  w.Double(v);
  return w.Take();
}
std::string WriteFloat(float v) {
  JsonWriter w;
  w.Float(v);
  return w.Take();
}

TEST(JsonWriterTest, NumbersLookLikeSerdeOutput) {
  EXPECT_EQ(WriteDouble(9223372036854775808.0), "9.223372036854776e18");
  EXPECT_EQ(WriteDouble(3.0), "3.0");
  EXPECT_EQ(WriteDouble(-2.5), "-2.5");
  EXPECT_EQ(WriteDouble(0.0), "0.0");
  EXPECT_EQ(WriteDouble(1e-7), "1e-7");
  EXPECT_EQ(WriteDouble(0.001), "0.001");
  EXPECT_EQ(WriteDouble(1234.5678), "1234.5678");
  EXPECT_EQ(WriteDouble(1e16), "1e16");
  EXPECT_EQ(WriteDouble(NAN), "null");
  EXPECT_EQ(WriteFloat(0.1f), "0.1");
  EXPECT_EQ(WriteFloat(1.0f), "1.0");
  EXPECT_EQ(WriteFloat(0.020000005f), "0.020000005");
  EXPECT_EQ(WriteFloat(-6.0f), "-6.0");
  EXPECT_EQ(WriteFloat(INFINITY), "null");
}

ApiResult<MetadataPatch> ParseMetadata(const std::string& json, MetadataMode mode) {
  auto body = JsonBody::ParseOwned(json);
  EXPECT_TRUE(body.ok());
  return ReadMetadataMap(body->root(), "metadatas[0]", mode);
}

TEST(JsonReaderTest, MetadataValuesFollowChromaTyping) {
  auto m = ParseMetadata(R"({"b":true,"i":3,"f":3.0,"s":"x","ia":[1,2],"fa":[1,2.5],"sa":["a"],"ba":[false],)"
                         R"("big":9223372036854775808,"gone":[]})", MetadataMode::kAdd);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(std::get<bool>(*m->at("b")), true);
  EXPECT_EQ(std::get<int64_t>(*m->at("i")), 3);
  EXPECT_EQ(std::get<double>(*m->at("f")), 3.0);
  EXPECT_EQ(std::get<std::vector<int64_t>>(*m->at("ia")).size(), 2u);
  EXPECT_EQ(std::get<std::vector<double>>(*m->at("fa"))[1], 2.5);
  EXPECT_EQ(std::get<double>(*m->at("big")), 9223372036854775808.0);
  EXPECT_EQ(m->count("gone"), 0u);
  auto mixed = ParseMetadata(R"({"m":[1,"a"]})", MetadataMode::kAdd);
  ASSERT_FALSE(mixed.ok());
  EXPECT_EQ(mixed.error().http_status(), 422u);
  EXPECT_FALSE(ParseMetadata(R"({"n":null})", MetadataMode::kAdd).ok());
  auto patch = ParseMetadata(R"({"n":null})", MetadataMode::kPatch);
  ASSERT_TRUE(patch.ok());
  EXPECT_FALSE(patch->at("n").has_value());
  // Sparse vectors: the legacy and the tagged form, tokens kept; shapes that are neither
  // are 422, broken vectors 400.
  auto sparse = ParseMetadata(R"({"sv":{"indices":[1],"values":[2]},)"
                              R"("st":{"#type":"sparse_vector","indices":[0,4],"values":[0.5,1],"tokens":["a","b"]}})",
                              MetadataMode::kAdd);
  ASSERT_TRUE(sparse.ok());
  EXPECT_EQ(std::get<SparseVector>(*sparse->at("sv")), (SparseVector{{1}, {2.0f}, {}}));
  EXPECT_EQ(std::get<SparseVector>(*sparse->at("st")), (SparseVector{{0, 4}, {0.5f, 1.0f}, {"a", "b"}}));
  for (const char* shape : {R"({"sv":{"indices":[1]}})", R"({"sv":{"indices":["1"],"values":[1]}})",
                            R"({"sv":{"indices":[4294967296],"values":[1]}})",
                            R"({"sv":{"#type":"other","indices":[1],"values":[1]}})",
                            R"({"sv":{"indices":[1],"values":[1],"tokens":[1]}})"}) {
    auto bad = ParseMetadata(shape, MetadataMode::kAdd);
    ASSERT_FALSE(bad.ok()) << shape;
    EXPECT_EQ(bad.error().http_status(), 422u) << shape;
  }
  for (const char* broken : {R"({"sv":{"indices":[1,1],"values":[1,2]}})", R"({"sv":{"indices":[1],"values":[1,2]}})",
                             R"({"sv":{"indices":[1],"values":[1],"tokens":["a","b"]}})",
                             R"({"sv":{"indices":[1],"values":[-1e39]}})"}) {
    auto bad = ParseMetadata(broken, MetadataMode::kAdd);
    ASSERT_FALSE(bad.ok()) << broken;
    EXPECT_EQ(bad.error().http_status(), 400u) << broken;
  }
}

TEST(JsonReaderTest, EmbeddingsAcceptFloatsOrBase64NotBoth) {
  auto body = JsonBody::ParseOwned(R"([[1,2.5,3],"AACAPwAAAAAAAAAA"])");
  ASSERT_TRUE(body.ok());
  auto mixed = ReadWriteEmbeddings(body->root(), "embeddings", false);
  ASSERT_FALSE(mixed.ok());
  EXPECT_EQ(mixed.error().http_status(), 422u);
  body = JsonBody::ParseOwned(R"(["AACAPwAAAAAAAAAA",null])");
  auto with_null = ReadWriteEmbeddings(body->root(), "embeddings", true);
  ASSERT_TRUE(with_null.ok());
  EXPECT_EQ((*with_null)[0]->size(), 3u);
  EXPECT_FALSE((*with_null)[1].has_value());
  EXPECT_FALSE(ReadWriteEmbeddings(body->root(), "embeddings", false).ok());
}

TEST(ApiErrorTest, EngineStatusesMapOntoChromasTable) {
  struct Row {
    Status status;
    unsigned http;
    const char* name;
  };
  const Row rows[] = {
      {Status::InvalidArgument("m"), 400, "InvalidArgumentError"},
      {Status::NotFound("m"), 404, "NotFoundError"},
      {Status::AlreadyExists("m"), 409, "ChromaError"},
      {Status::ResourceExhausted("m"), 429, "ChromaError"},
      {Status::FailedPrecondition("m"), 412, "ChromaError"},
      {Status::Unimplemented("m"), 501, "ChromaError"},
      {Status::Unavailable("m"), 503, "ChromaError"},
      {Status::StorageFull("m"), 507, "ChromaError"},
      // The server's data directory refuses it: an operator's problem, named as such, and
      // neither the client's (403) nor an "internal error".
      {Status::PermissionDenied("m"), 503, "ChromaError"},
      {Status::Corruption("m"), 500, "InternalError"},
      {Status::IOError("m"), 500, "InternalError"},
      {Status::Internal("m"), 500, "InternalError"},
  };
  for (const auto& row : rows) {
    const ApiError e = ApiError::FromStatus(row.status);
    EXPECT_EQ(e.http_status(), row.http) << row.status.ToString();
    EXPECT_EQ(e.error_name(), row.name) << row.status.ToString();
    const HttpResponse r = e.ToResponse();
    EXPECT_EQ(r.status, row.http);
    EXPECT_NE(r.body.find("\"message\":"), std::string::npos);
  }
  EXPECT_EQ(ApiError::FromStatus(Status::NotFound("Collection [x] does not exist")).ToResponse().body,
            R"({"error":"NotFoundError","message":"Collection [x] does not exist"})");
}

}  // namespace
}  // namespace fathom::server
