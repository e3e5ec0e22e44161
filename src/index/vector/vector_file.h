// VectorFile: a VectorSource (vector_source.h) over fixed-size f32 rows in a local file
// or an object store object (io/random_reader.h), read on demand one block at a time
// through a bounded BlockCache (storage/block_cache.h), so the full-precision vectors of
// an IVF index or a collection need not be resident (DESIGN.md sections 2 and 3). Byte
// layout: docs/format/vector_file.md.
//
// A file may carry a row tags section: per row a caller-chosen u64 tag and the XXH3-64 of
// the row's bytes, readable without the rows (a collection matches its rows to a file's
// by record offset and content hash at open; db/vector_column.h).
//
// The file is a checksummed header followed by blocks of whole rows, each block followed
// by the XXH3 of its bytes. Fetch(slot) copies the row out of the cached block, or reads
// and verifies the block, caches it and copies the row. Bad bytes, short reads (the file
// truncated under us) and read errors make Fetch return nullptr and are counted
// (Stats); they never crash. Open rejects a file whose header or size is wrong with
// Corruption.
//
// Ownership: VectorFile owns its reader; the BlockCache is borrowed and must
// outlive it (several files may share one cache; each keys its blocks with its own id
// and drops them on destruction). Thread-safety: Fetch, Prefetch and stats are safe from
// many threads at once.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "fathom/status.h"
#include "index/vector/kmeans.h"
#include "index/vector/vector_source.h"
#include "io/random_reader.h"
#include "storage/block_cache.h"

namespace fathom {

// The bytes VectorFile::Open reads before any row (the header) and the row tags section,
// read ahead by the caller (ReadOpenings) so that opening many files costs one batch.
// Empty strings: not read ahead (Open reads them itself).
struct VectorFileOpening {
  std::string header;
  std::string row_tags;
};

namespace vector_file_limits {
// A block holds max(1, kBlockBytesTarget / row bytes) whole rows, so one row is one read.
inline constexpr size_t kBlockBytesDefault = 4096;
inline constexpr size_t kBlockBytesMax = 1u << 24;
inline constexpr uint32_t kRowsPerBlockMax = 1u << 20;
inline constexpr uint64_t kRowsMax = 1ull << 32;  // slots are uint32
inline constexpr uint32_t kDimensionMax = 65536;
}  // namespace vector_file_limits

class VectorFile final : public VectorSource {
 public:
  static constexpr char kMagic[8] = {'F', 'T', 'H', 'M', 'V', 'E', 'C', 'F'};
  static constexpr uint32_t kFormatVersion = 2;  // 1 is still read (no flags)
  static constexpr uint32_t kFlagRowTags = 1;
  static constexpr size_t kRowTagBytes = 16;  // tag, row hash
  static constexpr size_t kHeaderBytes = 64;
  static constexpr size_t kBlockChecksumBytes = 8;

  struct Stats {
    uint64_t hits = 0;         // rows served from the cache
    uint64_t misses = 0;       // rows that needed a block read
    uint64_t read_errors = 0;  // pread failed or returned fewer bytes than the block
    uint64_t corruptions = 0;  // a block's checksum did not match
    uint64_t prefetched = 0;   // blocks read ahead by Prefetch (then served as hits)
  };

  // The bytes of a file holding `vectors` (row i = slot i); with `row_tags` (one per
  // row) the row tags section is included. `block_bytes_target` sets the rows per block
  // (see limits).
  static Result<std::string> Encode(MatrixView vectors, const uint64_t* row_tags = nullptr,
                                    size_t block_bytes_target = vector_file_limits::kBlockBytesDefault);
  // Encode, written to `path` (replacing any file there) and fsynced.
  static Status Write(const std::string& path, MatrixView vectors,
                      size_t block_bytes_target = vector_file_limits::kBlockBytesDefault);
  // The hash the row tags section keeps for a row.
  static uint64_t RowHash(const float* row, uint32_t dim);

  // Payload bytes of a full block for rows of `dim` floats: a BlockCache for such a file
  // needs blocks at least this large.
  static size_t BlockBytesFor(uint32_t dim, size_t block_bytes_target = vector_file_limits::kBlockBytesDefault);

  // Opens `path`, reads and checks its header and size. `cache` is borrowed; its
  // block_bytes() must hold a full block of the file (InvalidArgument otherwise).
  static Result<std::unique_ptr<VectorFile>> Open(const std::string& path, BlockCache* cache);
  // The same over any reader (e.g. ObjectRangeReader). With `opening` (ReadOpenings'),
  // the header is not read again, and a row tags section of the size the header implies
  // serves the first ReadRowTags (one that is not is ignored: read from the reader).
  static Result<std::unique_ptr<VectorFile>> Open(std::unique_ptr<RandomReader> reader, BlockCache* cache,
                                                  VectorFileOpening opening = {});

