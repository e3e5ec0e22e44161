#include "io/cache_page.h"

#include <cstring>

#include "common/checksum.h"
#include "common/coding.h"

namespace fathom {

namespace {

constexpr char kMagic[4] = {'F', 'C', 'P', 'G'};
constexpr uint16_t kFormatVersion = 1;
constexpr size_t kKeyBytesMax = 1024;
// magic, version, flags, key length, page index, page bytes, data length; then the key,
// the data and the checksum.
constexpr size_t kHeaderBytes = 4 + 2 + 2 + 4 + 8 + 4 + 4;
constexpr size_t kTrailerBytes = 8;

}  // namespace

Result<std::string> EncodeCachePage(const CachePage& page) {
  if (page.key.empty() || page.key.size() > kKeyBytesMax) {
    return Status::InvalidArgument("cache page: key of " + std::to_string(page.key.size()) + " bytes");
  }
  if (page.page_bytes == 0 || page.data.size() > page.page_bytes) {
    return Status::InvalidArgument("cache page: " + std::to_string(page.data.size()) + " bytes of data in a page of " +
                                   std::to_string(page.page_bytes));
  }
  std::string out;
  out.reserve(kHeaderBytes + page.key.size() + page.data.size() + kTrailerBytes);
  out.append(kMagic, sizeof(kMagic));
  PutFixed16(&out, kFormatVersion);
  PutFixed16(&out, 0);
  PutFixed32(&out, static_cast<uint32_t>(page.key.size()));
  PutFixed64(&out, page.index);
  PutFixed32(&out, page.page_bytes);
  PutFixed32(&out, static_cast<uint32_t>(page.data.size()));
  out.append(page.key);
  out.append(page.data);
  PutFixed64(&out, Checksum64(out));
  return out;
}

Result<CachePage> DecodeCachePage(std::string_view bytes) {
  if (bytes.size() < kHeaderBytes + kTrailerBytes) return Status::Corruption("cache page too short");
  if (std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) return Status::Corruption("cache page: bad magic");
  const std::string_view body = bytes.substr(0, bytes.size() - kTrailerBytes);
  if (Checksum64(body) != DecodeFixed64(bytes.data() + body.size())) {
    return Status::Corruption("cache page: checksum mismatch");
  }
  Decoder in(body.substr(sizeof(kMagic)));
  uint16_t version = 0, flags = 0;
  uint32_t key_bytes = 0, data_bytes = 0;
  CachePage page;
  if (!in.GetFixed16(&version) || !in.GetFixed16(&flags) || !in.GetFixed32(&key_bytes) ||
      !in.GetFixed64(&page.index) || !in.GetFixed32(&page.page_bytes) || !in.GetFixed32(&data_bytes)) {
    return Status::Corruption("cache page: malformed header");
  }
  if (version != kFormatVersion || flags != 0) {
    return Status::Corruption("cache page: unsupported version " + std::to_string(version));
  }
  if (key_bytes == 0 || key_bytes > kKeyBytesMax || page.page_bytes == 0 || data_bytes > page.page_bytes) {
    return Status::Corruption("cache page: malformed header");
  }
  // Exactly the key and the data remain: a length that disagrees with the file is damage.
  if (in.remaining() != static_cast<uint64_t>(key_bytes) + data_bytes) {
    return Status::Corruption("cache page: lengths disagree with the file size");
  }
  (void)in.GetBytes(key_bytes, &page.key);
  (void)in.GetBytes(data_bytes, &page.data);
  return page;
}

}  // namespace fathom
