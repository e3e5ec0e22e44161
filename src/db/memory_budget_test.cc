#include "db/memory_budget.h"

#include <gtest/gtest.h>

#include "common/limits.h"
#include "fathom/db.h"
#include "io/mem_store.h"

namespace fathom {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;

TEST(MemoryBudgetTest, NoBudgetChangesNothing) {
  auto plan = MemoryBudget::Plan(DatabaseOptions{});
  ASSERT_TRUE(plan.ok());
  EXPECT_FALSE(plan->bounded());
  EXPECT_EQ(plan->vector_cache_bytes, limits::kVectorCacheBytesDefault);
  EXPECT_TRUE(plan->cold_approximations);
  EXPECT_EQ(plan->SpillRows(768), 0u);
  DatabaseOptions options;
  options.vector_cache_bytes = 7 * kMiB;
  EXPECT_EQ(MemoryBudget::Plan(options)->vector_cache_bytes, 7 * kMiB);
}

TEST(MemoryBudgetTest, DividesTheBudget) {
  DatabaseOptions options;
  options.memory_budget_bytes = 512 * kMiB;
  auto plan = MemoryBudget::Plan(options);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_TRUE(plan->bounded());
  EXPECT_EQ(plan->vector_cache_bytes, 128 * kMiB);
  EXPECT_FALSE(plan->cold_approximations);
  EXPECT_EQ(plan->hot_vector_bytes_max, 64 * kMiB);
  EXPECT_EQ(plan->resident_share_bytes, 320 * kMiB);
  EXPECT_EQ(plan->SpillRows(768), 64 * kMiB / (768 * 4));
  // Larger budgets keep parts at their usual size (64 MiB).
  options.memory_budget_bytes = 4096 * kMiB;
  EXPECT_EQ(MemoryBudget::Plan(options)->hot_vector_bytes_max, limits::kColdPartBytesMax);
  // An explicit cache within half the budget is kept.
  options.memory_budget_bytes = 512 * kMiB;
  options.vector_cache_bytes = 200 * kMiB;
  plan = MemoryBudget::Plan(options);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->vector_cache_bytes, 200 * kMiB);
  EXPECT_EQ(plan->resident_share_bytes, (512 - 200 - 64) * kMiB);
}

TEST(MemoryBudgetTest, NonsenseIsRefusedWithTheFix) {
  DatabaseOptions options;
  options.memory_budget_bytes = 63 * kMiB;
  auto plan = MemoryBudget::Plan(options);
  ASSERT_TRUE(plan.status().code() == StatusCode::kInvalidArgument);
  EXPECT_NE(plan.status().message().find("--memory-budget-mib"), std::string::npos) << plan.status().message();
  EXPECT_NE(plan.status().message().find("64 MiB"), std::string::npos) << plan.status().message();
  options.memory_budget_bytes = MemoryBudget::kBytesMax + 1;
  EXPECT_TRUE(MemoryBudget::Plan(options).status().code() == StatusCode::kInvalidArgument);
  options.memory_budget_bytes = 256 * kMiB;
  options.vector_cache_bytes = 129 * kMiB;
  plan = MemoryBudget::Plan(options);
  ASSERT_TRUE(plan.status().code() == StatusCode::kInvalidArgument);
  EXPECT_NE(plan.status().message().find("half"), std::string::npos) << plan.status().message();
  options.vector_cache_bytes = 0;
  options.cold_vectors = false;
  plan = MemoryBudget::Plan(options);
  ASSERT_TRUE(plan.status().code() == StatusCode::kInvalidArgument);
  EXPECT_NE(plan.status().message().find("--keep-vectors-in-ram"), std::string::npos) << plan.status().message();
}

TEST(MemoryBudgetTest, DatabaseOpenRefusesABadBudgetAndTouchesNothing) {
  auto store = std::make_shared<MemStore>();
  auto db = Database::Open({.store = store, .memory_budget_bytes = 1 * kMiB});
  ASSERT_FALSE(db.ok());
  EXPECT_TRUE(db.status().code() == StatusCode::kInvalidArgument) << db.status().ToString();
  auto listed = static_cast<ObjectStore&>(*store).List("");
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty()) << "nothing is written before the options are checked";
  db = Database::Open({.store = store, .memory_budget_bytes = MemoryBudget::kBytesMin});
  EXPECT_TRUE(db.ok()) << db.status().ToString();
}

}  // namespace
}  // namespace fathom
