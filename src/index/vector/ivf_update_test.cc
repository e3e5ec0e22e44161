// Tests of IvfIndex::Updated (ivf_update.cc): incremental adds against a fresh build,
// removals, splits and merges, the three spaces, bad input, persistence, determinism and
// unreadable rows.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "index/vector/distance.h"
#include "index/vector/ivf_index.h"
#include "index/vector/synthetic_data.h"
#include "index/vector/vector_test_util.h"
#include "test_util.h"

namespace fathom {
namespace {

constexpr size_t kK = 10;

using vector_testing::MakeData;
using vector_testing::kSanitized;

// The first `rows` rows of `data` (slots 0..rows-1).
MatrixView Prefix(const Dataset& data, size_t rows) { return MatrixView{data.values.data(), rows, data.dim}; }

std::vector<uint32_t> Range(uint32_t begin, uint32_t end) {
  std::vector<uint32_t> out(end - begin);
  std::iota(out.begin(), out.end(), begin);
  return out;
}

// `base` followed by `extra` rows scattered around base row `center` (gaussian, `spread`
// per coordinate): one region gets far more than its share.
Dataset WithCrowd(const Dataset& base, size_t extra, size_t center, float spread, uint64_t seed) {
  Dataset out = base;
  out.rows = base.rows + extra;
  out.values.resize(out.rows * base.dim);
  Rng rng(seed);
  for (size_t i = base.rows; i < out.rows; ++i) {
    for (uint32_t d = 0; d < base.dim; ++d) {
      out.values[i * base.dim + d] = base.Row(center)[d] + spread * static_cast<float>(rng.Gaussian());
    }
  }
  return out;
}

// The slots found for every query; adds the codes scored to *codes_scored when given.
std::vector<std::vector<uint32_t>> SearchAll(const IvfIndex& index, const Dataset& base, const Dataset& queries,
                                             const IvfSearchOptions& options, size_t* codes_scored = nullptr) {
  std::vector<std::vector<uint32_t>> found;
  for (size_t q = 0; q < queries.rows; ++q) {
    IvfSearchStats stats;
    auto hits = index.Search(queries.Row(q), options, base.view(), &stats);
    if (codes_scored != nullptr) *codes_scored += stats.codes_scored;
    EXPECT_TRUE(hits.ok()) << hits.status().ToString();
    found.emplace_back();
    if (hits.ok()) {
      for (const Hit& h : *hits) found.back().push_back(h.slot);
    }
  }
  return found;
}

std::vector<uint32_t> SortedSlots(const IvfIndex& index) {
  std::vector<uint32_t> slots;
  index.ForEachSlot([&](uint32_t slot) { slots.push_back(slot); });
  std::sort(slots.begin(), slots.end());
  return slots;
}

size_t LargestCluster(const IvfIndex& index) {
  size_t largest = 0;
  for (uint32_t j = 0; j < index.clusters(); ++j) largest = std::max(largest, index.ClusterRows(j));
  return largest;
}

// Every cluster's slots, in cluster order.
std::vector<std::vector<uint32_t>> ClusterSlots(const IvfIndex& index) {
  std::vector<uint32_t> all;
  index.ForEachSlot([&](uint32_t slot) { all.push_back(slot); });
  std::vector<std::vector<uint32_t>> out(index.clusters());
  size_t r = 0;
  for (uint32_t j = 0; j < index.clusters(); ++j) {
    for (size_t i = 0; i < index.ClusterRows(j); ++i) out[j].push_back(all[r++]);
  }
  return out;
}

// A source that cannot read some slots.
class HoleySource final : public VectorSource {
 public:
  HoleySource(MatrixView matrix, std::set<uint32_t> holes) : matrix_(matrix), holes_(std::move(holes)) {}
  uint32_t dim() const override { return matrix_.dim; }
  const float* Fetch(uint32_t slot, float* scratch) const override {
    (void)scratch;
    if (slot >= matrix_.rows || holes_.count(slot) != 0) return nullptr;
    return matrix_.Row(slot);
  }

