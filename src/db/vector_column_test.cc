// VectorColumn: hot rows in RAM, cold rows in parts (int8 in RAM, f32 read back from the
// store), spills, part drops, matching at open, and bad part bytes.
#include "db/vector_column.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <numeric>
#include <vector>

#include "common/random.h"
#include "io/mem_store.h"
#include "test_util.h"

namespace fathom {
namespace {

constexpr uint32_t kDim = 16;

class VectorColumnTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Rng rng(testing::SeedForTest(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    for (size_t i = 0; i < 300; ++i) {
      std::vector<float> v(kDim);
      for (float& x : v) x = static_cast<float>(rng.Gaussian());
      rows_.push_back(std::move(v));
    }
    column_.set_dim(kDim);
    for (const auto& v : rows_) column_.Append(v.data());
  }

  // Spills every hot slot for which `eligible` holds into one part; returns rows moved.
  template <typename Eligible>
  size_t Spill(Eligible eligible, std::string* key = nullptr) {
    VectorColumn::SpillPlan plan =
        column_.PlanSpill(eligible, [](size_t slot) { return uint64_t{slot} * 10; }, SIZE_MAX);
    const std::string id = "part" + std::to_string(parts_written_++);
    const std::string k = "c/x/vcold/" + id + ".vec";
    if (key) *key = k;
    auto part = VectorColumn::WritePart(store_, k, id, &cache_, kDim, plan);
    EXPECT_TRUE(part.ok()) << part.status().ToString();
    return part.ok() ? column_.InstallPart(std::move(*part), plan) : 0;
  }

  void ExpectExact(size_t slot, const std::vector<float>& want) {
    std::vector<float> scratch(kDim);
    Status status;
    const float* v = column_.Exact(slot, scratch.data(), &status);
    ASSERT_NE(v, nullptr) << status.ToString();
    EXPECT_EQ(std::memcmp(v, want.data(), kDim * sizeof(float)), 0) << "slot " << slot;
    // The approximation is within the int8 step of every coordinate.
    const float* a = column_.Approx(slot, scratch.data());
    float max_abs = 0;
    for (float x : want) max_abs = std::max(max_abs, std::fabs(x));
    for (uint32_t d = 0; d < kDim; ++d) EXPECT_NEAR(a[d], want[d], max_abs / 254 + 1e-6) << "slot " << slot;
    EXPECT_NEAR(column_.norm(slot), std::sqrt(std::inner_product(want.begin(), want.end(), want.begin(), 0.0f)),
                1e-4);
  }

  std::shared_ptr<MemStore> store_ = std::make_shared<MemStore>();
  BlockCache cache_{1 << 16, 4096};
  VectorColumn column_;
  std::vector<std::vector<float>> rows_;
  int parts_written_ = 0;
};

TEST_F(VectorColumnTest, HotRowsAreExact) {
  EXPECT_EQ(column_.hot_rows(), 300u);
  EXPECT_EQ(column_.cold_rows(), 0u);
  for (size_t slot = 0; slot < rows_.size(); ++slot) ExpectExact(slot, rows_[slot]);
  column_.Set(5, rows_[6].data());
  ExpectExact(5, rows_[6]);
  column_.Release(7);
  EXPECT_EQ(column_.hot_rows(), 299u);
}

TEST_F(VectorColumnTest, SpilledRowsAreReadBackExactly) {
  EXPECT_EQ(Spill([](uint32_t slot) { return slot % 3 != 0; }), 200u);
  EXPECT_EQ(column_.cold_rows(), 200u);
  EXPECT_EQ(column_.hot_rows(), 100u);
  EXPECT_EQ(column_.parts().size(), 1u);
  for (size_t slot = 0; slot < rows_.size(); ++slot) {
    EXPECT_EQ(column_.is_cold(slot), slot % 3 != 0);
    ExpectExact(slot, rows_[slot]);
  }
  // A cold row written again is hot; one released leaves a hole in its part.
  column_.Set(1, rows_[0].data());
  EXPECT_FALSE(column_.is_cold(1));
  ExpectExact(1, rows_[0]);
  column_.Release(2);
  EXPECT_EQ(column_.cold_rows(), 198u);
  // Renumbering keeps every row where it moved.
  std::vector<uint32_t> renumbered(rows_.size());
  uint32_t next = 0;
  for (size_t slot = 0; slot < rows_.size(); ++slot) renumbered[slot] = slot == 2 ? VectorColumn::kNoSlot : next++;
  column_.Renumber(renumbered, next);
  ExpectExact(1, rows_[0]);
  for (size_t slot = 3; slot < rows_.size(); ++slot) ExpectExact(slot - 1, rows_[slot]);
}

// ColdCodes gives what Approx decodes: a cold row's int8 codes and scale, none for a hot row.
TEST_F(VectorColumnTest, ColdCodesAreWhatApproxDecodes) {
  ASSERT_EQ(Spill([](uint32_t slot) { return slot % 2 == 0; }), 150u);
  std::vector<float> scratch(kDim);
  for (size_t slot = 0; slot < rows_.size(); ++slot) {
    float scale = -1.0f;
    const int8_t* codes = column_.ColdCodes(slot, &scale);
    if (slot % 2 != 0) {
      EXPECT_EQ(codes, nullptr) << slot;
      continue;
    }
    ASSERT_NE(codes, nullptr) << slot;
    const float* approx = column_.Approx(slot, scratch.data());
    for (size_t d = 0; d < kDim; ++d) EXPECT_EQ(approx[d], scale * static_cast<float>(codes[d])) << slot << " " << d;
  }
}

// PrefetchCold reads the blocks of cold rows ahead, one batch per part; the Exact calls
// that follow are block-cache hits. Hot, dead and out-of-range slots are skipped.
TEST_F(VectorColumnTest, PrefetchColdReadsAheadPerPart) {
  ASSERT_EQ(Spill([](uint32_t slot) { return slot < 150; }), 150u);
  ASSERT_EQ(Spill([](uint32_t slot) { return slot >= 150 && slot < 280; }), 130u);
  column_.Release(5);
  std::vector<uint32_t> slots;
  for (uint32_t slot = 0; slot < 300; slot += 7) slots.push_back(slot);  // both parts and hot rows
  slots.push_back(5);
  slots.push_back(100000);
  column_.PrefetchCold(slots.data(), slots.size());
  const auto parts = column_.parts();
  ASSERT_EQ(parts.size(), 2u);
  for (const auto& part : parts) {
    EXPECT_GE(part->file->stats().prefetched, 2u) << part->id;
    EXPECT_EQ(part->file->stats().misses, 0u) << part->id;
  }
  for (uint32_t slot : slots) {
    if (slot < 300 && slot != 5) ExpectExact(slot, rows_[slot]);
  }
  for (const auto& part : parts) EXPECT_EQ(part->file->stats().misses, 0u) << part->id;
}

// A reordered plan writes its rows in the new order; every slot still reads its own row.
TEST_F(VectorColumnTest, ReorderedPlanKeepsRowsWithTheirSlots) {
  VectorColumn::SpillPlan plan = column_.PlanSpill([](uint32_t slot) { return slot % 2 == 0; },
                                                   [](size_t slot) { return uint64_t{slot} + 7; }, 100);
  ASSERT_EQ(plan.slots.size(), 100u);
  std::vector<size_t> order(plan.slots.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = order.size() - 1 - i;
  VectorColumn::ReorderPlan(order, &plan);
  EXPECT_EQ(plan.slots.front(), 198u);
  EXPECT_EQ(plan.tags.front(), 205u);
  auto part = VectorColumn::WritePart(store_, "c/x/vcold/r.vec", "r", &cache_, kDim, plan);
  ASSERT_TRUE(part.ok()) << part.status().ToString();
  EXPECT_EQ(column_.InstallPart(std::move(*part), plan), 100u);
  const auto ref = column_.cold_ref(198);
  ASSERT_TRUE(ref.has_value());
  EXPECT_EQ(ref->row, 0u);
  for (size_t slot = 0; slot < rows_.size(); ++slot) ExpectExact(slot, rows_[slot]);
}

TEST_F(VectorColumnTest, InstallSkipsRowsChangedSincePlanned) {
  VectorColumn::SpillPlan plan = column_.PlanSpill([](uint32_t) { return true; },
                                                   [](size_t slot) { return uint64_t{slot}; }, 100);
  ASSERT_EQ(plan.slots.size(), 100u);
  column_.Set(10, rows_[200].data());  // changed after the plan
  column_.Release(11);                 // died after the plan
  auto part = VectorColumn::WritePart(store_, "c/x/vcold/p.vec", "p", &cache_, kDim, plan);
  ASSERT_TRUE(part.ok()) << part.status().ToString();
  EXPECT_EQ(column_.InstallPart(std::move(*part), plan), 98u);
  ExpectExact(10, rows_[200]);
  EXPECT_FALSE(column_.is_cold(10));
  // A renumbering between plan and install makes the install a no-op.
  plan = column_.PlanSpill([](uint32_t) { return true; }, [](size_t slot) { return uint64_t{slot}; }, 50);
  std::vector<uint32_t> identity(rows_.size());
  for (uint32_t i = 0; i < identity.size(); ++i) identity[i] = i;
  identity[11] = VectorColumn::kNoSlot;
  for (uint32_t i = 12; i < identity.size(); ++i) identity[i] = i - 1;
  column_.Renumber(identity, rows_.size() - 1);
  part = VectorColumn::WritePart(store_, "c/x/vcold/q.vec", "q", &cache_, kDim, plan);
  ASSERT_TRUE(part.ok());
  EXPECT_EQ(column_.InstallPart(std::move(*part), plan), 0u);
  EXPECT_EQ(column_.parts().size(), 1u);
}

TEST_F(VectorColumnTest, MostlyDeadPartsAreDroppedBackToRam) {
  ASSERT_EQ(Spill([](uint32_t) { return true; }), 300u);
  EXPECT_EQ(column_.PartToDrop(false), nullptr);
  for (size_t slot = 0; slot < 160; ++slot) column_.Release(slot);
  auto part = column_.PartToDrop(false);
  ASSERT_NE(part, nullptr);
  std::vector<float> rows;
  ASSERT_TRUE(VectorColumn::ReadPart(*part, &rows).ok());
  column_.DropPart(part.get(), rows);
  EXPECT_TRUE(column_.parts().empty());
  EXPECT_EQ(column_.cold_rows(), 0u);
  EXPECT_EQ(column_.hot_rows(), 140u);
  for (size_t slot = 160; slot < rows_.size(); ++slot) ExpectExact(slot, rows_[slot]);
  // A part every row left is forgotten at once.
  ASSERT_EQ(Spill([](uint32_t) { return true; }), 140u);
  for (size_t slot = 160; slot < rows_.size(); ++slot) column_.Release(slot);
  EXPECT_TRUE(column_.parts().empty());
}

TEST_F(VectorColumnTest, OpenMatchesRowsByTagAndContent) {
  std::string key;
  ASSERT_EQ(Spill([](uint32_t) { return true; }, &key), 300u);
  VectorColumn reopened;
  reopened.set_dim(kDim);
  auto part = VectorColumn::OpenPart(store_, key, "part0", &cache_, kDim);
  ASSERT_TRUE(part.ok()) << part.status().ToString();
  ASSERT_TRUE(reopened.BeginLoad(std::move(*part)).ok());
  for (size_t slot = 0; slot < rows_.size(); ++slot) {
    // Slot 4 holds another vector now, slot 5 another record (offset): both stay hot.
    const std::vector<float>& v = slot == 4 ? rows_[0] : rows_[slot];
    reopened.LoadRow(slot, v.data(), slot == 5 ? 999999 : uint64_t{slot} * 10);
  }
  reopened.EndLoad();
  EXPECT_EQ(reopened.cold_rows(), 298u);
  EXPECT_FALSE(reopened.is_cold(4));
  EXPECT_FALSE(reopened.is_cold(5));
  std::vector<float> scratch(kDim);
  Status status;
  for (size_t slot = 0; slot < rows_.size(); ++slot) {
    const std::vector<float>& want = slot == 4 ? rows_[0] : rows_[slot];
    const float* v = reopened.Exact(slot, scratch.data(), &status);
    ASSERT_NE(v, nullptr) << status.ToString();
    EXPECT_EQ(std::memcmp(v, want.data(), kDim * sizeof(float)), 0) << slot;
  }
  // A part of another dimension is refused.
  EXPECT_TRUE(VectorColumn::OpenPart(store_, key, "part0", &cache_, kDim + 1).status().IsCorruption());
}

// Parts without approximations (a memory budget): cold rows keep only their locator and
// norm in RAM, read back exactly; a part written either way opens either way.
TEST_F(VectorColumnTest, PartsWithoutApproximationsKeepNoCopies) {
  const size_t with_copies_before = column_.MemoryBytes();  // every row hot
  VectorColumn::SpillPlan plan =
      column_.PlanSpill([](uint32_t) { return true; }, [](size_t slot) { return uint64_t{slot} * 10; }, SIZE_MAX);
  auto part = VectorColumn::WritePart(store_, "c/x/vcold/n.vec", "n", &cache_, kDim, plan, /*approximations=*/false);
  ASSERT_TRUE(part.ok()) << part.status().ToString();
  EXPECT_FALSE((*part)->approximations);
  EXPECT_TRUE((*part)->codes.empty());
  EXPECT_EQ((*part)->rows(), 300u);
  ASSERT_EQ(column_.InstallPart(std::move(*part), plan), 300u);
  EXPECT_FALSE(column_.cold_approximations());
  EXPECT_EQ(column_.cold_rows(), 300u);
  // The part adds nothing to RAM (with copies it would add dim + 8 bytes a row); the hot
  // rows' freed storage is kept until enough is free (MaybeCompactHot), plus its free list.
  EXPECT_LE(column_.MemoryBytes(), with_copies_before + 300u * sizeof(uint32_t) * 2);
  std::vector<float> scratch(kDim);
  Status status;
  for (size_t slot = 0; slot < rows_.size(); ++slot) {
    const float* v = column_.Exact(slot, scratch.data(), &status);
    ASSERT_NE(v, nullptr) << status.ToString();
    EXPECT_EQ(std::memcmp(v, rows_[slot].data(), kDim * sizeof(float)), 0) << slot;
    EXPECT_NEAR(column_.norm(slot),
                std::sqrt(std::inner_product(rows_[slot].begin(), rows_[slot].end(), rows_[slot].begin(), 0.0f)),
                1e-4);
  }
  // The same object reopened with approximations: int8 copies again.
  VectorColumn reopened;
  reopened.set_dim(kDim);
  auto again = VectorColumn::OpenPart(store_, "c/x/vcold/n.vec", "n", &cache_, kDim, 0, /*approximations=*/true);
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(reopened.BeginLoad(std::move(*again)).ok());
  for (size_t slot = 0; slot < rows_.size(); ++slot) reopened.LoadRow(slot, rows_[slot].data(), uint64_t{slot} * 10);
  reopened.EndLoad();
  EXPECT_EQ(reopened.cold_rows(), 300u);
  EXPECT_TRUE(reopened.cold_approximations());
  EXPECT_GT(reopened.MemoryBytes(), 300u * kDim);
}

TEST_F(VectorColumnTest, DamagedPartBytesAreDetected) {
  std::string key;
  ASSERT_EQ(Spill([](uint32_t) { return true; }, &key), 300u);
  auto bytes = store_->Get(key, std::nullopt);
  ASSERT_TRUE(bytes.ok());
  // A flipped byte in the rows: reads of its block fail with Corruption, never a value.
  std::string bad = *bytes;
  bad[VectorFile::kHeaderBytes + 10] ^= 0x01;
  ASSERT_TRUE(store_->Put("c/x/vcold/bad.vec", bad, PutMode::kOverwrite).ok());
  auto part = VectorColumn::OpenPart(store_, "c/x/vcold/bad.vec", "bad", &cache_, kDim);
  ASSERT_TRUE(part.ok());
  std::vector<float> rows;
  EXPECT_TRUE(VectorColumn::ReadPart(**part, &rows).IsCorruption());
  float row[kDim];
  EXPECT_TRUE((*part)->file->FetchRow(0, row).IsCorruption());
  EXPECT_TRUE((*part)->file->FetchRow(299, row).ok());
  // A flipped byte in the row tags: BeginLoad refuses the part.
  bad = *bytes;
  bad[bad.size() - 20] ^= 0x01;
  ASSERT_TRUE(store_->Put("c/x/vcold/bad2.vec", bad, PutMode::kOverwrite).ok());
  part = VectorColumn::OpenPart(store_, "c/x/vcold/bad2.vec", "bad2", &cache_, kDim);
  ASSERT_TRUE(part.ok());
  VectorColumn other;
  other.set_dim(kDim);
  EXPECT_TRUE(other.BeginLoad(std::move(*part)).IsCorruption());
  EXPECT_TRUE(other.parts().empty());
  // Every truncation is refused at open.
  for (size_t len : std::vector<size_t>{0, 63, 64, bytes->size() / 2, bytes->size() - 1}) {
    ASSERT_TRUE(store_->Put("c/x/vcold/short.vec", bytes->substr(0, len), PutMode::kOverwrite).ok());
    EXPECT_TRUE(VectorColumn::OpenPart(store_, "c/x/vcold/short.vec", "s", &cache_, kDim).status().IsCorruption())
        << len;
  }
}

}  // namespace
}  // namespace fathom
