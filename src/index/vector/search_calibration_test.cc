// Search calibration (search_calibration.h): on small sets of several kinds of data the
// index was not designed around, the calibrated budget reaches its recall target on
// held-out queries checked against exact search; higher targets cost more; the exact
// plan is chosen where the index cannot pay.
#include "index/vector/search_calibration.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "index/vector/distance.h"
#include "index/vector/kmeans.h"
#include "index/vector/top_k.h"
#include "index/vector/vector_test_util.h"
#include "test_util.h"

namespace fathom {
namespace {

using testing::SeedForTest;

struct ZooSet {
  std::string name;
  DistanceSpace space = DistanceSpace::kL2;
  uint32_t dim = 0;
  std::vector<float> base;     // rows x dim
  std::vector<float> queries;  // held out, same distribution
  size_t rows() const { return base.size() / dim; }
  size_t query_count() const { return queries.size() / dim; }
  MatrixView view() const { return MatrixView{base.data(), rows(), dim}; }
};

// Fills base and queries with `rows` + `queries` draws of `draw` (dim floats each).
ZooSet Make(std::string name, DistanceSpace space, uint32_t dim, size_t rows, size_t queries,
             const std::function<void(float*)>& draw) {
  ZooSet d{std::move(name), space, dim, std::vector<float>(rows * dim), std::vector<float>(queries * dim)};
  for (size_t i = 0; i < rows; ++i) draw(d.base.data() + i * dim);
  for (size_t i = 0; i < queries; ++i) draw(d.queries.data() + i * dim);
  return d;
}

// Kinds of data unlike the clustered generator the defaults were once tuned on.
std::vector<ZooSet> Zoo(uint64_t seed, size_t rows, size_t queries) {
  std::vector<ZooSet> zoo;
  Rng rng(seed);
  // Uniform random: high intrinsic dimension, no cluster structure at all.
  zoo.push_back(Make("uniform-32", DistanceSpace::kL2, 32, rows, queries, [&](float* v) {
    for (uint32_t i = 0; i < 32; ++i) v[i] = static_cast<float>(rng.Uniform());
  }));
  // Gaussian with a decaying spectrum: the i-th coordinate's deviation is 1 / sqrt(i + 1).
  zoo.push_back(Make("gaussian-decay-48", DistanceSpace::kL2, 48, rows, queries, [&](float* v) {
    for (uint32_t i = 0; i < 48; ++i) v[i] = static_cast<float>(rng.Gaussian() / std::sqrt(i + 1.0));
  }));
  // Sparse non-negative counts in 128 hashed dimensions (bag-of-words-like), cosine.
  std::vector<double> word_weight(2000);
  for (size_t w = 0; w < word_weight.size(); ++w) word_weight[w] = 1.0 / (w + 1.0);  // Zipf
  double total = 0;
  for (double x : word_weight) total += x;
  zoo.push_back(Make("hashed-words-128", DistanceSpace::kCosine, 128, rows, queries, [&](float* v) {
    std::fill(v, v + 128, 0.0f);
    const int words = 8 + static_cast<int>(rng.Below(24));
    for (int i = 0; i < words; ++i) {
      double r = rng.Uniform() * total;
      size_t w = 0;
      while (w + 1 < word_weight.size() && r > word_weight[w]) r -= word_weight[w++];
      const uint64_t h = MixSeed(w, 7);
      v[h % 128] += (h >> 32) & 1 ? 1.0f : -1.0f;
    }
  }));
  // Heavy duplicates: 300 distinct points, each row one of them plus tiny noise, cosine.
  std::vector<std::vector<float>> originals(300, std::vector<float>(32));
  for (auto& o : originals) {
    for (float& x : o) x = static_cast<float>(rng.Gaussian());
  }
  zoo.push_back(Make("duplicates-32", DistanceSpace::kCosine, 32, rows, queries, [&](float* v) {
    const auto& o = originals[rng.Below(originals.size())];
    for (uint32_t i = 0; i < 32; ++i) v[i] = o[i] + static_cast<float>(rng.Gaussian() * 1e-3);
  }));
  // Inner product over unnormalised rows: random directions, log-normal norms.
  zoo.push_back(Make("ip-lognormal-32", DistanceSpace::kInnerProduct, 32, rows, queries, [&](float* v) {
    double norm = 0;
    for (uint32_t i = 0; i < 32; ++i) {
      v[i] = static_cast<float>(rng.Gaussian());
      norm += v[i] * v[i];
    }
    const double scale = std::exp(rng.Gaussian() * 0.7) / std::sqrt(norm);
    for (uint32_t i = 0; i < 32; ++i) v[i] = static_cast<float>(v[i] * scale);
  }));
  // The clustered generator itself.
  SyntheticData clustered = vector_testing::MakeData(seed, rows, 32, queries);
  ZooSet c{"clustered-32", DistanceSpace::kL2, 32, {}, {}};
  c.base = clustered.base.values;
  c.queries = clustered.queries.values;
  zoo.push_back(std::move(c));
  return zoo;
}

// Mean tie-aware recall@10 of held-out queries answered with `budget` (or exactly).
double HeldOutRecall(const IvfIndex& index, const ZooSet& data, const SearchBudget& budget) {
  if (budget.plan == SearchBudget::Plan::kExactScan) return 1.0;
  const MatrixSource source(data.view());
  const bool cosine = data.space == DistanceSpace::kCosine;
  double sum = 0;
  for (size_t q = 0; q < data.query_count(); ++q) {
    const float* query = data.queries.data() + q * data.dim;
    const float qn = std::sqrt(DotProduct(query, query, data.dim));
    TopK truth(10);
    for (size_t r = 0; r < data.rows(); ++r) {
      const float* row = data.base.data() + r * data.dim;
      const float rn = cosine ? std::sqrt(DotProduct(row, row, data.dim)) : 0.0f;
      truth.Push(SpaceDistance(data.space, query, qn, row, rn, data.dim), static_cast<uint32_t>(r));
    }
    IvfSearchOptions options;
    options.k = 10;
    options.probes = budget.probes;
    options.rerank_factor = budget.rerank_factor;
    auto hits = index.Search(query, options, source);
    EXPECT_TRUE(hits.ok());
    if (!hits.ok()) return 0;
    sum += TieAwareRecall(*hits, truth.Take().back().distance, 10);
  }
  return sum / static_cast<double>(data.query_count());
}

// The index of `data` built with `seed`, and a calibration's options with that seed.
IvfIndex BuildIndex(const ZooSet& data, uint64_t seed) {
  IvfBuildOptions build;
  build.space = data.space;
  build.seed = seed;
  auto index = IvfIndex::Build(data.view(), build);
  EXPECT_TRUE(index.ok()) << index.status().ToString();
  return std::move(index).value();
}

CalibrationOptions SeededOptions(uint64_t seed) {
  CalibrationOptions options;
  options.seed = seed;
  return options;
}

uint64_t Seed() { return SeedForTest(::testing::UnitTest::GetInstance()->current_test_info()->name()); }

// The probes the index used before calibration: max(8, clusters / 128).
uint32_t FixedDefaultProbes(uint32_t clusters) { return std::max<uint32_t>(8, (clusters + 127) / 128); }

TEST(SearchCalibrationTest, ReachesTheTargetOnHeldOutQueriesOfEveryKind) {
  const uint64_t seed = Seed();
  const size_t rows = vector_testing::kSanitized ? 3000 : 8000;
  for (const ZooSet& data : Zoo(seed, rows, 150)) {
    SCOPED_TRACE(data.name);
    const IvfIndex built = BuildIndex(data, seed);
    const IvfIndex* index = &built;
    auto budget = CalibrateSearch(*index, MatrixSource(data.view()), SeededOptions(seed));
    ASSERT_TRUE(budget.ok()) << budget.status().ToString();
    ASSERT_TRUE(budget->calibrated());
    const double recall = HeldOutRecall(*index, data, *budget);
    SearchBudget fixed = *budget;
    fixed.plan = SearchBudget::Plan::kIndex;
    fixed.probes = std::min(index->clusters(), FixedDefaultProbes(index->clusters()));
    fixed.rerank_factor = data.space == DistanceSpace::kInnerProduct ? 30 : 20;
    std::printf("  %-18s clusters %4u plan %-10s probes %4u rerank %3u sample recall %.3f (lower %.3f) "
                "held-out %.3f; fixed default (%u probes) %.3f\n",
                data.name.c_str(), index->clusters(), SearchPlanName(budget->plan), budget->probes,
                budget->rerank_factor, budget->measured_recall, budget->recall_lower_bound, recall, fixed.probes,
                HeldOutRecall(*index, data, fixed));
    EXPECT_GE(budget->recall_lower_bound, 0.95f);
    // Held-out queries are another sample of the same data: within sampling noise.
    EXPECT_GE(recall, 0.93);
  }
}

TEST(SearchCalibrationTest, HigherTargetsCostMoreAndStillHold) {
  const uint64_t seed = Seed();
  const size_t rows = vector_testing::kSanitized ? 3000 : 8000;
  const ZooSet data = Zoo(seed, rows, 150)[1];  // the decaying-spectrum Gaussian
  const IvfIndex built = BuildIndex(data, seed);
  const IvfIndex* index = &built;
  CalibrationOptions options = SeededOptions(seed);
  options.recall_target = 0.9;
  auto low = CalibrateSearch(*index, MatrixSource(data.view()), options);
  options.recall_target = 0.99;
  auto high = CalibrateSearch(*index, MatrixSource(data.view()), options);
  ASSERT_TRUE(low.ok() && high.ok());
  const auto work = [](const SearchBudget& b) {
    return b.plan == SearchBudget::Plan::kExactScan ? 1e12 : double(b.probes) * b.rerank_factor;
  };
  EXPECT_LT(work(*low), work(*high));
  EXPECT_GE(HeldOutRecall(*index, data, *high), 0.97);
  EXPECT_FLOAT_EQ(high->recall_target, 0.99f);
}

TEST(SearchCalibrationTest, TargetsNearOneDoNotDemandAPerfectSample) {
  // The sample mean must clear the target by a margin, but by at most half the distance
  // to 1: with a flat +0.02, a target of 0.98 asked for a perfect sample, the same budget
  // as a target of 1 (over HTTP: recall 0.999 at 2.5x the server CPU of 0.990).
  const uint64_t seed = Seed();
  const size_t rows = vector_testing::kSanitized ? 3000 : 8000;
  const ZooSet data = Zoo(seed, rows, 150)[1];  // the decaying-spectrum Gaussian
  const IvfIndex index = BuildIndex(data, seed);
  CalibrationOptions options = SeededOptions(seed);
  options.recall_target = 0.98;
  auto near_one = CalibrateSearch(index, MatrixSource(data.view()), options);
  options.recall_target = 1.0;
  auto one = CalibrateSearch(index, MatrixSource(data.view()), options);
  ASSERT_TRUE(near_one.ok() && one.ok());
  const auto work = [](const SearchBudget& b) {
    return b.plan == SearchBudget::Plan::kExactScan ? 1e12 : double(b.probes) * b.rerank_factor;
  };
  std::printf("target 0.98: %s probes %u rerank %u sample %.3f; target 1: %s probes %u rerank %u\n",
              SearchPlanName(near_one->plan), near_one->probes, near_one->rerank_factor, near_one->measured_recall,
              SearchPlanName(one->plan), one->probes, one->rerank_factor);
  EXPECT_LT(work(*near_one), work(*one));
  EXPECT_GE(near_one->measured_recall, 0.99f);
  EXPECT_GE(HeldOutRecall(index, data, *near_one), 0.96);
}

TEST(SearchCalibrationTest, ExactScanWhereTheIndexCannotPay) {
  // Uniform data needs many probes; when a scanned row costs a tenth of what it normally
  // does (the model's knob), the index no longer pays and the budget says so.
  const uint64_t seed = Seed();
  const ZooSet data = Zoo(seed, 2000, 10)[0];
  const IvfIndex built = BuildIndex(data, seed);
  const IvfIndex* index = &built;
  CalibrationOptions options = SeededOptions(seed);
  auto normal = CalibrateSearch(*index, MatrixSource(data.view()), options);
  options.exact_row_cost = 0.1;
  auto cheap_scan = CalibrateSearch(*index, MatrixSource(data.view()), options);
  ASSERT_TRUE(normal.ok() && cheap_scan.ok());
  EXPECT_EQ(normal->plan, SearchBudget::Plan::kIndex);
  EXPECT_EQ(cheap_scan->plan, SearchBudget::Plan::kExactScan);
  EXPECT_FLOAT_EQ(cheap_scan->measured_recall, 1.0f);
  EXPECT_TRUE(cheap_scan->calibrated());
}

TEST(SearchCalibrationTest, RejectsBadOptions) {
  const ZooSet data = Zoo(1, 500, 1)[0];
  auto index = IvfIndex::Build(data.view(), IvfBuildOptions{});
  ASSERT_TRUE(index.ok());
  for (double target : {0.0, -0.5, 1.5, std::nan("")}) {
    CalibrationOptions options;
    options.recall_target = target;
    EXPECT_EQ(CalibrateSearch(*index, MatrixSource(data.view()), options).status().code(),
              StatusCode::kInvalidArgument);
  }
}

TEST(SearchCalibrationTest, TieAwareRecallCountsTiesAtTheKthDistance) {
  // Three rows at distance 1 tie for the 2nd place: any of them is a right answer.
  const std::vector<Hit> found = {{0.5f, 7}, {1.0f, 9}, {1.0f, 3}};
  EXPECT_DOUBLE_EQ(TieAwareRecall(found, 1.0f, 3), 1.0);
  EXPECT_DOUBLE_EQ(TieAwareRecall(found, 0.9f, 3), 1.0 / 3);
  EXPECT_DOUBLE_EQ(TieAwareRecall({}, 1.0f, 10), 0.0);
  // Only the first k count.
  EXPECT_DOUBLE_EQ(TieAwareRecall(found, 1.0f, 2), 1.0);
}

}  // namespace
}  // namespace fathom
