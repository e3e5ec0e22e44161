// Int8Matrix: vectors quantized to int8 with one f32 scale per row, kept in RAM as the
// first re-rank stage of a two-stage search (IvfSearchOptions::exact): a quarter of the
// f32 bytes, close enough to rank a few hundred candidates, while the full f32 vectors
// stay on disk and are read only for the final k * refine_factor rows.
//
// Row i is stored as q_ij = round(127 * x_ij / s_i) with s_i = max_j |x_ij| (0 for an
// all-zero row), so the reconstruction error of a coordinate is at most s_i / 254 and
// there is no range limit (unlike f16). Decoding is branch-free and vectorizes.
//
// Ownership: Int8Matrix owns its codes; Int8MatrixSource borrows the matrix and maps a
// slot to a row through an optional slot -> row table (a collection's slots are sparse).
// Thread-safety: immutable after construction; Fetch only writes the caller's scratch.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fathom/status.h"
#include "index/vector/kmeans.h"
#include "index/vector/vector_source.h"

namespace fathom {

class Int8Matrix {
 public:
  // InvalidArgument for non-finite values or dim 0.
  static Result<Int8Matrix> Quantize(MatrixView vectors);

  size_t rows() const { return scales_.size(); }
  uint32_t dim() const { return dim_; }
  // Writes the dim() reconstructed floats of `row` to `out`.
  void Decode(size_t row, float* out) const { DecodeRow(codes_.data() + row * dim_, scales_[row], dim_, out); }

  // One row's codes, scale (the stored scale is s_i / 127) and error (an upper bound on
  // |row - decoded row|, L2); false for a non-finite value. Shared with collections'
  // cold rows (db/vector_column.h).
  static bool QuantizeRow(const float* row, uint32_t dim, int8_t* codes, float* scale, float* error);
  static void DecodeRow(const int8_t* codes, float scale, uint32_t dim, float* out) {
    for (uint32_t d = 0; d < dim; ++d) out[d] = static_cast<float>(codes[d]) * scale;
  }
  // The worst case of a row's error: each coordinate is off by at most half a step
  // (scale / 2). `scale` is the stored one. QuantizeRow's error is at most this, and
  // about sqrt(3) times smaller on typical rows (rounding errors spread uniformly).
  static float WorstRowError(float scale, uint32_t dim) { return 0.5f * scale * std::sqrt(static_cast<float>(dim)); }
  // An upper bound on |x - Decode(row)| (L2), as QuantizeRow computed it.
  float ErrorBound(size_t row) const { return errors_[row]; }
  size_t MemoryBytes() const {
    return codes_.capacity() + (scales_.capacity() + errors_.capacity()) * sizeof(float);
  }

 private:
  uint32_t dim_ = 0;
  std::vector<int8_t> codes_;   // rows x dim
  std::vector<float> scales_;   // per row: s_i / 127
  std::vector<float> errors_;   // per row: upper bound on the reconstruction error (L2)
};

// Slot i is row i of the matrix.
class Int8MatrixSource final : public VectorSource {
 public:
  explicit Int8MatrixSource(const Int8Matrix& matrix) : matrix_(matrix) {}
  uint32_t dim() const override { return matrix_.dim(); }
  const float* Fetch(uint32_t slot, float* scratch) const override {
    if (slot >= matrix_.rows()) return nullptr;
    matrix_.Decode(slot, scratch);
    return scratch;
  }
  float ApproximationError(uint32_t slot) const override {
    return slot < matrix_.rows() ? matrix_.ErrorBound(slot) : 0.0f;
  }

 private:
  const Int8Matrix& matrix_;
};

}  // namespace fathom
