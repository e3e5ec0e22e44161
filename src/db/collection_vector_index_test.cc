// A collection's vector index through the public C++ API: it is built once the
// collection is large enough, queries through it keep recall against exact search, rows
// added or changed since are searched exactly, filters hold, and the index is persisted
// with the manifest (and rebuilt when its object is bad). Every test runs with a low cold
// spill threshold, so indexed vectors move to cold parts (db/vector_column.h) and every
// path also runs over int8 approximations plus exact reads from the store; and each runs
// twice, without and with a memory budget (db/memory_budget.h), under which cold rows
// keep no int8 copy and are read exactly, in batches.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "fathom/db.h"
#include "index/vector/distance.h"
#include "index/vector/kmeans.h"
#include "index/vector/search_calibration.h"
#include "common/checksum.h"
#include "common/coding.h"
#include "common/limits.h"
#include "io/forwarding_store.h"
#include "io/manual_clock.h"
#include "io/mem_store.h"
#include "test_util.h"

namespace fathom {
namespace {

using testing::MakeRecord;
using testing::SeedForTest;

constexpr uint32_t kDim = 24;
constexpr size_t kMinRows = 1000;  // index threshold used by these tests
constexpr size_t kSpillRows = 256;  // cold spill threshold used by these tests

// Clustered Gaussian data: `clusters` centres, unit spread around each; with no clusters,
// uniform in [0, 1)^kDim (no structure for the index to exploit).
class Data {
 public:
  Data(uint64_t seed, uint32_t clusters) : rng_(seed) {
    for (uint32_t c = 0; c < clusters; ++c) {
      std::vector<float> centre(kDim);
      for (float& x : centre) x = static_cast<float>(rng_.Gaussian() * 4.0);
      centres_.push_back(std::move(centre));
    }
  }
  std::vector<float> Next() {
    std::vector<float> v(kDim);
    if (centres_.empty()) {
      for (float& x : v) x = static_cast<float>(rng_.Uniform());
      return v;
    }
    const auto& centre = centres_[rng_.Below(centres_.size())];
    for (uint32_t d = 0; d < kDim; ++d) v[d] = centre[d] + static_cast<float>(rng_.Gaussian());
    return v;
  }
  Rng& rng() { return rng_; }

 private:
  Rng rng_;
  std::vector<std::vector<float>> centres_;
};

// The smallest memory budget: cold rows without int8 copies.
constexpr uint64_t kBudgetBytes = uint64_t{64} << 20;

class CollectionVectorIndexTest : public ::testing::TestWithParam<bool> {
 protected:
  // The memory budget of this run (GetParam(): with one).
  uint64_t Budget() const { return GetParam() ? kBudgetBytes : 0; }

  void Open(DistanceSpace space = DistanceSpace::kL2) {
    col_.reset();
    db_.reset();
    auto db = Database::Open(
        {.store = store_,
         .vector_index_min_rows = kMinRows,
         .vector_recall_target = recall_target_,
         .recall_sample_interval = recall_sample_interval_,
         .vector_cache_bytes = cache_bytes_,
         .memory_budget_bytes = Budget(),
         .cold_spill_min_rows = cold_spill_rows_,
         .int8_scan_min_bytes = int8_scan_min_bytes_,
         .background_compaction = false,
         .clock = clock_});
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    auto col = db_->CreateCollection(Database::kDefaultTenant, Database::kDefaultDatabase,
                                     {.name = "vectors", .space = space, .get_or_create = true});
    ASSERT_TRUE(col.ok()) << col.status().ToString();
    col_ = *col;
  }

  // Adds `n` rows with ids "r<i>" and metadata {"bucket": i % 100}, in batches.
  void AddRows(Data& data, size_t first, size_t n) {
    for (size_t done = 0; done < n;) {
      std::vector<WriteRecord> batch;
      for (size_t i = 0; i < 500 && done < n; ++i, ++done) {
        const size_t id = first + done;
        std::vector<float> v = data.Next();
        vectors_["r" + std::to_string(id)] = v;
        batch.push_back(MakeRecord("r" + std::to_string(id), v, std::nullopt,
                                   Metadata{{"bucket", static_cast<int64_t>(id % 100)}}));
      }
      ASSERT_TRUE(col_->Add(std::move(batch)).ok());
    }
  }

  // Exact top-k ids over vectors_ (optionally only ids whose bucket passes).
  std::vector<std::string> Exact(const std::vector<float>& q, uint32_t k, DistanceSpace space,
                                 int64_t bucket_below = 100) {
    std::vector<std::pair<float, std::string>> all;
    const float qn = std::sqrt(DotProduct(q.data(), q.data(), kDim));
    for (const auto& [id, v] : vectors_) {
      if (std::stoll(id.substr(1)) % 100 >= bucket_below) continue;
      const float vn = std::sqrt(DotProduct(v.data(), v.data(), kDim));
      all.push_back({SpaceDistance(space, q.data(), qn, v.data(), vn, kDim), id});
    }
    std::sort(all.begin(), all.end());
    std::vector<std::string> out;
    for (size_t i = 0; i < std::min<size_t>(k, all.size()); ++i) out.push_back(all[i].second);
    return out;
  }

  // Mean recall@10 over `queries` fresh points; checks every distance is the exact one.
  double Recall(Data& data, int queries, DistanceSpace space, int64_t bucket_below = 100) {
    double found = 0, wanted = 0;
    for (int i = 0; i < queries; ++i) {
      std::vector<float> q = data.Next();
      QueryRequest r;
      r.query_embeddings = {q};
      r.n_results = 10;
      if (bucket_below < 100) {
        Where w;
        w.kind = Where::Kind::kField;
        w.key = "bucket";
        w.op = CompareOp::kLt;
        w.operands = {Scalar(bucket_below)};
        r.where = w;
      }
      auto res = col_->Query(r);
      EXPECT_TRUE(res.ok()) << res.status().ToString();
      if (!res.ok()) return 0;
      const std::vector<std::string> truth = Exact(q, 10, space, bucket_below);
      const std::set<std::string> truth_set(truth.begin(), truth.end());
      const auto& ids = res->rows[0].ids;
      const float qn = std::sqrt(DotProduct(q.data(), q.data(), kDim));
      for (size_t j = 0; j < ids.size(); ++j) {
        const auto& v = vectors_.at(ids[j]);
        const float vn = std::sqrt(DotProduct(v.data(), v.data(), kDim));
        EXPECT_NEAR(res->distances[0][j], SpaceDistance(space, q.data(), qn, v.data(), vn, kDim), 1e-3);
        if (bucket_below < 100) {
          EXPECT_LT(std::stoll(ids[j].substr(1)) % 100, bucket_below);
        }
        if (j > 0) {
          EXPECT_LE(res->distances[0][j - 1], res->distances[0][j]);
        }
        found += truth_set.count(ids[j]);
      }
      wanted += truth.size();
    }
    return wanted == 0 ? 1.0 : found / wanted;
  }

  ObjectStore& Store() { return *store_; }

  VectorIndexStats Stats() {
    auto s = col_->IndexStats();
    EXPECT_TRUE(s.ok());
    return s.ok() ? *s : VectorIndexStats{};
  }

