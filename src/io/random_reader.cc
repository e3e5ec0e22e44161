#include "io/random_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "io/uring_reads.h"

namespace fathom {

namespace {
Status ErrnoStatus(const char* what, const std::string& path, int err) {
  return Status::IOError(std::string(what) + " " + path + ": " + std::strerror(err));
}
}  // namespace

Result<std::unique_ptr<RandomReader>> LocalFileReader::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound("no file " + path);
    return ErrnoStatus("open", path, errno);
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return ErrnoStatus("stat", path, err);
  }
  return std::unique_ptr<RandomReader>(new LocalFileReader(fd, path, static_cast<uint64_t>(st.st_size)));
}

LocalFileReader::~LocalFileReader() { ::close(fd_); }

Status LocalFileReader::ReadAt(uint64_t offset, size_t length, char* dst) const {
  size_t done = 0;
  while (done < length) {
    ssize_t n = ::pread(fd_, dst + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("read", path_, errno);
    }
    if (n == 0) return Status::Corruption(path_ + " ends before byte " + std::to_string(offset + length));
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

void LocalFileReader::ReadMany(ReadRequest* requests, size_t count) const {
  if (count > 1) {
    thread_local std::vector<int64_t> results;
    results.resize(count);
    if (UringReadMany(fd_, requests, count, results.data())) {
      for (size_t i = 0; i < count; ++i) {
        ReadRequest& r = requests[i];
        const int64_t got = results[i];
        if (got >= 0 && static_cast<size_t>(got) == r.length) {
          r.status = Status::Ok();
        } else if (got >= 0) {  // short: pread finishes it (and reports a file that ended)
          r.status = ReadAt(r.offset + static_cast<uint64_t>(got), r.length - static_cast<size_t>(got),
                            r.dst + got);
        } else if (got == -EAGAIN || got == -EINTR) {  // not submitted, or interrupted
          r.status = ReadAt(r.offset, r.length, r.dst);
        } else {
          r.status = ErrnoStatus("read", path_, static_cast<int>(-got));
        }
      }
      return;
    }
  }
  RandomReader::ReadMany(requests, count);
}

Result<std::unique_ptr<RandomReader>> ObjectRangeReader::Open(std::shared_ptr<ObjectStore> store,
                                                              const std::string& key) {
  FATHOM_ASSIGN_OR_RETURN(ObjectInfo info, store->Head(key));
  return std::unique_ptr<RandomReader>(new ObjectRangeReader(std::move(store), key, info.size_bytes));
}

Status ObjectRangeReader::ReadAt(uint64_t offset, size_t length, char* dst) const {
  if (length == 0) return Status::Ok();
  FATHOM_ASSIGN_OR_RETURN(std::string bytes, store_->Get(key_, ByteRange{offset, length}));
  if (bytes.size() != length) return Status::Corruption(key_ + " ends before byte " + std::to_string(offset + length));
  std::memcpy(dst, bytes.data(), length);
  return Status::Ok();
}

Result<std::unique_ptr<RandomReader>> OpenObjectReader(const std::shared_ptr<ObjectStore>& store,
                                                       const std::string& key) {
  FATHOM_RETURN_IF_ERROR(ValidateObjectKey(key));
  if (auto path = store->LocalPath(key)) {
    auto reader = LocalFileReader::Open(*path);
    if (!reader.ok() && reader.status().IsNotFound()) return Status::NotFound("no object " + key);
    return reader;
  }
  return ObjectRangeReader::Open(store, key);
}

}  // namespace fathom
