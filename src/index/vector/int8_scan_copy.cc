#include "index/vector/int8_scan_copy.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/assert.h"
#include "index/vector/distance.h"
#include "index/vector/int8_matrix.h"

namespace fathom {

void Int8ScanCopy::Reset(uint32_t dim) {
  dim_ = dim;
  rows_ = 0;
  codes_.clear();
  scale_.clear();
  error_.clear();
  norm_.clear();
  present_.clear();
  max_error_ = 0.0f;
  min_norm_ = std::numeric_limits<float>::infinity();
}

void Int8ScanCopy::Grow(size_t slots) {
  if (slots <= present_.size()) return;
  codes_.resize(slots * dim_);
  scale_.resize(slots);
  error_.resize(slots);
  norm_.resize(slots);
  present_.resize(slots, 0);
}

void Int8ScanCopy::Set(uint32_t slot, const float* row) {
  Grow(size_t{slot} + 1);
  int8_t* codes = codes_.data() + size_t{slot} * dim_;
  float scale = 0.0f, error = 0.0f;
  bool ok = Int8Matrix::QuantizeRow(row, dim_, codes, &scale, &error);
  float norm = 0.0f;
  if (ok) {
    decoded_.resize(dim_);  // allocates once, not per row
    Int8Matrix::DecodeRow(codes, scale, dim_, decoded_.data());
    norm = std::sqrt(DotProduct(decoded_.data(), decoded_.data(), dim_));
    ok = norm > error;
  }
  if (!ok) {
    Drop(slot);
    return;
  }
  if (!present_[slot]) ++rows_;
  present_[slot] = 1;
  scale_[slot] = scale;
  error_[slot] = error;
  norm_[slot] = norm;
  max_error_ = std::max(max_error_, error);
  min_norm_ = std::min(min_norm_, norm);
}

void Int8ScanCopy::Drop(uint32_t slot) {
  if (!Has(slot)) return;
  present_[slot] = 0;
  --rows_;
}

void Int8ScanCopy::Renumber(const std::vector<uint32_t>& old_to_new, size_t new_slots) {
  Int8ScanCopy moved;
  moved.Reset(dim_);
  moved.Grow(new_slots);
  for (size_t from = 0; from < present_.size() && from < old_to_new.size(); ++from) {
    const uint32_t to = old_to_new[from];
    if (!present_[from] || to == kGone) continue;
    FATHOM_CHECK(to < new_slots);
    std::copy_n(codes_.data() + from * dim_, dim_, moved.codes_.data() + size_t{to} * dim_);
    moved.scale_[to] = scale_[from];
    moved.error_[to] = error_[from];
    moved.norm_[to] = norm_[from];
    moved.present_[to] = 1;
    ++moved.rows_;
  }
  moved.max_error_ = max_error_;
  moved.min_norm_ = min_norm_;
  *this = std::move(moved);
}

float Int8ScanCopy::Distance(DistanceSpace space, const float* query, float query_norm, uint32_t slot) const {
  const int8_t* codes = codes_.data() + size_t{slot} * dim_;
  switch (space) {
    case DistanceSpace::kL2:
      return L2SquaredInt8(query, codes, scale_[slot], dim_);
    case DistanceSpace::kInnerProduct:
      return 1.0f - scale_[slot] * DotProductInt8(query, codes, dim_);
    case DistanceSpace::kCosine: {
      const float denom = query_norm * norm_[slot];
      if (denom == 0.0f) return 1.0f;
      return 1.0f - scale_[slot] * DotProductInt8(query, codes, dim_) / denom;
    }
  }
  return 0.0f;
}

size_t Int8ScanCopy::MemoryBytes() const {
  return codes_.capacity() +
         (scale_.capacity() + error_.capacity() + norm_.capacity() + decoded_.capacity()) * sizeof(float) +
         present_.capacity();
}

}  // namespace fathom
