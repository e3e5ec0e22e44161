// TopK: keeps the k smallest (distance, slot) pairs seen, for exact scans and re-ranking.
// Ties break on the smaller slot, so results are deterministic. Not thread-safe.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

namespace fathom {

struct Hit {
  float distance;
  uint32_t slot;
};

inline bool HitLess(const Hit& a, const Hit& b) {
  return a.distance < b.distance || (a.distance == b.distance && a.slot < b.slot);
}

class TopK {
 public:
  explicit TopK(size_t k) : k_(k) { heap_.reserve(k); }
  size_t capacity() const { return k_; }

  // The distance a new hit must beat to enter (infinity while not full).
  float threshold() const {
    return heap_.size() < k_ ? std::numeric_limits<float>::infinity() : heap_.front().distance;
  }

  void Push(float distance, uint32_t slot) {
    if (k_ == 0) return;
    Hit hit{distance, slot};
    if (heap_.size() < k_) {
      heap_.push_back(hit);
      std::push_heap(heap_.begin(), heap_.end(), HitLess);
    } else if (HitLess(hit, heap_.front())) {
      std::pop_heap(heap_.begin(), heap_.end(), HitLess);
      heap_.back() = hit;
      std::push_heap(heap_.begin(), heap_.end(), HitLess);
    }
  }

  // The hits, nearest first. Leaves the collector empty.
  std::vector<Hit> Take() {
    std::sort_heap(heap_.begin(), heap_.end(), HitLess);
    return std::move(heap_);
  }

 private:
  size_t k_;
  std::vector<Hit> heap_;  // max-heap on HitLess: front is the worst kept hit
};

}  // namespace fathom
