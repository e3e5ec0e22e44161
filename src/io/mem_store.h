// MemStore: an ObjectStore in RAM, for tests and simulation. Thread-safe (one mutex).
#pragma once

#include <map>
#include <mutex>

#include "io/object_store.h"

namespace fathom {

class MemStore : public ObjectStore {
 public:
  Status Put(const std::string& key, std::string_view bytes, PutMode mode) override;
  Result<std::string> Get(const std::string& key, std::optional<ByteRange> range) override;
  Result<ObjectInfo> Head(const std::string& key) override;
  Result<std::vector<ObjectInfo>> List(const std::string& prefix, const std::string& start_after,
                                       size_t max_keys) override;
  Status Delete(const std::string& key) override;
  std::string Describe() const override { return "mem"; }

  // Test helpers: direct access to stored bytes (e.g. to flip one).
  std::map<std::string, std::string> Snapshot() const;
  void Set(const std::string& key, std::string bytes);

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string> objects_;
};

}  // namespace fathom
