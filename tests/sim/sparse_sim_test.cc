// Property test through the public API: sparse $knn searches (fathom/search.h) answer what
// a brute-force inner product over the collection's live sparse vectors says, while the
// collection is written (add, upsert, update, delete, keys removed), compacted into
// segments and reopened, with and without a metadata filter. Scores (1 - inner product)
// to 1e-5, top-k identical up to ties. The persisted sparse index (docs/format/
// sparse-index.md): loaded at reopen (no warning) it answers exactly (ids and float
// scores) as before the reopen, with WAL-tail writes after it; a damaged, truncated or
// missing object still opens and answers (rebuilt, with a warning) and the next
// compaction writes a good one; garbage collection keeps only the current one. Prints
// its seed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "fathom/db.h"
#include "fathom/search.h"
#include "log_capture.h"
#include "random_where.h"
#include "sim/sim_collection.h"

namespace fathom {
namespace {

using testing::RandomWhere;

constexpr const char* kKey = "sp";

class SparseSimulationTest : public testing::SimCollectionTest {
 protected:
  SparseSimulationTest() : SimCollectionTest("SparseSimulationTest", "sparse") { sparse_key_ = kKey; }

  // Zipf-like dimensions out of 300, weights in quarter steps (ties happen) or random.
  SparseVector Vector(RandomWhere& r, size_t max_nnz) {
    std::map<uint32_t, float> entries;
    const size_t n = r.Below(max_nnz + 1);
    for (size_t i = 0; i < n; ++i) {
      const auto dim = static_cast<uint32_t>(std::min(r.Below(300), std::min(r.Below(300), r.Below(300))));
      float w = r.Chance(0.3) ? static_cast<float>(1 + r.Below(4)) * 0.25f
                              : static_cast<float>(r.Below(1000)) / 337.0f;
      if (r.Chance(0.1)) w = -w;
      entries[dim] = w;
    }
    SparseVector v;
    for (const auto& [d, w] : entries) {
      v.indices.push_back(d);
      v.values.push_back(w);
    }
    return v;
  }

  void RandomWrites(RandomWhere& r, int batches) {
    for (int b = 0; b < batches; ++b) {
      std::vector<WriteRecord> batch;
      std::set<std::string> seen;
      const int kind = static_cast<int>(r.Below(5));
      for (int i = 0; i < 20; ++i) {
        WriteRecord w;
        w.id = "id" + std::to_string(r.Below(300));
        if (!seen.insert(w.id).second) continue;
        if (kind < 2) w.embedding = std::vector<float>{static_cast<float>(r.Below(7)), 1.0f};
        MetadataPatch patch{{"even", MetadataValue(static_cast<bool>(r.Below(2)))}};
        if (r.Chance(0.85)) {
          patch[kKey] = MetadataValue(Vector(r, 25));
        } else if (kind == 2 && r.Chance(0.5)) {
          patch[kKey] = std::nullopt;  // an update that drops the key
        }
        w.metadata = std::move(patch);
        batch.push_back(std::move(w));
      }
      const Status s = ApplyBatch(kind, std::move(batch));
      ASSERT_TRUE(s.ok()) << s.ToString() << " seed " << seed_;
    }
  }

  // Every live record whose vector shares a dimension with the query, best first.
  std::vector<ExpectedHit> Reference(const SparseVector& query, const std::optional<bool> even) {
    GetRequest get;
    get.include.metadatas = true;
    auto all = col_->Get(get);
    EXPECT_TRUE(all.ok());
    std::vector<ExpectedHit> out;
    for (size_t i = 0; i < all->ids.size(); ++i) {
      const auto& m = all->metadatas[i];
      if (!m || !m->contains(kKey)) continue;
      if (even.has_value() && (!m->contains("even") || std::get<bool>(m->at("even")) != *even)) continue;
      const SparseVector& v = std::get<SparseVector>(m->at(kKey));
      double score = 0;
      bool shared = false;
      for (size_t a = 0; a < v.indices.size(); ++a) {
        auto it = std::lower_bound(query.indices.begin(), query.indices.end(), v.indices[a]);
        if (it == query.indices.end() || *it != v.indices[a]) continue;
        shared = true;
        score += static_cast<double>(v.values[a]) * static_cast<double>(query.values[it - query.indices.begin()]);
      }
      if (shared) out.push_back({all->ids[i], score});
    }
    std::sort(out.begin(), out.end(), [](const ExpectedHit& a, const ExpectedHit& b) { return a.score > b.score; });
    return out;
  }

