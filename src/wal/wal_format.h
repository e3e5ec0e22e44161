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
// Version 2 adds the writer nonce; version 1 objects (no nonce) are still read.
inline constexpr uint16_t kWalFormatVersion = 2;

// InvalidArgument naming the limit (nothing encoded) if any op or the whole object is
// over a limit DecodeWalObject enforces (common/limits.h), in particular
// limits::kWalObjectBytesMax: the caller must split larger groups.
//
// `writer_nonce` is a fresh random number per commit (RandomU64()): it makes the bytes of
// one writer's commit unlike any other writer's, so a writer that retries a put whose
// outcome was unknown and finds an object at its key can tell its own from another
// node's byte-for-byte equal group (the same delete at the same sequence number).
Result<std::string> EncodeWalObject(uint64_t sequence, const OperationBatch& ops, uint64_t writer_nonce);

struct WalObject {
  uint64_t sequence = 0;
  uint64_t writer_nonce = 0;  // 0 in version 1 objects
  OperationBatch ops;
};
Result<WalObject> DecodeWalObject(std::string_view bytes);
// DecodeWalObject for the bytes stored under `key`, the key of WAL object `sequence`:
// errors name the key, and an object holding another sequence number is Corruption.
Result<WalObject> DecodeWalObjectAt(std::string_view bytes, const std::string& key, uint64_t sequence);

// Object key of WAL object `sequence` of a collection: c/<id>/wal/<sequence:020>.
std::string WalKey(const std::string& collection_id, uint64_t sequence);
std::string WalPrefix(const std::string& collection_id);
// Parses the sequence number out of a WAL key; false if the key is not one.
bool ParseWalKey(const std::string& key, uint64_t* sequence);

}  // namespace fathom