  // Every stored embedding equals the one written (through Get, so cold rows are read
  // back from their parts).
  void ExpectEmbeddingsIntact() {
    GetRequest get;
    get.include.embeddings = true;
    auto got = col_->Get(get);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    ASSERT_EQ(got->ids.size(), vectors_.size());
    for (size_t i = 0; i < got->ids.size(); ++i) {
      ASSERT_EQ(got->embeddings[i], vectors_.at(got->ids[i])) << got->ids[i];
    }
  }

  std::shared_ptr<MemStore> store_ = std::make_shared<MemStore>();
  uint64_t cache_bytes_ = 0;
  size_t cold_spill_rows_ = kSpillRows;
  uint64_t int8_scan_min_bytes_ = 0;
  std::shared_ptr<Clock> clock_;  // null: real time
  // Tests that assert recall >= 0.95 on a few dozen queries calibrate for more, so that
  // sampling noise cannot fail them; the default target has a test of its own.
  double recall_target_ = 0.98;
  uint32_t recall_sample_interval_ = 0;
  std::unique_ptr<Database> db_;
  std::shared_ptr<Collection> col_;
  std::map<std::string, std::vector<float>> vectors_;
};

TEST_P(CollectionVectorIndexTest, SmallCollectionsHaveNoIndex) {
  Open();
  Data data(SeedForTest("CollectionVectorIndexTest.SmallCollectionsHaveNoIndex"), 8);
  AddRows(data, 0, kMinRows - 1);
  ASSERT_TRUE(col_->Compact().ok());
  EXPECT_FALSE(Stats().active);
  EXPECT_EQ(Recall(data, 20, DistanceSpace::kL2), 1.0);
}

TEST_P(CollectionVectorIndexTest, BuiltOnCompactionAndKeepsRecall) {
  Open();
  Data data(SeedForTest("CollectionVectorIndexTest.BuiltOnCompactionAndKeepsRecall"), 24);
  AddRows(data, 0, 6000);
  EXPECT_FALSE(Stats().active);
  ASSERT_TRUE(col_->Compact().ok());
  VectorIndexStats s = Stats();
  EXPECT_TRUE(s.active);
  EXPECT_EQ(s.indexed_rows, 6000u);
  EXPECT_EQ(s.pending_rows, 0u);
  EXPECT_GT(s.clusters, 10u);
  const double recall = Recall(data, 60, DistanceSpace::kL2);
  std::printf("recall@10 with the index: %.3f (clusters %u, default probes %u)\n", recall, s.clusters,
              s.default_probes);
  EXPECT_GE(recall, 0.95);
  // Every cluster probed and the deepest re-rank: exact. (Probing every cluster alone is
  // not: the candidates are still ranked by their 1-bit estimates before the re-rank, and
  // at the default depth a true neighbour can rarely fall outside it; that flaked once.)
  QueryRequest r;
  std::vector<float> q = data.Next();
  r.query_embeddings = {q};
  r.search_probes = s.clusters;
  r.search_effort = 16.0;
  auto res = col_->Query(r);
  ASSERT_TRUE(res.ok());
  const std::vector<std::string> exact = Exact(q, 10, DistanceSpace::kL2);
  // Under a budget too (FATHOM_SEED=6039024287588541235 missed one of ten there when the
  // budget path read in lower-bound order at the default bound; issue 11).
  EXPECT_EQ(res->rows[0].ids, exact);
  r.search_probes = 1000000;
  EXPECT_EQ(col_->Query(r).status().code(), StatusCode::kInvalidArgument);
}

// Regression (issue 11): the fixed default budget (8 probes) gave recall@10 0.29 on
// uniform data at 12k rows through the Chroma API; the calibrated budget reaches the
// target on the collection's own data, keeps it across reopen, and follows the target.
TEST_P(CollectionVectorIndexTest, DefaultsAreCalibratedOnUnstructuredData) {
  recall_target_ = 0.0;  // the default
  Open();
  Data data(SeedForTest("CollectionVectorIndexTest.DefaultsAreCalibratedOnUnstructuredData"), 0);
  AddRows(data, 0, 4000);
  ASSERT_TRUE(col_->Compact().ok());
  const VectorIndexStats s = Stats();
  ASSERT_TRUE(s.active);
  EXPECT_TRUE(s.calibrated);
  EXPECT_DOUBLE_EQ(s.recall_target, 0.95);
  EXPECT_GE(s.calibration_queries, 100u);
  EXPECT_GE(s.calibrated_recall_lower_bound, 0.95);
  const double recall = Recall(data, 100, DistanceSpace::kL2);
  const double filtered = Recall(data, 100, DistanceSpace::kL2, /*bucket_below=*/10);
  std::printf("uniform %u-d, %u clusters: plan %s, probes %u, rerank %u, calibrated %.3f (lower %.3f); "
              "held-out recall %.3f, 10%% filter %.3f\n",
              kDim, s.clusters, s.plan == VectorIndexStats::Plan::kExactScan ? "exact" : "index", s.default_probes,
              s.default_rerank_factor, s.calibrated_recall, s.calibrated_recall_lower_bound, recall, filtered);
  EXPECT_GE(recall, 0.93);
  EXPECT_GE(filtered, 0.93);

  // The budget is persisted with the index.
  Open();
  const VectorIndexStats reopened = Stats();
  EXPECT_TRUE(reopened.calibrated);
  EXPECT_EQ(reopened.plan, s.plan);
  EXPECT_EQ(reopened.default_probes, s.default_probes);
  EXPECT_EQ(reopened.default_rerank_factor, s.default_rerank_factor);
  EXPECT_FLOAT_EQ(static_cast<float>(reopened.calibrated_recall), static_cast<float>(s.calibrated_recall));

  // Another target: the next maintenance recalibrates for it.
  recall_target_ = 0.99;
  Open();
  ASSERT_TRUE(col_->Compact().ok());
  const VectorIndexStats strict = Stats();
  EXPECT_DOUBLE_EQ(strict.recall_target, 0.99);
  EXPECT_TRUE(strict.calibrated);
  if (strict.plan == VectorIndexStats::Plan::kIndex) {
    EXPECT_GE(strict.calibrated_recall_lower_bound, 0.99);
    EXPECT_GE(static_cast<double>(strict.default_probes) * strict.default_rerank_factor,
              static_cast<double>(s.default_probes) * s.default_rerank_factor);
  }
  EXPECT_GE(Recall(data, 100, DistanceSpace::kL2), 0.97);
}

// The recall monitor's estimate equals a direct measurement of the same queries, and a
// budget too small for the data (explicit probes) is reported below the target.
TEST_P(CollectionVectorIndexTest, RecallMonitorMatchesADirectMeasurement) {
  recall_sample_interval_ = 1;  // every query
  Open();
  Data data(SeedForTest("CollectionVectorIndexTest.RecallMonitorMatchesADirectMeasurement"), 0);
  AddRows(data, 0, 3000);
  ASSERT_TRUE(col_->Compact().ok());
  ASSERT_TRUE(Stats().active);
  // Queries with one probe only, well below what uniform data needs: low recall.
  double direct = 0;
  const int queries = static_cast<int>(limits::kRecallPendingSamplesMax);
  for (int i = 0; i < queries; ++i) {
    std::vector<float> q = data.Next();
    QueryRequest r;
    r.query_embeddings = {q};
    r.n_results = 10;
    r.search_probes = 1;
    auto res = col_->Query(r);
    ASSERT_TRUE(res.ok());
    // Tie-aware recall, as the monitor computes it, from the exact top 10's distances.
    std::vector<std::string> truth = Exact(q, 10, DistanceSpace::kL2);
    const auto& kth = vectors_.at(truth.back());
    const float kth_distance = SpaceDistance(DistanceSpace::kL2, q.data(), 0, kth.data(), 0, kDim);
    std::vector<Hit> found;
    for (float d : res->distances[0]) found.push_back(Hit{d, 0});
    direct += TieAwareRecall(found, kth_distance, 10);
  }
  direct /= queries;
  ASSERT_TRUE(col_->Compact().ok());  // runs the background checks
  const VectorIndexStats s = Stats();
  std::printf("monitor: %llu samples, recall %.4f (direct %.4f), below target %d\n",
              static_cast<unsigned long long>(s.monitored_samples), s.monitored_recall, direct,
              s.recall_below_target);
  EXPECT_EQ(s.monitored_samples, static_cast<uint64_t>(queries));
  EXPECT_NEAR(s.monitored_recall, direct, 1e-6);
  EXPECT_LT(s.monitored_recall, 0.9);
  EXPECT_TRUE(s.recall_below_target);
  EXPECT_LT(s.monitored_recall_lower_bound, s.monitored_recall);

  // A write between a query and its check discards the sample rather than compare the
  // answer with the truth of another state.
  for (int i = 0; i < 10; ++i) {
    QueryRequest r;
    r.query_embeddings = {data.Next()};
    ASSERT_TRUE(col_->Query(r).ok());
  }
  AddRows(data, 3000, 1);
  ASSERT_TRUE(col_->Compact().ok());
  EXPECT_EQ(Stats().monitor_discarded, 10u);
  EXPECT_EQ(Stats().monitored_samples, static_cast<uint64_t>(queries));
}

TEST_P(CollectionVectorIndexTest, PendingRowsAreSearchedExactly) {
  Open();
  Data data(SeedForTest("CollectionVectorIndexTest.PendingRowsAreSearchedExactly"), 16);
  AddRows(data, 0, 3000);
  ASSERT_TRUE(col_->Compact().ok());
  ASSERT_TRUE(Stats().active);
  // A new row far from everything is the nearest to a query at its own position.
  std::vector<float> far(kDim, 100.0f);
  ASSERT_TRUE(col_->Add({MakeRecord("far", far)}).ok());
  EXPECT_EQ(Stats().pending_rows, 1u);
  QueryRequest r;
  r.query_embeddings = {far};
  r.n_results = 1;
  auto res = col_->Query(r);
  ASSERT_TRUE(res.ok());
  ASSERT_EQ(res->rows[0].ids.size(), 1u);
  EXPECT_EQ(res->rows[0].ids[0], "far");
  EXPECT_FLOAT_EQ(res->distances[0][0], 0.0f);

  // Moving an indexed row: found at its new place, not at its old one.
  const std::vector<float> old_place = vectors_.at("r7");
  std::vector<float> new_place(kDim, -100.0f);
  WriteRecord moved;
  moved.id = "r7";
  moved.embedding = new_place;
  ASSERT_TRUE(col_->Update({moved}).ok());
  r.query_embeddings = {new_place};
  res = col_->Query(r);
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->rows[0].ids[0], "r7");
  r.query_embeddings = {old_place};
  r.n_results = 10;
  res = col_->Query(r);
  ASSERT_TRUE(res.ok());
  for (const auto& id : res->rows[0].ids) EXPECT_NE(id, "r7");