 private:
  MatrixView matrix_;
  std::set<uint32_t> holes_;
};

TEST(IvfUpdateTest, IncrementalAddsKeepRecallOfFreshBuild) {
  uint64_t seed = testing::SeedForTest("IvfUpdateTest.IncrementalAddsKeepRecallOfFreshBuild");
  constexpr size_t kRows = kSanitized ? 5000 : 20000;
  constexpr size_t kBatches = 10;
  SyntheticData data = MakeData(seed, kRows, 32, 50);
  MatrixSource source(data.base.view());
  IvfBuildOptions build;
  build.seed = seed;
  auto index = IvfIndex::Build(Prefix(data.base, kRows / 2), build);
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  const uint32_t initial_clusters = index->clusters();
  IvfUpdateStats total;
  const size_t batch = kRows / 2 / kBatches;
  for (size_t b = 0; b < kBatches; ++b) {
    const uint32_t begin = static_cast<uint32_t>(kRows / 2 + b * batch);
    IvfUpdateOptions update;
    update.seed = seed + b;
    IvfUpdateStats stats;
    auto next =
        index->Updated(SlotFilter(), Range(begin, static_cast<uint32_t>(begin + batch)), source, update, &stats);
    ASSERT_TRUE(next.ok()) << next.status().ToString();
    EXPECT_EQ(stats.added, batch);
    EXPECT_EQ(stats.removed, 0u);
    EXPECT_EQ(stats.unreadable, 0u);
    total.splits += stats.splits;
    total.merges += stats.merges;
    index = std::move(next);
  }
  EXPECT_EQ(index->rows(), kRows);
  EXPECT_EQ(SortedSlots(*index), Range(0, kRows));
  for (uint32_t slot = 0; slot < kRows; ++slot) ASSERT_TRUE(index->Contains(slot)) << slot;

  auto fresh = IvfIndex::Build(data.base.view(), build);
  ASSERT_TRUE(fresh.ok());
  auto truth = ExactTopK(data.base, data.queries, kK, DistanceSpace::kL2, nullptr, 1);
  IvfSearchOptions options;
  options.k = kK;
  options.probes = 8;
  size_t incremental_codes = 0, rebuilt_codes = 0;
  const double incremental =
      RecallAtK(truth, SearchAll(*index, data.base, data.queries, options, &incremental_codes), kK);
  const double rebuilt = RecallAtK(truth, SearchAll(*fresh, data.base, data.queries, options, &rebuilt_codes), kK);
  std::printf("incremental: %u -> %u clusters (%u splits, %u merges), recall@10 %.3f, %zu codes per query; "
              "fresh build: %u clusters, recall@10 %.3f, %zu codes per query (8 probes)\n",
              initial_clusters, index->clusters(), total.splits, total.merges, incremental,
              incremental_codes / data.queries.rows, fresh->clusters(), rebuilt, rebuilt_codes / data.queries.rows);
  EXPECT_GE(incremental, rebuilt - 0.03);
  EXPECT_LE(static_cast<double>(LargestCluster(*index)),
            ivf_limits::kClusterSizeCapFactor * static_cast<double>(index->rows()) / index->clusters());
}

TEST(IvfUpdateTest, RemovedSlotsAreGone) {
  uint64_t seed = testing::SeedForTest("IvfUpdateTest.RemovedSlotsAreGone");
  SyntheticData data = MakeData(seed, 3000, 32, 20);
  IvfBuildOptions build;
  build.seed = seed;
  auto index = IvfIndex::Build(data.base.view(), build);
  ASSERT_TRUE(index.ok());
  // A bitset of the kept slots, as a collection hands over its live records.
  auto kept = [](uint32_t slot) { return slot % 3 != 0; };
  const size_t removed = (data.base.rows + 2) / 3;
  std::vector<uint64_t> bits((data.base.rows + 63) / 64, 0);
  for (uint32_t slot = 0; slot < data.base.rows; ++slot) {
    if (kept(slot)) bits[slot >> 6] |= uint64_t{1} << (slot & 63);
  }
  IvfUpdateStats stats;
  auto updated = index->Updated(SlotFilter::Bitset(bits.data(), data.base.rows, data.base.rows - removed), {},
                                MatrixSource(data.base.view()), IvfUpdateOptions{}, &stats);
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_EQ(stats.removed, removed);
  EXPECT_EQ(stats.added, 0u);
  EXPECT_EQ(updated->rows(), data.base.rows - removed);
  EXPECT_EQ(index->rows(), data.base.rows);  // the source index is untouched
  for (uint32_t slot = 0; slot < data.base.rows; ++slot) {
    EXPECT_EQ(updated->Contains(slot), kept(slot)) << slot;
    EXPECT_TRUE(index->Contains(slot));
  }
  IvfSearchOptions options;
  options.k = 50;
  options.probes = updated->clusters();
  for (const auto& hits : SearchAll(*updated, data.base, data.queries, options)) {
    EXPECT_EQ(hits.size(), options.k);
    for (uint32_t slot : hits) EXPECT_TRUE(kept(slot)) << slot;
  }
  // Recall among the kept rows holds.
  auto truth = ExactTopK(data.base, data.queries, kK, DistanceSpace::kL2, bits.data(), 1);
  options.k = kK;
  options.probes = 16;
  const double recall = RecallAtK(truth, SearchAll(*updated, data.base, data.queries, options), kK);
  std::printf("after removing a third: %u clusters (%u merges), recall@10 %.3f\n", updated->clusters(), stats.merges,
              recall);
  EXPECT_GE(recall, 0.9);
}

TEST(IvfUpdateTest, SplitsCrowdedRegionsAndMergesEmptiedClusters) {
  uint64_t seed = testing::SeedForTest("IvfUpdateTest.SplitsCrowdedRegionsAndMergesEmptiedClusters");
  constexpr size_t kBase = 3000, kCrowd = 800;
  constexpr uint32_t kDim = 16;
  SyntheticData data = MakeData(seed, kBase, kDim, 10);
  const Dataset all = WithCrowd(data.base, kCrowd, 0, 0.3f, MixSeed(seed, 7));
  IvfBuildOptions build;
  build.seed = seed;
  auto built = IvfIndex::Build(data.base.view(), build);
  ASSERT_TRUE(built.ok());
  IvfUpdateOptions update;
  update.seed = seed;
  // An update that adds and removes nothing brings Build's clusters within the update's
  // bounds first (Build leaves a few below the merge threshold), so that the counts below
  // measure the crowd alone.
  IvfUpdateStats stats;
  auto index = built->Updated(SlotFilter(), {}, MatrixSource(data.base.view()), update, &stats);
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  std::printf("first update: %u -> %u clusters, %u splits, %u merges\n", built->clusters(), index->clusters(),
              stats.splits, stats.merges);

  auto crowded = index->Updated(SlotFilter(), Range(kBase, kBase + kCrowd), MatrixSource(all.view()), update, &stats);
  ASSERT_TRUE(crowded.ok()) << crowded.status().ToString();
  const double mean = static_cast<double>(crowded->rows()) / crowded->clusters();
  std::printf("crowded: %u -> %u clusters, %u splits, %u merges, largest %zu (mean %.1f)\n", index->clusters(),
              crowded->clusters(), stats.splits, stats.merges, LargestCluster(*crowded), mean);
  EXPECT_GT(stats.splits, 0u);
  EXPECT_GT(crowded->clusters(), index->clusters());
  EXPECT_LE(static_cast<double>(LargestCluster(*crowded)), ivf_limits::kClusterSizeCapFactor * mean);
  EXPECT_EQ(SortedSlots(*crowded), Range(0, kBase + kCrowd));
  // The crowded region is still searchable: its queries find their exact neighbours.
  const Dataset extended = WithCrowd(data.base, 20, 0, 0.3f, MixSeed(seed, 8));
  const Dataset queries{20, kDim, std::vector<float>(extended.values.end() - 20 * kDim, extended.values.end())};
  IvfSearchOptions options;
  options.k = kK;
  options.probes = 32;
  auto truth = ExactTopK(all, queries, kK, DistanceSpace::kL2, nullptr, 1);
  const double recall = RecallAtK(truth, SearchAll(*crowded, all, queries, options), kK);
  std::printf("crowded region recall@10 %.3f at 32 probes\n", recall);
  EXPECT_GE(recall, 0.85);

  // Keep one row of each of the first ten clusters: they fall far below the mean.
  std::vector<std::vector<uint32_t>> clusters = ClusterSlots(*index);
  std::set<uint32_t> dropped;
  for (size_t j = 0; j < 10; ++j) dropped.insert(clusters[j].begin() + 1, clusters[j].end());
  std::function<bool(uint32_t)> keep = [&](uint32_t slot) { return dropped.count(slot) == 0; };
  IvfUpdateStats merge_stats;
  auto thinned = index->Updated(SlotFilter::Predicate(&keep, kBase - dropped.size()), {},
                                MatrixSource(data.base.view()), update, &merge_stats);
  ASSERT_TRUE(thinned.ok()) << thinned.status().ToString();
  std::printf("thinned: %u -> %u clusters, %u merges, %u splits\n", index->clusters(), thinned->clusters(),
              merge_stats.merges, merge_stats.splits);
  EXPECT_GE(merge_stats.merges, 10u);
  EXPECT_LE(thinned->clusters() + 10, index->clusters() + merge_stats.splits);
  EXPECT_EQ(merge_stats.removed, dropped.size());
  EXPECT_EQ(thinned->rows(), kBase - dropped.size());
  const double thinned_mean = static_cast<double>(thinned->rows()) / thinned->clusters();
  for (uint32_t j = 0; j < thinned->clusters(); ++j) EXPECT_GT(thinned->ClusterRows(j), 0u);
  EXPECT_LE(static_cast<double>(LargestCluster(*thinned)), ivf_limits::kClusterSizeCapFactor * thinned_mean);
  for (uint32_t slot = 0; slot < kBase; ++slot) EXPECT_EQ(thinned->Contains(slot), keep(slot)) << slot;

  // Down to a handful of rows: merging never removes the last cluster.
  std::function<bool(uint32_t)> few = [](uint32_t slot) { return slot < 3; };
  auto tiny = index->Updated(SlotFilter::Predicate(&few, 3), {}, MatrixSource(data.base.view()), update);
  ASSERT_TRUE(tiny.ok()) << tiny.status().ToString();
  EXPECT_EQ(tiny->rows(), 3u);
  EXPECT_GE(tiny->clusters(), 1u);
  IvfSearchOptions all_options;
  auto hits = tiny->Search(data.base.Row(1), all_options, data.base.view());
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), 3u);
  EXPECT_EQ((*hits)[0].slot, 1u);
}

