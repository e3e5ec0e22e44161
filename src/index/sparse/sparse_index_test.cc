// SparseIndex: edge cases, and a property test of Search against a brute-force inner
// product over the live vectors through random adds, removes, updates, seals, bulk
// rebuilds and filters. Prints its seed (FATHOM_SEED replays).
#include "index/sparse/sparse_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <random>

#include "test_util.h"

namespace fathom {
namespace {

constexpr const char* kKey = "sparse";

// A row holding `v` at kKey (and an unrelated key).
struct TestRow {
  std::string id = "x";
  std::optional<std::string> document;
  std::optional<Metadata> metadata;
  explicit TestRow(std::optional<SparseVector> v) {
    Metadata m{{"other", MetadataValue(int64_t{1})}};
    if (v) m[kKey] = MetadataValue(std::move(*v));
    metadata = std::move(m);
  }
  RecordView view() const { return RecordView{id, document, metadata}; }
};

SparseVector Vec(std::vector<uint32_t> indices, std::vector<float> values) {
  return SparseVector{std::move(indices), std::move(values), {}};
}

// Every live vector sharing a dimension with the query, best first (score descending,
// slot ascending), scores in double.
std::vector<std::pair<uint32_t, double>> BruteForce(const std::map<uint32_t, SparseVector>& live,
                                                    const SparseVector& query, const Roaring* filter) {
  std::vector<std::pair<uint32_t, double>> out;
  for (const auto& [slot, v] : live) {
    if (filter != nullptr && !filter->contains(slot)) continue;
    double score = 0;
    bool shared = false;
    size_t i = 0, j = 0;
    while (i < v.indices.size() && j < query.indices.size()) {
      if (v.indices[i] < query.indices[j]) {
        ++i;
      } else if (v.indices[i] > query.indices[j]) {
        ++j;
      } else {
        score += static_cast<double>(v.values[i]) * static_cast<double>(query.values[j]);
        shared = true;
        ++i, ++j;
      }
    }
    if (shared) out.emplace_back(slot, score);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.second > b.second || (a.second == b.second && a.first < b.first);
  });
  return out;
}

TEST(SparseIndexTest, EmptyIndexAndQuery) {
  SparseIndex index(kKey);
  EXPECT_TRUE(index.Search(Vec({1}, {1.0f}), 10, nullptr).empty());
  TestRow row(Vec({1, 5}, {0.5f, 2.0f}));
  index.Add(0, row.view());
  EXPECT_TRUE(index.Search(Vec({}, {}), 10, nullptr).empty());
  EXPECT_TRUE(index.Search(Vec({2}, {1.0f}), 10, nullptr).empty());  // no shared dimension
  EXPECT_TRUE(index.Search(Vec({1}, {1.0f}), 0, nullptr).empty());
}

TEST(SparseIndexTest, InnerProductTailAndSealed) {
  SparseIndex index(kKey);
  TestRow a(Vec({1, 5}, {0.5f, 2.0f}));
  TestRow b(Vec({5, 9}, {1.0f, 4.0f}));
  TestRow none(std::nullopt);
  index.Add(0, a.view());
  index.Add(1, b.view());
  index.Add(2, none.view());  // no sparse value: not indexed
  for (int pass = 0; pass < 2; ++pass) {
    auto hits = index.Search(Vec({1, 5, 9}, {2.0f, 1.0f, -1.0f}), 10, nullptr);
    ASSERT_EQ(hits.size(), 2u) << pass;
    EXPECT_EQ(hits[0].slot, 0u);
    EXPECT_FLOAT_EQ(hits[0].score, 3.0f);  // 0.5 * 2 + 2 * 1
    EXPECT_EQ(hits[1].slot, 1u);
    EXPECT_FLOAT_EQ(hits[1].score, -3.0f);  // 1 * 1 + 4 * -1
    index.Seal();                           // the second pass reads the sealed part
    EXPECT_EQ(index.tail_vector_count(), 0u);
  }
  index.Remove(0, a.view());
  auto hits = index.Search(Vec({1, 5}, {1.0f, 1.0f}), 10, nullptr);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].slot, 1u);
  Roaring filter;
  filter.add(0);
  EXPECT_TRUE(index.Search(Vec({5}, {1.0f}), 10, &filter).empty());
}

TEST(SparseIndexTest, NonSparseValueOfTheKeyIsIgnored) {
  SparseIndex index(kKey);
  std::string id = "x";
  std::optional<std::string> document;
  std::optional<Metadata> metadata = Metadata{{kKey, MetadataValue(std::string("text"))}};
  index.Add(0, RecordView{id, document, metadata});
  index.Remove(0, RecordView{id, document, metadata});
  EXPECT_EQ(index.vector_count(), 0u);
}