  // A deleted indexed row is never returned.
  DeleteRequest del;
  del.ids = std::vector<std::string>{"r8"};
  ASSERT_TRUE(col_->Delete(del).ok());
  r.query_embeddings = {vectors_.at("r8")};
  res = col_->Query(r);
  ASSERT_TRUE(res.ok());
  for (const auto& id : res->rows[0].ids) EXPECT_NE(id, "r8");

  // Compaction folds the pending rows in.
  ASSERT_TRUE(col_->Compact().ok());
  EXPECT_EQ(Stats().pending_rows, 0u);
  EXPECT_EQ(Stats().indexed_rows, 3000u);  // +far, -r8 (r7 re-indexed)
  r.query_embeddings = {new_place};
  r.n_results = 1;
  res = col_->Query(r);
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->rows[0].ids[0], "r7");
}

TEST_P(CollectionVectorIndexTest, IncrementalGrowthKeepsRecall) {
  Open();
  Data data(SeedForTest("CollectionVectorIndexTest.IncrementalGrowthKeepsRecall"), 24);
  AddRows(data, 0, 2000);
  ASSERT_TRUE(col_->Compact().ok());
  const uint32_t first_clusters = Stats().clusters;
  for (int round = 0; round < 4; ++round) {
    AddRows(data, 2000 + round * 1000, 1000);
    ASSERT_TRUE(col_->Compact().ok());
    EXPECT_EQ(Stats().pending_rows, 0u);
  }
  VectorIndexStats s = Stats();
  EXPECT_EQ(s.indexed_rows, 6000u);
  const double recall = Recall(data, 60, DistanceSpace::kL2);
  std::printf("recall@10 after incremental growth 2000 -> 6000: %.3f (clusters %u -> %u)\n", recall,
              first_clusters, s.clusters);
  EXPECT_GE(recall, 0.93);
}

// Regression (issue 11): incremental updates kept the budget calibrated at the first
// build, and zoo data built at 10k rows answered recall@10 0.90-0.94 at 20k-30k. Once
// the index has grown kVectorIndexRecalibrateGrowth past the rows it was calibrated on,
// maintenance calibrates it again (without a rebuild), and the figure is persisted.
TEST_P(CollectionVectorIndexTest, GrowthRecalibratesTheBudget) {
  Open();
  Data data(SeedForTest("CollectionVectorIndexTest.GrowthRecalibratesTheBudget"), 24);
  AddRows(data, 0, 2000);
  ASSERT_TRUE(col_->Compact().ok());
  const VectorIndexStats built = Stats();
  ASSERT_TRUE(built.calibrated);
  EXPECT_EQ(built.calibrated_rows, 2000u);
  // 2400 rows: 1.2x, under the growth that recalibrates; the budget stays.
  AddRows(data, 2000, 400);
  ASSERT_TRUE(col_->Compact().ok());
  EXPECT_EQ(Stats().indexed_rows, 2400u);
  EXPECT_EQ(Stats().calibrated_rows, 2000u);
  // 2800 rows: 1.4x (still short of the 4x rebuild): calibrated again on the updated index.
  AddRows(data, 2400, 400);
  ASSERT_TRUE(col_->Compact().ok());
  const VectorIndexStats grown = Stats();
  EXPECT_EQ(grown.indexed_rows, 2800u);
  EXPECT_EQ(grown.calibrated_rows, 2800u);
  EXPECT_TRUE(grown.calibrated);
  EXPECT_GE(grown.calibrated_recall_lower_bound, recall_target_);
  EXPECT_GE(Recall(data, 60, DistanceSpace::kL2), 0.95);
  // Persisted with the budget: a reopened collection does not start counting afresh.
  Open();
  EXPECT_EQ(Stats().calibrated_rows, 2800u);
  EXPECT_EQ(Stats().default_probes, grown.default_probes);
}

