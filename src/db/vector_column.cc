#include "db/vector_column.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "common/assert.h"
#include "index/vector/distance.h"
#include "index/vector/int8_matrix.h"
#include "index/vector/vector_source.h"
#include "io/commit_object.h"
#include "io/random_reader.h"

namespace fathom {

void VectorColumn::Reserve(size_t extra_slots) {
  const size_t want = loc_.size() + extra_slots;
  if (want <= loc_.capacity()) return;
  const size_t grown = std::max(want, loc_.capacity() * 2);  // geometric across batches
  loc_.reserve(grown);
  norms_.reserve(grown);
}

const VectorColumn::PartEntry* VectorColumn::FindPart(uint32_t seq) const {
  auto it = std::lower_bound(parts_.begin(), parts_.end(), seq,
                             [](const PartEntry& e, uint32_t s) { return e.seq < s; });
  FATHOM_CHECK(it != parts_.end() && it->seq == seq);
  return &*it;
}

VectorColumn::PartEntry* VectorColumn::FindPart(uint32_t seq) {
  return const_cast<PartEntry*>(static_cast<const VectorColumn*>(this)->FindPart(seq));
}

uint32_t VectorColumn::AllocHot(uint32_t slot) {
  uint32_t hot;
  if (!hot_free_.empty()) {
    hot = hot_free_.back();
    hot_free_.pop_back();
    hot_slot_[hot] = slot;
  } else {
    hot = static_cast<uint32_t>(hot_slot_.size());
    hot_slot_.push_back(slot);
    hot_.resize(hot_.size() + dim_);
  }
  ++hot_live_;
  return hot;
}

void VectorColumn::Clear(size_t slot) {
  const uint64_t loc = loc_[slot];
  if (loc == kNone) return;
  if (loc & kColdBit) {
    --FindPart(static_cast<uint32_t>((loc & ~kColdBit) >> 32))->live;
    --cold_live_;
  } else {
    hot_slot_[loc] = kNoSlot;
    hot_free_.push_back(static_cast<uint32_t>(loc));
    --hot_live_;
  }
  loc_[slot] = kNone;
}

void VectorColumn::SetHot(size_t slot, const float* v) {
  Clear(slot);
  const uint32_t hot = AllocHot(static_cast<uint32_t>(slot));
  std::memcpy(HotRow(hot), v, size_t{dim_} * sizeof(float));
  loc_[slot] = hot;
  norms_[slot] = std::sqrt(DotProduct(v, v, dim_));
}

void VectorColumn::SetCold(size_t slot, PartEntry& entry, uint32_t row, const float* v) {
  Clear(slot);
  ColdPart& part = *entry.part;
  if (part.approximations && !Int8Matrix::QuantizeRow(v, dim_, part.codes.data() + size_t{row} * dim_, &part.scales[row],
                               &part.errors[row])) {
    FATHOM_CHECK(false);  // embeddings are validated finite before they reach the table
  }
  loc_[slot] = ColdLoc(entry.seq, row);
  ++entry.live;
  ++cold_live_;
  norms_[slot] = std::sqrt(DotProduct(v, v, dim_));
}

void VectorColumn::Append(const float* v) {
  loc_.push_back(kNone);
  norms_.push_back(0.0f);
  SetHot(loc_.size() - 1, v);
}

void VectorColumn::Set(size_t slot, const float* v) {
  SetHot(slot, v);
  ForgetEmptyParts();
}

void VectorColumn::Release(size_t slot) {
  Clear(slot);
  ForgetEmptyParts();
  MaybeCompactHot();
}

void VectorColumn::ForgetEmptyParts() {
  // Not while loading: a part's rows are matched one by one and it starts at zero.
  if (load_map_.empty()) std::erase_if(parts_, [](const PartEntry& e) { return e.live == 0; });
}

void VectorColumn::Renumber(const std::vector<uint32_t>& renumbered, size_t new_slots) {
  ++generation_;
  for (size_t slot = 0; slot < renumbered.size() && slot < loc_.size(); ++slot) {
    if (renumbered[slot] == kNoSlot) Clear(slot);
  }
  for (size_t slot = 0; slot < renumbered.size() && slot < loc_.size(); ++slot) {
    const uint32_t to = renumbered[slot];
    if (to == kNoSlot) continue;
    FATHOM_CHECK(to <= slot);
    loc_[to] = loc_[slot];
    norms_[to] = norms_[slot];
    if (loc_[to] != kNone && !(loc_[to] & kColdBit)) hot_slot_[loc_[to]] = to;
  }
  loc_.resize(new_slots);
  loc_.shrink_to_fit();
  norms_.resize(new_slots);
  norms_.shrink_to_fit();
  std::erase_if(parts_, [](const PartEntry& e) { return e.live == 0; });
  MaybeCompactHot();
}

void VectorColumn::MaybeCompactHot() {
  const size_t rows = hot_slot_.size();
  if (hot_free_.size() < 1024 || hot_free_.size() * 2 < rows) return;
  size_t out = 0;
  for (size_t hot = 0; hot < rows; ++hot) {
    const uint32_t slot = hot_slot_[hot];
    if (slot == kNoSlot) continue;
    if (out != hot) {
      std::memcpy(HotRow(static_cast<uint32_t>(out)), HotRow(static_cast<uint32_t>(hot)),
                  size_t{dim_} * sizeof(float));
      hot_slot_[out] = slot;
      loc_[slot] = out;
    }
    ++out;
  }
  hot_slot_.resize(out);
  hot_slot_.shrink_to_fit();
  hot_.resize(out * dim_);
  hot_.shrink_to_fit();
  hot_free_.clear();
  hot_free_.shrink_to_fit();
}

const float* VectorColumn::Approx(size_t slot, float* scratch) const {
  const uint64_t loc = loc_[slot];
  if (!(loc & kColdBit)) return HotRow(static_cast<uint32_t>(loc));
  const ColdPart& part = *FindPart(static_cast<uint32_t>((loc & ~kColdBit) >> 32))->part;
  FATHOM_DCHECK(part.approximations);
  const uint32_t row = static_cast<uint32_t>(loc);
  Int8Matrix::DecodeRow(part.codes.data() + size_t{row} * dim_, part.scales[row], dim_, scratch);
  return scratch;
}

const int8_t* VectorColumn::ColdCodes(size_t slot, float* scale) const {
  const uint64_t loc = loc_[slot];
  if (!(loc & kColdBit)) return nullptr;
  const ColdPart& part = *FindPart(static_cast<uint32_t>((loc & ~kColdBit) >> 32))->part;
  if (!part.approximations) return nullptr;
  const uint32_t row = static_cast<uint32_t>(loc);
  *scale = part.scales[row];
  return part.codes.data() + size_t{row} * dim_;
}

void VectorColumn::PrefetchToCache(size_t slot) const {
  const uint64_t loc = loc_[slot];
  if (!(loc & kColdBit)) {
    PrefetchLines(HotRow(static_cast<uint32_t>(loc)), size_t{dim_} * sizeof(float));
    return;
  }
  const ColdPart& part = *FindPart(static_cast<uint32_t>((loc & ~kColdBit) >> 32))->part;
  if (!part.approximations) return;
  PrefetchLines(part.codes.data() + size_t{static_cast<uint32_t>(loc)} * dim_, dim_);
}

float VectorColumn::ApproxError(size_t slot) const {
  const uint64_t loc = loc_[slot];
  if (!(loc & kColdBit)) return 0.0f;
  const ColdPart& part = *FindPart(static_cast<uint32_t>((loc & ~kColdBit) >> 32))->part;
  // Without a copy there is no approximation to bound; callers ask only with copies.
  if (!part.approximations) return std::numeric_limits<float>::infinity();
  return part.errors[static_cast<uint32_t>(loc)];
}

const float* VectorColumn::Exact(size_t slot, float* scratch, Status* status) const {
  const uint64_t loc = loc_[slot];
  if (!(loc & kColdBit)) return HotRow(static_cast<uint32_t>(loc));
  const ColdPart& part = *FindPart(static_cast<uint32_t>((loc & ~kColdBit) >> 32))->part;
  Status s = part.file->FetchRow(static_cast<uint32_t>(loc), scratch);
  if (!s.ok()) {
    if (s.IsCorruption()) part.damaged.store(true);
    *status = std::move(s);
    return nullptr;
  }
  return scratch;
}

Status VectorColumn::ReadCold(const ColdRef& ref, float* out) {
  Status s = ref.part->file->FetchRow(ref.row, out);
  if (s.IsCorruption()) ref.part->damaged.store(true);
  return s;
}

void VectorColumn::PrefetchCold(const uint32_t* slots, size_t count) const {
  // The cold slots' rows, across parts, in one batch (one GetRanges call for an object
  // store): a search's candidates may live in several parts.
  thread_local std::vector<VectorFile::RowRef> rows;
  rows.clear();
  for (size_t i = 0; i < count; ++i) {
    if (slots[i] >= loc_.size() || !is_cold(slots[i])) continue;
    const uint64_t loc = loc_[slots[i]];
    rows.push_back({FindPart(static_cast<uint32_t>((loc & ~kColdBit) >> 32))->part->file.get(),
                    static_cast<uint32_t>(loc)});
  }
  // A single missing block gains nothing from a batch: Exact reads it.
  VectorFile::PrefetchRows(rows.data(), rows.size(), 2);
}

std::optional<VectorColumn::ColdRef> VectorColumn::cold_ref(size_t slot) const {
  const uint64_t loc = loc_[slot];
  if (loc == kNone || !(loc & kColdBit)) return std::nullopt;
  return ColdRef{FindPart(static_cast<uint32_t>((loc & ~kColdBit) >> 32))->part, static_cast<uint32_t>(loc)};
}

std::vector<std::shared_ptr<const ColdPart>> VectorColumn::parts() const {
  std::vector<std::shared_ptr<const ColdPart>> out;
  for (const PartEntry& e : parts_) out.push_back(e.part);
  return out;
}

size_t VectorColumn::MemoryBytes() const {
  size_t bytes = loc_.capacity() * sizeof(uint64_t) + norms_.capacity() * sizeof(float) +
                 hot_.capacity() * sizeof(float) + (hot_slot_.capacity() + hot_free_.capacity()) * sizeof(uint32_t);
  for (const PartEntry& e : parts_) {
    bytes += e.part->codes.capacity() + (e.part->scales.capacity() + e.part->errors.capacity()) * sizeof(float);
  }
  return bytes;
}

// ---- spilling

Result<std::shared_ptr<ColdPart>> VectorColumn::OpenPart(const std::shared_ptr<ObjectStore>& store,
                                                         const std::string& key, const std::string& id,
                                                         BlockCache* cache, uint32_t dim, uint64_t size_bytes,
                                                         bool approximations, VectorFileOpening opening) {
  FATHOM_ASSIGN_OR_RETURN(std::unique_ptr<RandomReader> reader,
                          OpenObjectReader(store, key, size_bytes != 0 ? std::optional<uint64_t>(size_bytes)
                                                                       : std::nullopt));
  auto part = std::make_shared<ColdPart>();
  part->id = id;
  part->size_bytes = reader->size();
  FATHOM_ASSIGN_OR_RETURN(part->file, VectorFile::Open(std::move(reader), cache, std::move(opening)));
  if (part->file->dim() != dim) return Status::Corruption(key + ": dimension disagrees with the collection");
  if (!part->file->has_row_tags()) return Status::Corruption(key + ": no row tags");
  part->approximations = approximations;
  if (approximations) {
    part->codes.assign(part->file->rows() * dim, 0);
    part->scales.assign(part->file->rows(), 0.0f);
    part->errors.assign(part->file->rows(), 0.0f);
  }
  return part;
}

void VectorColumn::ReorderPlan(const std::vector<size_t>& order, SpillPlan* plan) {
  FATHOM_CHECK(order.size() == plan->slots.size());
  const size_t dim = plan->slots.empty() ? 0 : plan->vectors.size() / plan->slots.size();
  SpillPlan out;
  out.generation = plan->generation;
  out.slots.reserve(order.size());
  out.tags.reserve(order.size());
  out.vectors.reserve(plan->vectors.size());
  std::vector<uint8_t> seen(order.size(), 0);
  for (size_t i : order) {
    FATHOM_CHECK(i < order.size() && !seen[i]);  // a permutation
    seen[i] = 1;
    out.slots.push_back(plan->slots[i]);
    out.tags.push_back(plan->tags[i]);
    out.vectors.insert(out.vectors.end(), plan->vectors.begin() + i * dim, plan->vectors.begin() + (i + 1) * dim);
  }
  *plan = std::move(out);
}

Result<std::shared_ptr<ColdPart>> VectorColumn::WritePart(const std::shared_ptr<ObjectStore>& store,
                                                          const std::string& key, const std::string& id,
                                                          BlockCache* cache, uint32_t dim, const SpillPlan& plan,
                                                          bool approximations) {
  const MatrixView rows{plan.vectors.data(), plan.slots.size(), dim};
  FATHOM_ASSIGN_OR_RETURN(std::string bytes, VectorFile::Encode(rows, plan.tags.data()));
  FATHOM_RETURN_IF_ERROR(CommitObject(*store, key, bytes));
  const uint64_t size_bytes = bytes.size();
  bytes = {};
  return OpenPart(store, key, id, cache, dim, size_bytes, approximations);
}

void VectorColumn::AdoptPartKind(const ColdPart& part) {
  // One DatabaseOptions opens every part of a column, so they all agree.
  FATHOM_CHECK(parts_.empty() || part.approximations == cold_approximations_);
  cold_approximations_ = part.approximations;
}

size_t VectorColumn::InstallPart(std::shared_ptr<ColdPart> part, const SpillPlan& plan) {
  if (plan.generation != generation_) return 0;
  AdoptPartKind(*part);
  parts_.push_back(PartEntry{next_seq_++, std::move(part), 0});
  PartEntry& entry = parts_.back();
  size_t moved = 0;
  for (size_t i = 0; i < plan.slots.size(); ++i) {
    const uint32_t slot = plan.slots[i];
    const float* planned = plan.vectors.data() + i * dim_;
    if (slot >= loc_.size() || loc_[slot] == kNone || (loc_[slot] & kColdBit)) continue;
    if (std::memcmp(HotRow(static_cast<uint32_t>(loc_[slot])), planned, size_t{dim_} * sizeof(float)) != 0) continue;
    SetCold(slot, entry, static_cast<uint32_t>(i), planned);
    ++moved;
  }
  std::erase_if(parts_, [](const PartEntry& e) { return e.live == 0; });
  MaybeCompactHot();
  return moved;
}

std::shared_ptr<const ColdPart> VectorColumn::PartToDrop(bool all) const {
  for (const PartEntry& e : parts_) {
    if (all || e.live * 2 < e.part->rows()) return e.part;
  }
  return nullptr;
}

Status VectorColumn::ReadPart(const ColdPart& part, std::vector<float>* rows) {
  rows->resize(size_t{part.rows()} * part.file->dim());
  Status s = part.file->ReadRows(0, part.rows(), rows->data());
  if (s.IsCorruption()) part.damaged.store(true);
  return s;
}

std::shared_ptr<const ColdPart> VectorColumn::DamagedPart() const {
  for (const PartEntry& e : parts_) {
    if (e.part->damaged.load()) return e.part;
  }
  return nullptr;
}

std::vector<std::pair<uint32_t, uint32_t>> VectorColumn::SlotsOf(const ColdPart* part) const {
  std::vector<std::pair<uint32_t, uint32_t>> out;
  auto it = std::find_if(parts_.begin(), parts_.end(), [&](const PartEntry& e) { return e.part.get() == part; });
  if (it == parts_.end()) return out;
  for (size_t slot = 0; slot < loc_.size() && out.size() < it->live; ++slot) {
    const uint64_t loc = loc_[slot];
    if (loc == kNone || !(loc & kColdBit) || static_cast<uint32_t>((loc & ~kColdBit) >> 32) != it->seq) continue;
    out.emplace_back(static_cast<uint32_t>(slot), static_cast<uint32_t>(loc));
  }
  return out;
}

void VectorColumn::DropPart(const ColdPart* part, const std::vector<float>& rows) {
  auto it = std::find_if(parts_.begin(), parts_.end(), [&](const PartEntry& e) { return e.part.get() == part; });
  if (it == parts_.end()) return;
  const uint32_t seq = it->seq;
  for (size_t slot = 0; slot < loc_.size() && it->live > 0; ++slot) {
    const uint64_t loc = loc_[slot];
    if (loc == kNone || !(loc & kColdBit) || static_cast<uint32_t>((loc & ~kColdBit) >> 32) != seq) continue;
    SetHot(slot, rows.data() + size_t{static_cast<uint32_t>(loc)} * dim_);
  }
  std::erase_if(parts_, [](const PartEntry& e) { return e.live == 0; });
}

// ---- open

Status VectorColumn::BeginLoad(std::shared_ptr<ColdPart> part) {
  std::vector<uint64_t> tags, hashes;
  FATHOM_RETURN_IF_ERROR(part->file->ReadRowTags(&tags, &hashes));
  AdoptPartKind(*part);
  const uint32_t seq = next_seq_++;
  for (uint32_t row = 0; row < tags.size(); ++row) load_map_[tags[row]] = LoadEntry{seq, row, hashes[row]};
  parts_.push_back(PartEntry{seq, std::move(part), 0});
  return Status::Ok();
}

void VectorColumn::LoadRow(size_t slot, const float* v, uint64_t tag) {
  if (slot == loc_.size()) {
    loc_.push_back(kNone);
    norms_.push_back(0.0f);
  }
  if (!load_map_.empty()) {
    auto it = load_map_.find(tag);
    if (it != load_map_.end() && it->second.hash == VectorFile::RowHash(v, dim_)) {
      SetCold(slot, *FindPart(it->second.seq), it->second.row, v);
      return;
    }
  }
  SetHot(slot, v);
}

void VectorColumn::EndLoad() {
  load_map_ = {};
  std::erase_if(parts_, [](const PartEntry& e) { return e.live == 0; });
  MaybeCompactHot();
}

}  // namespace fathom
