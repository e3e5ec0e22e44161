#include "db/roaring_bitset.h"

#include <roaring/containers/containers.h>
#include <roaring/roaring_version.h>

#include <algorithm>
#include <bit>
#include <cstring>

namespace fathom {

// The copy reads CRoaring's containers directly (0.2.x has no roaring_bitmap_to_bitset);
// their layout is that release's. A CRoaring upgrade must revisit this file (newer
// releases have roaring_bitmap_to_bitset, which does the same).
static_assert(ROARING_VERSION_MAJOR == 0 && ROARING_VERSION_MINOR == 2,
              "roaring_bitset.cc reads CRoaring 0.2.x containers; use roaring_bitmap_to_bitset on newer releases");

namespace {

constexpr size_t kContainerBits = 65536;
constexpr size_t kContainerWords = kContainerBits / 64;

}  // namespace

size_t RoaringToBitset(const Roaring& bitmap, uint64_t* words, size_t word_count) {
  const roaring_array_t& array = bitmap.roaring.high_low_container;
  size_t written = 0;
  for (int32_t i = 0; i < array.size; ++i) {
    const size_t first_word = size_t{array.keys[i]} * kContainerWords;
    if (first_word >= word_count) break;  // keys are sorted
    const size_t span = std::min(kContainerWords, word_count - first_word);
    uint64_t* out = words + first_word;
    uint8_t type = array.typecodes[i];
    const void* container = array.containers[i];
    if (type == SHARED_CONTAINER_TYPE_CODE) {
      const auto* shared = static_cast<const shared_container_t*>(container);
      type = shared->typecode;
      container = shared->container;
    }
    switch (type) {
      case BITSET_CONTAINER_TYPE_CODE: {
        const auto* c = static_cast<const bitset_container_t*>(container);
        // The output is all zero, so a whole container is a copy, counted by the
        // container's own cardinality (a popcount per word here is a libgcc call: this
        // file is built for baseline x86-64, without POPCNT).
        if (span == kContainerWords && c->cardinality >= 0) {
          std::memcpy(out, c->array, kContainerWords * sizeof(uint64_t));
          written += static_cast<size_t>(c->cardinality);
          break;
        }
        for (size_t w = 0; w < span; ++w) {
          out[w] |= c->array[w];
          written += static_cast<size_t>(std::popcount(c->array[w]));
        }
        break;
      }
      case ARRAY_CONTAINER_TYPE_CODE: {
        const auto* c = static_cast<const array_container_t*>(container);
        for (int32_t j = 0; j < c->cardinality; ++j) {
          const uint16_t low = c->array[j];
          if (low / 64 >= span) break;  // sorted
          out[low / 64] |= uint64_t{1} << (low % 64);
          ++written;
        }
        break;
      }
      case RUN_CONTAINER_TYPE_CODE: {
        const auto* c = static_cast<const run_container_t*>(container);
        for (int32_t j = 0; j < c->n_runs; ++j) {
          const size_t begin = c->runs[j].value;
          const size_t end = std::min(begin + c->runs[j].length + 1, span * 64);  // exclusive
          for (size_t bit = begin; bit < end;) {
            // Whole words at once where the run covers them.
            const size_t w = bit / 64, offset = bit % 64;
            const size_t take = std::min<size_t>(64 - offset, end - bit);
            const uint64_t mask = take == 64 ? ~uint64_t{0} : ((uint64_t{1} << take) - 1) << offset;
            out[w] |= mask;
            written += take;
            bit += take;
          }
        }
        break;
      }
      default:
        // Not a container type of this release: fall back to the members one by one.
        for (auto it = bitmap.begin(); it != bitmap.end(); ++it) {
          if (*it / 64 >= word_count) break;
          words[*it / 64] |= uint64_t{1} << (*it % 64);
          ++written;
        }
        return written;
    }
  }
  return written;
}

}  // namespace fathom