// The property test: random operations on slots [0, slots), queries compared with the
// brute force: same length, same slots in order up to ties (equal scores within 1e-9
// relative may swap), scores within 1e-5.
void CheckSame(const std::vector<ScoredSlot>& got, const std::vector<std::pair<uint32_t, double>>& want, uint32_t k,
               uint64_t seed, int step) {
  const size_t n = std::min<size_t>(k, want.size());
  ASSERT_EQ(got.size(), n) << "seed " << seed << " step " << step;
  for (size_t i = 0; i < n; ++i) {
    ASSERT_NEAR(got[i].score, want[i].second, 1e-5 * std::max(1.0, std::abs(want[i].second)))
        << "rank " << i << " seed " << seed << " step " << step;
    if (got[i].slot != want[i].first) {
      // A tie: the slot the index chose must score the same in the brute force.
      auto it = std::find_if(want.begin(), want.end(), [&](const auto& p) { return p.first == got[i].slot; });
      ASSERT_NE(it, want.end()) << "seed " << seed << " step " << step;
      ASSERT_NEAR(it->second, want[i].second, 1e-5 * std::max(1.0, std::abs(want[i].second)))
          << "rank " << i << " seed " << seed << " step " << step;
    }
  }
}

TEST(SparseIndexTest, MatchesBruteForceThroughRandomChanges) {
  const uint64_t seed = testing::SeedForTest("SparseIndexTest.MatchesBruteForceThroughRandomChanges");
  std::mt19937_64 rng(seed);
  auto uniform = [&](uint32_t lo, uint32_t hi) { return std::uniform_int_distribution<uint32_t>(lo, hi)(rng); };
  // Zipf-ish dimensions (low ones common), weights positive mostly, some negative, some
  // repeated values so ties occur.
  auto random_vector = [&](uint32_t dims, uint32_t max_nnz) {
    std::map<uint32_t, float> entries;
    const uint32_t nnz = uniform(0, max_nnz);
    for (uint32_t i = 0; i < nnz; ++i) {
      const double u = std::uniform_real_distribution<double>(0, 1)(rng);
      const uint32_t dim = static_cast<uint32_t>(static_cast<double>(dims) * u * u * u);
      float w = uniform(0, 3) == 0 ? static_cast<float>(uniform(1, 4)) * 0.25f
                                   : std::uniform_real_distribution<float>(0.0f, 3.0f)(rng);
      if (uniform(0, 9) == 0) w = -w;
      entries[dim] = w;
    }
    SparseVector v;
    for (const auto& [d, w] : entries) {
      v.indices.push_back(d);
      v.values.push_back(w);
    }
    return v;
  };

  for (int round = 0; round < 6; ++round) {
    const uint32_t slots = uniform(50, 3000) * (round == 5 ? 4 : 1);
    const uint32_t dims = uniform(5, 400);
    SparseIndex index(kKey);
    std::map<uint32_t, SparseVector> live;
    std::map<uint32_t, TestRow> rows;
    // Start with a bulk load half the time.
    if (uniform(0, 1) == 0) {
      index.Clear();
      for (uint32_t s = 0; s < slots; s += uniform(1, 3)) {
        SparseVector v = random_vector(dims, 30);
        rows.emplace(s, TestRow(v));
        live[s] = v;
        index.BulkAdd(s, rows.at(s).view());
      }
      index.Seal();
    }
    for (int step = 0; step < 400; ++step) {
      const uint32_t op = uniform(0, 99);
      const uint32_t slot = uniform(0, slots - 1);
      if (op < 45) {  // add, or update (remove then add)
        if (auto it = rows.find(slot); it != rows.end()) {
          index.Remove(slot, it->second.view());
          rows.erase(it);
          live.erase(slot);
        }
        SparseVector v = random_vector(dims, 30);
        rows.emplace(slot, TestRow(v));
        live[slot] = v;
        index.Add(slot, rows.at(slot).view());
      } else if (op < 65) {  // remove
        if (auto it = rows.find(slot); it != rows.end()) {
          index.Remove(slot, it->second.view());
          rows.erase(it);
          live.erase(slot);
        }
      } else if (op < 68) {
        index.Seal();
      } else if (op < 70) {  // rebuild from the rows, as the table does after renumbering
        index.Clear();
        for (const auto& [s, row] : rows) index.BulkAdd(s, row.view());
        index.Seal();
      } else {
        SparseVector query = random_vector(dims, 12);
        const uint32_t k = uniform(1, 3) == 1 ? uniform(1, 5) : uniform(1, 200);
        std::optional<Roaring> filter;
        if (uniform(0, 2) == 0) {
          filter.emplace();
          for (uint32_t s = 0; s < slots; ++s) {
            if (uniform(0, 3) != 0) filter->add(s);
          }
        }
        const Roaring* f = filter ? &*filter : nullptr;
        CheckSame(index.Search(query, k, f), BruteForce(live, query, f), k, seed, step);
        if (HasFatalFailure()) return;
      }
    }
    EXPECT_EQ(index.vector_count(), live.size()) << "seed " << seed;
  }
}

}  // namespace
}  // namespace fathom
