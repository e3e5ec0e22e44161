// VectorColumn: a collection's embeddings by record-table slot, in two tiers, so a large
// collection's full vectors need not be resident (DESIGN.md sections 2 and 3; design in
// docs/design/cold-vectors.md).
//
// - Hot: f32 rows in RAM. Every new or changed embedding starts hot.
// - Cold: rows spilled to immutable cold parts, VectorFile objects with row tags
//   (index/vector/vector_file.h; docs/format/vector_file.md) at c/<collection>/vcold/
//   <id>.vec, read on demand through the database's BlockCache. RAM keeps per cold row
//   an int8 approximation (Int8Matrix::QuantizeRow), unless the parts are opened without
//   approximations (a memory budget: DatabaseOptions::memory_budget_bytes), and every
//   slot's norm.
//
// Exact(slot) gives the f32 row (read from the part for a cold row); Approx(slot) gives
// the int8 reconstruction of a cold row and the exact row of a hot one. Searches rank
// candidates with Approx and re-score the best of them with Exact, so the distances they
// return are always exact. Without approximations (cold_approximations() false) Approx
// must not be asked for a cold row: searches read cold rows exactly, in batches
// (docs/design/cold-vectors.md, "Without int8 copies").
//
// A part is written by a spill (PlanSpill under the owner's shared lock, WritePart with
// no lock, InstallPart under the exclusive lock) and left by its rows one by one as they
// change or die. Once fewer than half its rows are referenced, PlanDrop + DropPart read
// the rest back into the hot tier and forget the part (the next spill writes them
// again). At open, rows are matched to the parts the manifest names by (record offset,
// XXH3 of the row's bytes): BeginLoad, LoadRow, EndLoad.
//
// Thread-safety: none of its own; the owner (RecordTable, inside CollectionImpl)
// serialises writers against readers. Parts are immutable once installed and shared, so
// a ColdRef taken under the lock may be read after it is released.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/aligned_allocator.h"
#include "fathom/status.h"
#include "index/vector/vector_file.h"
#include "io/object_store.h"
#include "storage/block_cache.h"

namespace fathom {

// One cold part: its object and (unless opened without them) the int8 approximations of
// its rows.
struct ColdPart {
  std::string id;  // object c/<collection>/vcold/<id>.vec
  uint64_t size_bytes = 0;
  std::unique_ptr<VectorFile> file;
  // Whether codes / scales / errors are kept (rows x dim + 8 bytes a row); empty when not.
  bool approximations = true;
  std::vector<int8_t> codes;  // rows x dim; meaningful for rows a slot refers to
  std::vector<float> scales;  // per row: max |x| / 127
  std::vector<float> errors;  // per row: bound on |x - decoded| (Int8Matrix::QuantizeRow)
  // A read found bad bytes: the owner repairs the rows from the log and drops the part.
  mutable std::atomic<bool> damaged{false};
  uint32_t rows() const { return static_cast<uint32_t>(file->rows()); }
};

class VectorColumn {
 public:
  static constexpr uint32_t kNoSlot = UINT32_MAX;

  uint32_t dim() const { return dim_; }
  void set_dim(uint32_t dim) { dim_ = dim; }
  size_t slots() const { return loc_.size(); }
  void Reserve(size_t extra_slots);

  // ---- writes (the owner's exclusive lock) ----
  void Append(const float* v);             // a new last slot, hot
  void Set(size_t slot, const float* v);   // the slot's vector becomes this (hot)
  void Release(size_t slot);               // the slot died: its storage is freed
  // Follows RecordTable::MaybeShrink (old slot -> new slot or kNoSlot).
  void Renumber(const std::vector<uint32_t>& renumbered, size_t new_slots);

