// Property test through the public API: documents read back (get with include documents,
// where_document filters, search selects) equal a model's, while records are added,
// upserted, updated (document or metadata only) and deleted, compacted into segments
// (folds and merges) and reopened. Rows loaded from segments keep only a locator of their
// document (docs/design/documents-on-demand.md), so this exercises reading documents on
// demand, swapping the tail's documents to locators after a fold, and re-pointing them
// after a merge. Prints its seed.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "fathom/db.h"
#include "fathom/search.h"
#include "io/fault_store.h"
#include "random_where.h"
#include "sim/sim_collection.h"
#include "test_util.h"

namespace fathom {
namespace {

using testing::RandomWhere;

constexpr const char* kWords[] = {"apple", "banana", "cherry", "damson", "elder", "fig", "grape", "kiwi"};

class DocumentSimulationTest : public testing::SimCollectionTest {
 protected:
  DocumentSimulationTest() : SimCollectionTest("DocumentSimulationTest", "docs") {}

  std::string Text(RandomWhere& r) {
    std::string out = "doc";
    const size_t n = 1 + r.Below(60);  // up to ~400 bytes: several rows per 64 KiB block
    for (size_t i = 0; i < n; ++i) out += std::string(" ") + kWords[r.Below(std::size(kWords))];
    return out;
  }

  // Chroma's semantics, for the documents only.
  void ApplyToModel(int kind, const std::vector<WriteRecord>& batch) {
    if (kind >= 3) {
      for (size_t i = 0; i < batch.size() && i < 5; ++i) model_.erase(batch[i].id);
      return;
    }
    for (const WriteRecord& w : batch) {
      auto it = model_.find(w.id);
      if (it == model_.end()) {
        if (kind == 2) continue;  // update of a missing id
        model_[w.id] = w.document;
      } else if (kind != 0 && w.document) {
        it->second = w.document;  // add of an existing id: first write wins
      }
    }
  }

  void RandomWrites(RandomWhere& r, int batches) {
    for (int b = 0; b < batches; ++b) {
      std::vector<WriteRecord> batch;
      std::set<std::string> seen;
      const int kind = static_cast<int>(r.Below(5));
      for (int i = 0; i < 25; ++i) {
        WriteRecord w;
        w.id = "id" + std::to_string(r.Below(300));
        if (!seen.insert(w.id).second) continue;
        if (kind < 2) w.embedding = std::vector<float>{static_cast<float>(r.Below(7)), 1.0f};
        // Updates change the document or only the metadata (then the document stays in
        // its segment).
        if ((kind < 2 && r.Chance(0.9)) || (kind == 2 && r.Chance(0.5))) w.document = Text(r);
        w.metadata = MetadataPatch{{"n", MetadataValue(static_cast<int64_t>(r.Below(100)))}};
        batch.push_back(std::move(w));
      }
      ApplyToModel(kind, batch);
      const Status s = ApplyBatch(kind, std::move(batch));
      ASSERT_TRUE(s.ok()) << s.ToString() << " seed " << seed_;
    }
  }

  void Check(const std::string& context, RandomWhere& r) {
    GetRequest get;
    get.include.documents = true;
    auto all = col_->Get(get);
    ASSERT_TRUE(all.ok()) << all.status().ToString() << " " << context << " seed " << seed_;
    std::map<std::string, std::optional<std::string>> got;
    for (size_t i = 0; i < all->ids.size(); ++i) got[all->ids[i]] = all->documents[i];
    ASSERT_EQ(got.size(), model_.size()) << context << " seed " << seed_;
    for (const auto& [id, doc] : model_) {
      auto it = got.find(id);
      ASSERT_TRUE(it != got.end()) << id << " " << context << " seed " << seed_;
      EXPECT_EQ(it->second, doc) << id << " " << context << " seed " << seed_;
    }
    // where_document: verified against documents read on demand.
    const std::string word = kWords[r.Below(std::size(kWords))];
    for (bool negate : {false, true}) {
      GetRequest filtered;
      WhereDocument wd;
      wd.kind = negate ? WhereDocument::Kind::kNotContains : WhereDocument::Kind::kContains;
      wd.pattern = word;
      filtered.where_document = wd;
      auto matched = col_->Get(filtered);
      ASSERT_TRUE(matched.ok()) << matched.status().ToString() << " seed " << seed_;
      std::set<std::string> want;
      for (const auto& [id, doc] : model_) {
        const bool contains = doc && doc->find(word) != std::string::npos;
        if (negate ? !contains : contains) want.insert(id);
      }
      EXPECT_EQ(std::set<std::string>(matched->ids.begin(), matched->ids.end()), want)
          << (negate ? "$not_contains " : "$contains ") << word << " " << context << " seed " << seed_;
    }
    // A page of named ids, in one batch.
    GetRequest some;
    some.include.documents = true;
    some.ids = std::vector<std::string>{};
    for (int i = 0; i < 40; ++i) some.ids->push_back("id" + std::to_string(r.Below(300)));
    auto page = col_->Get(some);
    ASSERT_TRUE(page.ok()) << page.status().ToString() << " seed " << seed_;
    for (size_t i = 0; i < page->ids.size(); ++i) {
      EXPECT_EQ(page->documents[i], model_.at(page->ids[i])) << page->ids[i] << " " << context << " seed " << seed_;
    }
  }

