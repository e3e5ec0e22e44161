// Encoding of one WAL object (one group commit). Byte layout: docs/format/wal.md.
//
// A WAL object is self-checking: magic, version, its own sequence number and an XXH3-64
// over every preceding byte. DecodeWalObject returns Corruption for any malformed input
// and never reads out of bounds (fuzzed in tests/fuzz/).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "fathom/status.h"
#include "wal/operation.h"

namespace fathom {

inline constexpr char kWalMagic[4] = {'F', 'W', 'A', 'L'};
inline constexpr uint16_t kWalFormatVersion = 1;

// InvalidArgument naming the limit (nothing encoded) if any op or the whole object is
// over a limit DecodeWalObject enforces (common/limits.h), in particular
// limits::kWalObjectBytesMax: the caller must split larger groups.
Result<std::string> EncodeWalObject(uint64_t sequence, const OperationBatch& ops);

struct WalObject {
  uint64_t sequence = 0;
  OperationBatch ops;
};
Result<WalObject> DecodeWalObject(std::string_view bytes);

// Object key of WAL object `sequence` of a collection: c/<id>/wal/<sequence:020>.
std::string WalKey(const std::string& collection_id, uint64_t sequence);
std::string WalPrefix(const std::string& collection_id);
// Parses the sequence number out of a WAL key; false if the key is not one.
bool ParseWalKey(const std::string& key, uint64_t* sequence);

}  // namespace fathom
