#include "io/mem_store.h"

#include <algorithm>

namespace fathom {

Status MemStore::Put(const std::string& key, std::string_view bytes, PutMode mode) {
  FATHOM_RETURN_IF_ERROR(ValidateObjectKey(key));
  std::lock_guard<std::mutex> lock(mu_);
  if (mode == PutMode::kCreateOnly && objects_.count(key) != 0) {
    return Status::AlreadyExists("object exists: " + key);
  }
  objects_[key] = std::string(bytes);
  return Status::Ok();
}

Result<std::string> MemStore::Get(const std::string& key, std::optional<ByteRange> range) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return Status::NotFound("no object " + key);
  if (!range) return it->second;
  uint64_t size = it->second.size();
  uint64_t offset = std::min(range->offset, size);
  uint64_t length = std::min(range->length, size - offset);
  return it->second.substr(offset, length);
}

Result<ObjectInfo> MemStore::Head(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return Status::NotFound("no object " + key);
  return ObjectInfo{key, it->second.size()};
}

Result<std::vector<ObjectInfo>> MemStore::List(const std::string& prefix,
                                               const std::string& start_after, size_t max_keys) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ObjectInfo> out;
  for (auto it = objects_.lower_bound(std::max(prefix, start_after)); it != objects_.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    if (it->first <= start_after) continue;
    out.push_back({it->first, it->second.size()});
    if (max_keys != 0 && out.size() == max_keys) break;
  }
  return out;
}

Status MemStore::Delete(const std::string& key) {
  FATHOM_RETURN_IF_ERROR(ValidateObjectKey(key));  // as every store: a bad key is refused
  std::lock_guard<std::mutex> lock(mu_);
  objects_.erase(key);
  return Status::Ok();
}

std::map<std::string, std::string> MemStore::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return objects_;
}

void MemStore::Set(const std::string& key, std::string bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  objects_[key] = std::move(bytes);
}

}  // namespace fathom
