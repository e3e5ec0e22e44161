#include "io/uring_reads.h"

#include <liburing.h>

#include <algorithm>
#include <cerrno>

namespace fathom {

namespace {

// Requests in flight per submission; larger batches are split.
constexpr unsigned kRingEntries = 64;

struct ThreadRing {
  io_uring ring{};
  bool tried = false;
  bool ready = false;
  ~ThreadRing() {
    if (ready) io_uring_queue_exit(&ring);
  }
  // The ring, or nullptr where io_uring is unavailable (tried once per thread).
  io_uring* Get() {
    if (!tried) {
      tried = true;
      ready = io_uring_queue_init(kRingEntries, &ring, 0) == 0;
    }
    return ready ? &ring : nullptr;
  }
  // After an error the ring's state is unknown: stop using it (pread from now on).
  void Abandon() {
    if (ready) io_uring_queue_exit(&ring);
    ready = false;
  }
};

thread_local ThreadRing t_ring;

}  // namespace

bool UringReadMany(int fd, const ReadRequest* requests, size_t count, int64_t* results) {
  io_uring* ring = t_ring.Get();
  if (ring == nullptr) return false;
  std::fill(results, results + count, -EAGAIN);
  for (size_t begin = 0; begin < count; begin += kRingEntries) {
    const size_t n = std::min<size_t>(kRingEntries, count - begin);
    for (size_t i = begin; i < begin + n; ++i) {
      io_uring_sqe* sqe = io_uring_get_sqe(ring);
      if (sqe == nullptr) {  // cannot happen with an empty ring of kRingEntries; stay safe
        t_ring.Abandon();
        return false;
      }
      io_uring_prep_read(sqe, fd, requests[i].dst, static_cast<unsigned>(requests[i].length), requests[i].offset);
      io_uring_sqe_set_data64(sqe, i);
    }
    int submitted;
    do {
      submitted = io_uring_submit(ring);
    } while (submitted == -EINTR);
    if (submitted < 0) {
      // Nothing of this batch is in flight; earlier batches are complete.
      t_ring.Abandon();
      return true;
    }
    for (int reaped = 0; reaped < submitted;) {
      io_uring_cqe* cqe = nullptr;
      const int ret = io_uring_wait_cqe(ring, &cqe);
      if (ret == -EINTR) continue;
      if (ret < 0) {
        // Not expected (the ring is healthy and the CQ cannot overflow). Closing the ring
        // cancels what is still in flight; those requests report -EIO.
        t_ring.Abandon();
        for (size_t i = begin; i < begin + n; ++i) {
          if (results[i] == -EAGAIN) results[i] = -EIO;
        }
        return true;
      }
      const uint64_t i = io_uring_cqe_get_data64(cqe);
      if (i >= begin && i < begin + n) results[i] = cqe->res;
      io_uring_cqe_seen(ring, cqe);
      ++reaped;
    }
    if (static_cast<size_t>(submitted) < n) {  // the rest report -EAGAIN
      t_ring.Abandon();
      return true;
    }
  }
  return true;
}

}  // namespace fathom
