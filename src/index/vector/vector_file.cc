#include "index/vector/vector_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>
#include <unordered_set>
#include <vector>

#include "common/checksum.h"
#include "common/coding.h"

namespace fathom {

namespace {

// Header fields (docs/format/vector_file.md).
constexpr size_t kVersionOffset = 8;
constexpr size_t kDimOffset = 12;
constexpr size_t kRowsOffset = 16;
constexpr size_t kRowsPerBlockOffset = 24;
constexpr size_t kFlagsOffset = 28;
constexpr size_t kBlocksOffset = 32;
constexpr size_t kHeaderChecksumOffset = 56;
// ReadRows reads about this many bytes per request.
constexpr size_t kSequentialReadBytes = 1 << 20;

Status ErrnoStatus(const char* what, const std::string& path, int err) {
  return Status::IOError(std::string("vector file: ") + what + " " + path + ": " + std::strerror(err));
}

Status WriteAll(int fd, const char* data, size_t size, const std::string& path) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("write", path, errno);
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

uint32_t RowsPerBlock(uint32_t dim, size_t block_bytes_target) {
  const size_t row_bytes = size_t{dim} * sizeof(float);
  return static_cast<uint32_t>(
      std::clamp<size_t>(block_bytes_target / row_bytes, 1, vector_file_limits::kRowsPerBlockMax));
}

}  // namespace

size_t VectorFile::BlockBytesFor(uint32_t dim, size_t block_bytes_target) {
  return size_t{RowsPerBlock(dim, block_bytes_target)} * dim * sizeof(float);
}

uint64_t VectorFile::RowHash(const float* row, uint32_t dim) {
  return Checksum64(std::string_view(reinterpret_cast<const char*>(row), size_t{dim} * sizeof(float)));
}

Result<std::string> VectorFile::Encode(MatrixView vectors, const uint64_t* row_tags, size_t block_bytes_target) {
  using namespace vector_file_limits;
  if (vectors.dim == 0 || vectors.dim > kDimensionMax) return Status::InvalidArgument("vector file: bad dimension");
  if (vectors.rows > kRowsMax) return Status::InvalidArgument("vector file: too many rows");
  if (block_bytes_target == 0 || block_bytes_target > kBlockBytesMax) {
    return Status::InvalidArgument("vector file: bad block size");
  }
  const size_t row_bytes = size_t{vectors.dim} * sizeof(float);
  const uint32_t rows_per_block = RowsPerBlock(vectors.dim, block_bytes_target);
  const uint64_t blocks = (vectors.rows + rows_per_block - 1) / rows_per_block;

  std::string out(kHeaderBytes, '\0');
  out.reserve(kHeaderBytes + vectors.rows * row_bytes + blocks * kBlockChecksumBytes +
              (row_tags ? vectors.rows * kRowTagBytes + 8 : 0));
  std::memcpy(out.data(), kMagic, sizeof(kMagic));
  EncodeFixed32(out.data() + kVersionOffset, kFormatVersion);
  EncodeFixed32(out.data() + kDimOffset, vectors.dim);
  EncodeFixed64(out.data() + kRowsOffset, vectors.rows);
  EncodeFixed32(out.data() + kRowsPerBlockOffset, rows_per_block);
  EncodeFixed32(out.data() + kFlagsOffset, row_tags ? kFlagRowTags : 0);
  EncodeFixed64(out.data() + kBlocksOffset, blocks);
  EncodeFixed64(out.data() + kHeaderChecksumOffset, Checksum64(std::string_view(out.data(), kHeaderChecksumOffset)));
  for (uint64_t b = 0; b < blocks; ++b) {
    const uint64_t first = b * rows_per_block;
    const uint64_t count = std::min<uint64_t>(rows_per_block, vectors.rows - first);
    // Rows are stored as little-endian f32, which is the in-memory layout on the
    // platforms fathom builds for (x86-64, aarch64).
    const std::string_view payload(reinterpret_cast<const char*>(vectors.Row(first)), count * row_bytes);
    out.append(payload);
    PutFixed64(&out, Checksum64(payload));
  }
  if (row_tags != nullptr) {
    const size_t section = out.size();
    for (uint64_t r = 0; r < vectors.rows; ++r) {
      PutFixed64(&out, row_tags[r]);
      PutFixed64(&out, RowHash(vectors.Row(r), vectors.dim));
    }
    PutFixed64(&out, Checksum64(std::string_view(out).substr(section)));
  }
  return out;
}

Status VectorFile::Write(const std::string& path, MatrixView vectors, size_t block_bytes_target) {
  FATHOM_ASSIGN_OR_RETURN(std::string bytes, Encode(vectors, nullptr, block_bytes_target));
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("open", path, errno);
  Status s = WriteAll(fd, bytes.data(), bytes.size(), path);
  if (s.ok() && ::fsync(fd) != 0) s = ErrnoStatus("fsync", path, errno);
  ::close(fd);
  return s;
}

Result<std::unique_ptr<VectorFile>> VectorFile::Open(const std::string& path, BlockCache* cache) {
  FATHOM_ASSIGN_OR_RETURN(std::unique_ptr<RandomReader> reader, LocalFileReader::Open(path));
  return Open(std::move(reader), cache);
}

Result<std::unique_ptr<VectorFile>> VectorFile::Open(std::unique_ptr<RandomReader> reader, BlockCache* cache,
                                                     VectorFileOpening opening) {
  using namespace vector_file_limits;
  if (cache == nullptr) return Status::InvalidArgument("vector file: no block cache");
  const std::string name = reader->name();
  auto corrupt = [&](const std::string& what) { return Status::Corruption("vector file: " + what + " in " + name); };
  if (reader->size() < kHeaderBytes) return corrupt("short header");
  char header[kHeaderBytes];
  if (opening.header.size() == kHeaderBytes) {
    std::memcpy(header, opening.header.data(), kHeaderBytes);
  } else {
    FATHOM_RETURN_IF_ERROR(reader->ReadAt(0, sizeof(header), header));
  }
  if (std::memcmp(header, kMagic, sizeof(kMagic)) != 0) return corrupt("bad magic");
  if (DecodeFixed64(header + kHeaderChecksumOffset) != Checksum64(std::string_view(header, kHeaderChecksumOffset))) {
    return corrupt("header checksum mismatch");
  }
  const uint32_t version = DecodeFixed32(header + kVersionOffset);
  if (version != 1 && version != kFormatVersion) return corrupt("unknown version");
  const uint32_t flags = DecodeFixed32(header + kFlagsOffset);
  if ((version == 1 && flags != 0) || (flags & ~kFlagRowTags) != 0) return corrupt("unknown flags");
  for (size_t i = kBlocksOffset + 8; i < kHeaderChecksumOffset; ++i) {
    if (header[i] != 0) return corrupt("reserved bytes set");
  }
  std::unique_ptr<VectorFile> file(new VectorFile());
  file->dim_ = DecodeFixed32(header + kDimOffset);
  file->rows_ = DecodeFixed64(header + kRowsOffset);
  file->rows_per_block_ = DecodeFixed32(header + kRowsPerBlockOffset);
  file->blocks_ = DecodeFixed64(header + kBlocksOffset);
  file->has_row_tags_ = (flags & kFlagRowTags) != 0;
  if (file->dim_ == 0 || file->dim_ > kDimensionMax || file->rows_ > kRowsMax || file->rows_per_block_ == 0 ||
      file->rows_per_block_ > kRowsPerBlockMax ||
      file->blocks_ != (file->rows_ + file->rows_per_block_ - 1) / file->rows_per_block_) {
    return corrupt("inconsistent header");
  }
  file->row_bytes_ = size_t{file->dim_} * sizeof(float);
  if (file->row_bytes_ * file->rows_per_block_ > 2 * kBlockBytesMax) return corrupt("block too large");
  const uint64_t expected =
      file->BlockOffset(file->blocks_) + (file->has_row_tags_ ? file->rows_ * kRowTagBytes + 8 : 0);
  if (reader->size() != expected) {
    return corrupt("size " + std::to_string(reader->size()) + " != expected " + std::to_string(expected));
  }
  if (cache->block_bytes() < file->row_bytes_ * file->rows_per_block_) {
    return Status::InvalidArgument("vector file: block cache blocks smaller than the file's in " + name);
  }
  file->reader_ = std::move(reader);
  file->cache_ = cache;
  file->file_id_ = cache->NewFileId();
  if (file->has_row_tags_ && opening.row_tags.size() == file->rows_ * kRowTagBytes + 8) {
    file->row_tags_read_ahead_ = std::move(opening.row_tags);
  }
  return file;
}

std::vector<VectorFileOpening> VectorFile::ReadOpenings(ObjectStore& store, const std::vector<ObjectToOpen>& objects) {
  std::vector<VectorFileOpening> openings(objects.size());
  std::vector<RangedRead> reads;
  reads.reserve(2 * objects.size());
  for (const ObjectToOpen& o : objects) {
    // A count the size cannot hold is left to Open, which reports the damage.
    if (o.rows > vector_file_limits::kRowsMax || o.size_bytes < kHeaderBytes + o.rows * kRowTagBytes + 8) {
      return openings;
    }
    const uint64_t tags_bytes = o.rows * kRowTagBytes + 8;
    reads.push_back({o.key, ByteRange{0, kHeaderBytes}});
    reads.push_back({o.key, ByteRange{o.size_bytes - tags_bytes, tags_bytes}});
  }
  if (reads.empty() || reads.size() > kGetRangesReadsMax) return openings;
  auto got = store.GetRanges(reads);
  if (!got.ok()) return openings;
  for (size_t i = 0; i < objects.size(); ++i) {
    openings[i].header = std::move((*got)[2 * i]);
    openings[i].row_tags = std::move((*got)[2 * i + 1]);
  }
  return openings;
}

VectorFile::~VectorFile() {
  if (cache_ != nullptr) cache_->EraseFile(file_id_);
}

uint64_t VectorFile::BlockOffset(uint64_t block) const {
  // Every block but the last is full, so block b starts after b full blocks.
  const uint64_t full_block_bytes = uint64_t{rows_per_block_} * row_bytes_ + kBlockChecksumBytes;
  if (block < blocks_) return kHeaderBytes + block * full_block_bytes;
  // One past the last block: where the blocks end.
  if (blocks_ == 0) return kHeaderBytes;
  return kHeaderBytes + (blocks_ - 1) * full_block_bytes + BlockPayloadBytes(blocks_ - 1) + kBlockChecksumBytes;
}

size_t VectorFile::BlockPayloadBytes(uint64_t block) const {
  const uint64_t first = block * rows_per_block_;
  return static_cast<size_t>(std::min<uint64_t>(rows_per_block_, rows_ - first)) * row_bytes_;
}

Status VectorFile::ReadBlock(uint64_t block, char* buffer) const {
  const size_t payload = BlockPayloadBytes(block);
  if (Status s = reader_->ReadAt(BlockOffset(block), payload + kBlockChecksumBytes, buffer); !s.ok()) {
    read_errors_.fetch_add(1, std::memory_order_relaxed);
    return s;
  }
  if (DecodeFixed64(buffer + payload) != Checksum64(std::string_view(buffer, payload))) {
    corruptions_.fetch_add(1, std::memory_order_relaxed);
    return Status::Corruption("vector file: block " + std::to_string(block) + " checksum mismatch in " +
                              reader_->name());
  }
  return Status::Ok();
}

Status VectorFile::FetchRow(uint32_t row, float* out) const {
  if (row >= rows_) return Status::NotFound("vector file: no row " + std::to_string(row) + " in " + reader_->name());
  const uint64_t block = row / rows_per_block_;
  const size_t offset = static_cast<size_t>(row % rows_per_block_) * row_bytes_;
  if (cache_->Read(file_id_, block, offset, row_bytes_, out)) {
    hits_.fetch_add(1, std::memory_order_relaxed);
    return Status::Ok();
  }
  misses_.fetch_add(1, std::memory_order_relaxed);
  // One buffer per thread, grown to the largest block seen: a miss allocates nothing.
  thread_local std::vector<char> buffer;
  const size_t payload = BlockPayloadBytes(block);
  if (buffer.size() < payload + kBlockChecksumBytes) buffer.resize(payload + kBlockChecksumBytes);
  FATHOM_RETURN_IF_ERROR(ReadBlock(block, buffer.data()));
  std::memcpy(out, buffer.data() + offset, row_bytes_);
  cache_->Insert(file_id_, block, buffer.data(), payload);
  return Status::Ok();
}

const float* VectorFile::Fetch(uint32_t slot, float* scratch) const {
  return FetchRow(slot, scratch).ok() ? scratch : nullptr;
}

void VectorFile::Prefetch(const uint32_t* slots, size_t count) const {
  thread_local std::vector<RowRef> rows;
  rows.clear();
  for (size_t i = 0; i < count; ++i) rows.push_back(RowRef{this, slots[i]});
  // At most kPrefetchBlocksMax blocks: PrefetchRows stops at its own, larger limit.
  thread_local std::vector<uint64_t> blocks;
  blocks.clear();
  size_t used = 0;
  for (; used < rows.size(); ++used) {
    if (rows[used].row >= rows_) continue;
    const uint64_t block = rows[used].row / rows_per_block_;
    if (std::find(blocks.begin(), blocks.end(), block) != blocks.end()) continue;
    if (blocks.size() == kPrefetchBlocksMax) break;
    blocks.push_back(block);
  }
  PrefetchRows(rows.data(), used, 2);
}

size_t VectorFile::PrefetchRows(const RowRef* rows, size_t count, size_t min_blocks) {
  struct Wanted {
    const VectorFile* file;
    uint64_t block;
  };
  thread_local std::vector<Wanted> wanted;
  wanted.clear();
  // Blocks already taken: a linear scan for the usual few dozen, a set beyond.
  std::unordered_set<uint64_t> taken;
  auto seen = [&](const VectorFile* file, uint64_t block) {
    if (wanted.size() < 64) {
      return std::any_of(wanted.begin(), wanted.end(), [&](const Wanted& w) { return w.file == file && w.block == block; });
    }
    if (taken.empty()) {
      for (const Wanted& w : wanted) taken.insert(w.file->file_id_ * 0x9E3779B97F4A7C15ull ^ w.block);
    }
    return taken.count(file->file_id_ * 0x9E3779B97F4A7C15ull ^ block) != 0 &&
           std::any_of(wanted.begin(), wanted.end(), [&](const Wanted& w) { return w.file == file && w.block == block; });
  };
  size_t buffer_bytes = 0;
  for (size_t i = 0; i < count && wanted.size() < kPrefetchRowsBlocksMax; ++i) {
    const VectorFile* file = rows[i].file;
    if (file == nullptr || rows[i].row >= file->rows_) continue;
    const uint64_t block = rows[i].row / file->rows_per_block_;
    if (seen(file, block) || file->cache_->Contains(file->file_id_, block)) continue;
    wanted.push_back({file, block});
    if (!taken.empty()) taken.insert(file->file_id_ * 0x9E3779B97F4A7C15ull ^ block);
    buffer_bytes += file->BlockStride();
  }
  if (wanted.empty() || wanted.size() < min_blocks) return 0;
  // The usual batch reuses a per-thread buffer; a large one (a deep re-score of wide
  // rows) gets its own, so no thread keeps megabytes after it.
  constexpr size_t kKeptBufferBytes = 256 << 10;
  thread_local std::vector<char> kept_buffer;
  std::vector<char> large_buffer;
  std::vector<char>& buffer = buffer_bytes <= kKeptBufferBytes ? kept_buffer : large_buffer;
  thread_local std::vector<ReadRequest> requests;
  thread_local std::vector<ReaderRequest> across;
  if (buffer.size() < buffer_bytes) buffer.resize(buffer_bytes);
  requests.resize(wanted.size());
  across.resize(wanted.size());
  size_t at = 0;
  for (size_t i = 0; i < wanted.size(); ++i) {
    const VectorFile& file = *wanted[i].file;
    requests[i].offset = file.BlockOffset(wanted[i].block);
    requests[i].length = file.BlockPayloadBytes(wanted[i].block) + kBlockChecksumBytes;
    requests[i].dst = buffer.data() + at;
    requests[i].status = Status::Ok();
    at += file.BlockStride();
    across[i] = ReaderRequest{file.reader_.get(), &requests[i]};
  }
  ReadAcross(across.data(), across.size());
  size_t cached = 0;
  for (size_t i = 0; i < wanted.size(); ++i) {
    if (!requests[i].status.ok()) continue;
    const VectorFile& file = *wanted[i].file;
    const size_t payload = requests[i].length - kBlockChecksumBytes;
    const char* bytes = requests[i].dst;
    if (DecodeFixed64(bytes + payload) != Checksum64(std::string_view(bytes, payload))) continue;
    file.cache_->Insert(file.file_id_, wanted[i].block, bytes, payload);
    file.prefetched_.fetch_add(1, std::memory_order_relaxed);
    ++cached;
  }
  return cached;
}

Status VectorFile::ReadRows(uint64_t first, uint64_t count, float* out) const {
  if (first > rows_ || count > rows_ - first) return Status::InvalidArgument("vector file: rows out of range");
  if (count == 0) return Status::Ok();
  const uint64_t first_block = first / rows_per_block_;
  const uint64_t end_block = (first + count + rows_per_block_ - 1) / rows_per_block_;
  const uint64_t blocks_per_read = std::max<uint64_t>(1, kSequentialReadBytes / (BlockPayloadBytes(0) + 8));
  std::vector<char> buffer;
  char* dst = reinterpret_cast<char*>(out);
  for (uint64_t b = first_block; b < end_block; b += blocks_per_read) {
    const uint64_t n = std::min(blocks_per_read, end_block - b);
    const uint64_t begin = BlockOffset(b);
    buffer.resize(BlockOffset(b + n) - begin);
    if (Status s = reader_->ReadAt(begin, buffer.size(), buffer.data()); !s.ok()) {
      read_errors_.fetch_add(1, std::memory_order_relaxed);
      return s;
    }
    for (uint64_t i = 0; i < n; ++i) {
      const char* block = buffer.data() + (BlockOffset(b + i) - begin);
      const size_t payload = BlockPayloadBytes(b + i);
      if (DecodeFixed64(block + payload) != Checksum64(std::string_view(block, payload))) {
        corruptions_.fetch_add(1, std::memory_order_relaxed);
        return Status::Corruption("vector file: block " + std::to_string(b + i) + " checksum mismatch in " +
                                  reader_->name());
      }
      // The part of this block inside [first, first + count).
      const uint64_t block_first = (b + i) * rows_per_block_;
      const uint64_t lo = std::max(block_first, first);
      const uint64_t hi = std::min(block_first + payload / row_bytes_, first + count);
      std::memcpy(dst + (lo - first) * row_bytes_, block + (lo - block_first) * row_bytes_, (hi - lo) * row_bytes_);
    }
  }
  return Status::Ok();
}

Status VectorFile::ReadRowTags(std::vector<uint64_t>* tags, std::vector<uint64_t>* row_hashes) const {
  if (!has_row_tags_) return Status::FailedPrecondition("vector file: no row tags in " + reader_->name());
  std::string section;
  {
    std::lock_guard<std::mutex> lock(row_tags_mu_);
    section = std::exchange(row_tags_read_ahead_, std::string());
  }
  if (section.empty()) {
    const uint64_t begin = BlockOffset(blocks_);
    section.assign(rows_ * kRowTagBytes + 8, '\0');
    FATHOM_RETURN_IF_ERROR(reader_->ReadAt(begin, section.size(), section.data()));
  }
  const std::string_view body(section.data(), section.size() - 8);
  if (DecodeFixed64(section.data() + body.size()) != Checksum64(body)) {
    return Status::Corruption("vector file: row tags checksum mismatch in " + reader_->name());
  }
  tags->resize(rows_);
  row_hashes->resize(rows_);
  for (uint64_t r = 0; r < rows_; ++r) {
    (*tags)[r] = DecodeFixed64(section.data() + r * kRowTagBytes);
    (*row_hashes)[r] = DecodeFixed64(section.data() + r * kRowTagBytes + 8);
  }
  return Status::Ok();
}

VectorFile::Stats VectorFile::stats() const {
  Stats s;
  s.hits = hits_.load(std::memory_order_relaxed);
  s.misses = misses_.load(std::memory_order_relaxed);
  s.read_errors = read_errors_.load(std::memory_order_relaxed);
  s.corruptions = corruptions_.load(std::memory_order_relaxed);
  s.prefetched = prefetched_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace fathom
