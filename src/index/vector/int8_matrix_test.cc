#include "index/vector/int8_matrix.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "index/vector/distance.h"
#include "index/vector/ivf_index.h"
#include "index/vector/vector_test_util.h"

namespace fathom {
namespace {

TEST(Int8MatrixTest, ReconstructionErrorIsBoundedByTheRowScale) {
  const std::vector<float> rows = {1.0f, -0.5f, 0.25f, 0.0f,    // scale 1
                                   1e6f, -3e6f, 7.0f,  2e6f,    // no range limit
                                   0.0f, 0.0f,  0.0f,  0.0f};   // all zero
  auto m = Int8Matrix::Quantize(MatrixView{rows.data(), 3, 4});
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->rows(), 3u);
  std::vector<float> out(4);
  for (size_t r = 0; r < 3; ++r) {
    m->Decode(r, out.data());
    float max_abs = 0;
    for (int d = 0; d < 4; ++d) max_abs = std::max(max_abs, std::fabs(rows[r * 4 + d]));
    for (int d = 0; d < 4; ++d) EXPECT_LE(std::fabs(out[d] - rows[r * 4 + d]), max_abs / 254 * 1.0001f) << r;
  }
  EXPECT_EQ(m->MemoryBytes(), 12u + 3 * 2 * sizeof(float));
  Int8MatrixSource source(*m);
  EXPECT_EQ(source.Fetch(3, out.data()), nullptr);
  const float bad[2] = {1.0f, std::numeric_limits<float>::quiet_NaN()};
  EXPECT_FALSE(Int8Matrix::Quantize(MatrixView{bad, 1, 2}).ok());
}

// The two-stage search (int8 re-rank, exact refine) keeps the recall of an exact
// re-rank, and returns exact distances.
TEST(Int8MatrixTest, TwoStageSearchMatchesExactReRank) {
  const uint64_t seed = 7;  // fixed data: the comparison is between two searches on it
  SyntheticData data = vector_testing::MakeData(seed, 4000, 48, 40);
  IvfBuildOptions build;
  auto index = IvfIndex::Build(data.base.view(), build);
  ASSERT_TRUE(index.ok());
  auto int8 = Int8Matrix::Quantize(data.base.view());
  ASSERT_TRUE(int8.ok());
  const MatrixSource exact(data.base.view());
  const Int8MatrixSource approximate(*int8);
  const auto truth = ExactTopK(data.base, data.queries, 10, DistanceSpace::kL2, nullptr, 1);
  IvfSearchOptions one;
  one.probes = 12;
  IvfSearchOptions two = one;
  two.exact = &exact;
  std::vector<std::vector<uint32_t>> found_one, found_two;
  for (size_t q = 0; q < data.queries.rows; ++q) {
    auto a = index->Search(data.queries.Row(q), one, exact);
    IvfSearchStats stats;
    auto b = index->Search(data.queries.Row(q), two, approximate, &stats);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_LE(stats.refined, 20u);
    std::vector<uint32_t> ids_a, ids_b;
    for (const Hit& h : *a) ids_a.push_back(h.slot);
    for (size_t i = 0; i < b->size(); ++i) {
      const Hit& h = (*b)[i];
      ids_b.push_back(h.slot);
      EXPECT_FLOAT_EQ(h.distance, L2Squared(data.queries.Row(q), data.base.Row(h.slot), 48));
      if (i > 0) {
        EXPECT_LE((*b)[i - 1].distance, h.distance);
      }
    }
    found_one.push_back(ids_a);
    found_two.push_back(ids_b);
  }
  const double recall_one = RecallAtK(truth, found_one, 10);
  const double recall_two = RecallAtK(truth, found_two, 10);
  std::printf("recall@10: exact re-rank %.3f, int8 re-rank + exact refine %.3f\n", recall_one, recall_two);
  EXPECT_GE(recall_two, recall_one - 0.01);
  // Bad refine factor.
  two.refine_factor = 0;
  EXPECT_FALSE(index->Search(data.queries.Row(0), two, approximate).ok());
}

}  // namespace
}  // namespace fathom
