#include "wal/wal_format.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "common/assert.h"
#include "common/checksum.h"
#include "common/coding.h"
#include "common/limits.h"
#include "common/value_coding.h"

namespace fathom {

namespace {

constexpr size_t kHeaderBytes = 4 + 2 + 2 + 8 + 4;  // magic, version, flags, sequence, op count
constexpr size_t kNonceBytes = 8;                    // after the header, from version 2
constexpr uint16_t kWalFormatVersionWithoutNonce = 1;
constexpr size_t kTrailerBytes = 8;                  // checksum
constexpr size_t kOpBytesMin = 3;                    // a delete: type, id length, 1-byte id
constexpr size_t kOpsReservedMax = 4096;             // ops reserved before any is decoded

enum FieldBit : uint8_t {
  kHasEmbedding = 1,
  kHasDocument = 2,
  kHasUri = 4,
  kHasMetadata = 8,
};

// Checks `op` against every limit DecodeOp enforces, so that nothing is written that
// DecodeOp refuses.
Status CheckOp(const Operation& op, size_t index) {
  auto invalid = [index](const std::string& what) {
    return Status::InvalidArgument("WAL operation " + std::to_string(index) + ": " + what);
  };
  auto over = [&invalid](const char* what, size_t got, const char* limit_name, size_t limit) {
    return invalid(std::string(what) + " " + std::to_string(got) + " exceeds " + limit_name + " (" +
                   std::to_string(limit) + ")");
  };
  const uint8_t type = static_cast<uint8_t>(op.type);
  if (type < 1 || type > 4) return invalid("unknown operation type " + std::to_string(type));
  const WriteRecord& r = op.record;
  if (r.id.empty()) return invalid("empty id");
  if (r.id.size() > limits::kIdLengthMax) {
    return over("id bytes", r.id.size(), "limits::kIdLengthMax", limits::kIdLengthMax);
  }
  if (op.type == OpType::kDelete) return Status::Ok();
  if (r.embedding) {
    if (r.embedding->empty() || r.embedding->size() > limits::kDimensionMax) {
      return over("embedding dimension", r.embedding->size(), "limits::kDimensionMax", limits::kDimensionMax);
    }
  } else if (op.type == OpType::kAdd || op.type == OpType::kUpsert) {
    return invalid("add and upsert need an embedding");
  }
  if (r.document && r.document->size() > limits::kDocumentBytesMax) {
    return over("document bytes", r.document->size(), "limits::kDocumentBytesMax", limits::kDocumentBytesMax);
  }
  if (r.uri && r.uri->size() > limits::kUriBytesMax) {
    return over("uri bytes", r.uri->size(), "limits::kUriBytesMax", limits::kUriBytesMax);
  }
  if (r.metadata) {
    if (Status s = CheckMetadataPatchLimits(*r.metadata); !s.ok()) return invalid(s.message());
  }
  return Status::Ok();
}

// REQUIRES: CheckOp(op) passed.
void EncodeOp(std::string* dst, const Operation& op) {
  dst->push_back(static_cast<char>(op.type));
  PutLengthPrefixed(dst, op.record.id);
  if (op.type == OpType::kDelete) return;
  const WriteRecord& r = op.record;
  uint8_t bits = (r.embedding ? kHasEmbedding : 0) | (r.document ? kHasDocument : 0) |
                 (r.uri ? kHasUri : 0) | (r.metadata ? kHasMetadata : 0);
  dst->push_back(static_cast<char>(bits));
  if (r.embedding) {
    PutVarint64(dst, r.embedding->size());
    PutFloats(dst, r.embedding->data(), r.embedding->size());
  }
  if (r.document) PutLengthPrefixed(dst, *r.document);
  if (r.uri) PutLengthPrefixed(dst, *r.uri);
  // Checked by CheckOp, so this cannot fail.
  if (r.metadata) FATHOM_CHECK(EncodeMetadataPatch(dst, *r.metadata).ok());
}

bool DecodeString(Decoder* in, size_t max, std::optional<std::string>* out) {
  std::string_view s;
  if (!in->GetLengthPrefixed(&s, max)) return false;
  *out = std::string(s);
  return true;
}

bool DecodeOp(Decoder* in, Operation* op) {
  uint8_t type;
  if (!in->GetU8(&type) || type < 1 || type > 4) return false;
  op->type = static_cast<OpType>(type);
  std::string_view id;
  if (!in->GetLengthPrefixed(&id, limits::kIdLengthMax) || id.empty()) return false;
  op->record = WriteRecord{};
  op->record.id.assign(id);
  if (op->type == OpType::kDelete) return true;
  uint8_t bits;
  if (!in->GetU8(&bits) || (bits & ~0x0F) != 0) return false;
  if (bits & kHasEmbedding) {
    uint64_t dim;
    if (!in->GetVarint64(&dim) || dim == 0 || dim > limits::kDimensionMax) return false;
    if (dim > in->remaining() / 4) return false;  // before allocating
    std::vector<float> v(static_cast<size_t>(dim));
    if (!in->GetFloats(v.size(), v.data())) return false;
    op->record.embedding = std::move(v);
  }
  // Add and upsert always carry an embedding (checked before logging).
  if ((op->type == OpType::kAdd || op->type == OpType::kUpsert) && !(bits & kHasEmbedding)) return false;
  if ((bits & kHasDocument) && !DecodeString(in, limits::kDocumentBytesMax, &op->record.document)) return false;
  if ((bits & kHasUri) && !DecodeString(in, limits::kUriBytesMax, &op->record.uri)) return false;
  if (bits & kHasMetadata) {
    MetadataPatch patch;
    if (!DecodeMetadataPatch(in, &patch)) return false;
    op->record.metadata = std::move(patch);
  }
  return true;
}

}  // namespace

Result<std::string> EncodeWalObject(uint64_t sequence, const OperationBatch& ops, uint64_t writer_nonce) {
  size_t estimate = kHeaderBytes + kNonceBytes + kTrailerBytes;
  for (size_t i = 0; i < ops.size(); ++i) {
    FATHOM_RETURN_IF_ERROR(CheckOp(ops[i], i));
    const WriteRecord& r = ops[i].record;
    estimate += 32 + r.id.size() + (r.embedding ? r.embedding->size() * 4 : 0) + (r.document ? r.document->size() : 0);
  }
  // The op count is a fixed32; an object of kWalObjectBytesMax holds far fewer ops.
  static_assert(limits::kWalObjectBytesMax / kOpBytesMin < UINT32_MAX);
  if (ops.size() > limits::kWalObjectBytesMax / kOpBytesMin) {
    return Status::InvalidArgument("WAL object: " + std::to_string(ops.size()) + " operations exceed what " +
                                   "limits::kWalObjectBytesMax (" + std::to_string(limits::kWalObjectBytesMax) +
                                   " bytes) can hold");
  }
  std::string out;
  out.reserve(std::min(estimate, limits::kWalObjectBytesMax));
  out.append(kWalMagic, 4);
  PutFixed16(&out, kWalFormatVersion);
  PutFixed16(&out, 0);  // flags, reserved
  PutFixed64(&out, sequence);
  PutFixed32(&out, static_cast<uint32_t>(ops.size()));
  PutFixed64(&out, writer_nonce);
  for (const Operation& op : ops) {
    EncodeOp(&out, op);
    // Stop early rather than build an object of many GiB only to refuse it.
    if (out.size() + kTrailerBytes > limits::kWalObjectBytesMax) break;
  }
  if (out.size() + kTrailerBytes > limits::kWalObjectBytesMax) {
    return Status::InvalidArgument("WAL object: the group's encoding exceeds limits::kWalObjectBytesMax (" +
                                   std::to_string(limits::kWalObjectBytesMax) + " bytes)");
  }
  PutFixed64(&out, Checksum64(out));
  return out;
}

Result<WalObject> DecodeWalObject(std::string_view bytes) {
  if (bytes.size() < kHeaderBytes + kTrailerBytes) return Status::Corruption("WAL object too short");
  if (bytes.size() > limits::kWalObjectBytesMax) return Status::Corruption("WAL object too large");
  if (std::memcmp(bytes.data(), kWalMagic, 4) != 0) return Status::Corruption("WAL object: bad magic");
  std::string_view body = bytes.substr(0, bytes.size() - kTrailerBytes);
  uint64_t stored = DecodeFixed64(bytes.data() + body.size());
  if (Checksum64(body) != stored) return Status::Corruption("WAL object: checksum mismatch");
  Decoder in(body.substr(4));
  uint16_t version, flags;
  uint32_t count;
  WalObject object;
  if (!in.GetFixed16(&version) || !in.GetFixed16(&flags) || !in.GetFixed64(&object.sequence) ||
      !in.GetFixed32(&count)) {
    return Status::Corruption("WAL object: truncated header");
  }
  if (version != kWalFormatVersion && version != kWalFormatVersionWithoutNonce) {
    return Status::Corruption("WAL object: unsupported format version " + std::to_string(version));
  }
  if (flags != 0) return Status::Corruption("WAL object: unknown flags");
  if (version >= 2 && !in.GetFixed64(&object.writer_nonce)) return Status::Corruption("WAL object: truncated header");
  // Each op takes at least kOpBytesMin bytes: a count the payload cannot hold is refused
  // before anything is allocated. A decoded Operation is ~50x its smallest encoding, so
  // ops are still only allocated as they decode, never for the whole count up front.
  if (count > in.remaining() / kOpBytesMin) return Status::Corruption("WAL object: op count exceeds payload");
  object.ops.reserve(std::min<size_t>(count, kOpsReservedMax));
  for (uint32_t i = 0; i < count; ++i) {
    if (!DecodeOp(&in, &object.ops.emplace_back())) {
      return Status::Corruption("WAL object: malformed operation " + std::to_string(i));
    }
  }
  if (!in.empty()) return Status::Corruption("WAL object: trailing bytes");
  return object;
}

Result<WalObject> DecodeWalObjectAt(std::string_view bytes, const std::string& key, uint64_t sequence) {
  auto decoded = DecodeWalObject(bytes);
  if (!decoded.ok()) return decoded.status().WithContext(key);
  if (decoded->sequence != sequence) return Status::Corruption(key + ": holds another sequence number");
  return decoded;
}

std::string WalPrefix(const std::string& collection_id) { return "c/" + collection_id + "/wal/"; }

std::string WalKey(const std::string& collection_id, uint64_t sequence) {
  return WalPrefix(collection_id) + FixedWidthNumber(sequence);
}

bool ParseWalKey(const std::string& key, uint64_t* sequence) {
  size_t slash = key.rfind('/');
  std::string digits = slash == std::string::npos ? key : key.substr(slash + 1);
  if (digits.size() != 20) return false;
  uint64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    uint64_t next = v * 10 + static_cast<uint64_t>(c - '0');
    if (next / 10 != v) return false;
    v = next;
  }
  *sequence = v;
  return true;
}

}  // namespace fathom
