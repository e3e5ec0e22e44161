// Int8ScanCopy: int8 copies of a collection's rows by slot (Int8Matrix::QuantizeRow: one
// scale per row, |x - decoded| bounded per row), for the first pass of an exact scan.
//
// When calibration finds that IVF cannot beat a scan of every row (high intrinsic
// dimension, e.g. uniform random data), a query scans every row. Over f32 rows that scan
// is bound by memory bandwidth (100k x 64-d is 25.6 MB per query); the copies are a
// quarter of those bytes. The scan (int8_first_pass.h, Int8FirstPassSearch) ranks every
// row by its copy, re-scores the best from the exact rows in order of a lower bound
// (bounded_rescore.h), then checks with max_error() and min_norm() that no row it left out
// could have entered the top k; when the check fails it scans the f32 rows. So the answer
// is always the exact scan's. docs/design/recall-calibration.md, "Int8 first pass".
//
// Thread-safety: const methods are safe concurrently; changes need exclusive access.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "fathom/types.h"

namespace fathom {

class Int8ScanCopy {
 public:
  // Forgets every row and takes rows of `dim` from now on.
  void Reset(uint32_t dim);
  uint32_t dim() const { return dim_; }
  // Rows stored.
  size_t rows() const { return rows_; }

  // Stores `row` (dim() floats) as slot's copy, or drops the slot's copy when the row
  // cannot be bounded (a non-finite value, or a norm not above its error, whose cosine
  // direction the copy does not know).
  void Set(uint32_t slot, const float* row);
  void Drop(uint32_t slot);
  bool Has(uint32_t slot) const { return slot < present_.size() && present_[slot] != 0; }

  // Moves every copy from slot s to old_to_new[s] (kGone: dropped); new_slots is the new
  // slot count.
  static constexpr uint32_t kGone = UINT32_MAX;
  void Renumber(const std::vector<uint32_t>& old_to_new, size_t new_slots);

  // SpaceDistance between the query and slot's copy (Has(slot) must hold); for cosine
  // the copy's own norm, approx_norm(slot), is the row norm.
  float Distance(DistanceSpace space, const float* query, float query_norm, uint32_t slot) const;
  // An upper bound on |row - copy| (L2), and |copy|.
  float error(uint32_t slot) const { return error_[slot]; }
  float approx_norm(uint32_t slot) const { return norm_[slot]; }
  // Bounds over every row stored since the last Reset (not lowered when rows leave, so
  // they are conservative): the largest error and the smallest copy norm.
  float max_error() const { return max_error_; }
  float min_norm() const { return min_norm_; }

  size_t MemoryBytes() const;

 private:
  void Grow(size_t slots);

  uint32_t dim_ = 0;
  size_t rows_ = 0;
  std::vector<int8_t> codes_;     // slots x dim
  std::vector<float> scale_;      // Int8Matrix's stored scale
  std::vector<float> error_;
  std::vector<float> norm_;
  std::vector<uint8_t> present_;  // 1: the slot has a copy
  float max_error_ = 0.0f;
  float min_norm_ = std::numeric_limits<float>::infinity();
  // Set's scratch: the decoded copy whose norm it takes (dim floats, kept so that a Set,
  // once per row written, allocates nothing).
  std::vector<float> decoded_;
};

}  // namespace fathom