  // One file to open: an object of `size_bytes` with `rows` rows and a row tags section
  // (both from a manifest).
  struct ObjectToOpen {
    std::string key;
    uint64_t size_bytes = 0;
    uint64_t rows = 0;
  };
  // The headers and row tags sections of `objects` in one ObjectStore::GetRanges batch
  // (the tags are the last rows * kRowTagBytes + 8 bytes), one opening per object in
  // order; all empty if the batch fails or a size cannot hold the rows (each Open then
  // reads its own, and reports what is wrong). Nothing is trusted here: Open checks the
  // header's checksum and the tags section's size and checksum as ever.
  static std::vector<VectorFileOpening> ReadOpenings(ObjectStore& store, const std::vector<ObjectToOpen>& objects);

  ~VectorFile() override;
  VectorFile(const VectorFile&) = delete;
  VectorFile& operator=(const VectorFile&) = delete;

  uint32_t dim() const override { return dim_; }
  size_t rows() const { return rows_; }
  uint32_t rows_per_block() const { return rows_per_block_; }
  const float* Fetch(uint32_t slot, float* scratch) const override;
  // Fetch with the reason of a failure: NotFound past the last row, Corruption for bad
  // bytes, IOError for a failed read. Writes dim() floats to `out`.
  Status FetchRow(uint32_t row, float* out) const;
  // Rows [first, first + count) into `out` (count * dim() floats), read in large verified
  // pieces without going through the cache: for sequential copies.
  Status ReadRows(uint64_t first, uint64_t count, float* out) const;
  bool has_row_tags() const { return has_row_tags_; }
  // The row tags section (FailedPrecondition without one; Corruption if it is damaged).
  Status ReadRowTags(std::vector<uint64_t>* tags, std::vector<uint64_t>* row_hashes) const;
  // Reads the uncached blocks of up to kPrefetchBlocksMax of `slots` together
  // (PrefetchRows with this file only) and caches the verified ones, so the Fetch calls
  // that follow hit. A hint: a block that fails to read or verify is left to Fetch, which
  // reports it.
  void Prefetch(const uint32_t* slots, size_t count) const override;
  static constexpr size_t kPrefetchBlocksMax = 32;

  // A row of some file, for PrefetchRows.
  struct RowRef {
    const VectorFile* file = nullptr;
    uint32_t row = 0;
  };
  // The batched block-cache lookup of a search's cold rows, across files: finds which of
  // the rows' blocks no cache holds, reads all of those (up to kPrefetchRowsBlocksMax, in
  // order of `rows`) in one batch (ReadAcross: one ObjectStore::GetRanges call for the
  // files of one store, one io_uring submission per local file), verifies each block's
  // checksum and caches it in its file's cache. `min_blocks`: read nothing when fewer
  // blocks are missing (a single read gains nothing from a batch: Fetch makes it). A
  // hint, as Prefetch. Returns the number of blocks it read and cached.
  static size_t PrefetchRows(const RowRef* rows, size_t count, size_t min_blocks = 1);
  static constexpr size_t kPrefetchRowsBlocksMax = 1024;
  Stats stats() const;

 private:
  VectorFile() = default;
  uint64_t BlockOffset(uint64_t block) const;
  size_t BlockPayloadBytes(uint64_t block) const;
  // Bytes of a full block with its checksum.
  size_t BlockStride() const { return size_t{rows_per_block_} * row_bytes_ + kBlockChecksumBytes; }
  // Reads and verifies `block` into `buffer` (payload + checksum bytes), counting
  // failures.
  Status ReadBlock(uint64_t block, char* buffer) const;

  std::unique_ptr<RandomReader> reader_;
  BlockCache* cache_ = nullptr;
  uint64_t file_id_ = 0;
  uint32_t dim_ = 0;
  uint64_t rows_ = 0;
  uint32_t rows_per_block_ = 0;
  uint64_t blocks_ = 0;
  size_t row_bytes_ = 0;
  bool has_row_tags_ = false;
  // The row tags section read ahead (VectorFileOpening), served once by ReadRowTags.
  mutable std::mutex row_tags_mu_;
  mutable std::string row_tags_read_ahead_;
  mutable std::atomic<uint64_t> hits_{0}, misses_{0}, read_errors_{0}, corruptions_{0}, prefetched_{0};
};

}  // namespace fathom
