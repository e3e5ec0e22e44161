// The RaBitQ scan kernel compiled for AVX2 + POPCNT (this file gets -mavx2 -mfma, which
// with GCC also enables POPCNT); the scalar build's __builtin_popcountll is a software
// routine, several times slower. Chosen at run time by rabitq.cc.
#include <cstddef>
#include <cstdint>

#include "index/vector/rabitq.h"

namespace fathom {

namespace {

// Same loop as rabitq.cc's scalar one (see the note there on why it is repeated).
// Specialized for common word counts so the inner loop is fully unrolled.
template <uint32_t kWords>
void EstimateLoopAvx2(const RabitqQuery& q, uint32_t runtime_words, const uint64_t* codes, const float* add,
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

namespace rabitq_kernels {

void EstimateAvx2(const RabitqQuery& query, uint32_t words, const uint64_t* codes, const float* add,
                  const float* rescale, const uint32_t* rows, size_t count, float* out) {
  switch (words) {
    case 2:
      return EstimateLoopAvx2<2>(query, words, codes, add, rescale, rows, count, out);
    case 3:
      return EstimateLoopAvx2<3>(query, words, codes, add, rescale, rows, count, out);
    case 4:
      return EstimateLoopAvx2<4>(query, words, codes, add, rescale, rows, count, out);
    case 12:
      return EstimateLoopAvx2<12>(query, words, codes, add, rescale, rows, count, out);
    case 13:
      return EstimateLoopAvx2<13>(query, words, codes, add, rescale, rows, count, out);
    default:
      return EstimateLoopAvx2<0>(query, words, codes, add, rescale, rows, count, out);
  }
}

}  // namespace rabitq_kernels

}  // namespace fathom
