// The persisted text index (docs/format/text-index.md) through the public API:
// - after random adds, upserts, updates and deletes, compaction and reopen, $bm25 answers
//   from the loaded index are identical (ids and float scores) to those of an index
//   rebuilt from the documents (the same store without its text index objects), and the
//   load is used (no "text index" warning), and they equal a reference BM25 over the
//   documents (to 1e-5, top-k up to ties);
// - a damaged, truncated or missing object still opens and answers correctly (rebuild,
//   with a warning), and the next compaction writes a good one again;
// - an object made by another analyzer is not used (a collection with a stemmer given the
//   object of an identical collection without one rebuilds);
// - garbage collection keeps only the current manifest's object;
// - the object's trigram section (version 2) holds exactly the trigrams of the documents
//   of the state it describes, also when documents are out of RAM (a memory budget: their
//   updates and deletes leave stale entries in the table's index), and the loaded index
//   answers where_document $contains like the documents say; a version 1 object or a
//   damaged trigram section loads the BM25 part, rebuilds the trigram index (with a
//   warning), and the next compaction writes a version 2 object.
// Prints its seed (FATHOM_SEED replays).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "common/coding.h"
#include "fathom/db.h"
#include "fathom/search.h"
#include "index/text/analyzer.h"
#include "index/text/text_index_format.h"
#include "index/text/trigram_index.h"
#include "io/mem_store.h"
#include "log_capture.h"
#include "random_where.h"
#include "sim/sim_collection.h"

namespace fathom {
namespace {

using testing::RandomWhere;

constexpr const char* kWords[] = {"alpha", "beta",   "gamma", "delta",  "epsilon", "zeta", "eta",   "theta",
                                  "iota",  "kappa",  "lambda", "mu",    "nu",      "xi",   "omicron", "pi",
                                  "rho",   "sigma",  "tau",   "upsilon", "phi",    "chi",  "psi",   "omega",
                                  "running", "runs", "runner", "the",   "a",       "cats", "cat",   "Émile"};

// Counts warnings that mention `what` (the text index unless told), from the default logger.
class TextIndexWarnings {
 public:
  size_t Count(std::string_view what = "text index") const { return capture_.Count(what); }

 private:
  testing::LogCapture capture_;
};

struct Hit {
  std::string id;
  float score;
  bool operator==(const Hit&) const = default;
};

std::vector<Hit> Bm25(Collection& col, const std::string& query, uint32_t k, std::optional<bool> even) {
  RankExpr bm25;
  bm25.kind = RankExpr::Kind::kBm25;
  bm25.search.query = query;
  bm25.search.key = std::string(kDocumentKey);
  bm25.search.limit = k;
  SearchRequest request;
  request.searches.push_back(testing::RankedPayload(bm25, even));
  auto got = col.Search(request);
  EXPECT_TRUE(got.ok()) << got.status().ToString();
  std::vector<Hit> out;
  if (!got.ok()) return out;
  for (size_t i = 0; i < (*got)[0].ids.size(); ++i) out.push_back({(*got)[0].ids[i], *(*got)[0].scores[i]});
  return out;
}

std::string Text(RandomWhere& r, size_t max_words) {
  const size_t n = r.Below(max_words + 1);
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    const size_t rank = std::min(r.Below(std::size(kWords)), r.Below(std::size(kWords)));
    if (!out.empty()) out += " ";
    out += kWords[rank];
  }
  return out;
}

std::vector<std::string> KeysUnder(ObjectStore& store, const std::string& part) {
  std::vector<std::string> out;
  auto all = store.List("c/");
  EXPECT_TRUE(all.ok());
  if (!all.ok()) return out;
  for (const ObjectInfo& o : *all) {
    if (o.key.find(part) != std::string::npos) out.push_back(o.key);
  }
  return out;
}

// A copy of `from`, without the objects whose key contains `drop` (when non-empty).
std::shared_ptr<MemStore> CopyStore(ObjectStore& from, const std::string& drop) {
  auto to = std::make_shared<MemStore>();
  auto all = from.List("");
  EXPECT_TRUE(all.ok());
  for (const ObjectInfo& o : *all) {
    if (!drop.empty() && o.key.find(drop) != std::string::npos) continue;
    auto bytes = from.Get(o.key);
    EXPECT_TRUE(bytes.ok());
    EXPECT_TRUE(to->Put(o.key, *bytes, PutMode::kOverwrite).ok());
  }
  return to;
}

std::unique_ptr<Database> OpenDb(std::shared_ptr<ObjectStore> store) {
  auto db = Database::Open({.store = std::move(store), .compaction_trigger_ops = 1u << 30, .background_compaction = false});
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  return db.ok() ? std::move(*db) : nullptr;
}

std::shared_ptr<Collection> OpenCollection(Database& db, const std::string& name,
                                           std::optional<TextAnalyzerOptions> analyzer = std::nullopt) {
  auto col = db.CreateCollection(Database::kDefaultTenant, Database::kDefaultDatabase,
                                 {.name = name, .get_or_create = true, .text_analyzer = analyzer});
  EXPECT_TRUE(col.ok()) << col.status().ToString();
  return col.ok() ? *col : nullptr;
}

class TextIndexPersistTest : public testing::SimCollectionTest {
 protected:
  explicit TextIndexPersistTest(const char* name = "TextIndexPersistTest") : SimCollectionTest(name, "text") {}