// Regression (issue 11): a reopened collection took the loaded index's rows for the rows
// of its last full build, so the 4x growth that re-clusters from scratch was counted
// afresh at every open, and a collection reopened between compactions was never rebuilt.
// The rows of the last full build are persisted with the index (envelope version 3).
// A full build is told from an update by the rows its budget was calibrated on: a build
// calibrates on every row, while an update under kVectorIndexRecalibrateGrowth of them
// keeps the budget it had.
TEST_P(CollectionVectorIndexTest, GrowthAcrossReopensRebuilds) {
  static_assert(limits::kVectorIndexRebuildGrowth == 4 && limits::kVectorIndexRecalibrateGrowth == 1.3,
                "the row counts below follow these factors");
  Open();
  Data data(SeedForTest("CollectionVectorIndexTest.GrowthAcrossReopensRebuilds"), 24);
  // Built at 1000 rows, updated (and calibrated again on the way) up to 3600, under 4x of
  // the build; reopened after each step.
  size_t rows = 0;
  for (size_t next : {size_t{1000}, size_t{2000}, size_t{2700}, size_t{3600}}) {
    AddRows(data, rows, next - rows);
    rows = next;
    ASSERT_TRUE(col_->Compact().ok());
    EXPECT_EQ(Stats().indexed_rows, rows);
    EXPECT_EQ(Stats().calibrated_rows, rows) << "each step grows 1.3x past the last calibration";
    Open();
  }
  // 4000 rows: 4x the build (an update would keep the budget of 3600, 4000 < 1.3 x 3600).
  AddRows(data, rows, 4000 - rows);
  ASSERT_TRUE(col_->Compact().ok());
  EXPECT_EQ(Stats().indexed_rows, 4000u);
  EXPECT_EQ(Stats().calibrated_rows, 4000u) << "not rebuilt at 4x the rows of its last full build";
  // The envelope records the build.
  auto keys = Store().List("c/" + col_->id() + "/vidx/");
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 1u);
  auto bytes = Store().Get((*keys)[0].key);
  ASSERT_TRUE(bytes.ok());
  ASSERT_GE(bytes->size(), 72u);
  EXPECT_EQ(DecodeFixed64(bytes->data() + 64), 4000u);
}

TEST_P(CollectionVectorIndexTest, FilteredQueriesKeepRecall) {
  Open();
  Data data(SeedForTest("CollectionVectorIndexTest.FilteredQueriesKeepRecall"), 24);
  AddRows(data, 0, 8000);
  ASSERT_TRUE(col_->Compact().ok());
  ASSERT_TRUE(Stats().active);
  const double ten = Recall(data, 40, DistanceSpace::kL2, 10);
  const double one = Recall(data, 40, DistanceSpace::kL2, 1);
  const double half = Recall(data, 40, DistanceSpace::kL2, 50);
  std::printf("filtered recall@10: 50%% %.3f, 10%% %.3f, 1%% %.3f\n", half, ten, one);
  EXPECT_GE(half, 0.95);
  EXPECT_GE(ten, 0.95);
  EXPECT_GE(one, 0.95);
  // The 10 % and 1 % filters allow at most 2048 rows: an exact scan of their slot list,
  // whose rows are hinted ahead once the rows' bytes reach int8_scan_min_bytes (far above
  // these rows by default). With the hints on, the answers stay exact.
  int8_scan_min_bytes_ = 1;
  Open();
  EXPECT_EQ(Recall(data, 20, DistanceSpace::kL2, 10), 1.0);
  EXPECT_EQ(Recall(data, 20, DistanceSpace::kL2, 1), 1.0);
}

// A `where` hands its bitmap to the vector search (VectorCandidates from a Roaring
// bitmap); `ids` hand it a slot list. The same rows either way must give the same answer,
// with every row covered and with pending, moved and deleted rows, through the exact plan
// (few rows) and the index; at full effort recall against the exact filtered answer
// stays high.
TEST_P(CollectionVectorIndexTest, AFilterBitmapAndTheSameIdsAnswerAlike) {
  Open();
  Data data(SeedForTest("CollectionVectorIndexTest.AFilterBitmapAndTheSameIdsAnswerAlike"), 24);
  AddRows(data, 0, 6000);
  ASSERT_TRUE(col_->Compact().ok());
  ASSERT_TRUE(Stats().active);
  auto compare = [&](const char* phase) {
    double found = 0, wanted = 0;
    for (int64_t bucket_below : {2, 10, 60}) {
      Where where;
      where.kind = Where::Kind::kField;
      where.key = "bucket";
      where.op = CompareOp::kLt;
      where.operands = {Scalar(bucket_below)};
      std::vector<std::string> allowed;
      for (const auto& [id, v] : vectors_) {
        if (std::stoll(id.substr(1)) % 100 < bucket_below) allowed.push_back(id);
      }
      for (double effort : {1.0, 1000.0}) {
        for (int i = 0; i < 8; ++i) {
          const std::vector<float> q = data.Next();
          QueryRequest by_where;
          by_where.query_embeddings = {q};
          by_where.n_results = 10;
          by_where.search_effort = effort;
          by_where.where = where;
          QueryRequest by_ids = by_where;
          by_ids.where.reset();
          by_ids.ids = allowed;
          auto a = col_->Query(by_where);
          auto b = col_->Query(by_ids);
          ASSERT_TRUE(a.ok() && b.ok()) << a.status().ToString() << " " << b.status().ToString();
          EXPECT_EQ(a->rows[0].ids, b->rows[0].ids) << phase << ", bucket < " << bucket_below;
          EXPECT_EQ(a->distances[0], b->distances[0]) << phase << ", bucket < " << bucket_below;
          if (effort == 1000.0) {
            const std::vector<std::string> truth = Exact(q, 10, DistanceSpace::kL2, bucket_below);
            for (const std::string& id : a->rows[0].ids) {
              found += std::count(truth.begin(), truth.end(), id);
              EXPECT_LT(std::stoll(id.substr(1)) % 100, bucket_below) << phase;
            }
            wanted += truth.size();
          }
        }
      }
    }
    std::printf("%s: filtered recall@10 at full effort %.3f\n", phase, found / wanted);
    EXPECT_GE(found / wanted, 0.97) << phase;
  };
  compare("every row covered");
  // Pending rows: new ones, an indexed row moved, an indexed row deleted.
  AddRows(data, 6000, 400);
  WriteRecord moved;
  moved.id = "r5";
  moved.embedding = data.Next();
  vectors_["r5"] = *moved.embedding;
  ASSERT_TRUE(col_->Update({moved}).ok());
  DeleteRequest del;
  del.ids = std::vector<std::string>{"r1", "r3"};
  ASSERT_TRUE(col_->Delete(del).ok());
  vectors_.erase("r1");
  vectors_.erase("r3");
  ASSERT_GT(Stats().pending_rows, 0u);
  compare("with pending rows");
}

