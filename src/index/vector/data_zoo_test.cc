#include "index/vector/data_zoo.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <set>
#include <vector>

#include "test_util.h"

namespace fathom {
namespace {

using Generator = std::function<Result<ZooDataset>(const ZooOptions&)>;

void ExpectShapeAndFinite(const ZooDataset& d, size_t rows, size_t queries, uint32_t dim) {
  EXPECT_EQ(d.rows, rows);
  EXPECT_EQ(d.query_count, queries);
  EXPECT_EQ(d.dim, dim);
  ASSERT_EQ(d.base.size(), rows * dim);
  ASSERT_EQ(d.queries.size(), queries * dim);
  for (float v : d.base) ASSERT_TRUE(std::isfinite(v));
  for (float v : d.queries) ASSERT_TRUE(std::isfinite(v));
  EXPECT_FALSE(d.name.empty());
  EXPECT_FALSE(d.note.empty());
}

bool SameRow(const float* a, const float* b, uint32_t dim) { return std::memcmp(a, b, dim * sizeof(float)) == 0; }

// No query is bit-for-bit a base row.
void ExpectQueriesHeldOut(const ZooDataset& d) {
  for (size_t q = 0; q < d.query_count; ++q) {
    for (size_t i = 0; i < d.rows; ++i) ASSERT_FALSE(SameRow(d.QueryRow(q), d.BaseRow(i), d.dim)) << q << " " << i;
  }
}

TEST(DataZooTest, GeneratorsHaveShapeAreFiniteAndRepeatPerSeed) {
  const uint64_t seed = testing::SeedForTest("DataZooTest.GeneratorsHaveShapeAreFiniteAndRepeatPerSeed");
  SyntheticOptions shape;
  shape.dim = 16;
  const std::vector<std::pair<uint32_t, Generator>> generators = {
      {8, [](const ZooOptions& o) { return MakeUniform(8, o); }},
      {16, [](const ZooOptions& o) { return MakeDecayingGaussian(16, o); }},
      {16, [](const ZooOptions& o) { return MakeDuplicates(16, o); }},
      {16, [](const ZooOptions& o) { return MakeLogNormalNorms(16, o); }},
      {16, [&](const ZooOptions& o) { return MakeClustered(shape, o); }},
  };
  for (const auto& [dim, generate] : generators) {
    ZooOptions options{.rows = 1500, .queries = 20, .seed = seed, .threads = 1};
    auto one = generate(options);
    ASSERT_TRUE(one.ok()) << one.status().ToString();
    SCOPED_TRACE(one->name);
    ExpectShapeAndFinite(*one, 1500, 20, dim);
    options.threads = 3;
    auto again = generate(options);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(one->base, again->base);
    EXPECT_EQ(one->queries, again->queries);
    options.seed = seed + 1;
    auto other = generate(options);
    ASSERT_TRUE(other.ok());
    EXPECT_NE(one->base, other->base);
  }
}

TEST(DataZooTest, UniformStaysInTheUnitCubeAndHoldsQueriesOut) {
  auto d = MakeUniform(4, {.rows = 2000, .queries = 50, .seed = 7});
  ASSERT_TRUE(d.ok());
  for (float v : d->base) ASSERT_TRUE(v >= 0.0f && v < 1.0f);
  ExpectQueriesHeldOut(*d);
}

TEST(DataZooTest, DuplicatesRepeatAFifthOfTheRows) {
  auto d = MakeDuplicates(8, {.rows = 5000, .queries = 10, .seed = 3});
  ASSERT_TRUE(d.ok());
  // Exact copies share their prototype's bytes; noisy copies are new rows. About half of
  // the 4000 repeated rows are exact, so distinct rows are about 1000 + 2000.
  std::set<std::vector<float>> distinct;
  for (size_t i = 0; i < d->rows; ++i) distinct.emplace(d->BaseRow(i), d->BaseRow(i) + d->dim);
  EXPECT_GT(distinct.size(), 2500u);
  EXPECT_LT(distinct.size(), 3500u);
}

TEST(DataZooTest, LogNormalNormsSpreadAndQueriesAreUnit) {
  auto d = MakeLogNormalNorms(32, {.rows = 2000, .queries = 10, .seed = 5});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->space, DistanceSpace::kInnerProduct);
  auto norm = [&](const float* row) {
    double s = 0.0;
    for (uint32_t j = 0; j < d->dim; ++j) s += double{row[j]} * row[j];
    return std::sqrt(s);
  };
  double lo = 1e9, hi = 0.0;
  for (size_t i = 0; i < d->rows; ++i) {
    lo = std::min(lo, norm(d->BaseRow(i)));
    hi = std::max(hi, norm(d->BaseRow(i)));
  }
  EXPECT_GT(hi / lo, 5.0);
  for (size_t q = 0; q < d->query_count; ++q) EXPECT_NEAR(norm(d->QueryRow(q)), 1.0, 1e-4);
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

TEST(DataZooTest, TextCorpusKeepsDistinctParagraphsOfPlainFiles) {
  testing::TempDir dir;
  std::string many;
  for (int i = 0; i < 300; ++i) {
    many += "paragraph number " + std::to_string(i) + " talks about topic " + std::to_string(i % 17) +
            " and words like vector index search\n\n";
  }
  WriteFile(dir.path() + "/a.txt", many);
  // The same paragraphs again (kept once), a short one (dropped), binary and compressed
  // files (skipped).
  WriteFile(dir.path() + "/b", many + "too short\n");
  WriteFile(dir.path() + "/c.bin", std::string("binary \0 data with enough words to count here", 46));
  WriteFile(dir.path() + "/d.gz", "compressed files are skipped even when they look like text\n");
  TextCorpusOptions options;
  options.text_roots = {dir.path()};
  options.prose_roots = {};
  auto corpus = LoadTextCorpus(options);
  ASSERT_TRUE(corpus.ok()) << corpus.status().ToString();
  // Single characters are not tokens, so paragraphs 0-9 are one paragraph: 291 remain.
  EXPECT_EQ(corpus->paragraphs.size(), 291u);
  EXPECT_EQ(corpus->files, 1u);
  EXPECT_EQ(corpus->paragraphs[0], "paragraph number talks about topic and words like vector index search");

  ZooOptions zoo{.rows = 1000, .queries = 20, .seed = 9};
  auto d = MakeHashedBagOfWords(*corpus, 64, zoo);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->space, DistanceSpace::kCosine);
  // At most one row per paragraph (two may hash to one vector), all of them used: not
  // enough text for 1000.
  EXPECT_LE(d->rows + d->query_count, 291u);
  EXPECT_GT(d->rows + d->query_count, 200u);
  ExpectShapeAndFinite(*d, d->rows, 20, 64);
  ExpectQueriesHeldOut(*d);
  auto again = MakeHashedBagOfWords(*corpus, 64, zoo);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(d->base, again->base);
  EXPECT_EQ(d->queries, again->queries);
}

std::string FvecsBytes(const std::vector<std::vector<float>>& rows) {
  std::string out;
  for (const auto& row : rows) {
    int32_t dim = static_cast<int32_t>(row.size());
    out.append(reinterpret_cast<const char*>(&dim), sizeof(dim));
    out.append(reinterpret_cast<const char*>(row.data()), row.size() * sizeof(float));
  }
  return out;
}

TEST(DataZooTest, FvecsRoundTripAndCorruption) {
  testing::TempDir dir;
  std::vector<std::vector<float>> rows;
  for (int i = 0; i < 300; ++i) rows.push_back({float(i), float(i) * 0.5f, -1.0f, 2.0f});
  const std::string path = dir.path() + "/x.fvecs";
  WriteFile(path, FvecsBytes(rows));
  auto all = LoadFvecs(path, 0);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->rows, 300u);
  EXPECT_EQ(all->dim, 4u);
  EXPECT_EQ(all->values[4 * 7 + 1], 3.5f);
  auto some = LoadFvecs(path, 10);
  ASSERT_TRUE(some.ok());
  EXPECT_EQ(some->rows, 10u);

  const std::string bytes = FvecsBytes(rows);
  WriteFile(path, bytes.substr(0, bytes.size() - 3));
  EXPECT_EQ(LoadFvecs(path, 0).status().code(), StatusCode::kCorruption);
  WriteFile(path, FvecsBytes({{1, 2, 3}, {1, 2}}));
  EXPECT_EQ(LoadFvecs(path, 0).status().code(), StatusCode::kCorruption);
  WriteFile(path, FvecsBytes({{1, NAN}}));
  EXPECT_EQ(LoadFvecs(path, 0).status().code(), StatusCode::kCorruption);
  EXPECT_FALSE(LoadFvecs(dir.path() + "/missing.fvecs", 0).ok());

  WriteFile(path, FvecsBytes(rows));
  auto d = MakeFromFvecs("x", path, DistanceSpace::kCosine, {.rows = 1000, .queries = 30, .seed = 2});
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  // Row 0 is not zero here (-1, 2 in it), so every row is usable: 270 base rows.
  ExpectShapeAndFinite(*d, 270, 30, 4);
  ExpectQueriesHeldOut(*d);
}

}  // namespace
}  // namespace fathom
