#include "index/vector/int8_matrix.h"

#include <algorithm>
#include <cmath>

namespace fathom {

bool Int8Matrix::QuantizeRow(const float* row, uint32_t dim, int8_t* codes, float* scale, float* error) {
  float max_abs = 0.0f;
  for (uint32_t d = 0; d < dim; ++d) {
    if (!std::isfinite(row[d])) return false;
    max_abs = std::max(max_abs, std::fabs(row[d]));
  }
  const float inverse = max_abs > 0.0f ? 127.0f / max_abs : 0.0f;
  for (uint32_t d = 0; d < dim; ++d) {
    codes[d] = static_cast<int8_t>(std::clamp(std::lround(row[d] * inverse), -127l, 127l));
  }
  *scale = max_abs / 127.0f;
  // |x - decoded| exactly as DecodeRow reconstructs, in double, rounded up a little so
  // float rounding on either side never makes it an underestimate.
  double sum = 0.0;
  for (uint32_t d = 0; d < dim; ++d) {
    const double diff = double{row[d]} - double{static_cast<float>(codes[d]) * *scale};
    sum += diff * diff;
  }
  *error = static_cast<float>(std::sqrt(sum) * (1.0 + 1e-5)) + max_abs * 1e-7f;
  return true;
}

Result<Int8Matrix> Int8Matrix::Quantize(MatrixView vectors) {
  if (vectors.dim == 0) return Status::InvalidArgument("int8 matrix: dimension 0");
  Int8Matrix m;
  m.dim_ = vectors.dim;
  m.codes_.resize(vectors.rows * vectors.dim);
  m.scales_.resize(vectors.rows);
  m.errors_.resize(vectors.rows);
  for (size_t i = 0; i < vectors.rows; ++i) {
    if (!QuantizeRow(vectors.Row(i), vectors.dim, m.codes_.data() + i * vectors.dim, &m.scales_[i],
                     &m.errors_[i])) {
      return Status::InvalidArgument("int8 matrix: vectors must be finite");
    }
  }
  return m;
}

}  // namespace fathom