  // ---- reads (the owner's shared lock) ----
  float norm(size_t slot) const { return norms_[slot]; }
  bool is_cold(size_t slot) const { return (loc_[slot] & kColdBit) != 0 && loc_[slot] != kNone; }
  // Whether cold rows have int8 approximations in RAM: false once a part opened without
  // them is in use (every part of a column is opened the same way: one DatabaseOptions).
  bool cold_approximations() const { return cold_approximations_; }
  // The exact row of a hot slot, or the int8 reconstruction (into `scratch`) of a cold one
  // (only with cold_approximations()).
  const float* Approx(size_t slot, float* scratch) const;
  // The int8 codes Approx(slot) decodes (scale into *scale) for a cold slot with
  // approximations; null for a hot slot.
  const int8_t* ColdCodes(size_t slot, float* scale) const;
  // A CPU cache hint for the bytes Approx(slot) will read (hot row or int8 code row).
  void PrefetchToCache(size_t slot) const;
  // A CPU cache hint for the slot's own entries (where its row is, its norm), which
  // PrefetchToCache reads: issued earlier, it keeps that read from missing.
  void PrefetchLocation(size_t slot) const {
    __builtin_prefetch(&loc_[slot], 0, 3);
    __builtin_prefetch(&norms_[slot], 0, 3);
  }
  // An upper bound on |exact - Approx(slot)| (L2): 0 for a hot slot.
  float ApproxError(size_t slot) const;
  // The exact row: RAM for a hot slot, read into `scratch` for a cold one. nullptr (and
  // `*status` set) when the read fails.
  const float* Exact(size_t slot, float* scratch, Status* status) const;

  // Reads ahead the blocks of the cold rows among `slots` (hot and dead slots are
  // skipped) in one batch across parts (VectorFile::PrefetchRows: one GetRanges call
  // to an object store), so the Exact calls that follow hit the block cache. A hint:
  // failures are left to Exact.
  void PrefetchCold(const uint32_t* slots, size_t count) const;

  struct ColdRef {
    std::shared_ptr<const ColdPart> part;
    uint32_t row = 0;
  };
  // Where a cold slot's row lives (nullopt for a hot or dead slot); readable after the
  // lock is released with ReadCold.
  std::optional<ColdRef> cold_ref(size_t slot) const;
  static Status ReadCold(const ColdRef& ref, float* out);

  size_t hot_rows() const { return hot_live_; }
  size_t cold_rows() const { return cold_live_; }
  // The parts in use, oldest first (a manifest lists them).
  std::vector<std::shared_ptr<const ColdPart>> parts() const;
  // Bytes this column holds in RAM (excluding the shared block cache).
  size_t MemoryBytes() const;

  // ---- spilling ----
  struct SpillPlan {
    uint64_t generation = 0;
    std::vector<uint32_t> slots;
    std::vector<float> vectors;  // slots.size() x dim
    std::vector<uint64_t> tags;  // the rows' record offsets
  };
  // Up to `max_rows` hot slots for which `eligible(slot)` holds, in slot order, with
  // copies of their vectors and `tag_of(slot)` tags.
  template <typename Eligible, typename TagOf>
  SpillPlan PlanSpill(Eligible eligible, TagOf tag_of, size_t max_rows) const {
    SpillPlan plan;
    plan.generation = generation_;
    for (size_t slot = 0; slot < loc_.size() && plan.slots.size() < max_rows; ++slot) {
      if (loc_[slot] == kNone || (loc_[slot] & kColdBit) || !eligible(static_cast<uint32_t>(slot))) continue;
      plan.slots.push_back(static_cast<uint32_t>(slot));
      const float* v = HotRow(static_cast<uint32_t>(loc_[slot]));
      plan.vectors.insert(plan.vectors.end(), v, v + dim_);
      plan.tags.push_back(tag_of(slot));
    }
    return plan;
  }
  // Reorders the plan's rows: row i becomes the plan's row order[i] (order is a
  // permutation of the plan's positions).
  static void ReorderPlan(const std::vector<size_t>& order, SpillPlan* plan);
  // Writes the plan's rows as a new part object `key` (create-only) and opens it for
  // reading through `cache` (with int8 approximations of its rows when `approximations`).
  // No lock needed.
  static Result<std::shared_ptr<ColdPart>> WritePart(const std::shared_ptr<ObjectStore>& store,
                                                     const std::string& key, const std::string& id,
                                                     BlockCache* cache, uint32_t dim, const SpillPlan& plan,
                                                     bool approximations = true);
  // Slots of the plan that still hold the same vector (and were not renumbered) move to
  // the part. Returns how many did; a part that took none is not kept.
  size_t InstallPart(std::shared_ptr<ColdPart> part, const SpillPlan& plan);

