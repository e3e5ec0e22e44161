#include "storage/records_segment_reader.h"

#include <algorithm>
#include <cstring>

#include "common/coding.h"

namespace fathom {

RecordsSegmentReader::RecordsSegmentReader(std::unique_ptr<RandomReader> reader, BlockCache* cache,
                                           SegmentLayout layout)
    : reader_(std::move(reader)), cache_(cache), layout_(std::move(layout)) {
  if (cache_ != nullptr) file_id_ = cache_->NewFileId();
}

RecordsSegmentReader::~RecordsSegmentReader() {
  if (cache_ != nullptr) cache_->EraseFile(file_id_);
}

Status RecordsSegmentReader::Corrupt(const std::string& what) const {
  corruptions_.fetch_add(1, std::memory_order_relaxed);
  return Status::Corruption("records segment: " + what + " in " + reader_->name());
}

Status RecordsSegmentReader::Counted(const Status& corruption) const {
  corruptions_.fetch_add(1, std::memory_order_relaxed);
  return corruption.WithContext(reader_->name());
}

Result<std::shared_ptr<RecordsSegmentReader>> RecordsSegmentReader::Open(std::unique_ptr<RandomReader> reader,
                                                                         BlockCache* cache) {
  const uint64_t size = reader->size();
  const std::string& name = reader->name();
  if (size < kSegmentHeaderBytes + kSegmentTrailerBytes) {
    return Status::Corruption("records segment: too short in " + name);
  }
  // The header and the object's tail in one batch: one round trip on a remote store.
  const uint64_t tail_bytes = std::min<uint64_t>(size - kSegmentHeaderBytes, kTailReadBytes);
  const uint64_t tail_offset = size - tail_bytes;
  std::string header(kSegmentHeaderBytes, '\0');
  std::string tail(tail_bytes, '\0');
  ReadRequest requests[2] = {{0, header.size(), header.data(), Status::Ok()},
                             {tail_offset, tail.size(), tail.data(), Status::Ok()}};
  reader->ReadMany(requests, 2);
  for (const ReadRequest& r : requests) FATHOM_RETURN_IF_ERROR(r.status);
  auto trailer = DecodeSegmentTrailer(std::string_view(tail).substr(tail.size() - kSegmentTrailerBytes), size);
  if (!trailer.ok()) return trailer.status().WithContext(name);
  // A footer longer than the tail read: its first part in one more read.
  if (trailer->footer_offset < tail_offset) {
    std::string before(tail_offset - trailer->footer_offset, '\0');
    FATHOM_RETURN_IF_ERROR(reader->ReadAt(trailer->footer_offset, before.size(), before.data()));
    tail.insert(0, before);
  }
  const uint64_t tail_start = std::min(tail_offset, trailer->footer_offset);
  const std::string_view footer =
      std::string_view(tail).substr(trailer->footer_offset - tail_start, trailer->footer_length);
  auto layout = DecodeSegmentLayout(header, footer, *trailer);
  if (!layout.ok()) return layout.status().WithContext(name);
  return std::shared_ptr<RecordsSegmentReader>(new RecordsSegmentReader(std::move(reader), cache, std::move(*layout)));
}

Result<SegmentSummary> RecordsSegmentReader::Scan(const ScanVisitor& visit) const {
  SegmentSummary summary;
  summary.dimension = layout_.dimension;
  summary.rows = layout_.rows;
  summary.tombstones = layout_.tombstones;
  uint64_t seen_rows = 0, seen_tombstones = 0;
  SegmentEntry entry;
  std::string buffer;
  std::vector<ReadRequest> requests;
  const size_t block_count = layout_.blocks.size();
  for (size_t first = 0; first < block_count;) {
    // A batch: blocks until kScanBatchBytes (at least one block, however long).
    size_t end = first;
    uint64_t bytes = 0;
    while (end < block_count && end - first < kGetRangesReadsMax &&
           (end == first || bytes + layout_.blocks[end].length <= kScanBatchBytes)) {
      bytes += layout_.blocks[end].length + kSegmentBlockChecksumBytes;
      ++end;
    }
    buffer.resize(bytes);
    requests.clear();
    size_t at = 0;
    for (size_t b = first; b < end; ++b) {
      const SegmentBlock& block = layout_.blocks[b];
      const size_t length = block.length + kSegmentBlockChecksumBytes;
      requests.push_back(ReadRequest{block.offset, length, buffer.data() + at, Status::Ok()});
      at += length;
    }
    reader_->ReadMany(requests.data(), requests.size());
    for (size_t b = first; b < end; ++b) {
      const ReadRequest& r = requests[b - first];
      FATHOM_RETURN_IF_ERROR(r.status);
      const std::string_view stored(r.dst, r.length);
      if (Status s = VerifySegmentBlock(stored, b); !s.ok()) return Counted(s);
      Decoder in(stored.substr(0, r.length - kSegmentBlockChecksumBytes));
      for (uint64_t i = 0; i < layout_.blocks[b].entries; ++i) {
        const SegmentEntryLocator locator{static_cast<uint32_t>(b), static_cast<uint32_t>(in.position())};
        if (!DecodeSegmentEntry(&in, layout_.dimension, &entry)) {
          return Corrupt("malformed entry in block " + std::to_string(b));
        }
        (entry.tombstone ? seen_tombstones : seen_rows)++;
        visit(entry, locator);
      }
      if (!in.empty()) return Corrupt("trailing bytes in block " + std::to_string(b));
    }
    first = end;
  }
  if (summary.rows != seen_rows || summary.tombstones != seen_tombstones) return Corrupt("entry counts disagree");
  return summary;
}

Status RecordsSegmentReader::ReadEntries(const SegmentEntryLocator* locators, size_t count,
                                         const EntryVisitor& visit) const {
  if (count == 0) return Status::Ok();
  std::vector<uint32_t> blocks;
  blocks.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    if (locators[i].block >= layout_.blocks.size() || locators[i].offset >= layout_.blocks[locators[i].block].length) {
      return Corrupt("no entry at block " + std::to_string(locators[i].block) + " offset " +
                     std::to_string(locators[i].offset));
    }
    blocks.push_back(locators[i].block);
  }
  std::sort(blocks.begin(), blocks.end());
  blocks.erase(std::unique(blocks.begin(), blocks.end()), blocks.end());
  // Payloads of the needed blocks, by position in `blocks`: from the cache, then the
  // misses in one batch.
  std::vector<std::string> payloads(blocks.size());
  std::vector<uint32_t> missed;
  std::vector<size_t> missed_at;
  for (size_t j = 0; j < blocks.size(); ++j) {
    const SegmentBlock& block = layout_.blocks[blocks[j]];
    if (cache_ != nullptr && block.length <= cache_->block_bytes()) {
      payloads[j].resize(block.length);
      if (cache_->Read(file_id_, blocks[j], 0, block.length, payloads[j].data())) {
        cache_hits_.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
    }
    missed.push_back(blocks[j]);
    missed_at.push_back(j);
  }
  std::vector<std::string> read;
  FATHOM_RETURN_IF_ERROR(ReadBlocks(missed, CacheFill::kFill, &read));
  for (size_t m = 0; m < missed.size(); ++m) payloads[missed_at[m]] = std::move(read[m]);
  // Decode every entry before visiting any, so an error visits nothing.
  std::vector<SegmentEntry> entries(count);
  for (size_t i = 0; i < count; ++i) {
    const size_t j = std::lower_bound(blocks.begin(), blocks.end(), locators[i].block) - blocks.begin();
    Decoder in{std::string_view(payloads[j]).substr(locators[i].offset)};
    if (!DecodeSegmentEntry(&in, layout_.dimension, &entries[i])) {
      return Corrupt("malformed entry in block " + std::to_string(locators[i].block));
    }
  }
  for (size_t i = 0; i < count; ++i) visit(i, entries[i]);
  return Status::Ok();
}

Status RecordsSegmentReader::ReadBlocks(const std::vector<uint32_t>& blocks, CacheFill fill,
                                        std::vector<std::string>* payloads) const {
  payloads->assign(blocks.size(), std::string());
  if (blocks.empty()) return Status::Ok();
  std::vector<ReadRequest> requests;
  requests.reserve(blocks.size());
  for (size_t j = 0; j < blocks.size(); ++j) {
    const SegmentBlock& block = layout_.blocks[blocks[j]];
    (*payloads)[j].resize(block.length + kSegmentBlockChecksumBytes);
    requests.push_back(ReadRequest{block.offset, (*payloads)[j].size(), (*payloads)[j].data(), Status::Ok()});
  }
  reader_->ReadMany(requests.data(), requests.size());
  blocks_read_.fetch_add(requests.size(), std::memory_order_relaxed);
  for (size_t j = 0; j < blocks.size(); ++j) {
    FATHOM_RETURN_IF_ERROR(requests[j].status);
    std::string& payload = (*payloads)[j];
    if (Status s = VerifySegmentBlock(payload, blocks[j]); !s.ok()) return Counted(s);
    payload.resize(payload.size() - kSegmentBlockChecksumBytes);
    if (cache_ != nullptr && fill == CacheFill::kFill) cache_->Insert(file_id_, blocks[j], payload.data(), payload.size());
  }
  return Status::Ok();
}

Status RecordsSegmentReader::CheckLocator(const SegmentDocumentLocator& at) const {
  if (at.block >= layout_.blocks.size() || uint64_t{at.offset} + at.length > layout_.blocks[at.block].length) {
    return Corrupt("no document at block " + std::to_string(at.block) + " bytes " + std::to_string(at.offset) +
                   " + " + std::to_string(at.length));
  }
  return Status::Ok();
}

Status RecordsSegmentReader::ReadDocuments(const SegmentDocumentLocator* locators, size_t count,
                                           std::string* documents, CacheFill fill) const {
  // From the cache, each document's range alone; the rest wait for their blocks.
  std::vector<size_t> waiting;
  std::vector<uint32_t> blocks;
  for (size_t i = 0; i < count; ++i) {
    const SegmentDocumentLocator& at = locators[i];
    FATHOM_RETURN_IF_ERROR(CheckLocator(at));
    documents[i].resize(at.length);
    if (cache_ != nullptr && cache_->Read(file_id_, at.block, at.offset, at.length, documents[i].data())) {
      cache_hits_.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    waiting.push_back(i);
    blocks.push_back(at.block);
  }
  if (waiting.empty()) return Status::Ok();
  std::sort(blocks.begin(), blocks.end());
  blocks.erase(std::unique(blocks.begin(), blocks.end()), blocks.end());
  std::vector<std::string> payloads;
  FATHOM_RETURN_IF_ERROR(ReadBlocks(blocks, fill, &payloads));
  for (size_t i : waiting) {
    const SegmentDocumentLocator& at = locators[i];
    const size_t j = std::lower_bound(blocks.begin(), blocks.end(), at.block) - blocks.begin();
    std::memcpy(documents[i].data(), payloads[j].data() + at.offset, at.length);
  }
  return Status::Ok();
}

void RecordsSegmentReader::Prefetch(const SegmentDocumentLocator* locators, size_t count) const {
  if (cache_ == nullptr) return;
  std::vector<uint32_t> blocks;
  for (size_t i = 0; i < count; ++i) {
    if (CheckLocator(locators[i]).ok() && !cache_->Contains(file_id_, locators[i].block)) blocks.push_back(locators[i].block);
  }
  std::sort(blocks.begin(), blocks.end());
  blocks.erase(std::unique(blocks.begin(), blocks.end()), blocks.end());
  std::vector<std::string> payloads;
  (void)ReadBlocks(blocks, CacheFill::kFill, &payloads);
}

RecordsSegmentReader::Stats RecordsSegmentReader::stats() const {
  Stats s;
  s.cache_hits = cache_hits_.load(std::memory_order_relaxed);
  s.blocks_read = blocks_read_.load(std::memory_order_relaxed);
  s.corruptions = corruptions_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace fathom
