// Unit tests of fathom's full-text analyzer options in the schema's FTS configs
// (collection_schema.h, docs/design/text-options.md). The HTTP behaviour is covered by
// tests/http/text_options_test.cc.
#include <gtest/gtest.h>

#include "server/collection_schema.h"

namespace fathom::server {
namespace {

ApiResult<CollectionSchema> TryParse(const std::string& json) {
  auto body = JsonBody::ParseOwned(json);
  EXPECT_TRUE(body.ok()) << json;
  return ParseSchema(body->root(), "schema");
}

CollectionSchema Parse(const std::string& json) {
  auto schema = TryParse(json);
  EXPECT_TRUE(schema.ok()) << (schema.ok() ? "" : schema.error().message());
  return schema.ok() ? *schema : CollectionSchema{};
}

std::string Write(const CollectionSchema& schema, SchemaOutput output) {
  JsonWriter w;
  WriteSchema(w, schema, output);
  return w.Take();
}

std::string Fts(const std::string& defaults_config, const std::string& document_config) {
  return R"({"defaults":{"string":{"fts_index":{"enabled":false,"config":)" + defaults_config +
         R"(}}},"keys":{"#document":{"string":{"fts_index":{"enabled":true,"config":)" + document_config + "}}}}}";
}

TEST(CollectionSchemaFtsTest, EmptyConfigsMeanTheDefaultAnalyzerAndStayEmpty) {
  const CollectionSchema schema = ReconcileSchema(Parse(Fts("{}", "{}")));
  EXPECT_FALSE(schema.TextAnalyzer().has_value());
  const std::string shown = Write(schema, SchemaOutput::kShown);
  EXPECT_NE(shown.find(R"("#document":{"string":{"fts_index":{"enabled":true,"config":{}})"), std::string::npos)
      << shown;
  EXPECT_EQ(Write(ReconcileSchema(Parse(R"({"defaults":{},"keys":{}})")), SchemaOutput::kShown),
            Write(ReconcileSchema(Parse(Fts("{}", "{}"))), SchemaOutput::kShown));
  // Null fields read as absent.
  EXPECT_FALSE(
      ReconcileSchema(Parse(Fts("{}", R"({"stemmer":null,"stop_words":null,"remove_diacritics":null})")))
          .TextAnalyzer()
          .has_value());
}

TEST(CollectionSchemaFtsTest, DocumentFieldsWinOverTheDefaultsOneByOne) {
  const CollectionSchema user =
      Parse(Fts(R"({"stemmer":"english","remove_diacritics":false,"stop_words":["a"]})", R"({"stop_words":["the"]})"));
  const auto options = user.TextAnalyzer();
  ASSERT_TRUE(options.has_value());
  EXPECT_EQ(*options, (TextAnalyzerOptions{false, "english", {"the"}}));
  const CollectionSchema reconciled = ReconcileSchema(user);
  EXPECT_EQ(reconciled.TextAnalyzer(), options);
  // `#document`'s config is filled in with what is in force; the defaults' stays as given.
  const std::string shown = Write(reconciled, SchemaOutput::kShown);
  EXPECT_NE(shown.find(R"("#document":{"string":{"fts_index":{"enabled":true,"config":{"stemmer":"english",)"
                       R"("stop_words":["the"],"remove_diacritics":false}})"),
            std::string::npos)
      << shown;
  EXPECT_NE(shown.find(R"("defaults":{"string":{"fts_index":{"enabled":false,"config":{"stemmer":"english",)"
                       R"("stop_words":["a"],"remove_diacritics":false}})"),
            std::string::npos)
      << shown;
}

TEST(CollectionSchemaFtsTest, StoredFormRoundTripsAndReconcilingIsIdempotent) {
  for (const std::string& json : {Fts("{}", R"({"stemmer":"english"})"), Fts("{}", R"({"stemmer":""})"),
                                  Fts(R"({"stop_words":[]})", "{}"), Fts("{}", R"({"remove_diacritics":true})")}) {
    const CollectionSchema reconciled = ReconcileSchema(Parse(json));
    const CollectionSchema read_back = Parse(Write(reconciled, SchemaOutput::kStored));
    EXPECT_EQ(read_back, reconciled) << json;
    EXPECT_EQ(ReconcileSchema(read_back), reconciled) << json;
    EXPECT_EQ(read_back.TextAnalyzer(), reconciled.TextAnalyzer()) << json;
  }
}

TEST(CollectionSchemaFtsTest, NoStemmerIsShownAsNull) {
  const CollectionSchema reconciled = ReconcileSchema(Parse(Fts("{}", R"({"stop_words":["the"]})")));
  const std::string shown = Write(reconciled, SchemaOutput::kShown);
  EXPECT_NE(shown.find(R"({"stemmer":null,"stop_words":["the"],"remove_diacritics":true})"), std::string::npos)
      << shown;
}

TEST(CollectionSchemaFtsTest, WrongShapesAre422) {
  const std::string path = "schema.keys.#document.string.fts_index.config";
  for (const auto& [config, field] : std::vector<std::pair<std::string, std::string>>{
           {R"({"stemmer":1})", "stemmer"},
           {R"({"stop_words":"the"})", "stop_words"},
           {R"({"remove_diacritics":1})", "remove_diacritics"},
           {R"({"x":1})", "x"}}) {
    auto parsed = TryParse(Fts("{}", config));
    ASSERT_FALSE(parsed.ok()) << config;
    EXPECT_EQ(parsed.error().http_status(), 422u) << config;
    EXPECT_NE(parsed.error().message().find(path + "." + field), std::string::npos) << parsed.error().message();
  }
}

TEST(CollectionSchemaFtsTest, ValuesTheAnalyzerRefusesAre400) {
  auto refused = [](const std::string& json, const std::string& reason) {
    const ApiStatus status = ValidateSchema(Parse(json));
    ASSERT_FALSE(status.ok()) << json;
    EXPECT_EQ(status.error().http_status(), 400u);
    EXPECT_NE(status.error().message().find("Validation error: schema: full-text index config: " + reason),
              std::string::npos)
        << status.error().message();
  };
  refused(Fts("{}", R"({"stemmer":"klingon"})"), "unknown stemmer language \"klingon\"; known languages: ");
  refused(Fts(R"({"stemmer":"klingon"})", "{}"), "unknown stemmer language");
  refused(Fts("{}", R"({"stop_words":["of the"]})"), "stop word \"of the\" is 2 tokens");
  refused(Fts("{}", R"({"stop_words":["..."]})"), "stop word \"...\" is 0 tokens");
  EXPECT_TRUE(ValidateSchema(Parse(Fts("{}", R"({"stemmer":"english","stop_words":["The"]})"))).ok());
}

}  // namespace
}  // namespace fathom::server
