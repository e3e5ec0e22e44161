#include "io/random_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "io/uring_reads.h"

namespace fathom {

namespace {
Status ErrnoStatus(const char* what, const std::string& path, int err) {
  return Status::IOError(std::string(what) + " " + path + ": " + std::strerror(err));
}

// The bytes of one ranged read into its request, with ReadAt's checks.
void Deliver(const std::string& key, const std::string& bytes, ReadRequest& request) {
  if (bytes.size() != request.length) {
    request.status = Status::Corruption(key + " ends before byte " + std::to_string(request.offset + request.length));
    return;
  }
  std::memcpy(request.dst, bytes.data(), request.length);
  request.status = Status::Ok();
}

// Reads `group` (requests of readers on `store`, none empty) in GetRanges batches.
void ReadFromStore(ObjectStore& store, const std::vector<ReaderRequest>& group) {
  for (size_t begin = 0; begin < group.size(); begin += kGetRangesReadsMax) {
    const size_t end = std::min(group.size(), begin + kGetRangesReadsMax);
    std::vector<RangedRead> reads;
    reads.reserve(end - begin);
    for (size_t i = begin; i < end; ++i) {
      reads.push_back(RangedRead{group[i].reader->name(), ByteRange{group[i].request->offset, group[i].request->length}});
    }
    Result<std::vector<std::string>> got = store.GetRanges(reads);
    if (got.ok() && got->size() != reads.size()) {
      got = Status::IOError(store.Describe() + " answered " + std::to_string(got->size()) + " of a batch of " +
                            std::to_string(reads.size()) + " reads");
    }
    for (size_t i = begin; i < end; ++i) {
      if (!got.ok()) {
        group[i].request->status = got.status();
      } else {
        Deliver(reads[i - begin].key, (*got)[i - begin], *group[i].request);
      }
    }
  }
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
                                                              const std::string& key,
                                                              std::optional<uint64_t> size_bytes) {
  if (size_bytes) return std::unique_ptr<RandomReader>(new ObjectRangeReader(std::move(store), key, *size_bytes));
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

void ObjectRangeReader::ReadMany(ReadRequest* requests, size_t count) const {
  std::vector<ReaderRequest> group;
  group.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    if (requests[i].length == 0) {
      requests[i].status = Status::Ok();
      continue;
    }
    group.push_back(ReaderRequest{this, &requests[i]});
  }
  ReadFromStore(*store_, group);
}

void ReadAcross(const ReaderRequest* requests, size_t count) {
  // Requests by store (batched) and by local reader (ReadMany each), in first-seen order.
  std::vector<std::pair<ObjectStore*, std::vector<ReaderRequest>>> by_store;
  std::vector<std::pair<const RandomReader*, std::vector<ReadRequest*>>> by_reader;
  for (size_t i = 0; i < count; ++i) {
    const ReaderRequest& r = requests[i];
    if (r.request->length == 0) {
      r.request->status = Status::Ok();
      continue;
    }
    if (ObjectStore* store = r.reader->batch_store()) {
      auto it = std::find_if(by_store.begin(), by_store.end(), [&](const auto& g) { return g.first == store; });
      if (it == by_store.end()) it = by_store.insert(by_store.end(), {store, {}});
      it->second.push_back(r);
    } else {
      auto it = std::find_if(by_reader.begin(), by_reader.end(), [&](const auto& g) { return g.first == r.reader; });
      if (it == by_reader.end()) it = by_reader.insert(by_reader.end(), {r.reader, {}});
      it->second.push_back(r.request);
    }
  }
  for (auto& [store, group] : by_store) ReadFromStore(*store, group);
  for (auto& [reader, group] : by_reader) {
    // ReadMany takes a contiguous array: copy out, read, copy the statuses back.
    std::vector<ReadRequest> batch;
    batch.reserve(group.size());
    for (ReadRequest* r : group) batch.push_back(ReadRequest{r->offset, r->length, r->dst, Status::Ok()});
    reader->ReadMany(batch.data(), batch.size());
    for (size_t i = 0; i < group.size(); ++i) group[i]->status = std::move(batch[i].status);
  }
}

Result<std::unique_ptr<RandomReader>> OpenObjectReader(const std::shared_ptr<ObjectStore>& store,
                                                       const std::string& key, std::optional<uint64_t> size_bytes) {
  FATHOM_RETURN_IF_ERROR(ValidateObjectKey(key));
  if (auto path = store->LocalPath(key)) {
    auto reader = LocalFileReader::Open(*path);
    if (!reader.ok() && reader.status().IsNotFound()) return Status::NotFound("no object " + key);
    return reader;
  }
  return ObjectRangeReader::Open(store, key, size_bytes);
}

}  // namespace fathom
