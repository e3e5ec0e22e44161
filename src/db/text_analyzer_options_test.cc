// A collection's text analyzer options (CreateCollectionRequest::text_analyzer): chosen at
// creation, kept in the catalog, and used by $bm25 for the WAL tail, after compaction and
// after the database is reopened.
#include <gtest/gtest.h>

#include <algorithm>

#include "fathom/db.h"
#include "fathom/search.h"
#include "io/mem_store.h"

namespace fathom {
namespace {

class TextAnalyzerOptionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::make_shared<MemStore>();
    Reopen();
  }

  void Reopen() {
    db_.reset();
    auto db = Database::Open({.store = store_, .compaction_trigger_ops = 1u << 30, .background_compaction = false});
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
  }

  Result<std::shared_ptr<Collection>> Create(const std::string& name, std::optional<TextAnalyzerOptions> options,
                                             bool get_or_create = false) {
    CreateCollectionRequest request;
    request.name = name;
    request.text_analyzer = std::move(options);
    request.get_or_create = get_or_create;
    return db_->CreateCollection(Database::kDefaultTenant, Database::kDefaultDatabase, request);
  }

  std::shared_ptr<Collection> Get(const std::string& name) {
    auto col = db_->GetCollection(Database::kDefaultTenant, Database::kDefaultDatabase, name);
    EXPECT_TRUE(col.ok()) << col.status().ToString();
    return col.ok() ? *col : nullptr;
  }

  static void AddDocuments(Collection& col) {
    std::vector<WriteRecord> records;
    auto doc = [&](const std::string& id, const std::string& text) {
      WriteRecord w;
      w.id = id;
      w.embedding = std::vector<float>{1.0f, 0.0f};
      w.document = text;
      records.push_back(std::move(w));
    };
    doc("running", "She keeps running every morning");
    doc("ran", "They ran the race yesterday");
    doc("runner", "The runner runs fast");
    doc("the-only", "the the the");
    doc("cafe", "Le café du coin");
    ASSERT_TRUE(col.Add(std::move(records)).ok());
  }

 public:
  // The ids $bm25 ranks for `query`, best first.
  static std::vector<std::string> Bm25(const Collection& col, const std::string& query) {
    SearchPayload payload;
    RankExpr bm25;
    bm25.kind = RankExpr::Kind::kBm25;
    bm25.search.query = query;
    bm25.search.key = "#document";
    bm25.search.limit = 10;
    payload.rank = bm25;
    payload.select.score = true;
    SearchRequest request;
    request.searches.push_back(payload);
    auto got = col.Search(request);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    if (!got.ok() || got->size() != 1) return {};
    return (*got)[0].ids;
  }

  static std::vector<std::string> Sorted(std::vector<std::string> ids) {
    std::sort(ids.begin(), ids.end());
    return ids;
  }

 protected:
  std::shared_ptr<MemStore> store_;
  std::unique_ptr<Database> db_;
};

// Snowball's English stemmer maps "runs", "running" and "runner"'s "runs" to "run" (not
// "ran" or "runner"); the stop word "the" is neither indexed nor searched.
void ExpectEnglishStemmingAndStopWords(const Collection& col, const char* phase) {
  const auto run = TextAnalyzerOptionsTest::Sorted(TextAnalyzerOptionsTest::Bm25(col, "runs"));
  EXPECT_EQ(run, (std::vector<std::string>{"runner", "running"})) << phase;
  EXPECT_TRUE(TextAnalyzerOptionsTest::Bm25(col, "the").empty()) << phase;
  EXPECT_TRUE(TextAnalyzerOptionsTest::Bm25(col, "THE The").empty()) << phase;
  const auto mixed = TextAnalyzerOptionsTest::Sorted(TextAnalyzerOptionsTest::Bm25(col, "the running"));
  EXPECT_EQ(mixed, (std::vector<std::string>{"runner", "running"})) << phase;
  EXPECT_EQ(TextAnalyzerOptionsTest::Bm25(col, "mornings"), (std::vector<std::string>{"running"})) << phase;
  // Diacritics are still removed (the option's default).
  EXPECT_EQ(TextAnalyzerOptionsTest::Bm25(col, "CAFE"), (std::vector<std::string>{"cafe"})) << phase;
}