  std::map<std::string, std::optional<std::string>> model_;
};

TEST_F(DocumentSimulationTest, DocumentsReadBackEqualTheModelAcrossCompactionsMergesAndReopens) {
  RandomWhere r(seed_);
  // More folds than a manifest keeps segments: merges happen along the way.
  for (int round = 0; round < 14; ++round) {
    RandomWrites(r, 4);
    if (HasFatalFailure()) return;
    Check("round " + std::to_string(round) + " after writes", r);
    if (r.Chance(0.8)) {
      ASSERT_TRUE(col_->Compact().ok()) << " seed " << seed_;
      Check("round " + std::to_string(round) + " after compaction", r);
      // Writes after a fold: documents of the tail and of segments side by side.
      RandomWrites(r, 1);
      Check("round " + std::to_string(round) + " after compaction and writes", r);
    }
    if (r.Chance(0.4)) {
      Reopen();
      Check("round " + std::to_string(round) + " after reopen", r);
    }
    if (HasFatalFailure()) return;
  }
}

// Creates collection "faults" of `rows` records with documents "document number <i>"
// followed by `padding` bytes, compacted into a segment; returns the documents.
std::vector<std::string> WriteCompactedCollection(const std::shared_ptr<ObjectStore>& store, int rows, size_t padding) {
  std::vector<std::string> docs;
  auto db = Database::Open({.store = store, .background_compaction = false}).value();
  auto col = db->CreateCollection(Database::kDefaultTenant, Database::kDefaultDatabase, {.name = "faults"}).value();
  std::vector<WriteRecord> batch;
  for (int i = 0; i < rows; ++i) {
    WriteRecord w;
    w.id = "id" + std::to_string(i);
    w.embedding = std::vector<float>{static_cast<float>(i), 1.0f};
    w.document = "document number " + std::to_string(i) + " " + std::string(padding, 'x');
    docs.push_back(*w.document);
    batch.push_back(std::move(w));
  }
  EXPECT_TRUE(col->Add(std::move(batch)).ok());
  EXPECT_TRUE(col->Compact().ok());
  return docs;
}

// A failed read of a stored document fails the request (never a crash or a wrong
// answer), and the next read succeeds.
TEST(DocumentFaultTest, AFailedDocumentReadIsAnErrorAndTheNextReadSucceeds) {
  auto mem = std::make_shared<MemStore>();
  auto fault = std::make_shared<FaultStore>(mem, FaultOptions{});
  const std::vector<std::string> docs = WriteCompactedCollection(fault, 300, 900);
  if (HasFatalFailure()) return;
  auto db = Database::Open({.store = fault, .background_compaction = false}).value();
  auto col = db->GetCollection(Database::kDefaultTenant, Database::kDefaultDatabase, "faults").value();
  GetRequest get;
  get.include.documents = true;
  get.ids = std::vector<std::string>{"id5", "id250"};
  FaultOptions failing;
  failing.fail_before_probability = 1.0;
  fault->SetOptions(failing);
  auto failed = col->Get(get);
  ASSERT_FALSE(failed.ok());
  EXPECT_TRUE(failed.status().code() == StatusCode::kIOError) << failed.status().ToString();
  // A where_document filter verified against stored documents fails the same way.
  GetRequest filtered;
  WhereDocument wd;
  wd.kind = WhereDocument::Kind::kContains;
  wd.pattern = "number 12";
  filtered.where_document = wd;
  auto failed_filter = col->Get(filtered);
  ASSERT_FALSE(failed_filter.ok());
  fault->SetOptions(FaultOptions{});
  auto got = col->Get(get);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->documents.size(), 2u);
  EXPECT_EQ(got->documents[0], docs[5]);
  EXPECT_EQ(got->documents[1], docs[250]);
  auto matched = col->Get(filtered);
  ASSERT_TRUE(matched.ok()) << matched.status().ToString();
  EXPECT_EQ(matched->ids.size(), 11u);  // 12, 120..129
}

// Opening reads the stored documents back to build the document indexes (in batches,
// documents-on-demand.md): a failed read there fails the open cleanly (an IOError, no
// partial state served), and the next call opens the collection whole. Faults land on
// random reads of the open (prints its seed); the test checks that some landed in the
// index build.
TEST(DocumentFaultTest, AFailedReadWhileOpeningFailsTheOpenAndARetrySucceeds) {
  const uint64_t seed = testing::SeedForTest("DocumentFaultTest.AFailedReadWhileOpeningFailsTheOpenAndARetrySucceeds");
  auto mem = std::make_shared<MemStore>();
  auto fault = std::make_shared<FaultStore>(mem, FaultOptions{});
  // Two build batches (RecordTable::kBuildBatchDocumentsMax documents each at most).
  const std::vector<std::string> docs = WriteCompactedCollection(fault, 1200, 100);
  if (HasFatalFailure()) return;
  // Without the text index object (derived data) the open builds both document indexes
  // from the stored documents; with it, it reads none (text index format version 2).
  auto all = static_cast<ObjectStore&>(*mem).List("c/");
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  size_t dropped = 0;
  for (const ObjectInfo& object : *all) {
    if (object.key.find("/tidx/") == std::string::npos) continue;
    ASSERT_TRUE(mem->Delete(object.key).ok());
    ++dropped;
  }
  ASSERT_EQ(dropped, 1u);
  // Rounds until three faults have landed in the build (about one round in eight).
  size_t failed_in_build = 0;
  for (uint64_t round = 0; round < 200 && failed_in_build < 3; ++round) {
    auto db = Database::Open({.store = fault, .background_compaction = false}).value();
    // Opening the handle recovers the collection: faults on its reads.
    FaultOptions failing;
    failing.seed = seed + round;
    failing.fail_before_probability = 0.2;
    fault->SetOptions(failing);
    auto opened = db->GetCollection(Database::kDefaultTenant, Database::kDefaultDatabase, "faults");
    fault->SetOptions(FaultOptions{});
    if (!opened.ok()) {
      ASSERT_TRUE(opened.status().code() == StatusCode::kIOError) << opened.status().ToString();
      failed_in_build += opened.status().message().find("document indexes") != std::string::npos;
      opened = db->GetCollection(Database::kDefaultTenant, Database::kDefaultDatabase, "faults");  // the retry
    }
    ASSERT_TRUE(opened.ok()) << "seed " << seed << " round " << round << ": " << opened.status().ToString();
    auto col = *opened;
    // Every record, its document and the document indexes are whole.
    auto count = col->Count();
    ASSERT_TRUE(count.ok()) << count.status().ToString();
    EXPECT_EQ(*count, docs.size());
    GetRequest filtered;
    WhereDocument wd;
    wd.kind = WhereDocument::Kind::kContains;
    wd.pattern = "number 1071 ";  // not 10710..10719
    filtered.where_document = wd;
    filtered.include.documents = true;
    auto matched = col->Get(filtered);
    ASSERT_TRUE(matched.ok()) << matched.status().ToString();
    ASSERT_EQ(matched->ids.size(), 1u);
    EXPECT_EQ(matched->documents[0], docs[1071]);
  }
  EXPECT_GT(failed_in_build, 0u) << "seed " << seed << ": no fault landed in the index build";
}

}  // namespace
}  // namespace fathom
