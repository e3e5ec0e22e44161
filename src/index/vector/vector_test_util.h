// Helpers shared by the vector index tests (not part of the library).
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#include <gtest/gtest.h>

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

}  // namespace fathom::vector_testing