TEST_P(CollectionVectorIndexTest, OtherSpaces) {
  for (DistanceSpace space : {DistanceSpace::kCosine, DistanceSpace::kInnerProduct}) {
    store_ = std::make_shared<MemStore>();
    vectors_.clear();
    Open(space);
    Data data(SeedForTest("CollectionVectorIndexTest.OtherSpaces"), 24);
    AddRows(data, 0, 5000);
    ASSERT_TRUE(col_->Compact().ok());
    ASSERT_TRUE(Stats().active);
    const double recall = Recall(data, 40, space);
    std::printf("%s recall@10: %.3f\n", DistanceSpaceName(space), recall);
    EXPECT_GE(recall, 0.93) << DistanceSpaceName(space);
  }
}

TEST_P(CollectionVectorIndexTest, PersistedWithTheManifest) {
  Open();
  Data data(SeedForTest("CollectionVectorIndexTest.PersistedWithTheManifest"), 24);
  AddRows(data, 0, 4000);
  ASSERT_TRUE(col_->Compact().ok());
  ASSERT_TRUE(Stats().active);
  std::vector<std::vector<float>> queries;
  std::vector<std::vector<std::string>> before;
  for (int i = 0; i < 10; ++i) {
    queries.push_back(data.Next());
    QueryRequest r;
    r.query_embeddings = {queries.back()};
    auto res = col_->Query(r);
    ASSERT_TRUE(res.ok());
    before.push_back(res->rows[0].ids);
  }
  // Reopen: the index is loaded, not rebuilt (no Compact in between), and answers alike.
  Open();
  VectorIndexStats s = Stats();
  EXPECT_TRUE(s.active);
  EXPECT_EQ(s.indexed_rows, 4000u);
  for (size_t i = 0; i < queries.size(); ++i) {
    QueryRequest r;
    r.query_embeddings = {queries[i]};
    auto res = col_->Query(r);
    ASSERT_TRUE(res.ok());
    EXPECT_EQ(res->rows[0].ids, before[i]);
  }
  // Rows written after the manifest are pending after a reopen.
  AddRows(data, 4000, 10);
  Open();
  EXPECT_EQ(Stats().indexed_rows, 4000u);
  EXPECT_EQ(Stats().pending_rows, 10u);

  // A damaged index object is detected and ignored; the collection stays correct.
  auto keys = Store().List("c/" + col_->id() + "/vidx/");
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 1u);
  auto bytes = Store().Get((*keys)[0].key);
  ASSERT_TRUE(bytes.ok());
  std::string damaged = *bytes;
  damaged[damaged.size() / 2] ^= 0x40;
  ASSERT_TRUE(Store().Delete((*keys)[0].key).ok());
  ASSERT_TRUE(Store().Put((*keys)[0].key, damaged, PutMode::kCreateOnly).ok());
  Open();
  EXPECT_FALSE(Stats().active);
  EXPECT_EQ(Recall(data, 10, DistanceSpace::kL2), 1.0);  // exact meanwhile
  ASSERT_TRUE(col_->Compact().ok());                    // rebuilt
  EXPECT_TRUE(Stats().active);
  EXPECT_EQ(Stats().indexed_rows, 4010u);
  // Only the current index object remains.
  keys = Store().List("c/" + col_->id() + "/vidx/");
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(keys->size(), 1u);
}

// The persisted search budget (envelope version 2 on): a budget out of range is refused
// like any bad bytes (index dropped, rebuilt); a version 2 envelope (no rows of the last
// full build) loads and counts from the rows it holds; a version 1 envelope (no budget)
// still loads, uncalibrated, and the next maintenance rebuilds and calibrates it.
TEST_P(CollectionVectorIndexTest, PersistedBudgetIsCheckedAndVersion1StillLoads) {
  Open();
  Data data(SeedForTest("CollectionVectorIndexTest.PersistedBudgetIsCheckedAndVersion1StillLoads"), 24);
  AddRows(data, 0, 3000);
  ASSERT_TRUE(col_->Compact().ok());
  ASSERT_TRUE(Stats().calibrated);
  auto keys = Store().List("c/" + col_->id() + "/vidx/");
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 1u);
  const std::string key = (*keys)[0].key;
  auto bytes = Store().Get(key);
  ASSERT_TRUE(bytes.ok());
  ASSERT_EQ(DecodeFixed32(bytes->data() + 4), 3u);
  auto replace = [&](const std::string& with) {
    ASSERT_TRUE(Store().Delete(key).ok());
    ASSERT_TRUE(Store().Put(key, with, PutMode::kCreateOnly).ok());
  };

  // A header with a valid checksum that breaks a rule: refused.
  auto expect_refused = [&](std::string bad) {
    EncodeFixed64(bad.data() + 72, Checksum64(std::string_view(bad.data(), 72)));
    replace(bad);
    Open();
    EXPECT_FALSE(Stats().active);
  };
  // The index plan with probes beyond the cluster count.
  std::string bad = *bytes;
  bad[32] = 0;
  EncodeFixed32(bad.data() + 36, 0xFFFFFFFFu);
  expect_refused(bad);
  // No rows at the last full build.
  bad = *bytes;
  EncodeFixed64(bad.data() + 64, 0);
  expect_refused(bad);

  // Version 2: the 64-byte header, its checksum, the index.
  std::string v2 = bytes->substr(0, 64);
  EncodeFixed32(v2.data() + 4, 2);
  PutFixed64(&v2, Checksum64(v2));
  v2 += bytes->substr(80);
  replace(v2);
  Open();
  VectorIndexStats s = Stats();
  EXPECT_TRUE(s.active);
  EXPECT_TRUE(s.calibrated);

  // Version 1: the 32-byte header, its checksum, the index.
  std::string v1 = bytes->substr(0, 32);
  EncodeFixed32(v1.data() + 4, 1);
  PutFixed64(&v1, Checksum64(v1));
  v1 += bytes->substr(80);
  replace(v1);
  Open();
  s = Stats();
  EXPECT_TRUE(s.active);
  EXPECT_FALSE(s.calibrated);
  EXPECT_GE(Recall(data, 20, DistanceSpace::kL2), 0.9);  // the old fixed defaults meanwhile
  ASSERT_TRUE(col_->Compact().ok());
  s = Stats();
  EXPECT_TRUE(s.active);
  EXPECT_TRUE(s.calibrated);
}

