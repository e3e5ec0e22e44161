// Helpers shared by the vector index tests (not part of the library).
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#include <gtest/gtest.h>

#include "index/vector/ivf_index.h"
#include "index/vector/synthetic_data.h"

namespace fathom::vector_testing {

// Sanitizer builds (Debug, 5-10x slower) run the larger tests on smaller data.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif
#else
inline constexpr bool kSanitized = false;
#endif

// Synthetic data (synthetic_data.h defaults otherwise) for a test.
inline SyntheticData MakeData(uint64_t seed, size_t rows, uint32_t dim, size_t queries) {
  SyntheticOptions options;
  options.rows = rows;
  options.queries = queries;
  options.dim = dim;
  options.seed = seed;
  auto data = GenerateSynthetic(options);
  EXPECT_TRUE(data.ok());
  return std::move(data).value();
}

// Expects `a` and `b` to answer every query of `data` identically (slots and distances),
// re-ranking from data.base; calls check(hit) on each of a's hits.
template <typename Check>
void ExpectSameAnswers(const IvfIndex& a, const IvfIndex& b, const SyntheticData& data,
                       const IvfSearchOptions& options, Check&& check) {
  for (size_t q = 0; q < data.queries.rows; ++q) {
    auto x = a.Search(data.queries.Row(q), options, data.base.view());
    auto y = b.Search(data.queries.Row(q), options, data.base.view());
    ASSERT_TRUE(x.ok() && y.ok());
    ASSERT_EQ(x->size(), y->size());
    for (size_t i = 0; i < x->size(); ++i) {
      EXPECT_EQ((*x)[i].slot, (*y)[i].slot);
      EXPECT_EQ((*x)[i].distance, (*y)[i].distance);
      check((*x)[i]);
    }
  }
}
inline void ExpectSameAnswers(const IvfIndex& a, const IvfIndex& b, const SyntheticData& data,
                              const IvfSearchOptions& options) {
  ExpectSameAnswers(a, b, data, options, [](const Hit&) {});
}

}  // namespace fathom::vector_testing