  // Reopen, and the first call, which recovers the collection (and logs its warnings).
  void ReopenAndRecover() {
    Reopen();
    auto count = col_->Count();
    ASSERT_TRUE(count.ok()) << count.status().ToString();
  }

  void RandomWrites(RandomWhere& r, int batches, Collection* col = nullptr) {
    for (int b = 0; b < batches; ++b) {
      std::vector<WriteRecord> batch;
      std::set<std::string> seen;
      const int kind = static_cast<int>(r.Below(5));
      for (int i = 0; i < 25; ++i) {
        WriteRecord w;
        w.id = "id" + std::to_string(r.Below(300));
        if (!seen.insert(w.id).second) continue;
        if (kind < 2) w.embedding = std::vector<float>{static_cast<float>(r.Below(7)), 1.0f};
        if ((kind < 2 || r.Chance(0.5)) && r.Chance(0.9)) w.document = Text(r, 14);
        w.metadata = MetadataPatch{{"even", MetadataValue(static_cast<bool>(r.Below(2)))}};
        batch.push_back(std::move(w));
      }
      Status s;
      if (col == nullptr) {
        s = ApplyBatch(kind, std::move(batch));
      } else if (kind == 0) {
        s = col->Add(std::move(batch));
      } else if (kind == 1) {
        s = col->Upsert(std::move(batch));
      } else if (kind == 2) {
        s = col->Update(std::move(batch));
      } else {
        DeleteRequest d;
        d.ids = std::vector<std::string>{};
        for (size_t i = 0; i < batch.size() && i < 5; ++i) d.ids->push_back(batch[i].id);
        s = col->Delete(d).status();
      }
      ASSERT_TRUE(s.ok()) << s.ToString() << " seed " << seed_;
    }
  }

  struct Query {
    std::string text;
    uint32_t k;
    std::optional<bool> even;
  };
  std::vector<Query> Queries(RandomWhere& r) {
    std::vector<Query> out;
    for (int q = 0; q < 25; ++q) {
      Query query{Text(r, 4), 1 + static_cast<uint32_t>(r.Below(30)), std::nullopt};
      if (r.Chance(0.4)) query.even = r.Chance(0.5);
      out.push_back(query);
    }
    out.push_back({"alpha beta gamma", 1000, std::nullopt});
    return out;
  }

  void ExpectSameAnswers(Collection& expected, Collection& actual, const std::vector<Query>& queries,
                         const std::string& context) {
    for (const Query& q : queries) {
      EXPECT_EQ(Bm25(expected, q.text, q.k, q.even), Bm25(actual, q.text, q.k, q.even))
          << context << " query '" << q.text << "' k " << q.k << " seed " << seed_;
    }
  }