TEST(IvfUpdateTest, CosineAndInnerProduct) {
  uint64_t seed = testing::SeedForTest("IvfUpdateTest.CosineAndInnerProduct");
  constexpr size_t kRows = kSanitized ? 1800 : 6000;
  constexpr uint32_t kDim = 32;
  SyntheticData data = MakeData(seed, kRows, kDim, kSanitized ? 40 : 100);
  for (DistanceSpace space : {DistanceSpace::kCosine, DistanceSpace::kInnerProduct}) {
    IvfBuildOptions build;
    build.space = space;
    build.seed = seed;
    auto index = IvfIndex::Build(Prefix(data.base, kRows / 2), build);
    ASSERT_TRUE(index.ok());
    IvfUpdateStats total;
    for (uint32_t begin = kRows / 2; begin < kRows; begin += kRows / 6) {
      IvfUpdateStats stats;
      auto next = index->Updated(SlotFilter(), Range(begin, begin + kRows / 6), MatrixSource(data.base.view()),
                                 IvfUpdateOptions{}, &stats);
      ASSERT_TRUE(next.ok()) << next.status().ToString();
      total.norm_overflow += stats.norm_overflow;
      total.splits += stats.splits;
      index = std::move(next);
    }
    EXPECT_EQ(index->rows(), kRows);
    auto fresh = IvfIndex::Build(data.base.view(), build);
    ASSERT_TRUE(fresh.ok());
    auto truth = ExactTopK(data.base, data.queries, kK, space, nullptr, 1);
    IvfSearchOptions options;
    options.k = kK;
    // ip's 1-bit estimates are the loosest (docs/design/vector-index.md): a deeper search
    // keeps the comparison about the clusters rather than the estimator's noise.
    options.probes = 32;
    options.rerank_factor = 20;
    const double incremental = RecallAtK(truth, SearchAll(*index, data.base, data.queries, options), kK);
    const double rebuilt = RecallAtK(truth, SearchAll(*fresh, data.base, data.queries, options), kK);
    std::printf("space %s: incremental recall@10 %.3f (%u clusters, %u splits, %zu over the norm), fresh %.3f\n",
                DistanceSpaceName(space), incremental, index->clusters(), total.splits, total.norm_overflow, rebuilt);
    EXPECT_GE(incremental, 0.9);
    EXPECT_GE(incremental, rebuilt - 0.05);
    if (space == DistanceSpace::kCosine) {
      EXPECT_EQ(total.norm_overflow, 0u);
    }
  }

  // ip: a row longer than the build's M is counted, indexed, and found with its exact
  // distance.
  IvfBuildOptions build;
  build.space = DistanceSpace::kInnerProduct;
  build.seed = seed;
  auto index = IvfIndex::Build(Prefix(data.base, kRows - 1), build);
  ASSERT_TRUE(index.ok());
  // Slot kRows - 1 becomes row 0 stretched to 1.1 times the largest norm of the build.
  double max_norm = 0.0;
  for (size_t i = 0; i + 1 < kRows; ++i) {
    max_norm = std::max<double>(max_norm, std::sqrt(DotProduct(data.base.Row(i), data.base.Row(i), kDim)));
  }
  Dataset base = data.base;
  float* longest = base.values.data() + (kRows - 1) * kDim;
  const double scale = 1.1 * max_norm / std::sqrt(DotProduct(data.base.Row(0), data.base.Row(0), kDim));
  for (uint32_t d = 0; d < kDim; ++d) longest[d] = static_cast<float>(scale * data.base.Row(0)[d]);
  IvfUpdateStats stats;
  auto updated = index->Updated(SlotFilter(), {kRows - 1}, MatrixSource(base.view()), IvfUpdateOptions{}, &stats);
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_EQ(stats.norm_overflow, 1u);
  EXPECT_TRUE(updated->Contains(kRows - 1));
  IvfSearchOptions options;
  options.k = kK;
  options.probes = updated->clusters();
  const float* query = data.base.Row(0);
  auto hits = updated->Search(query, options, base.view());
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), kK);
  EXPECT_EQ((*hits)[0].slot, kRows - 1);  // row 0's direction, longer than any other row
  for (const Hit& hit : *hits) {
    EXPECT_FLOAT_EQ(hit.distance,
                    SpaceDistance(DistanceSpace::kInnerProduct, query, 0.0f, base.Row(hit.slot), 0.0f, kDim));
  }
}

