#include "index/vector/int8_matrix.h"

#include <algorithm>
#include <cmath>

namespace fathom {

Result<Int8Matrix> Int8Matrix::Quantize(MatrixView vectors) {
  if (vectors.dim == 0) return Status::InvalidArgument("int8 matrix: dimension 0");
  Int8Matrix m;
  m.dim_ = vectors.dim;
  m.codes_.resize(vectors.rows * vectors.dim);
  m.scales_.resize(vectors.rows);
  for (size_t i = 0; i < vectors.rows; ++i) {
    const float* row = vectors.Row(i);
    float max_abs = 0.0f;
    for (uint32_t d = 0; d < vectors.dim; ++d) {
      if (!std::isfinite(row[d])) return Status::InvalidArgument("int8 matrix: vectors must be finite");
      max_abs = std::max(max_abs, std::fabs(row[d]));
    }
    const float inverse = max_abs > 0.0f ? 127.0f / max_abs : 0.0f;
    int8_t* out = m.codes_.data() + i * vectors.dim;
    for (uint32_t d = 0; d < vectors.dim; ++d) {
      out[d] = static_cast<int8_t>(std::clamp(std::lround(row[d] * inverse), -127l, 127l));
    }
    m.scales_[i] = max_abs / 127.0f;
  }
  return m;
}

void Int8Matrix::Decode(size_t row, float* out) const {
  const int8_t* codes = codes_.data() + row * dim_;
  const float scale = scales_[row];
  for (uint32_t d = 0; d < dim_; ++d) out[d] = static_cast<float>(codes[d]) * scale;
}

}  // namespace fathom