  // BM25 over every live record that has a document, by the formula (the default analyzer,
  // k1 1.2, b 0.75), best first: what $bm25 must answer (scores negated).
  std::vector<std::pair<std::string, double>> Reference(const Query& query) {
    GetRequest get;
    get.include.documents = true;
    get.include.metadatas = true;
    auto all = col_->Get(get);
    EXPECT_TRUE(all.ok());
    const auto analyzer = Analyzer::Default();
    std::vector<std::map<std::string, int>> tf;
    std::vector<double> length;
    std::vector<size_t> rows;
    std::map<std::string, double> df;
    for (size_t i = 0; i < all->ids.size(); ++i) {
      if (!all->documents[i]) continue;
      std::vector<std::string> tokens;
      analyzer->Tokenize(*all->documents[i], &tokens);
      std::map<std::string, int> counts;
      for (const std::string& t : tokens) ++counts[t];
      for (const auto& [t, n] : counts) df[t] += 1;
      tf.push_back(std::move(counts));
      length.push_back(static_cast<double>(tokens.size()));
      rows.push_back(i);
    }
    const double n = static_cast<double>(rows.size());
    double total = 0;
    for (double l : length) total += l;
    std::vector<std::string> terms;
    analyzer->Tokenize(query.text, &terms);
    std::sort(terms.begin(), terms.end());
    terms.erase(std::unique(terms.begin(), terms.end()), terms.end());
    std::vector<std::pair<std::string, double>> out;
    for (size_t d = 0; d < rows.size(); ++d) {
      const auto& m = all->metadatas[rows[d]];
      if (query.even && (!m || !m->contains("even") || std::get<bool>(m->at("even")) != *query.even)) continue;
      double score = 0;
      bool matched = false;
      for (const std::string& t : terms) {
        auto it = tf[d].find(t);
        if (it == tf[d].end()) continue;
        matched = true;
        const double idf = std::log(1 + (n - df[t] + 0.5) / (df[t] + 0.5));
        const double f = it->second;
        score += idf * f * 2.2 / (f + 1.2 * (0.25 + 0.75 * length[d] / (total / n)));
      }
      if (matched) out.push_back({all->ids[rows[d]], score});
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    return out;
  }

  // `got` is the reference's top k up to ties, scores within 1e-5.
  void ExpectLikeReference(const std::vector<Hit>& got, const Query& query, const std::string& context) {
    const auto want = Reference(query);
    ASSERT_EQ(got.size(), std::min<size_t>(query.k, want.size())) << context << " seed " << seed_;
    for (size_t i = 0; i < got.size(); ++i) {
      const double tolerance = 1e-5 * std::max(1.0, std::abs(want[i].second));
      EXPECT_NEAR(-double{got[i].score}, want[i].second, tolerance) << context << " rank " << i << " seed " << seed_;
      bool tie = false;
      for (const auto& [id, score] : want) tie = tie || (id == got[i].id && std::abs(score - want[i].second) <= tolerance);
      EXPECT_TRUE(tie) << context << " id " << got[i].id << " rank " << i << " seed " << seed_;
    }
  }

  // The answers of an index rebuilt from the documents: the same store without its text
  // index objects, opened by another database.
  void ExpectLikeRebuilt(const std::vector<Query>& queries, const std::string& context) {
    auto copy = CopyStore(*store_, "/tidx/");
    auto db = OpenDb(copy);
    ASSERT_NE(db, nullptr);
    auto rebuilt = OpenCollection(*db, collection_);
    ASSERT_NE(rebuilt, nullptr);
    ExpectSameAnswers(*rebuilt, *col_, queries, context);
  }
};

TEST_F(TextIndexPersistTest, LoadedIndexAnswersLikeARebuiltOne) {
  RandomWhere r(seed_);
  for (int round = 0; round < 5; ++round) {
    RandomWrites(r, 12);
    ASSERT_TRUE(col_->Compact().ok());
    // Writes after the compaction stay in the WAL tail and go through Add at open.
    if (r.Chance(0.5)) RandomWrites(r, 3);
    if (HasFatalFailure()) return;
    const std::vector<Query> queries = Queries(r);
    std::vector<std::vector<Hit>> before;
    for (const Query& q : queries) before.push_back(Bm25(*col_, q.text, q.k, q.even));
    {
      TextIndexWarnings warnings;
      ReopenAndRecover();
      EXPECT_EQ(warnings.Count(), 0u) << "round " << round << " seed " << seed_;
    }
    // Garbage collection leaves the current manifest's object only.
    EXPECT_EQ(KeysUnder(*store_, "/tidx/").size(), 1u) << "round " << round;
    for (size_t i = 0; i < queries.size(); ++i) {
      const std::vector<Hit> loaded = Bm25(*col_, queries[i].text, queries[i].k, queries[i].even);
      EXPECT_EQ(loaded, before[i]) << "round " << round << " query '" << queries[i].text << "' seed " << seed_;
      ExpectLikeReference(loaded, queries[i], "round " + std::to_string(round) + " query '" + queries[i].text + "'");
      if (HasFatalFailure()) return;
    }
    ExpectLikeRebuilt(queries, "round " + std::to_string(round));
    if (HasFatalFailure()) return;
  }
}

TEST_F(TextIndexPersistTest, DamagedTruncatedOrMissingObjectStillOpensAndAnswers) {
  RandomWhere r(seed_);
  RandomWrites(r, 20);
  ASSERT_TRUE(col_->Compact().ok());
  const std::vector<Query> queries = Queries(r);
  std::vector<std::vector<Hit>> expected;
  for (const Query& q : queries) expected.push_back(Bm25(*col_, q.text, q.k, q.even));
  auto keys = KeysUnder(*store_, "/tidx/");
  ASSERT_EQ(keys.size(), 1u);
  const std::string key = keys[0];
  const std::string good = static_cast<ObjectStore&>(*store_).Get(key).value();

  std::string flipped = good;
  flipped[good.size() / 2] ^= 0x10;
  std::string behind_checksums = good;  // the first document length changed, checksums made valid again
  const uint64_t rows = DecodeFixed64(good.data() + 16);
  const uint64_t documents_at = DecodeFixed64(good.data() + 72 + 4 * 24);
  EncodeFixed32(behind_checksums.data() + documents_at + (rows + 7) / 8, 1000000);
  RecomputeTextIndexChecksumsForTesting(&behind_checksums);
  const std::vector<std::pair<const char*, std::optional<std::string>>> damages = {
      {"flipped byte", flipped},
      {"truncated", good.substr(0, good.size() / 2)},
      {"empty", std::string()},
      {"lengths changed behind valid checksums", behind_checksums},
      {"missing", std::nullopt},
  };
  for (const auto& [what, bytes] : damages) {
    SCOPED_TRACE(what);
    TextIndexWarnings warnings;
    if (bytes) {
      ASSERT_TRUE(store_->Put(key, *bytes, PutMode::kOverwrite).ok());
    } else {
      ASSERT_TRUE(store_->Delete(key).ok());
    }
    Reopen();
    EXPECT_GE(warnings.Count(), 1u);
    for (size_t i = 0; i < queries.size(); ++i) {
      EXPECT_EQ(Bm25(*col_, queries[i].text, queries[i].k, queries[i].even), expected[i])
          << "query '" << queries[i].text << "' seed " << seed_;
    }
    ASSERT_TRUE(store_->Put(key, good, PutMode::kOverwrite).ok());
  }

  // A collection opened without a usable object writes one at its next compaction, even
  // with nothing new to fold.
  ASSERT_TRUE(store_->Delete(key).ok());
  Reopen();
  ASSERT_TRUE(col_->Compact().ok());
  keys = KeysUnder(*store_, "/tidx/");
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_NE(keys[0], key);
  TextIndexWarnings warnings;
  Reopen();
  EXPECT_EQ(warnings.Count(), 0u);
  for (size_t i = 0; i < queries.size(); ++i) {
    EXPECT_EQ(Bm25(*col_, queries[i].text, queries[i].k, queries[i].even), expected[i]);
  }
}

// Two collections with the same rows, one with a stemmer and stop words: the stemmed one
// given the other's object (same rows, other analyzer) must not use it.
TEST_F(TextIndexPersistTest, ObjectOfAnotherAnalyzerIsRebuilt) {
  auto store = std::make_shared<MemStore>();
  auto db = OpenDb(store);
  ASSERT_NE(db, nullptr);
  const TextAnalyzerOptions stemmed{true, "english", {"the", "a"}};
  auto plain = OpenCollection(*db, "plain");
  auto stem = OpenCollection(*db, "stemmed", stemmed);
  ASSERT_NE(plain, nullptr);
  ASSERT_NE(stem, nullptr);
  RandomWhere r1(seed_), r2(seed_);
  RandomWrites(r1, 15, plain.get());
  RandomWrites(r2, 15, stem.get());
  ASSERT_TRUE(plain->Compact().ok());
  ASSERT_TRUE(stem->Compact().ok());
  RandomWhere rq(seed_ + 1);
  std::vector<Query> queries = Queries(rq);
  queries.push_back({"running cats", 50, std::nullopt});
  std::vector<std::vector<Hit>> expected;
  for (const Query& q : queries) expected.push_back(Bm25(*stem, q.text, q.k, q.even));
  const std::string plain_key = KeysUnder(*store, "c/" + plain->id() + "/tidx/").at(0);
  const std::string stem_key = KeysUnder(*store, "c/" + stem->id() + "/tidx/").at(0);
  ASSERT_TRUE(store->Put(stem_key, static_cast<ObjectStore&>(*store).Get(plain_key).value(), PutMode::kOverwrite).ok());
  plain.reset();
  stem.reset();
  db.reset();

  TextIndexWarnings warnings;
  db = OpenDb(store);
  stem = OpenCollection(*db, "stemmed", stemmed);
  ASSERT_NE(stem, nullptr);
  for (size_t i = 0; i < queries.size(); ++i) {
    EXPECT_EQ(Bm25(*stem, queries[i].text, queries[i].k, queries[i].even), expected[i]) << queries[i].text;
  }
  EXPECT_GE(warnings.Count(), 1u);
  EXPECT_FALSE(Bm25(*stem, "running", 10, std::nullopt).empty());
}

// ---- the trigram section ----

// Documents are read on demand (a memory budget), so updates and deletes of compacted
// documents cannot remove their old trigrams from the table's index.
class TrigramPersistTest : public TextIndexPersistTest {
 protected:
  TrigramPersistTest() : TextIndexPersistTest("TrigramPersistTest") { memory_budget_bytes_ = 256u << 20; }