TEST_P(CollectionVectorIndexTest, DeletesAndRenumbering) {
  Open();
  Data data(SeedForTest("CollectionVectorIndexTest.DeletesAndRenumbering"), 24);
  AddRows(data, 0, 6000);
  ASSERT_TRUE(col_->Compact().ok());
  ASSERT_TRUE(Stats().active);
  // Delete two thirds: the table reclaims slots (renumbering them) and the index follows.
  std::vector<std::string> doomed;
  for (size_t i = 0; i < 6000; ++i) {
    if (i % 3 != 0) doomed.push_back("r" + std::to_string(i));
  }
  for (size_t i = 0; i < doomed.size(); i += 1000) {
    DeleteRequest del;
    del.ids = std::vector<std::string>(doomed.begin() + i, doomed.begin() + std::min(doomed.size(), i + 1000));
    ASSERT_TRUE(col_->Delete(del).ok());
  }
  for (const auto& id : doomed) vectors_.erase(id);
  EXPECT_EQ(Stats().indexed_rows, 2000u);
  const double recall = Recall(data, 40, DistanceSpace::kL2);
  std::printf("recall@10 after deleting 2/3: %.3f\n", recall);
  EXPECT_GE(recall, 0.95);
  ASSERT_TRUE(col_->Compact().ok());
  EXPECT_EQ(Stats().indexed_rows, 2000u);
  EXPECT_GE(Recall(data, 20, DistanceSpace::kL2), 0.95);
  Open();
  EXPECT_EQ(Stats().indexed_rows, 2000u);
}

// The exact plan ranks rows by int8 copies, re-scores the best exactly and proves that no
// row it left out could matter (int8_scan_copy.h): its answers are an exact scan's, through
// upserts, deletes that renumber slots, new rows and a reopen, in every space; rows that
// tie with many others send the scan back to the f32 rows, still exact.
TEST_P(CollectionVectorIndexTest, ExactPlanScansThroughInt8CopiesExactly) {
  // A clock that stands still times the index and the scan alike, and a tie keeps the
  // exact plan: the plan does not depend on this machine's speed.
  clock_ = std::make_shared<ManualClock>();
  cold_spill_rows_ = 1u << 30;  // every row hot: the copies are kept only then
  int8_scan_min_bytes_ = 64 << 10;  // rows of 96 bytes: copies from 683 rows, kept down to 342
  for (DistanceSpace space : {DistanceSpace::kL2, DistanceSpace::kCosine, DistanceSpace::kInnerProduct}) {
    SCOPED_TRACE(DistanceSpaceName(space));
    store_ = std::make_shared<MemStore>();
    vectors_.clear();
    Open(space);
    Data data(SeedForTest("CollectionVectorIndexTest.ExactPlanScansThroughInt8CopiesExactly"), 0);
    AddRows(data, 0, 3000);
    ASSERT_TRUE(col_->Compact().ok());
    VectorIndexStats s = Stats();
    ASSERT_TRUE(s.active);
    ASSERT_EQ(s.plan, VectorIndexStats::Plan::kExactScan);
    EXPECT_EQ(s.scan_copy_rows, 3000u);
    EXPECT_EQ(Recall(data, 30, space), 1.0);
    EXPECT_EQ(Recall(data, 30, space, /*bucket_below=*/10), 1.0);

    // Upserts change rows in place; deletes of two thirds reclaim and renumber slots.
    std::vector<WriteRecord> upserts;
    for (size_t i = 0; i < 300; ++i) {
      std::vector<float> v = data.Next();
      vectors_["r" + std::to_string(i)] = v;
      upserts.push_back(MakeRecord("r" + std::to_string(i), v, std::nullopt, Metadata{{"bucket", int64_t(i % 100)}}));
    }
    ASSERT_TRUE(col_->Upsert(std::move(upserts)).ok());
    EXPECT_EQ(Recall(data, 20, space), 1.0);
    DeleteRequest del;
    del.ids.emplace();
    for (size_t i = 0; i < 3000; ++i) {
      if (i % 3 != 0) del.ids->push_back("r" + std::to_string(i));
    }
    ASSERT_TRUE(col_->Delete(del).ok());
    for (const std::string& id : *del.ids) vectors_.erase(id);
    EXPECT_EQ(Stats().scan_copy_rows, 1000u);
    EXPECT_EQ(Recall(data, 20, space), 1.0);

    // 400 copies of one vector: the copies cannot separate them, so the scan falls back.
    std::vector<WriteRecord> same;
    const std::vector<float> twin = data.Next();
    for (size_t i = 0; i < 400; ++i) {
      vectors_["t" + std::to_string(i)] = twin;
      same.push_back(MakeRecord("t" + std::to_string(i), twin, std::nullopt, Metadata{{"bucket", int64_t{0}}}));
    }
    ASSERT_TRUE(col_->Add(std::move(same)).ok());
    s = Stats();
    EXPECT_EQ(s.scan_copy_rows, 1400u);
    const uint64_t fallbacks = s.scan_copy_fallbacks;
    QueryRequest r;
    r.query_embeddings = {twin};
    r.n_results = 10;
    auto res = col_->Query(r);
    ASSERT_TRUE(res.ok()) << res.status().ToString();
    ASSERT_EQ(res->rows[0].ids.size(), 10u);
    // The exact distances (the ids of equal ones are interchangeable).
    const std::vector<std::string> truth = Exact(twin, 10, space);
    const float twin_norm = std::sqrt(DotProduct(twin.data(), twin.data(), kDim));
    for (size_t j = 0; j < 10; ++j) {
      const std::vector<float>& v = vectors_.at(truth[j]);
      const float vn = std::sqrt(DotProduct(v.data(), v.data(), kDim));
      EXPECT_NEAR(res->distances[0][j], SpaceDistance(space, twin.data(), twin_norm, v.data(), vn, kDim), 1e-5) << j;
    }
    if (space != DistanceSpace::kInnerProduct) {  // in ip, rows of larger norm beat the twins
      for (const std::string& id : res->rows[0].ids) EXPECT_EQ(id[0], 't') << id;
      EXPECT_GT(Stats().scan_copy_fallbacks, fallbacks);
    }
    for (size_t i = 0; i < 400; ++i) vectors_.erase("t" + std::to_string(i));
    DeleteRequest twins;
    twins.ids.emplace();
    for (size_t i = 0; i < 400; ++i) twins.ids->push_back("t" + std::to_string(i));
    ASSERT_TRUE(col_->Delete(twins).ok());

    // A reopen copies the rows again from the loaded index's plan.
    AddRows(data, 3000, 500);
    ASSERT_TRUE(col_->Compact().ok());
    Open(space);
    s = Stats();
    ASSERT_EQ(s.plan, VectorIndexStats::Plan::kExactScan);
    EXPECT_EQ(s.scan_copy_rows, vectors_.size());
    EXPECT_EQ(Recall(data, 20, space), 1.0);
  }
}

// The exact path over cold rows' int8 approximations re-scores in order of lower bounds
// that, in ip, depend on |q|: it was passed as 0 (only cosine needed it for distances),
// which made the bounds too high and skipped rows of the true top k.
TEST_P(CollectionVectorIndexTest, ColdExactPathIsExactInInnerProduct) {
  Open(DistanceSpace::kInnerProduct);
  Data data(SeedForTest("CollectionVectorIndexTest.ColdExactPathIsExactInInnerProduct"), 0);
  AddRows(data, 0, 5000);
  ASSERT_TRUE(col_->Compact().ok());
  ASSERT_GT(Stats().cold_vectors, 0u);
  // A 10% filter: 500 allowed rows (fewer than kExactScanAllowedRowsMin), scanned exactly
  // through their approximations.
  EXPECT_EQ(Recall(data, 60, DistanceSpace::kInnerProduct, /*bucket_below=*/10), 1.0);
}

