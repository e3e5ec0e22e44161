// The RaBitQ code-scan loop, included by rabitq.cc (baseline build) and rabitq_avx2.cc
// (compiled with -mavx2, which also enables hardware POPCNT). It sits in an anonymous
// namespace so each file gets its own copy compiled for its instruction set; a shared
// inline function would be one definition chosen by the linker for both (an ODR break).
#pragma once

#include <cstddef>
#include <cstdint>

#include "index/vector/rabitq.h"

namespace fathom {
namespace {

template <uint32_t kWords>
void EstimateLoop(const RabitqQuery& q, uint32_t runtime_words, const uint64_t* codes, const float* add,
                         const float* rescale, const uint32_t* rows, size_t count, float* out) {
  const uint32_t words = kWords != 0 ? kWords : runtime_words;
  const uint64_t* planes = q.planes.data();
  for (size_t i = 0; i < count; ++i) {
    const size_t row = rows == nullptr ? i : rows[i];
    const uint64_t* code = codes + row * words;
    uint64_t plane_sum[4] = {0, 0, 0, 0};
    uint64_t ones = 0;
    for (uint32_t w = 0; w < words; ++w) {
      const uint64_t c = code[w];
      ones += static_cast<uint64_t>(__builtin_popcountll(c));
      for (int j = 0; j < 4; ++j) plane_sum[j] += static_cast<uint64_t>(__builtin_popcountll(c & planes[w * 4 + j]));
    }
    const uint64_t ip = plane_sum[0] + 2 * plane_sum[1] + 4 * plane_sum[2] + 8 * plane_sum[3];
    const float inner = q.ip_scale * static_cast<float>(ip) + q.popcount_scale * static_cast<float>(ones) + q.offset;
    out[i] = add[row] + q.residual_norm_sq + rescale[row] * inner;
  }
}

}  // namespace
}  // namespace fathom
