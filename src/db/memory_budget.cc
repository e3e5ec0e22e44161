#include "db/memory_budget.h"

#include <algorithm>
#include <string>

#include "common/limits.h"

namespace fathom {

namespace {

std::string Mib(uint64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

}  // namespace

uint64_t MemoryBudget::SpillRows(uint32_t dim) const {
  if (!bounded() || dim == 0) return 0;
  return std::max<uint64_t>(1, hot_vector_bytes_max / (uint64_t{dim} * sizeof(float)));
}

Result<MemoryBudget> MemoryBudget::Plan(const DatabaseOptions& options) {
  MemoryBudget plan;
  const uint64_t budget = options.memory_budget_bytes;
  if (budget == 0) {
    plan.vector_cache_bytes = options.vector_cache_bytes ? options.vector_cache_bytes : limits::kVectorCacheBytesDefault;
    return plan;
  }
  if (budget < kBytesMin || budget > kBytesMax) {
    return Status::InvalidArgument("DatabaseOptions::memory_budget_bytes (--memory-budget-mib) is " + Mib(budget) +
                                   ": it must be 0 (no budget) or at least " + Mib(kBytesMin));
  }
  if (!options.cold_vectors) {
    return Status::InvalidArgument(
        "DatabaseOptions::cold_vectors is false (--keep-vectors-in-ram), which keeps every vector in RAM: it "
        "cannot hold a memory budget (--memory-budget-mib); drop one of the two");
  }
  if (options.vector_cache_bytes > budget / 2) {
    return Status::InvalidArgument("DatabaseOptions::vector_cache_bytes (--vector-cache-mib) is " +
                                   Mib(options.vector_cache_bytes) + ", more than half the memory budget of " +
                                   Mib(budget) + ": lower it, or leave it 0 to take a quarter of the budget");
  }
  plan.budget_bytes = budget;
  plan.vector_cache_bytes = options.vector_cache_bytes ? options.vector_cache_bytes : budget / kVectorCacheShareInverse;
  plan.cold_approximations = false;
  plan.hot_vector_bytes_max = std::min<uint64_t>(budget / kHotVectorsShareInverse, limits::kColdPartBytesMax);
  plan.resident_share_bytes = budget - plan.vector_cache_bytes - plan.hot_vector_bytes_max;
  return plan;
}

MemoryBudget MemoryBudget::Resolve(const DatabaseOptions& options) {
  Result<MemoryBudget> plan = Plan(options);
  if (plan.ok()) return *plan;
  DatabaseOptions unbounded = options;
  unbounded.memory_budget_bytes = 0;
  return *Plan(unbounded);  // cannot fail without a budget
}

}  // namespace fathom
