// UringReadMany: positioned reads of one file submitted together through io_uring, so a
// batch of random reads (the block-cache misses of one vector query) costs one system
// call instead of one pread each. On the 2-core VM this project is measured on, a system
// call costs about 1 us and a 4 KiB pread from the page cache 2.3 us; seven such reads
// took 10.8 us through io_uring against 17.8 us with pread
// (docs/design/vector-index.md).
//
// Each thread keeps its own ring, created on first use and closed when the thread ends,
// so concurrent callers never share submission state.
//
// Thread-safety: safe from many threads at once.
#pragma once

#include <cstddef>
#include <cstdint>

#include "io/random_reader.h"

namespace fathom {

// Reads each request's range of `fd` into its dst (statuses are left to the caller) and
// sets results[i] to the bytes request i read (possibly fewer than asked: the caller finishes a short
// read) or -errno. Returns false, having set nothing, when io_uring cannot be used here
// (kernel without it, disabled by sysctl or a seccomp policy); the caller then reads
// with pread. A request the ring could not submit reports -EAGAIN.
bool UringReadMany(int fd, const ReadRequest* requests, size_t count, int64_t* results);

}  // namespace fathom