  // A part a read found damaged (ColdPart::damaged), or null.
  std::shared_ptr<const ColdPart> DamagedPart() const;
  // The slots referring to `part`, with the part's row each refers to.
  std::vector<std::pair<uint32_t, uint32_t>> SlotsOf(const ColdPart* part) const;

  // A part with fewer than half its rows referenced (any part when `all`), or null.
  std::shared_ptr<const ColdPart> PartToDrop(bool all) const;
  // Every row of `part`, read with no lock (part->rows() x dim floats).
  static Status ReadPart(const ColdPart& part, std::vector<float>* rows);
  // Slots still referring to `part` become hot from `rows` (ReadPart's result); the
  // part is forgotten.
  void DropPart(const ColdPart* part, const std::vector<float>& rows);

  // ---- open ----
  // Opens part object `key` (written by WritePart) for reading through `cache`.
  // `size_bytes` (0: unknown, asked of the store) is the object's size as the manifest
  // records it. `approximations`: keep int8 copies of the rows that become cold (dim + 8
  // bytes of RAM a row), or none (searches then read cold rows exactly). `opening`: its
  // header and row tags read ahead in one batch with the other parts'
  // (VectorFile::ReadOpenings).
  static Result<std::shared_ptr<ColdPart>> OpenPart(const std::shared_ptr<ObjectStore>& store, const std::string& key,
                                                    const std::string& id, BlockCache* cache, uint32_t dim,
                                                    uint64_t size_bytes = 0, bool approximations = true,
                                                    VectorFileOpening opening = {});
  // Makes an opened part available to LoadRow (parts oldest first: a later part's row
  // wins for a tag both hold). Nothing changes on error.
  Status BeginLoad(std::shared_ptr<ColdPart> part);
  // Append (slot == slots()) or Set a loaded row: cold at once when a part holds exactly
  // this vector under `tag`.
  void LoadRow(size_t slot, const float* v, uint64_t tag);
  // Forgets parts no row refers to, and the lookup tables.
  void EndLoad();

 private:
  static constexpr uint64_t kNone = UINT64_MAX;
  static constexpr uint64_t kColdBit = uint64_t{1} << 63;

  struct PartEntry {
    uint32_t seq;
    std::shared_ptr<ColdPart> part;
    size_t live = 0;
  };
  static uint64_t ColdLoc(uint32_t seq, uint32_t row) { return kColdBit | (uint64_t{seq} << 32) | row; }
  const PartEntry* FindPart(uint32_t seq) const;
  PartEntry* FindPart(uint32_t seq);
  const float* HotRow(uint32_t hot) const { return hot_.data() + size_t{hot} * dim_; }
  float* HotRow(uint32_t hot) { return hot_.data() + size_t{hot} * dim_; }
  uint32_t AllocHot(uint32_t slot);
  // Frees whatever the slot holds (hot row or cold reference).
  void Clear(size_t slot);
  void SetHot(size_t slot, const float* v);
  void SetCold(size_t slot, PartEntry& entry, uint32_t row, const float* v);
  void ForgetEmptyParts();
  // Packs the hot rows when at least half of them are free.
  void MaybeCompactHot();

  // Takes the part's kind (with or without approximations) for the column.
  void AdoptPartKind(const ColdPart& part);

  uint32_t dim_ = 0;
  bool cold_approximations_ = true;
  std::vector<uint64_t> loc_;  // per slot: hot row, cold (part seq, row) or kNone
  std::vector<float> norms_;
  std::vector<float, AlignedAllocator<float>> hot_;  // hot rows
  std::vector<uint32_t> hot_slot_;                   // hot row -> slot (kNoSlot = free)
  std::vector<uint32_t> hot_free_;
  size_t hot_live_ = 0;
  size_t cold_live_ = 0;
  std::vector<PartEntry> parts_;  // by seq
  uint32_t next_seq_ = 0;
  uint64_t generation_ = 0;  // bumped by Renumber
  struct LoadEntry {
    uint32_t seq, row;
    uint64_t hash;
  };
  std::unordered_map<uint64_t, LoadEntry> load_map_;  // tag -> newest part row (open only)
};

}  // namespace fathom