TEST_F(TextAnalyzerOptionsTest, StemmingAndStopWordsHoldAcrossTailCompactionAndReopen) {
  const TextAnalyzerOptions options{.stemmer = "english", .stop_words = {"the"}};
  auto col = Create("stemmed", options);
  ASSERT_TRUE(col.ok()) << col.status().ToString();
  AddDocuments(**col);
  ExpectEnglishStemmingAndStopWords(**col, "WAL tail");
  ASSERT_TRUE((*col)->Compact().ok());
  ExpectEnglishStemmingAndStopWords(**col, "after compaction");
  col->reset();
  Reopen();
  auto reopened = Get("stemmed");
  ASSERT_NE(reopened, nullptr);
  ExpectEnglishStemmingAndStopWords(*reopened, "after reopen");
  auto info = reopened->Info();
  ASSERT_TRUE(info.ok());
  ASSERT_TRUE(info->text_analyzer.has_value());
  EXPECT_EQ(*info->text_analyzer, options);
  // Writes after the reopen (the tail on top of segments) use the same analyzer.
  WriteRecord w;
  w.id = "runs-too";
  w.embedding = std::vector<float>{0.0f, 1.0f};
  w.document = "the dog runs";
  ASSERT_TRUE(reopened->Add({w}).ok());
  EXPECT_EQ(Sorted(Bm25(*reopened, "running")), (std::vector<std::string>{"runner", "running", "runs-too"}));
  EXPECT_TRUE(Bm25(*reopened, "the").empty());
}

TEST_F(TextAnalyzerOptionsTest, DefaultCollectionKeepsTheDefaultAnalyzer) {
  auto col = Create("plain", std::nullopt);
  ASSERT_TRUE(col.ok()) << col.status().ToString();
  AddDocuments(**col);
  EXPECT_EQ(Bm25(**col, "runs"), (std::vector<std::string>{"runner"}));
  EXPECT_EQ(Bm25(**col, "running"), (std::vector<std::string>{"running"}));
  EXPECT_FALSE(Bm25(**col, "the").empty());
  auto info = (*col)->Info();
  ASSERT_TRUE(info.ok());
  EXPECT_FALSE(info->text_analyzer.has_value());
}

TEST_F(TextAnalyzerOptionsTest, KeepingDiacritics) {
  auto col = Create("accents", TextAnalyzerOptions{.remove_diacritics = false});
  ASSERT_TRUE(col.ok()) << col.status().ToString();
  AddDocuments(**col);
  EXPECT_TRUE(Bm25(**col, "cafe").empty());
  EXPECT_EQ(Bm25(**col, "CAFÉ"), (std::vector<std::string>{"cafe"}));
  col->reset();
  Reopen();
  auto reopened = Get("accents");
  ASSERT_NE(reopened, nullptr);
  EXPECT_TRUE(Bm25(*reopened, "cafe").empty());
  EXPECT_EQ(Bm25(*reopened, "café"), (std::vector<std::string>{"cafe"}));
}

TEST_F(TextAnalyzerOptionsTest, RefusedOptionsCreateNothing) {
  auto unknown = Create("klingon", TextAnalyzerOptions{.stemmer = "klingon"});
  EXPECT_EQ(unknown.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.status().message().find("english"), std::string::npos) << unknown.status().ToString();
  auto two_tokens = Create("phrase", TextAnalyzerOptions{.stop_words = {"of the"}});
  EXPECT_EQ(two_tokens.status().code(), StatusCode::kInvalidArgument);
  auto listed = db_->CountCollections(Database::kDefaultTenant, Database::kDefaultDatabase);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(*listed, 0u);
}

TEST_F(TextAnalyzerOptionsTest, GetOrCreateReturnsTheExistingCollectionUnchanged) {
  ASSERT_TRUE(Create("both", TextAnalyzerOptions{.stemmer = "english"}).ok());
  auto again = Create("both", TextAnalyzerOptions{.stemmer = "french"}, /*get_or_create=*/true);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  auto info = (*again)->Info();
  ASSERT_TRUE(info.ok());
  ASSERT_TRUE(info->text_analyzer.has_value());
  EXPECT_EQ(info->text_analyzer->stemmer, "english");
}

}  // namespace
}  // namespace fathom
