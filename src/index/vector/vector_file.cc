#include "index/vector/vector_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
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
constexpr size_t kBlocksOffset = 32;
constexpr size_t kHeaderChecksumOffset = 56;

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

}  // namespace

namespace {
uint32_t RowsPerBlock(uint32_t dim, size_t block_bytes_target) {
  const size_t row_bytes = size_t{dim} * sizeof(float);
  return static_cast<uint32_t>(
      std::clamp<size_t>(block_bytes_target / row_bytes, 1, vector_file_limits::kRowsPerBlockMax));
}
}  // namespace

size_t VectorFile::BlockBytesFor(uint32_t dim, size_t block_bytes_target) {
  return size_t{RowsPerBlock(dim, block_bytes_target)} * dim * sizeof(float);
}

Status VectorFile::Write(const std::string& path, MatrixView vectors, size_t block_bytes_target) {
  using namespace vector_file_limits;
  if (vectors.dim == 0 || vectors.dim > kDimensionMax) return Status::InvalidArgument("vector file: bad dimension");
  if (vectors.rows > kRowsMax) return Status::InvalidArgument("vector file: too many rows");
  if (block_bytes_target == 0 || block_bytes_target > kBlockBytesMax) {
    return Status::InvalidArgument("vector file: bad block size");
  }
  const size_t row_bytes = size_t{vectors.dim} * sizeof(float);
  const uint32_t rows_per_block = RowsPerBlock(vectors.dim, block_bytes_target);
  const uint64_t blocks = (vectors.rows + rows_per_block - 1) / rows_per_block;

  std::string header(kHeaderBytes, '\0');
  std::memcpy(header.data(), kMagic, sizeof(kMagic));
  EncodeFixed32(header.data() + kVersionOffset, kFormatVersion);
  EncodeFixed32(header.data() + kDimOffset, vectors.dim);
  EncodeFixed64(header.data() + kRowsOffset, vectors.rows);
  EncodeFixed32(header.data() + kRowsPerBlockOffset, rows_per_block);
  EncodeFixed64(header.data() + kBlocksOffset, blocks);
  EncodeFixed64(header.data() + kHeaderChecksumOffset,
                Checksum64(std::string_view(header.data(), kHeaderChecksumOffset)));

  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("open", path, errno);
  Status s = WriteAll(fd, header.data(), header.size(), path);
  std::string block;
  for (uint64_t b = 0; s.ok() && b < blocks; ++b) {
    const uint64_t first = b * rows_per_block;
    const uint64_t count = std::min<uint64_t>(rows_per_block, vectors.rows - first);
    // Rows are stored as little-endian f32, which is the in-memory layout on the
    // platforms fathom builds for (x86-64, aarch64).
    block.assign(reinterpret_cast<const char*>(vectors.Row(first)), count * row_bytes);
    char checksum[kBlockChecksumBytes];
    EncodeFixed64(checksum, Checksum64(block));
    block.append(checksum, sizeof(checksum));
    s = WriteAll(fd, block.data(), block.size(), path);
  }
  if (s.ok() && ::fsync(fd) != 0) s = ErrnoStatus("fsync", path, errno);
  ::close(fd);
  return s;
}