TEST_P(CollectionVectorIndexTest, ColdVectorsStayExactAndSurviveReopen) {
  cache_bytes_ = 64 << 10;  // a small cache: most exact reads go to the store
  Open();
  Data data(SeedForTest("CollectionVectorIndexTest.ColdVectorsStayExactAndSurviveReopen"), 24);
  AddRows(data, 0, 5000);
  ASSERT_TRUE(col_->Compact().ok());
  VectorIndexStats s = Stats();
  ASSERT_TRUE(s.active);
  EXPECT_EQ(s.cold_vectors, 5000u);  // every indexed row was spilled
  EXPECT_EQ(s.hot_vectors, 0u);
  EXPECT_GE(s.cold_parts, 1u);
  // RAM for vectors: one byte per dimension plus a row's scale, error bound, norm and
  // slot locator (20 bytes; 32 allows for capacity slack), well under the f32 rows.
  EXPECT_LT(s.vector_memory_bytes, 5000u * (kDim + 32));
  EXPECT_LT(s.vector_memory_bytes, 5000u * kDim * sizeof(float) * 6 / 10);
  std::printf("5000 x %u cold: %llu bytes of vector RAM (f32 would be %zu)\n", kDim,
              static_cast<unsigned long long>(s.vector_memory_bytes), size_t{5000} * kDim * sizeof(float));
  ExpectEmbeddingsIntact();
  const double recall = Recall(data, 40, DistanceSpace::kL2);  // distances checked exact
  std::printf("recall@10 with cold vectors: %.3f\n", recall);
  EXPECT_GE(recall, 0.95);
  EXPECT_GE(Recall(data, 20, DistanceSpace::kL2, 1), 0.95);  // 1% filter: exact path over int8

  // Metadata-only updates keep a row's vector cold (the fold reads it back for the
  // segment); embedding updates make it hot; deletes leave holes in the part.
  std::vector<WriteRecord> updates;
  for (size_t i = 0; i < 5000; i += 7) {
    WriteRecord r;
    r.id = "r" + std::to_string(i);
    r.metadata = MetadataPatch{{"touched", MetadataValue{int64_t{1}}}};
    updates.push_back(std::move(r));
  }
  ASSERT_TRUE(col_->Update(std::move(updates)).ok());
  std::vector<WriteRecord> moved;
  for (size_t i = 1; i < 5000; i += 5) {
    std::vector<float> v = data.Next();
    vectors_["r" + std::to_string(i)] = v;
    moved.push_back(MakeRecord("r" + std::to_string(i), v));
  }
  ASSERT_TRUE(col_->Upsert(std::move(moved)).ok());
  DeleteRequest del;
  del.ids = std::vector<std::string>();
  for (size_t i = 3; i < 5000; i += 11) {
    del.ids->push_back("r" + std::to_string(i));
    vectors_.erase("r" + std::to_string(i));
  }
  ASSERT_TRUE(col_->Delete(del).ok());
  s = Stats();
  EXPECT_EQ(s.hot_vectors + s.cold_vectors, vectors_.size());
  EXPECT_GT(s.hot_vectors, 0u);
  ExpectEmbeddingsIntact();
  EXPECT_GE(Recall(data, 20, DistanceSpace::kL2), 0.95);
  ASSERT_TRUE(col_->Compact().ok());
  ExpectEmbeddingsIntact();

  // Reopen: rows are matched to the parts the manifest names and stay cold.
  Open();
  s = Stats();
  EXPECT_EQ(s.hot_vectors + s.cold_vectors, vectors_.size());
  EXPECT_GT(s.cold_vectors, vectors_.size() / 2);
  ExpectEmbeddingsIntact();
  EXPECT_GE(Recall(data, 20, DistanceSpace::kL2), 0.95);
  // Parts the manifest no longer names are garbage-collected.
  ASSERT_TRUE(col_->Compact().ok());
  auto parts = Store().List("c/" + col_->id() + "/vcold/");
  ASSERT_TRUE(parts.ok());
  EXPECT_EQ(parts->size(), Stats().cold_parts);

  // A damaged part is detected when read, never answered from: its rows are restored
  // from the log (segments and WAL) and the read is answered exactly
  // (docs/design/durability.md).
  std::string key;
  size_t largest = 0;
  for (const ObjectInfo& o : *parts) {
    if (o.size_bytes > largest) {
      largest = o.size_bytes;
      key = o.key;
    }
  }
  auto bytes = Store().Get(key);
  ASSERT_TRUE(bytes.ok());
  std::string damaged = *bytes;
  for (size_t i = 200; i < damaged.size() / 2; i += 97) damaged[i] ^= 0x10;  // many blocks
  ASSERT_TRUE(Store().Delete(key).ok());
  ASSERT_TRUE(Store().Put(key, damaged, PutMode::kCreateOnly).ok());
  Open();
  GetRequest get;
  get.include.embeddings = true;
  auto got = col_->Get(get);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ExpectEmbeddingsIntact();
  EXPECT_LT(Stats().cold_parts, parts->size()) << "the damaged part is dropped";
}

// Counts the store's sequential rounds: a request, or a GetRanges batch.
class RoundCountingStore final : public ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  Result<std::string> Get(const std::string& key, std::optional<ByteRange> range) override {
    ++rounds;
    return ForwardingStore::Get(key, range);
  }
  Result<std::vector<std::string>> GetRanges(const std::vector<RangedRead>& reads) override {
    ++rounds;
    batched_reads += reads.size();
    return ForwardingStore::GetRanges(reads);
  }
  Result<ObjectInfo> Head(const std::string& key) override {
    ++rounds;
    return ForwardingStore::Head(key);
  }
  std::atomic<uint64_t> rounds{0}, batched_reads{0};
};

// A cold query (a fresh database: nothing in the block cache) reads every exact row it
// re-scores in one batch, through the index and through the exact scan of a small filter:
// at most one round trip to the store per query, and the answers stay exact.
TEST_P(CollectionVectorIndexTest, ColdQueryReadsItsRowsInOneRound) {
  Open();
  Data data(SeedForTest("CollectionVectorIndexTest.ColdQueryReadsItsRowsInOneRound"), 24);
  AddRows(data, 0, 5000);
  ASSERT_TRUE(col_->Compact().ok());
  ASSERT_EQ(Stats().cold_vectors, 5000u);
  for (int64_t bucket_below : {100, 3}) {
    col_.reset();
    db_.reset();
    auto counting = std::make_shared<RoundCountingStore>(store_);
    auto db = Database::Open({.store = counting,
                              .vector_index_min_rows = kMinRows,
                              .vector_recall_target = recall_target_,
                              .memory_budget_bytes = Budget(),
                              .cold_spill_min_rows = cold_spill_rows_,
                              .int8_scan_min_bytes = int8_scan_min_bytes_,
                              .background_compaction = false});
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    auto col = db_->GetCollection(Database::kDefaultTenant, Database::kDefaultDatabase, "vectors");
    ASSERT_TRUE(col.ok());
    col_ = *col;
    double recall = 0;
    uint64_t most = 0;
    const uint64_t batched_before = counting->batched_reads;
    for (int i = 0; i < 20; ++i) {
      const uint64_t before = counting->rounds;
      recall += Recall(data, 1, DistanceSpace::kL2, bucket_below);  // distances checked exact
      most = std::max<uint64_t>(most, counting->rounds - before);
    }
    std::printf("filter bucket < %lld: at most %llu store rounds per query, %llu block reads batched, recall %.3f\n",
                static_cast<long long>(bucket_below), static_cast<unsigned long long>(most),
                static_cast<unsigned long long>(counting->batched_reads - batched_before), recall / 20);
    EXPECT_LE(most, 1u);
    EXPECT_GT(counting->batched_reads, batched_before);
    EXPECT_GE(recall / 20, 0.95);
  }
}

