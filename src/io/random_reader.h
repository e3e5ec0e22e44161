// RandomReader: positioned reads of one immutable byte sequence (a local file, or an
// object in an ObjectStore through ranged Gets), so a reader of a block format such as
// index/vector/vector_file.h need not know where its bytes live.
//
// ReadMany reads several ranges at once: a LocalFileReader submits them together through
// io_uring (one system call for the batch instead of one pread each; uring_reads.h),
// falling back to pread where io_uring is unavailable; an ObjectRangeReader sends them as
// one ObjectStore::GetRanges batch (parallel ranged GETs on S3). ReadAcross does the same
// for the ranges of several readers at once: all those on one store in one GetRanges
// call, so reading blocks of several objects costs one round trip, not one per object.
//
// Ownership: LocalFileReader owns its descriptor; ObjectRangeReader shares the store.
// Thread-safety: ReadAt and ReadMany are safe from many threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "fathom/status.h"
#include "io/object_store.h"

namespace fathom {

// One range of a ReadMany: `length` bytes at `offset` into `dst`; `status` is set.
struct ReadRequest {
  uint64_t offset = 0;
  size_t length = 0;
  char* dst = nullptr;
  Status status;
};

class RandomReader {
 public:
  virtual ~RandomReader() = default;
  // The length of the byte sequence, as of opening.
  virtual uint64_t size() const = 0;
  // Reads exactly `length` bytes at `offset` into `dst`. IOError when the read fails,
  // Corruption when the bytes end before offset + length (the sequence shrank).
  virtual Status ReadAt(uint64_t offset, size_t length, char* dst) const = 0;
  // Reads every request, each with ReadAt's semantics and its own status.
  virtual void ReadMany(ReadRequest* requests, size_t count) const {
    for (size_t i = 0; i < count; ++i) requests[i].status = ReadAt(requests[i].offset, requests[i].length, requests[i].dst);
  }
  // For messages: a path or an object key.
  virtual const std::string& name() const = 0;
  // The store this reader reads `name()` from with ranged Gets, so that ReadAcross can
  // batch its ranges with other readers' on the same store; null for a local file.
  virtual ObjectStore* batch_store() const { return nullptr; }
};

// One range of a ReadAcross batch: `request` read from `reader`.
struct ReaderRequest {
  const RandomReader* reader = nullptr;
  ReadRequest* request = nullptr;
};

// Reads every request, each with ReadAt's semantics and its own status: the requests of
// readers on one store (batch_store) as one GetRanges call per kGetRangesReadsMax (a
// failed batch fails each of its requests with the batch's error), the others through
// their reader's ReadMany.
void ReadAcross(const ReaderRequest* requests, size_t count);

// A local file read with pread.
class LocalFileReader final : public RandomReader {
 public:
  static Result<std::unique_ptr<RandomReader>> Open(const std::string& path);
  ~LocalFileReader() override;
  uint64_t size() const override { return size_; }
  Status ReadAt(uint64_t offset, size_t length, char* dst) const override;
  void ReadMany(ReadRequest* requests, size_t count) const override;
  const std::string& name() const override { return path_; }

 private:
  LocalFileReader(int fd, std::string path, uint64_t size) : fd_(fd), path_(std::move(path)), size_(size) {}
  int fd_;
  std::string path_;
  uint64_t size_;
};

// An object read with ranged Gets. Open asks the store for the object's size once, unless
// the caller knows it (a manifest records its objects' sizes): one request fewer.
class ObjectRangeReader final : public RandomReader {
 public:
  static Result<std::unique_ptr<RandomReader>> Open(std::shared_ptr<ObjectStore> store, const std::string& key,
                                                    std::optional<uint64_t> size_bytes = std::nullopt);
  uint64_t size() const override { return size_; }
  Status ReadAt(uint64_t offset, size_t length, char* dst) const override;
  // One GetRanges batch.
  void ReadMany(ReadRequest* requests, size_t count) const override;
  const std::string& name() const override { return key_; }
  ObjectStore* batch_store() const override { return store_.get(); }

 private:
  ObjectRangeReader(std::shared_ptr<ObjectStore> store, std::string key, uint64_t size)
      : store_(std::move(store)), key_(std::move(key)), size_(size) {}
  std::shared_ptr<ObjectStore> store_;
  std::string key_;
  uint64_t size_;
};

// The best reader for an object: the local file for a LocalStore, ranged Gets otherwise
// (`size_bytes`, when known, saves their HEAD; a wrong size makes reads fail, never
// return other bytes: a read past the real end is short, so Corruption).
Result<std::unique_ptr<RandomReader>> OpenObjectReader(const std::shared_ptr<ObjectStore>& store,
                                                       const std::string& key,
                                                       std::optional<uint64_t> size_bytes = std::nullopt);

}  // namespace fathom