  // The collection's documents in Get order (slot order: ranks of the compacted state when
  // nothing was written since the compaction).
  std::vector<std::optional<std::string>> Documents() {
    GetRequest get;
    get.include.documents = true;
    auto all = col_->Get(get);
    EXPECT_TRUE(all.ok()) << all.status().ToString();
    return all.ok() ? all->documents : std::vector<std::optional<std::string>>{};
  }

  std::string ObjectKey() {
    const auto keys = KeysUnder(*store_, "/tidx/");
    EXPECT_EQ(keys.size(), 1u);
    return keys.empty() ? std::string() : keys[0];
  }

  // The current object's trigram section equals the trigrams of the documents.
  void ExpectObjectHoldsTheDocumentsTrigrams(const std::string& context) {
    const std::string bytes = static_cast<ObjectStore&>(*store_).Get(ObjectKey()).value();
    EXPECT_EQ(DecodeFixed32(bytes.data() + 8), kTextIndexFormatVersion);
    auto object = DecodeTextIndexObject(bytes);
    ASSERT_TRUE(object.ok()) << object.status().ToString();
    ASSERT_TRUE(object->trigrams.has_value()) << object->trigram_status.ToString();
    std::map<uint32_t, Roaring> expected;
    const auto documents = Documents();
    for (uint32_t rank = 0; rank < documents.size(); ++rank) {
      if (!documents[rank]) continue;
      for (uint32_t key : TrigramIndex::DocumentTrigrams(*documents[rank])) expected[key].add(rank);
    }
    ASSERT_EQ(object->trigrams->size(), expected.size()) << context << " seed " << seed_;
    size_t i = 0;
    for (const auto& [key, slots] : expected) {
      const auto& [got_key, got_slots] = (*object->trigrams)[i++];
      ASSERT_EQ(got_key, key) << context << " seed " << seed_;
      EXPECT_TRUE(got_slots == slots) << context << " trigram " << key << " seed " << seed_;
    }
  }

