// Unit tests of the typed schema (collection_schema.h). The HTTP behaviour is covered by
// tests/http/schema_test.cc.
#include <gtest/gtest.h>

#include "server/collection_schema.h"

namespace fathom::server {
namespace {

CollectionSchema Parse(const std::string& json) {
  auto body = JsonBody::ParseOwned(json);
  EXPECT_TRUE(body.ok()) << json;
  auto schema = ParseSchema(body->root(), "schema");
  EXPECT_TRUE(schema.ok()) << (schema.ok() ? "" : schema.error().message());
  return schema.ok() ? *schema : CollectionSchema{};
}

std::string Write(const CollectionSchema& schema, SchemaOutput output) {
  JsonWriter w;
  WriteSchema(w, schema, output);
  return w.Take();
}

const char* kUserSchema =
    R"({"defaults":{"int":{"int_inverted_index":{"enabled":false,"config":{}}}},)"
    R"("keys":{"author":{"string":{"string_inverted_index":{"enabled":false,"config":{}}}},"ee":{},)"
    R"("s":{"string":{}},"x":{"sparse_vector":{"sparse_vector_index":{"enabled":false,"config":{"bm25":true}}},)"
    R"("float_list":{"vector_index":{"enabled":false,"config":{"space":"cosine","hnsw":{"ef_search":3},)"
    R"("spann":{"search_nprobe":3}}}}},)"
    R"("#embedding":{"float_list":{"vector_index":{"enabled":true,"config":{"space":"ip","hnsw":{"ef_search":7}}}}}}})";

TEST(CollectionSchemaTest, StoredFormRoundTripsAndReconcilingIsIdempotent) {
  const CollectionSchema reconciled = ReconcileSchema(Parse(kUserSchema));
  const CollectionSchema read_back = Parse(Write(reconciled, SchemaOutput::kStored));
  EXPECT_EQ(read_back, reconciled);
  EXPECT_EQ(ReconcileSchema(read_back), reconciled);
  EXPECT_EQ(Write(read_back, SchemaOutput::kStored), Write(reconciled, SchemaOutput::kStored));
}

TEST(CollectionSchemaTest, ReconcileMergesDefaultsAndSpecialKeysKeepsOtherKeys) {
  CollectionSchema schema = ReconcileSchema(Parse(kUserSchema));
  const VectorIndexConfig* embedding = schema.EmbeddingVectorConfig();
  ASSERT_NE(embedding, nullptr);
  EXPECT_EQ(embedding->space, DistanceSpace::kInnerProduct);
  EXPECT_EQ(embedding->source_key, "#document");
  ASSERT_TRUE(embedding->hnsw.has_value());
  EXPECT_EQ(embedding->hnsw->ef_search, 7u);
  EXPECT_EQ(embedding->hnsw->max_neighbors, 16u);  // filled from the default
  // A key the default schema does not name keeps its configs as given (spann too).
  const SchemaIndex* x_vector = schema.keys.at("x").Index(SchemaIndexKind::kVector);
  ASSERT_NE(x_vector, nullptr);
  EXPECT_EQ(x_vector->vector.hnsw->max_neighbors, std::nullopt);
  EXPECT_TRUE(x_vector->vector.spann_json.has_value());
  EXPECT_EQ(schema.keys.at("x").Index(SchemaIndexKind::kSparseVector)->sparse.embedding_function_json, std::nullopt);
  // The defaults' sparse index gets its default config.
  const SchemaIndex* sparse = schema.defaults.Index(SchemaIndexKind::kSparseVector);
  ASSERT_NE(sparse, nullptr);
  EXPECT_EQ(sparse->sparse.bm25, false);
  EXPECT_EQ(sparse->sparse.embedding_function_json, R"({"type":"unknown"})");
  // Declared value types with no index are kept, and shown.
  EXPECT_TRUE(schema.keys.at("s").HasType(SchemaValueType::kString));
  const std::string shown = Write(schema, SchemaOutput::kShown);
  EXPECT_NE(shown.find(R"("s":{"string":{}})"), std::string::npos) << shown;
  EXPECT_NE(shown.find(R"("ee":{})"), std::string::npos) << shown;
}

TEST(CollectionSchemaTest, InvertedIndexLookupFallsBackToTheDefaults) {
  const CollectionSchema schema = ReconcileSchema(Parse(kUserSchema));
  EXPECT_FALSE(schema.InvertedIndexEnabled("author", SchemaValueType::kString));
  EXPECT_FALSE(schema.InvertedIndexEnabled("author", SchemaValueType::kInt));  // defaults: int off
  EXPECT_TRUE(schema.InvertedIndexEnabled("author", SchemaValueType::kFloat));
  EXPECT_TRUE(schema.InvertedIndexEnabled("other", SchemaValueType::kString));
  EXPECT_FALSE(schema.InvertedIndexEnabled("other", SchemaValueType::kInt));
  // `"s": {"string": {}}` declares no index: the defaults decide (Chroma answers 500).
  EXPECT_TRUE(schema.InvertedIndexEnabled("s", SchemaValueType::kString));
  EXPECT_TRUE(schema.FtsEnabled());
}

}  // namespace
}  // namespace fathom::server