TEST(IvfUpdateTest, RejectsBadInputAndLeavesIndexUnchanged) {
  uint64_t seed = testing::SeedForTest("IvfUpdateTest.RejectsBadInputAndLeavesIndexUnchanged");
  SyntheticData data = MakeData(seed, 600, 8, 3);
  IvfBuildOptions build;
  build.seed = seed;
  auto index = IvfIndex::Build(Prefix(data.base, 500), build);
  ASSERT_TRUE(index.ok());
  const std::string before = index->Serialize();
  MatrixSource source(data.base.view());
  IvfUpdateOptions update;
  auto invalid = [&](const SlotFilter& keep, const std::vector<uint32_t>& added, const VectorSource& vectors,
                     const IvfUpdateOptions& options) {
    auto result = index->Updated(keep, added, vectors, options);
    EXPECT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument) << result.status().ToString();
  };
  invalid(SlotFilter(), {500, 501, 500}, source, update);              // duplicate
  invalid(SlotFilter(), {500, 7}, source, update);                     // 7 is kept
  invalid(SlotFilter(), {500, UINT32_MAX}, source, update);            // reserved
  std::vector<float> narrow(600 * 4, 0.0f);
  invalid(SlotFilter(), {500}, MatrixSource(MatrixView{narrow.data(), 600, 4}), update);  // wrong dimension
  Dataset bad = data.base;
  bad.values[550 * 8 + 3] = NAN;
  invalid(SlotFilter(), {501, 550}, MatrixSource(bad.view()), update);  // not finite
  bad.values[550 * 8 + 3] = INFINITY;
  invalid(SlotFilter(), {550}, MatrixSource(bad.view()), update);
  std::function<bool(uint32_t)> none = [](uint32_t) { return false; };
  invalid(SlotFilter::Predicate(&none, 0), {}, source, update);  // no row left
  invalid(SlotFilter::Predicate(&none, 0), {700}, source, update);  // ... the only added one unreadable
  IvfUpdateOptions threads;
  threads.threads = 0;
  invalid(SlotFilter(), {500}, source, threads);

  // A slot that is removed may come back with a new vector; an unreadable one is skipped.
  std::function<bool(uint32_t)> not_seven = [](uint32_t slot) { return slot != 7; };
  IvfUpdateStats stats;
  auto updated = index->Updated(SlotFilter::Predicate(&not_seven, 499), {7, 500, 900}, source, update, &stats);
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_EQ(stats.removed, 1u);
  EXPECT_EQ(stats.added, 2u);
  EXPECT_EQ(stats.unreadable, 1u);
  EXPECT_EQ(updated->rows(), 501u);
  EXPECT_TRUE(updated->Contains(7));
  EXPECT_FALSE(updated->Contains(900));

  // The source index is unchanged and still answers.
  EXPECT_EQ(index->Serialize(), before);
  EXPECT_EQ(index->rows(), 500u);
  auto hits = index->Search(data.base.Row(3), IvfSearchOptions{}, data.base.view());
  ASSERT_TRUE(hits.ok());
  ASSERT_FALSE(hits->empty());
  EXPECT_EQ((*hits)[0].slot, 3u);
}