TEST_P(CollectionVectorIndexTest, ColdVectorsOff) {
  store_ = std::make_shared<MemStore>();
  auto db = Database::Open({.store = store_,
                            .vector_index_min_rows = kMinRows,
                            .cold_spill_min_rows = cold_spill_rows_,
         .int8_scan_min_bytes = int8_scan_min_bytes_,
                            .cold_vectors = false,
                            .background_compaction = false});
  ASSERT_TRUE(db.ok());
  db_ = std::move(*db);
  auto col = db_->CreateCollection(Database::kDefaultTenant, Database::kDefaultDatabase, {.name = "vectors"});
  ASSERT_TRUE(col.ok());
  col_ = *col;
  Data data(SeedForTest("CollectionVectorIndexTest.ColdVectorsOff"), 24);
  AddRows(data, 0, 2000);
  ASSERT_TRUE(col_->Compact().ok());
  EXPECT_TRUE(Stats().active);
  EXPECT_EQ(Stats().cold_vectors, 0u);
  EXPECT_EQ(Stats().hot_vectors, 2000u);
}

// Under a budget cold rows keep nothing but their locator and norm in RAM; without one,
// an int8 copy.
TEST_P(CollectionVectorIndexTest, ColdRowsKeepNoCopiesUnderABudget) {
  Open();
  Data data(SeedForTest("CollectionVectorIndexTest.ColdRowsKeepNoCopiesUnderABudget"), 24);
  AddRows(data, 0, 5000);
  ASSERT_TRUE(col_->Compact().ok());
  const VectorIndexStats s = Stats();
  ASSERT_EQ(s.cold_vectors, 5000u);
  EXPECT_EQ(s.cold_vector_copies, !GetParam());
  EXPECT_FALSE(s.over_memory_budget);
  std::printf("%s: %llu bytes of vector RAM for 5000 cold rows\n", GetParam() ? "budget" : "no budget",
              static_cast<unsigned long long>(s.vector_memory_bytes));
  if (GetParam()) {
    // A locator (8 bytes) and a norm (4) per slot, with capacity slack.
    EXPECT_LT(s.vector_memory_bytes, 5000u * 24);
  } else {
    EXPECT_GT(s.vector_memory_bytes, 5000u * kDim);
  }
  EXPECT_GE(Recall(data, 40, DistanceSpace::kL2), 0.95);
}

// The same stored collection answers alike whether it is opened with a budget or
// without: the brute-force answer with every cluster probed and the deepest re-rank, and
// exactly the same answers again from a second open with the same budget.
//
// Issue 11: under a budget the re-rank read cold rows in order of their lower bounds and
// stopped at the first bound above the k-th exact distance, so a true neighbour whose
// estimate erred past its bound (epsilon 1.9) was never read: 0.4-0.8 % of the true top
// 10 at 24 dimensions (FATHOM_SEED=2255730245882543175 lost 20 of 3000 over 300
// queries), and the deepest effort could not buy it back. The budget path now reads in
// the in-memory re-rank's order (IvfBatchedReadsTest.DefaultBoundAnswersAsTheInMemoryReRank)
// and the bound widens with the effort (4x at the deepest), so every open here finds
// the whole top 10 (1.000 on that seed and on random ones). The 1 % allowance is for
// ties and float slack; a path that loses neighbours to its bound fails it.
TEST_P(CollectionVectorIndexTest, ReopenWithAndWithoutABudgetAnswersAlike) {
  Open();
  Data data(SeedForTest("CollectionVectorIndexTest.ReopenWithAndWithoutABudgetAnswersAlike"), 24);
  AddRows(data, 0, 5000);
  ASSERT_TRUE(col_->Compact().ok());
  const uint32_t clusters = Stats().clusters;
  ASSERT_GT(clusters, 0u);
  constexpr int kQueries = 100;
  std::vector<std::vector<float>> queries;
  std::vector<std::set<std::string>> truths;  // each query's exact top 10
  for (int i = 0; i < kQueries; ++i) {
    queries.push_back(data.Next());
    const std::vector<std::string> truth = Exact(queries.back(), 10, DistanceSpace::kL2);
    truths.emplace_back(truth.begin(), truth.end());
  }
  auto answer = [&](const std::vector<float>& q, uint32_t probes) {
    QueryRequest r;
    r.query_embeddings = {q};
    r.n_results = 10;
    r.search_probes = probes;
    r.search_effort = 16;  // the deepest re-rank
    auto res = col_->Query(r);
    EXPECT_TRUE(res.ok()) << res.status().ToString();
    return res.ok() ? std::make_pair(res->rows[0].ids, res->distances[0])
                    : std::make_pair(std::vector<std::string>{}, std::vector<float>{});
  };
  std::vector<std::pair<std::vector<std::string>, std::vector<float>>> first_default;
  for (const auto& q : queries) first_default.push_back(answer(q, 0));
  for (uint64_t budget : {uint64_t{0}, kBudgetBytes, Budget()}) {
    col_.reset();
    db_.reset();
    auto db = Database::Open({.store = store_,
                              .vector_index_min_rows = kMinRows,
                              .vector_recall_target = recall_target_,
                              .memory_budget_bytes = budget,
                              .cold_spill_min_rows = cold_spill_rows_,
         .int8_scan_min_bytes = int8_scan_min_bytes_,
                              .background_compaction = false});
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    auto col = db_->GetCollection(Database::kDefaultTenant, Database::kDefaultDatabase, "vectors");
    ASSERT_TRUE(col.ok());
    col_ = *col;
    EXPECT_EQ(Stats().cold_vector_copies, budget == 0);
    size_t found = 0;
    for (size_t i = 0; i < queries.size(); ++i) {
      const auto [ids, distances] = answer(queries[i], clusters);
      for (const std::string& id : ids) found += truths[i].count(id);
      if (budget == Budget()) {
        // The build's own kind of open: the default search answers as before the reopen.
        EXPECT_EQ(answer(queries[i], 0), first_default[i]) << "query " << i;
      }
    }
    std::printf("budget %llu: recall@10 %.3f at every cluster and the deepest re-rank\n",
                static_cast<unsigned long long>(budget), found / (10.0 * queries.size()));
    EXPECT_GE(found, queries.size() * 10 * 99 / 100) << "budget " << budget;
  }
}

INSTANTIATE_TEST_SUITE_P(Budget, CollectionVectorIndexTest, ::testing::Bool(),
                         [](const auto& info) { return std::string(info.param ? "Budget" : "NoBudget"); });

}  // namespace
}  // namespace fathom