  // where_document $contains of random patterns (pieces of the words, other cases)
  // answers like the documents say.
  void ExpectContainsLikeDocuments(RandomWhere& r, const std::string& context) {
    GetRequest get;
    get.include.documents = true;
    auto all = col_->Get(get);
    ASSERT_TRUE(all.ok());
    for (int q = 0; q < 20; ++q) {
      std::string pattern = kWords[r.Below(std::size(kWords))];
      if (r.Chance(0.5)) pattern += " " + std::string(kWords[r.Below(std::size(kWords))]);
      const size_t from = r.Below(pattern.size());
      pattern = pattern.substr(from, 3 + r.Below(6));
      if (r.Chance(0.2)) pattern[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(pattern[0])));
      std::set<std::string> want;
      for (size_t i = 0; i < all->ids.size(); ++i) {
        if (all->documents[i] && all->documents[i]->find(pattern) != std::string::npos) want.insert(all->ids[i]);
      }
      GetRequest filtered;
      filtered.where_document = WhereDocument{WhereDocument::Kind::kContains, {}, pattern};
      auto got = col_->Get(filtered);
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      EXPECT_EQ(std::set<std::string>(got->ids.begin(), got->ids.end()), want)
          << context << " pattern '" << pattern << "' seed " << seed_;
    }
  }
};

TEST_F(TrigramPersistTest, PersistedTrigramsAreTheDocumentsAfterUpdatesDeletesAndReopens) {
  RandomWhere r(seed_);
  for (int round = 0; round < 5; ++round) {
    const std::string context = "round " + std::to_string(round);
    RandomWrites(r, 12);
    ASSERT_TRUE(col_->Compact().ok());
    if (HasFatalFailure()) return;
    ExpectObjectHoldsTheDocumentsTrigrams(context);
    {
      TextIndexWarnings warnings;
      ReopenAndRecover();
      EXPECT_EQ(warnings.Count(), 0u) << context << " seed " << seed_;
    }
    ExpectContainsLikeDocuments(r, context + " after reopen");
    if (HasFatalFailure()) return;
  }
}

TEST_F(TrigramPersistTest, VersionOneObjectOrDamagedTrigramsRebuildOnlyTheTrigramIndex) {
  RandomWhere r(seed_);
  RandomWrites(r, 20);
  ASSERT_TRUE(col_->Compact().ok());
  // Each case replaces the current object by a version 1 re-encoding of it, or by itself
  // with a byte of its trigram section flipped.
  for (const bool version1 : {true, false}) {
    const std::string what = version1 ? "version 1" : "damaged trigram section";
    SCOPED_TRACE(what);
    const std::string key = ObjectKey();
    std::string bytes = static_cast<ObjectStore&>(*store_).Get(key).value();
    if (version1) {
      auto decoded = DecodeTextIndexObject(bytes);
      ASSERT_TRUE(decoded.ok() && decoded->trigrams.has_value());
      decoded->trigrams.reset();
      bytes = EncodeTextIndexObject(*decoded).value();
    } else {
      const uint64_t trigrams_at = DecodeFixed64(bytes.data() + 72 + 7 * 24);
      ASSERT_LT(trigrams_at, bytes.size());
      bytes[trigrams_at + (bytes.size() - trigrams_at) / 2] ^= 0x04;
    }
    ASSERT_TRUE(store_->Put(key, bytes, PutMode::kOverwrite).ok());
    {
      TextIndexWarnings warnings;
      ReopenAndRecover();
      EXPECT_EQ(warnings.Count("no trigram index"), 1u);
      EXPECT_EQ(warnings.Count("ignoring text index"), 0u);  // the BM25 part loaded
    }
    ExpectContainsLikeDocuments(r, what);
    // The next compaction writes a version 2 object although nothing is new.
    ASSERT_TRUE(col_->Compact().ok());
    EXPECT_NE(ObjectKey(), key);
    ExpectObjectHoldsTheDocumentsTrigrams(what);
    TextIndexWarnings warnings;
    ReopenAndRecover();
    EXPECT_EQ(warnings.Count(), 0u);
    ExpectContainsLikeDocuments(r, what + ", then compacted");
  }
}

}  // namespace
}  // namespace fathom
