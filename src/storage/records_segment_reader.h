// RecordsSegmentReader: random access to one records segment (docs/format/segment.md)
// through ranged reads, so a record's fields can be read on demand instead of the whole
// object being held in memory.
//
// Open reads the object's header and tail (trailer and footer) in one batch of two
// ranged reads (a second read only when the footer is longer than the tail read), and
// keeps the block index: about 24 bytes per block, a few KiB per 100 MiB of segment.
// An entry is then named by a SegmentEntryLocator (block, byte offset in the block's
// payload), which Scan hands out as it decodes, and its document by a
// SegmentDocumentLocator (block, byte range in the payload).
//
// Three ways to read blocks:
//   - Scan decodes every entry in order, reading a batch of blocks at a time (one
//     ReadMany, so one GetRanges round on S3), never the whole object: opening a
//     collection needs O(batch) transient memory, not the segment's size. Scanned blocks
//     bypass the cache (a full pass would only evict what queries use).
//   - ReadEntries decodes the entries at given locators: the distinct blocks they need
//     are served from the BlockCache or read in one ReadMany, each verified against its
//     XXH3 before any use (Corruption otherwise, and a bad block is never cached).
//   - ReadDocuments copies documents by their locators: from a cached block only the
//     document's range is copied (a warm read of a 1 KB document copies 1 KB, not its
//     64 KiB block, and decodes nothing); the blocks not cached are read and verified
//     like ReadEntries'. The caller checks each document against its own checksum (the
//     row's), which also catches a locator that names the wrong bytes.
//
// Ownership: the reader owns its RandomReader and borrows the cache, which must outlive
// it; it erases its blocks from the cache when destroyed. Holders share it through a
// shared_ptr so a segment made obsolete by a compaction stays readable while anything
// still holds a locator into it. Thread-safety: every const method is safe from many
// threads at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/limits.h"
#include "fathom/status.h"
#include "io/random_reader.h"
#include "storage/block_cache.h"
#include "storage/records_segment.h"

namespace fathom {

// SegmentEntryLocator (where an entry starts) is in storage/row.h, which rows keep.

class RecordsSegmentReader {
 public:
  // Bytes read from the object's end at open: the trailer and, in one request, a footer
  // of up to about 6,000 blocks (about 10 footer bytes each: a ~400 MiB segment at 64 KiB
  // blocks).
  static constexpr size_t kTailReadBytes = 64 << 10;
  // Scan reads at most this many payload bytes (or kGetRangesReadsMax blocks) per batch.
  static constexpr size_t kScanBatchBytes = 4 << 20;
  // The cache's blocks must hold at least this: a block longer than the cache's blocks
  // (one very large entry) is read every time it is needed, never cached.
  static constexpr size_t kCacheBlockBytes = 2 * limits::kSegmentBlockBytesTarget;

  // `cache` may be null (nothing is cached). Corruption when the tail is malformed.
  static Result<std::shared_ptr<RecordsSegmentReader>> Open(std::unique_ptr<RandomReader> reader, BlockCache* cache);
  ~RecordsSegmentReader();
  RecordsSegmentReader(const RecordsSegmentReader&) = delete;
  RecordsSegmentReader& operator=(const RecordsSegmentReader&) = delete;

  uint32_t dimension() const { return layout_.dimension; }
  uint64_t rows() const { return layout_.rows; }
  uint64_t tombstones() const { return layout_.tombstones; }
  size_t block_count() const { return layout_.blocks.size(); }
  const std::string& name() const { return reader_->name(); }

  // Decodes every entry in order, calling visit(entry, locator). The entry is reused
  // between calls (the visitor may move fields out of it). Stops at the first error,
  // after visiting the entries before it.
  using ScanVisitor = std::function<void(SegmentEntry& entry, SegmentEntryLocator locator)>;
  Result<SegmentSummary> Scan(const ScanVisitor& visit) const;

  // Decodes the entries at `locators` (any order, repeats allowed), calling visit(i,
  // entry) for locators[i], in order of i. The blocks not cached are read in one batch.
  // IOError when a read fails, Corruption when a block's checksum or an entry is bad or
  // a locator names no entry start; nothing is visited then.
  using EntryVisitor = std::function<void(size_t index, SegmentEntry& entry)>;
  Status ReadEntries(const SegmentEntryLocator* locators, size_t count, const EntryVisitor& visit) const;

  // Whether blocks read from the object are inserted into the cache: a pass over many
  // blocks (an index build at open) should not evict what queries use.
  enum class CacheFill { kFill, kBypass };

  // Copies the document at locators[i] into documents[i] (resized), for every i < count.
  // The blocks not cached are read in one batch. IOError when a read fails, Corruption
  // when a block's checksum is bad or a locator's range does not lie in its block; the
  // documents are unspecified then.
  Status ReadDocuments(const SegmentDocumentLocator* locators, size_t count, std::string* documents,
                       CacheFill fill = CacheFill::kFill) const;

  // Reads into the cache, in one batch, the blocks of `locators` that are not there (a
  // hint: errors are dropped, and show when the documents are read).
  void Prefetch(const SegmentDocumentLocator* locators, size_t count) const;

  struct Stats {
    uint64_t cache_hits = 0;
    uint64_t blocks_read = 0;  // by ReadEntries / ReadDocuments / Prefetch, after cache misses
    uint64_t corruptions = 0;
  };
  Stats stats() const;

 private:
  RecordsSegmentReader(std::unique_ptr<RandomReader> reader, BlockCache* cache, SegmentLayout layout);
  // Count a Corruption, naming the object.
  Status Corrupt(const std::string& what) const;
  Status Counted(const Status& corruption) const;
  // Corruption unless `locator` names a range inside its block.
  Status CheckLocator(const SegmentDocumentLocator& locator) const;
  // Reads `blocks` (distinct block numbers) from the object in one batch into
  // payloads[j] (payload only, checksum verified), inserting them into the cache with
  // kFill.
  Status ReadBlocks(const std::vector<uint32_t>& blocks, CacheFill fill, std::vector<std::string>* payloads) const;

  std::unique_ptr<RandomReader> reader_;
  BlockCache* cache_;
  uint64_t file_id_ = 0;
  SegmentLayout layout_;
  mutable std::atomic<uint64_t> cache_hits_{0};
  mutable std::atomic<uint64_t> blocks_read_{0};
  mutable std::atomic<uint64_t> corruptions_{0};
};

}  // namespace fathom