Result<std::unique_ptr<VectorFile>> VectorFile::Open(const std::string& path, BlockCache* cache) {
  using namespace vector_file_limits;
  if (cache == nullptr) return Status::InvalidArgument("vector file: no block cache");
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open", path, errno);
  std::unique_ptr<VectorFile> file(new VectorFile());
  file->fd_ = fd;  // closed by the destructor from here on
  file->path_ = path;
  char header[kHeaderBytes];
  ssize_t n = ::pread(fd, header, sizeof(header), 0);
  if (n < 0) return ErrnoStatus("read header", path, errno);
  if (static_cast<size_t>(n) != sizeof(header)) return Status::Corruption("vector file: short header in " + path);
  if (std::memcmp(header, kMagic, sizeof(kMagic)) != 0) return Status::Corruption("vector file: bad magic in " + path);
  if (DecodeFixed64(header + kHeaderChecksumOffset) !=
      Checksum64(std::string_view(header, kHeaderChecksumOffset))) {
    return Status::Corruption("vector file: header checksum mismatch in " + path);
  }
  if (DecodeFixed32(header + kVersionOffset) != kFormatVersion) {
    return Status::Corruption("vector file: unknown version in " + path);
  }
  for (size_t i : {28, 29, 30, 31}) {
    if (header[i] != 0) return Status::Corruption("vector file: reserved bytes set in " + path);
  }
  for (size_t i = kBlocksOffset + 8; i < kHeaderChecksumOffset; ++i) {
    if (header[i] != 0) return Status::Corruption("vector file: reserved bytes set in " + path);
  }
  file->dim_ = DecodeFixed32(header + kDimOffset);
  file->rows_ = DecodeFixed64(header + kRowsOffset);
  file->rows_per_block_ = DecodeFixed32(header + kRowsPerBlockOffset);
  file->blocks_ = DecodeFixed64(header + kBlocksOffset);
  if (file->dim_ == 0 || file->dim_ > kDimensionMax || file->rows_ > kRowsMax || file->rows_per_block_ == 0 ||
      file->rows_per_block_ > kRowsPerBlockMax ||
      file->blocks_ != (file->rows_ + file->rows_per_block_ - 1) / file->rows_per_block_) {
    return Status::Corruption("vector file: inconsistent header in " + path);
  }
  file->row_bytes_ = size_t{file->dim_} * sizeof(float);
  if (file->row_bytes_ * file->rows_per_block_ > 2 * kBlockBytesMax) {
    return Status::Corruption("vector file: block too large in " + path);
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoStatus("stat", path, errno);
  const uint64_t expected = file->BlockOffset(file->blocks_);
  if (static_cast<uint64_t>(st.st_size) != expected) {
    return Status::Corruption("vector file: size " + std::to_string(st.st_size) + " != expected " +
                              std::to_string(expected) + " in " + path);
  }
  if (cache->block_bytes() < file->row_bytes_ * file->rows_per_block_) {
    return Status::InvalidArgument("vector file: block cache blocks smaller than the file's in " + path);
  }
  file->cache_ = cache;
  file->file_id_ = cache->NewFileId();
  return file;
}

VectorFile::~VectorFile() {
  if (cache_ != nullptr) cache_->EraseFile(file_id_);
  if (fd_ >= 0) ::close(fd_);
}

uint64_t VectorFile::BlockOffset(uint64_t block) const {
  // Every block but the last is full, so block b starts after b full blocks.
  const uint64_t full_block_bytes = uint64_t{rows_per_block_} * row_bytes_ + kBlockChecksumBytes;
  if (block < blocks_) return kHeaderBytes + block * full_block_bytes;
  // One past the last block: the file size.
  if (blocks_ == 0) return kHeaderBytes;
  return kHeaderBytes + (blocks_ - 1) * full_block_bytes + BlockPayloadBytes(blocks_ - 1) + kBlockChecksumBytes;
}

size_t VectorFile::BlockPayloadBytes(uint64_t block) const {
  const uint64_t first = block * rows_per_block_;
  return static_cast<size_t>(std::min<uint64_t>(rows_per_block_, rows_ - first)) * row_bytes_;
}

bool VectorFile::ReadBlock(uint64_t block, char* buffer) const {
  const size_t payload = BlockPayloadBytes(block);
  const size_t size = payload + kBlockChecksumBytes;
  const uint64_t offset = BlockOffset(block);
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd_, buffer + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {  // an error, or end of file: the file shrank after Open
      read_errors_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    done += static_cast<size_t>(n);
  }
  if (DecodeFixed64(buffer + payload) != Checksum64(std::string_view(buffer, payload))) {
    corruptions_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

const float* VectorFile::Fetch(uint32_t slot, float* scratch) const {
  if (slot >= rows_) return nullptr;
  const uint64_t block = slot / rows_per_block_;
  const size_t offset = static_cast<size_t>(slot % rows_per_block_) * row_bytes_;
  if (cache_->Read(file_id_, block, offset, row_bytes_, scratch)) {
    hits_.fetch_add(1, std::memory_order_relaxed);
    return scratch;
  }
  misses_.fetch_add(1, std::memory_order_relaxed);
  // One buffer per thread, grown to the largest block seen: a miss allocates nothing.
  thread_local std::vector<char> buffer;
  const size_t payload = BlockPayloadBytes(block);
  if (buffer.size() < payload + kBlockChecksumBytes) buffer.resize(payload + kBlockChecksumBytes);
  if (!ReadBlock(block, buffer.data())) return nullptr;
  std::memcpy(scratch, buffer.data() + offset, row_bytes_);
  cache_->Insert(file_id_, block, buffer.data(), payload);
  return scratch;
}

VectorFile::Stats VectorFile::stats() const {
  Stats s;
  s.hits = hits_.load(std::memory_order_relaxed);
  s.misses = misses_.load(std::memory_order_relaxed);
  s.read_errors = read_errors_.load(std::memory_order_relaxed);
  s.corruptions = corruptions_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace fathom