TEST(IvfUpdateTest, UpdatedIndexRoundTripsThroughBytes) {
  uint64_t seed = testing::SeedForTest("IvfUpdateTest.UpdatedIndexRoundTripsThroughBytes");
  SyntheticData data = MakeData(seed, 2000, 16, 10);
  for (DistanceSpace space : {DistanceSpace::kL2, DistanceSpace::kCosine, DistanceSpace::kInnerProduct}) {
    IvfBuildOptions build;
    build.space = space;
    build.seed = seed;
    auto index = IvfIndex::Build(Prefix(data.base, 1000), build);
    ASSERT_TRUE(index.ok());
    std::function<bool(uint32_t)> keep = [](uint32_t slot) { return slot % 4 != 1; };
    IvfUpdateStats stats;
    auto updated = index->Updated(SlotFilter::Predicate(&keep, 750), Range(1000, 2000),
                                  MatrixSource(data.base.view()), IvfUpdateOptions{}, &stats);
    ASSERT_TRUE(updated.ok()) << updated.status().ToString();
    std::string bytes = updated->Serialize();
    auto decoded = IvfIndex::Deserialize(bytes);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_EQ(decoded->Serialize(), bytes);
    EXPECT_EQ(decoded->rows(), updated->rows());
    EXPECT_EQ(decoded->clusters(), updated->clusters());
    vector_testing::ExpectSameAnswers(*updated, *decoded, data, IvfSearchOptions{}, [&](const Hit& hit) {
      EXPECT_TRUE(keep(hit.slot) || hit.slot >= 1000);
    });
  }
}

