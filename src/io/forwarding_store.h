// ForwardingStore: an ObjectStore that passes every call to another, for decorators that
// change one or two operations (tests' fault hooks, a benchmark's request counter).
// Subclasses override what they change and call ForwardingStore's version for the rest.
// Thread-safety: as the wrapped store's.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "io/object_store.h"

namespace fathom {

class ForwardingStore : public ObjectStore {
 public:
  explicit ForwardingStore(std::shared_ptr<ObjectStore> base) : base_(std::move(base)) {}

  Status Put(const std::string& key, std::string_view bytes, PutMode mode) override {
    return base_->Put(key, bytes, mode);
  }
  Result<std::string> Get(const std::string& key, std::optional<ByteRange> range) override {
    return base_->Get(key, range);
  }
  Result<std::vector<std::string>> GetRanges(const std::vector<RangedRead>& reads) override {
    return base_->GetRanges(reads);
  }
  Result<ObjectInfo> Head(const std::string& key) override { return base_->Head(key); }
  Result<std::vector<ObjectInfo>> List(const std::string& prefix, const std::string& start_after,
                                       size_t max_keys) override {
    return base_->List(prefix, start_after, max_keys);
  }
  Status Delete(const std::string& key) override { return base_->Delete(key); }
  std::vector<Status> DeleteMany(const std::vector<std::string>& keys) override { return base_->DeleteMany(keys); }
  std::string Describe() const override { return base_->Describe(); }

 protected:
  const std::shared_ptr<ObjectStore>& base() const { return base_; }

 private:
  std::shared_ptr<ObjectStore> base_;
};

}  // namespace fathom
