// DistanceLowerBound against exact distances (a property over random perturbations), and
// BoundedRescore against re-scoring every candidate.
#include "index/vector/bounded_rescore.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <set>

#include "common/random.h"
#include "index/vector/int8_matrix.h"

namespace fathom {
namespace {

float Norm(const std::vector<float>& v) { return std::sqrt(DotProduct(v.data(), v.data(), v.size())); }

// For random rows x and approximations x~ within `error` of them, the bound computed
// from x~ never exceeds the exact distance of x, in every space; with error 0 it is the
// approximate distance itself.
TEST(BoundedRescoreTest, LowerBoundNeverExceedsTheExactDistance) {
  const uint64_t seed = TestSeed();
  std::printf("seed %llu (replay with FATHOM_SEED)\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> gauss;
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  for (int trial = 0; trial < 3000; ++trial) {
    const size_t dim = 1 + trial % 40;
    const float scale = std::pow(10.0f, 4.0f * unit(rng) - 2.0f);
    std::vector<float> q(dim), x(dim), noise(dim), approx(dim);
    for (size_t d = 0; d < dim; ++d) {
      q[d] = gauss(rng);
      x[d] = scale * gauss(rng);
      noise[d] = gauss(rng);
    }
    // |x - x~| = error exactly (the worst case a bound allows), in a random direction.
    const float error = Norm(x) * 0.5f * unit(rng);
    const float noise_norm = Norm(noise);
    for (size_t d = 0; d < dim; ++d) approx[d] = x[d] + noise[d] * (error / noise_norm);
    const float qn = Norm(q), xn = Norm(x), an = Norm(approx);
    for (DistanceSpace space : {DistanceSpace::kL2, DistanceSpace::kInnerProduct, DistanceSpace::kCosine}) {
      const float exact = SpaceDistance(space, q.data(), qn, x.data(), xn, dim);
      const float approximate = SpaceDistance(space, q.data(), qn, approx.data(), an, dim);
      const float lower = DistanceLowerBound(space, approximate, error, qn, an);
      ASSERT_LE(lower, exact + 1e-5f * (std::abs(exact) + 1.0f))
          << "space " << static_cast<int>(space) << " trial " << trial << " error " << error;
      EXPECT_EQ(DistanceLowerBound(space, approximate, 0.0f, qn, an), approximate);
    }
  }
}

// The matching upper bound never falls below the exact distance; with error 0 it is the
// approximate distance itself.
TEST(BoundedRescoreTest, UpperBoundIsNeverBelowTheExactDistance) {
  const uint64_t seed = TestSeed();
  std::printf("seed %llu (replay with FATHOM_SEED)\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> gauss;
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  for (int trial = 0; trial < 3000; ++trial) {
    const size_t dim = 1 + trial % 40;
    const float scale = std::pow(10.0f, 4.0f * unit(rng) - 2.0f);
    std::vector<float> q(dim), x(dim), noise(dim), approx(dim);
    for (size_t d = 0; d < dim; ++d) {
      q[d] = gauss(rng);
      x[d] = scale * gauss(rng);
      noise[d] = gauss(rng);
    }
    // |x - x~| = error exactly, in a random direction; sometimes larger than |x|.
    const float error = Norm(x) * (trial % 10 == 0 ? 2.0f : 0.5f) * unit(rng);
    const float noise_norm = Norm(noise);
    for (size_t d = 0; d < dim; ++d) approx[d] = x[d] + noise[d] * (error / noise_norm);
    const float qn = Norm(q), xn = Norm(x), an = Norm(approx);
    for (DistanceSpace space : {DistanceSpace::kL2, DistanceSpace::kInnerProduct, DistanceSpace::kCosine}) {
      const float exact = SpaceDistance(space, q.data(), qn, x.data(), xn, dim);
      const float approximate = SpaceDistance(space, q.data(), qn, approx.data(), an, dim);
      const float upper = DistanceUpperBound(space, approximate, error, qn, an);
      ASSERT_GE(upper, exact - 1e-5f * (std::abs(exact) + 1.0f))
          << "space " << static_cast<int>(space) << " trial " << trial << " error " << error;
      ASSERT_GE(upper, DistanceLowerBound(space, approximate, error, qn, an));
      EXPECT_EQ(DistanceUpperBound(space, approximate, 0.0f, qn, an), approximate);
    }
  }
}

TEST(BoundedRescoreTest, Int8ErrorBoundHolds) {
  const uint64_t seed = TestSeed();
  std::printf("seed %llu (replay with FATHOM_SEED)\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> gauss;
  const size_t rows = 500, dim = 37;
  std::vector<float> values(rows * dim);
  for (size_t i = 0; i < values.size(); ++i) values[i] = gauss(rng) * static_cast<float>(1 + i % 7);
  auto m = Int8Matrix::Quantize(MatrixView{values.data(), rows, dim});
  ASSERT_TRUE(m.ok());
  std::vector<float> out(dim);
  for (size_t r = 0; r < rows; ++r) {
    m->Decode(r, out.data());
    double exact = 0.0;
    for (size_t d = 0; d < dim; ++d) exact += std::pow(double{out[d]} - double{values[r * dim + d]}, 2);
    EXPECT_LE(std::sqrt(exact), m->ErrorBound(r)) << r;
    // Far from the worst case on gaussian rows.
    std::vector<float> row(values.begin() + r * dim, values.begin() + (r + 1) * dim);
    float max_abs = 0.0f;
    for (float v : row) max_abs = std::max(max_abs, std::fabs(v));
    EXPECT_LE(m->ErrorBound(r), Int8Matrix::WorstRowError(max_abs / 127.0f, dim) * 1.001f) << r;
  }
  const Int8MatrixSource source(*m);
  EXPECT_EQ(source.ApproximationError(3), m->ErrorBound(3));
  EXPECT_EQ(source.ApproximationError(rows), 0.0f);  // no such slot
  EXPECT_EQ(MatrixSource(MatrixView{values.data(), rows, dim}).ApproximationError(3), 0.0f);
}

// Re-scoring in bound order with the early stop gives exactly the answer of re-scoring
// every candidate, with fewer exact reads, in every space.
TEST(BoundedRescoreTest, MatchesRescoringEveryCandidate) {
  const uint64_t seed = TestSeed();
  std::printf("seed %llu (replay with FATHOM_SEED)\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> gauss;
  const size_t rows = 3000, dim = 32, k = 10, kept = 60;
  std::vector<float> values(rows * dim);
  for (float& v : values) v = gauss(rng);
  auto m = Int8Matrix::Quantize(MatrixView{values.data(), rows, dim});
  ASSERT_TRUE(m.ok());
  const Int8MatrixSource approx(*m);
  size_t total_rescored = 0, queries = 0;
  for (DistanceSpace space : {DistanceSpace::kL2, DistanceSpace::kInnerProduct, DistanceSpace::kCosine}) {
    for (int trial = 0; trial < 20; ++trial, ++queries) {
      std::vector<float> q(dim), scratch(dim);
      for (float& v : q) v = gauss(rng);
      const float qn = Norm(q);
      auto exact_distance = [&](uint32_t slot) {
        const float* row = values.data() + size_t{slot} * dim;
        return SpaceDistance(space, q.data(), qn, row, std::sqrt(DotProduct(row, row, dim)), dim);
      };
      TopK first(kept);
      for (uint32_t slot = 0; slot < rows; ++slot) {
        const float* row = approx.Fetch(slot, scratch.data());
        first.Push(SpaceDistance(space, q.data(), qn, row, std::sqrt(DotProduct(row, row, dim)), dim), slot);
      }
      const std::vector<Hit> candidates = first.Take();
      TopK every(k);
      for (const Hit& h : candidates) every.Push(exact_distance(h.slot), h.slot);
      TopK bounded(k);
      size_t rescored = 0;
      ASSERT_TRUE(BoundedRescore(LowerBounds(space, qn, candidates, approx), bounded,
                                 [&](uint32_t slot) {
                                   bounded.Push(exact_distance(slot), slot);
                                   return Status::Ok();
                                 },
                                 &rescored)
                      .ok());
      const std::vector<Hit> want = every.Take(), got = bounded.Take();
      ASSERT_EQ(got.size(), want.size());
      for (size_t i = 0; i < want.size(); ++i) {
        EXPECT_EQ(got[i].slot, want[i].slot) << "space " << static_cast<int>(space) << " trial " << trial;
        EXPECT_EQ(got[i].distance, want[i].distance);
      }
      EXPECT_GE(rescored, k);
      EXPECT_LE(rescored, kept);
      total_rescored += rescored;
    }
  }
  std::printf("re-scored %.1f of %zu candidates per query\n", double(total_rescored) / queries, kept);
  EXPECT_LT(total_rescored, queries * kept);
}

// The batched re-score gives BoundedRescore's answer, and its first batch of hints holds
// every candidate it re-scores (ReadSetSize is a sound bound), in every space, with and
// without rows already in the top (an exact scan's hot rows); when reads fail (a row
// that pushes nothing), every row re-scored was still hinted before it was read.
TEST(BoundedRescoreTest, BatchedHintsEveryReadInOneBatch) {
  const uint64_t seed = TestSeed();
  std::printf("seed %llu (replay with FATHOM_SEED)\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> gauss;
  const size_t rows = 2000, dim = 24, k = 10, kept = 50;
  std::vector<float> values(rows * dim);
  for (float& v : values) v = gauss(rng);
  auto m = Int8Matrix::Quantize(MatrixView{values.data(), rows, dim});
  ASSERT_TRUE(m.ok());
  const Int8MatrixSource approx(*m);
  size_t hinted_total = 0, rescored_total = 0, runs = 0;
  for (DistanceSpace space : {DistanceSpace::kL2, DistanceSpace::kInnerProduct, DistanceSpace::kCosine}) {
    for (int trial = 0; trial < 30; ++trial) {
      std::vector<float> q(dim), scratch(dim);
      for (float& v : q) v = gauss(rng);
      const float qn = Norm(q);
      auto exact_distance = [&](uint32_t slot) {
        const float* row = values.data() + size_t{slot} * dim;
        return SpaceDistance(space, q.data(), qn, row, std::sqrt(DotProduct(row, row, dim)), dim);
      };
      // Slots below 100 play the hot rows: in the top before the re-score, exactly.
      TopK first(kept);
      TopK seeded(k);
      for (uint32_t slot = 0; slot < rows; ++slot) {
        if (trial % 2 == 1 && slot < 100) {
          seeded.Push(exact_distance(slot), slot);
          continue;
        }
        const float* row = approx.Fetch(slot, scratch.data());
        first.Push(SpaceDistance(space, q.data(), qn, row, std::sqrt(DotProduct(row, row, dim)), dim), slot);
      }
      const std::vector<BoundedCandidate> candidates = LowerBounds(space, qn, first.Take(), approx);
      for (bool failures : {false, true}) {
        // With failures, every 7th candidate's read "fails": it pushes nothing.
        auto fails = [&](uint32_t slot) { return failures && slot % 7 == 0; };
        TopK plain = seeded;
        ASSERT_TRUE(BoundedRescore(candidates, plain, [&](uint32_t slot) {
                      if (!fails(slot)) plain.Push(exact_distance(slot), slot);
                      return Status::Ok();
                    }).ok());
        TopK batched = seeded;
        std::set<uint32_t> hinted;
        std::vector<size_t> batch_sizes;
        size_t rescored = 0, batches = 0;
        ASSERT_TRUE(BoundedRescoreBatched(
                        candidates, batched,
                        [&](uint32_t slot) {
                          EXPECT_TRUE(hinted.count(slot)) << "slot " << slot << " read before its hint";
                          if (!fails(slot)) batched.Push(exact_distance(slot), slot);
                          return Status::Ok();
                        },
                        [&](const uint32_t* slots, size_t count) {
                          hinted.insert(slots, slots + count);
                          batch_sizes.push_back(count);
                        },
                        &rescored, &batches)
                        .ok());
        const std::vector<Hit> want = plain.Take(), got = batched.Take();
        ASSERT_EQ(got.size(), want.size());
        for (size_t i = 0; i < want.size(); ++i) {
          EXPECT_EQ(got[i].slot, want[i].slot) << "space " << static_cast<int>(space) << " trial " << trial;
          EXPECT_EQ(got[i].distance, want[i].distance);
        }
        EXPECT_EQ(batches, batch_sizes.size());
        if (!failures) {
          EXPECT_EQ(batches, rescored > 0 ? 1u : 0u) << "space " << static_cast<int>(space) << " trial " << trial;
          hinted_total += batch_sizes.empty() ? 0 : batch_sizes[0];
          rescored_total += rescored;
          ++runs;
        }
      }
    }
  }
  std::printf("one batch of %.1f hinted rows per query for %.1f re-scored (of %zu candidates)\n",
              double(hinted_total) / runs, double(rescored_total) / runs, kept);
}

// A failing exact read stops the re-scoring with its error.
TEST(BoundedRescoreTest, StopsAtTheFirstError) {
  const std::vector<BoundedCandidate> candidates = {{0.1f, 1}, {0.2f, 2}, {0.3f, 3}};
  TopK top(2);
  size_t rescored = 0;
  Status s = BoundedRescore(candidates, top,
                            [&](uint32_t slot) { return slot == 2 ? Status::IOError("boom") : Status::Ok(); },
                            &rescored);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(rescored, 1u);
}

}  // namespace
}  // namespace fathom