TEST(IvfUpdateTest, DeterministicAtAnyThreadCount) {
  uint64_t seed = testing::SeedForTest("IvfUpdateTest.DeterministicAtAnyThreadCount");
  // More added rows than one parallel chunk, a third of them crowded (splits).
  SyntheticData data = MakeData(seed, 4000, 8, 1);
  const Dataset all = WithCrowd(data.base, 1500, 0, 0.2f, MixSeed(seed, 5));
  IvfBuildOptions build;
  build.seed = seed;
  auto index = IvfIndex::Build(Prefix(data.base, 1000), build);
  ASSERT_TRUE(index.ok());
  std::function<bool(uint32_t)> keep = [](uint32_t slot) { return slot % 5 != 0; };
  IvfUpdateOptions update;
  update.seed = seed;
  IvfUpdateStats one_stats;
  auto one = index->Updated(SlotFilter::Predicate(&keep, 800), Range(1000, 5500), MatrixSource(all.view()), update,
                            &one_stats);
  update.threads = 3;
  auto three = index->Updated(SlotFilter::Predicate(&keep, 800), Range(1000, 5500), MatrixSource(all.view()), update);
  ASSERT_TRUE(one.ok() && three.ok());
  EXPECT_GT(one_stats.splits, 0u);
  EXPECT_EQ(one->Serialize(), three->Serialize());
}

TEST(IvfUpdateTest, UnreadableRowsThatMustMoveAreDropped) {
  uint64_t seed = testing::SeedForTest("IvfUpdateTest.UnreadableRowsThatMustMoveAreDropped");
  constexpr size_t kBase = 2000, kCrowd = 1000;
  SyntheticData data = MakeData(seed, kBase, 8, 1);
  const Dataset all = WithCrowd(data.base, kCrowd, 5, 0.2f, MixSeed(seed, 3));
  IvfBuildOptions build;
  build.seed = seed;
  auto index = IvfIndex::Build(data.base.view(), build);
  ASSERT_TRUE(index.ok());
  // Every third original row cannot be read back.
  std::set<uint32_t> holes;
  for (uint32_t slot = 0; slot < kBase; slot += 3) holes.insert(slot);
  IvfUpdateStats stats;
  auto updated = index->Updated(SlotFilter(), Range(kBase, kBase + kCrowd), HoleySource(all.view(), holes),
                                IvfUpdateOptions{}, &stats);
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_GT(stats.splits, 0u);
  EXPECT_GT(stats.unreadable, 0u);
  EXPECT_EQ(updated->rows() + stats.unreadable, kBase + kCrowd);
  size_t missing = 0;
  for (uint32_t slot = 0; slot < kBase + kCrowd; ++slot) {
    if (!updated->Contains(slot)) {
      ++missing;
      EXPECT_EQ(holes.count(slot), 1u) << slot;  // only unreadable rows go
    }
  }
  EXPECT_EQ(missing, stats.unreadable);
}

}  // namespace
}  // namespace fathom
