// NumberColumn's walk in slot order (the sorted blocks behind paged range reads) against
// a model: random bulk loads, adds and removes of ints and floats, through rebuilds, then
// random ranges walked whole and stopped early, and counted. Prints its seed.
#include "index/meta/number_column.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <tuple>

#include "test_util.h"

namespace fathom {
namespace {

class NumberColumnWalkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    seed_ = testing::SeedForTest("NumberColumnWalkTest");
    rng_.seed(seed_);
  }
  size_t Below(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }

  // A value from a few repeated ones (long runs of equal values across blocks) or a wide
  // spread, int or float.
  std::pair<bool, long double> RandomValue() {
    const bool is_int = Below(2) == 0;
    const long double v = Below(3) == 0 ? static_cast<long double>(Below(5)) : static_cast<long double>(Below(100000));
    return {is_int, is_int ? v : v + 0.5L * static_cast<long double>(Below(2))};
  }
  void Add(bool is_int, long double v, uint32_t slot, bool bulk) {
    if (is_int) {
      bulk ? column_.BulkAdd(static_cast<int64_t>(v), slot) : column_.Add(static_cast<int64_t>(v), slot);
    } else {
      bulk ? column_.BulkAdd(static_cast<double>(v), slot) : column_.Add(static_cast<double>(v), slot);
    }
    model_.insert({slot, {is_int, v}});
  }
  void RemoveRandom() {
    if (model_.empty()) return;
    auto it = model_.begin();
    std::advance(it, static_cast<long>(Below(model_.size())));
    const auto [slot, value] = *it;
    if (value.first) {
      column_.Remove(static_cast<int64_t>(value.second), slot);
    } else {
      column_.Remove(static_cast<double>(value.second), slot);
    }
    model_.erase(it);
  }
  NumberRange RandomRange() {
    NumberRange r;
    if (Below(4) != 0) r.lo = NumberBound{RandomValue().second, Below(2) == 0};
    if (Below(4) != 0) r.hi = NumberBound{r.lo ? r.lo->value + static_cast<long double>(Below(40000)) : RandomValue().second,
                                          Below(2) == 0};
    return r;
  }
  void CheckRanges(int rounds) {
    for (int i = 0; i < rounds; ++i) {
      const NumberRange range = RandomRange();
      std::set<uint32_t> expected_set;
      for (const auto& [slot, value] : model_) {
        if (range.Contains(value.second)) expected_set.insert(slot);
      }
      const std::vector<uint32_t> expected(expected_set.begin(), expected_set.end());
      // Count is exact in entries: one per distinct (slot, int or float, value).
      std::set<std::tuple<uint32_t, bool, long double>> entries;
      for (const auto& [slot, value] : model_) {
        if (range.Contains(value.second)) entries.insert({slot, value.first, value.second});
      }
      ASSERT_EQ(column_.Count(range), entries.size()) << "seed " << seed_ << " round " << i;
      std::vector<uint32_t> got;
      column_.ForEachInSlotOrder(range, [&](uint32_t slot) {
        got.push_back(slot);
        return true;
      });
      ASSERT_EQ(got, expected) << "seed " << seed_ << " round " << i;
      const size_t stop = Below(50) + 1;
      std::vector<uint32_t> first;
      column_.ForEachInSlotOrder(range, [&](uint32_t slot) {
        first.push_back(slot);
        return first.size() < stop;
      });
      const std::vector<uint32_t> want(expected.begin(), expected.begin() + static_cast<long>(std::min(stop, expected.size())));
      ASSERT_EQ(first, want) << "seed " << seed_ << " round " << i;
    }
  }

  uint64_t seed_ = 0;
  std::mt19937_64 rng_;
  NumberColumn column_;
  std::multimap<uint32_t, std::pair<bool, long double>> model_;  // slot -> (is int, value)
};

TEST_F(NumberColumnWalkTest, SlotOrderWalkEqualsModelThroughChangesAndRebuilds) {
  // Bulk load; a slot may hold several values (an array's elements).
  uint32_t next_slot = 0;
  for (; next_slot < 6000; ++next_slot) {
    const size_t values = Below(5) == 0 ? 2 : 1;
    std::set<std::pair<bool, long double>> distinct;
    for (size_t k = 0; k < values; ++k) distinct.insert(RandomValue());
    for (const auto& [is_int, v] : distinct) Add(is_int, v, next_slot, /*bulk=*/true);
  }
  column_.Seal();
  CheckRanges(60);
  if (HasFatalFailure()) return;
  // Changes: removes mark block entries gone, adds go to the recent buffer; enough of
  // them rebuild the run (and its blocks) several times.
  for (int step = 0; step < 8; ++step) {
    for (int i = 0; i < 700; ++i) {
      if (Below(2) == 0) {
        RemoveRandom();
      } else {
        const auto [is_int, v] = RandomValue();
        const uint32_t slot = Below(3) == 0 ? static_cast<uint32_t>(Below(next_slot)) : next_slot++;
        bool present = false;
        for (auto [it, end] = model_.equal_range(slot); it != end; ++it) present = present || it->second == std::make_pair(is_int, v);
        if (!present) Add(is_int, v, slot, /*bulk=*/false);
      }
    }
    CheckRanges(40);
    if (HasFatalFailure()) return;
  }
  column_.Seal();
  CheckRanges(40);
}

}  // namespace
}  // namespace fathom