  void Check(RandomWhere& r, const char* phase) {
    for (int q = 0; q < 15; ++q) {
      const SparseVector query = Vector(r, 8);
      const uint32_t k = 1 + static_cast<uint32_t>(r.Below(20));
      std::optional<bool> even;
      if (r.Chance(0.4)) even = r.Chance(0.5);
      RankExpr knn;
      knn.kind = RankExpr::Kind::kKnn;
      knn.search.query = query;
      knn.search.key = kKey;
      knn.search.limit = k;
      // The score is 1 - inner product.
      ExpectRankedLikeReference(knn, even, Reference(query, even), [](float score) { return 1.0 - double{score}; },
                                phase);
      if (HasFatalFailure()) return;
    }
  }
};

TEST_F(SparseSimulationTest, SparseKnnMatchesBruteForceAcrossWritesCompactionAndReopen) {
  RandomWhere r(seed_);
  WriteCompactReopenRounds([&] { RandomWrites(r, 15); }, [&](const char* phase) { Check(r, phase); },
                           [&] { return r.Chance(0.5); });
}

// The sparse index objects in the store.
std::vector<std::string> SparseIndexKeys(ObjectStore& store) {
  std::vector<std::string> out;
  auto all = store.List("c/");
  EXPECT_TRUE(all.ok());
  if (!all.ok()) return out;
  for (const ObjectInfo& o : *all) {
    if (o.key.find("/sidx/") != std::string::npos) out.push_back(o.key);
  }
  return out;
}

class SparseIndexPersistTest : public SparseSimulationTest {
 protected:
  struct Hit {
    std::string id;
    float score;
    bool operator==(const Hit&) const = default;
  };
  // Reopens and recovers the collection (which a first request does).
  void ReopenAndRecover() {
    Reopen();
    auto count = col_->Count();
    ASSERT_TRUE(count.ok()) << count.status().ToString();
  }
  // A fixed set of queries' answers (ids and exact scores).
  std::vector<std::vector<Hit>> Answers(uint64_t query_seed) {
    RandomWhere r(query_seed);
    std::vector<std::vector<Hit>> out;
    for (int q = 0; q < 20; ++q) {
      RankExpr knn;
      knn.kind = RankExpr::Kind::kKnn;
      knn.search.query = Vector(r, 8);
      knn.search.key = kKey;
      knn.search.limit = 1 + static_cast<uint32_t>(r.Below(30));
      SearchRequest request;
      request.searches.push_back(testing::RankedPayload(knn, std::nullopt));
      auto got = col_->Search(request);
      EXPECT_TRUE(got.ok()) << got.status().ToString();
      out.emplace_back();
      if (!got.ok()) continue;
      for (size_t i = 0; i < (*got)[0].ids.size(); ++i) out.back().push_back({(*got)[0].ids[i], *(*got)[0].scores[i]});
    }
    return out;
  }
};

TEST_F(SparseIndexPersistTest, LoadedIndexAnswersAsBeforeTheReopen) {
  RandomWhere r(seed_);
  for (int round = 0; round < 4; ++round) {
    RandomWrites(r, 12);
    ASSERT_TRUE(col_->Compact().ok());
    ASSERT_EQ(SparseIndexKeys(*store_).size(), 1u) << "round " << round;
    // Writes after the compaction stay in the WAL tail and go through Add after the load.
    if (round % 2 == 1) RandomWrites(r, 3);
    if (HasFatalFailure()) return;
    const auto before = Answers(seed_ + round);
    {
      testing::LogCapture log;
      ReopenAndRecover();
      EXPECT_EQ(log.Count("sparse index"), 0u) << "round " << round << " seed " << seed_;
    }
    EXPECT_EQ(Answers(seed_ + round), before) << "round " << round << " seed " << seed_;
    if (round % 2 == 0) {
      // No WAL tail: the index came from the object, so it is current and a compaction
      // writes no new one (a rebuilt index would leave the object stale).
      const auto keys = SparseIndexKeys(*store_);
      ASSERT_TRUE(col_->Compact().ok());
      EXPECT_EQ(SparseIndexKeys(*store_), keys) << "round " << round << " seed " << seed_;
    }
    Check(r, "after reopen");
    if (HasFatalFailure()) return;
  }
}

TEST_F(SparseIndexPersistTest, DamagedTruncatedOrMissingObjectStillOpensAndAnswers) {
  RandomWhere r(seed_);
  RandomWrites(r, 20);
  ASSERT_TRUE(col_->Compact().ok());
  const auto expected = Answers(seed_);
  enum Damage { kFlipped, kTruncated, kMissing };
  for (Damage damage : {kFlipped, kTruncated, kMissing}) {
    const auto keys = SparseIndexKeys(*store_);
    ASSERT_EQ(keys.size(), 1u);
    const std::string key = keys[0];
    std::string bytes = static_cast<ObjectStore&>(*store_).Get(key).value();
    if (damage == kFlipped) bytes[bytes.size() / 2] ^= 0x10;
    if (damage == kTruncated) bytes.resize(bytes.size() - 3);
    if (damage == kMissing) {
      ASSERT_TRUE(store_->Delete(key).ok());
    } else {
      ASSERT_TRUE(store_->Put(key, bytes, PutMode::kOverwrite).ok());
    }
    {
      testing::LogCapture log;
      ReopenAndRecover();
      EXPECT_GE(log.Count("sparse index"), 1u) << "damage " << damage << " seed " << seed_;
    }
    EXPECT_EQ(Answers(seed_), expected) << "damage " << damage << " seed " << seed_;
    // The next compaction (no new rows) writes a good object again, which the next open
    // loads; garbage collection drops the bad one.
    ASSERT_TRUE(col_->Compact().ok());
    const auto after = SparseIndexKeys(*store_);
    ASSERT_EQ(after.size(), 1u) << "damage " << damage;
    EXPECT_NE(after[0], key);
    {
      testing::LogCapture log;
      ReopenAndRecover();
      EXPECT_EQ(log.Count("sparse index"), 0u) << "damage " << damage << " seed " << seed_;
    }
    EXPECT_EQ(Answers(seed_), expected) << "damage " << damage << " seed " << seed_;
  }
}

TEST_F(SparseSimulationTest, SparseValuesRoundTripThroughWalAndSegments) {
  SparseVector v{{3, 70000, 4000000000u}, {0.5f, -1.25f, 3e-30f}, {"a", "", "long token"}};
  SparseVector untokened{{1}, {2.0f}, {}};
  WriteRecord a{.id = "a", .embedding = std::vector<float>{1, 0}, .metadata = MetadataPatch{{kKey, MetadataValue(v)}}};
  WriteRecord b{.id = "b", .embedding = std::vector<float>{0, 1},
                .metadata = MetadataPatch{{kKey, MetadataValue(untokened)}}};
  ASSERT_TRUE(col_->Add({a, b}).ok());
  auto check = [&](const char* phase) {
    GetRequest get;
    get.include.metadatas = true;
    auto got = col_->Get(get);
    ASSERT_TRUE(got.ok()) << phase;
    ASSERT_EQ(got->ids.size(), 2u) << phase;
    EXPECT_EQ(std::get<SparseVector>(got->metadatas[0]->at(kKey)), v) << phase;
    EXPECT_EQ(std::get<SparseVector>(got->metadatas[1]->at(kKey)), untokened) << phase;
  };
  check("written");
  Reopen();
  check("from the WAL");
  ASSERT_TRUE(col_->Compact().ok());
  Reopen();
  check("from segments");
  // Invalid vectors are refused before anything is written.
  WriteRecord bad{.id = "c", .embedding = std::vector<float>{1, 1},
                  .metadata = MetadataPatch{{kKey, MetadataValue(SparseVector{{2, 1}, {1, 1}, {}})}}};
  EXPECT_EQ(col_->Add({bad}).code(), StatusCode::kInvalidArgument);
  check("after a refused write");
}

}  // namespace
}  // namespace fathom
