#include "catalog/drop_record.h"

#include <cstring>

#include "common/checksum.h"
#include "common/coding.h"
#include "common/random.h"

namespace fathom {

namespace {

constexpr char kMagic[4] = {'F', 'D', 'R', 'P'};
constexpr uint16_t kFormatVersion = 1;
constexpr size_t kUuidBytes = 36;

}  // namespace

std::string DropRecordKey(const std::string& record_id) { return std::string(kDropRecordPrefix) + record_id; }

Result<std::string> EncodeDropRecord(const std::vector<std::string>& collection_ids) {
  std::string out(kMagic, sizeof(kMagic));
  PutFixed16(&out, kFormatVersion);
  PutFixed16(&out, 0);
  PutVarint64(&out, collection_ids.size());
  for (const std::string& id : collection_ids) {
    if (!IsUuid(id)) return Status::InvalidArgument("drop record: collection id is not a UUID: " + id);
    PutLengthPrefixed(&out, id);
  }
  PutFixed64(&out, Checksum64(out));
  return out;
}

Result<std::vector<std::string>> DecodeDropRecord(std::string_view bytes) {
  if (bytes.size() < sizeof(kMagic) + 4 + 1 + 8) return Status::Corruption("drop record too short");
  if (std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) return Status::Corruption("drop record: bad magic");
  std::string_view body = bytes.substr(0, bytes.size() - 8);
  if (Checksum64(body) != DecodeFixed64(bytes.data() + body.size())) {
    return Status::Corruption("drop record: checksum mismatch");
  }
  Decoder in(body.substr(sizeof(kMagic)));
  uint16_t version, flags;
  uint64_t count;
  auto bad = [] { return Status::Corruption("drop record: malformed"); };
  if (!in.GetFixed16(&version) || !in.GetFixed16(&flags)) return bad();
  if (version != kFormatVersion || flags != 0) {
    return Status::Corruption("drop record: unsupported version " + std::to_string(version));
  }
  // Each id takes 1 + 36 bytes: a count the bytes cannot hold is damage, not a size.
  if (!in.GetVarint64(&count) || count > in.remaining() / (1 + kUuidBytes)) return bad();
  std::vector<std::string> ids;
  ids.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    std::string_view id;
    if (!in.GetLengthPrefixed(&id, kUuidBytes)) return bad();
    std::string s(id);
    if (!IsUuid(s)) return bad();
    ids.push_back(std::move(s));
  }
  if (!in.empty()) return bad();
  return ids;
}

}  // namespace fathom
