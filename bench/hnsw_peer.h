// hnswlib as a benchmark peer (M=16, ef_construction=200, as the issues fix it): build
// with N threads and count the memory it keeps resident, the same way in every bench.
#pragma once

#include <hnswlib/hnswlib.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "fathom/types.h"

namespace bench {

struct HnswPeer {
  std::unique_ptr<hnswlib::L2Space> l2;
  std::unique_ptr<hnswlib::InnerProductSpace> ip;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> index;

  // Its level-0 block (which embeds a copy of every vector), upper-level links and the
  // label map.
  size_t MemoryBytes() const {
    const size_t rows = index->cur_element_count;
    size_t bytes = index->max_elements_ * index->size_data_per_element_;
    for (size_t i = 0; i < rows; ++i) {
      bytes += index->element_levels_[i] * index->size_links_per_element_ + sizeof(void*) + sizeof(int);
    }
    constexpr size_t kHashEntryBytes = 32;  // unordered_map node + bucket, label -> id
    return bytes + rows * kHashEntryBytes;
  }
};

// l2 or ip (cosine data should be normalized by the caller and use ip).
inline HnswPeer BuildHnsw(const float* base, size_t rows, uint32_t dim, fathom::DistanceSpace space, int threads,
                          uint64_t seed) {
  HnswPeer peer;
  hnswlib::SpaceInterface<float>* s;
  if (space == fathom::DistanceSpace::kL2) {
    peer.l2 = std::make_unique<hnswlib::L2Space>(dim);
    s = peer.l2.get();
  } else {
    peer.ip = std::make_unique<hnswlib::InnerProductSpace>(dim);
    s = peer.ip.get();
  }
  peer.index = std::make_unique<hnswlib::HierarchicalNSW<float>>(s, rows, 16, 200, seed);
  std::atomic<size_t> next{0};
  auto add = [&] {
    for (size_t i = next++; i < rows; i = next++) peer.index->addPoint(base + i * dim, i);
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(add);
  add();
  for (auto& t : pool) t.join();
  return peer;
}

}  // namespace bench
