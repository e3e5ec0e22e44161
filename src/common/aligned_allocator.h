// AlignedAllocator: std::allocator with a fixed alignment, for SIMD-scanned arrays
// (64 bytes: a cache line, and the width of an AVX-512 register).
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>

namespace fathom {

template <typename T, size_t Alignment = 64>
struct AlignedAllocator {
  using value_type = T;
  template <typename U>
  struct rebind {
    using other = AlignedAllocator<U, Alignment>;
  };
  AlignedAllocator() = default;
  template <typename U>
  AlignedAllocator(const AlignedAllocator<U, Alignment>&) {}  // NOLINT

  T* allocate(size_t n) {
    size_t bytes = (n * sizeof(T) + Alignment - 1) / Alignment * Alignment;
    void* p = std::aligned_alloc(Alignment, bytes == 0 ? Alignment : bytes);
    if (p == nullptr) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t) { std::free(p); }
  template <typename U>
  bool operator==(const AlignedAllocator<U, Alignment>&) const { return true; }
};

}  // namespace fathom
