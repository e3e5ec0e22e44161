#include "storage/manifest.h"

#include <cstdio>
#include <cstring>

#include "common/checksum.h"
#include "common/coding.h"
#include "common/limits.h"
#include "common/random.h"

namespace fathom {

namespace {

// The checks DecodeManifest makes on each object id.
Status CheckObjectId(const std::string& id, const char* what) {
  if (id.size() > limits::kManifestObjectIdBytesMax || !IsUuid(id)) {
    return Status::InvalidArgument(std::string("manifest: ") + what + " id '" + id.substr(0, 80) +
                                   "' is not a UUID of at most limits::kManifestObjectIdBytesMax (" +
                                   std::to_string(limits::kManifestObjectIdBytesMax) + ") bytes");
  }
  return Status::Ok();
}

// Every limit DecodeManifest enforces, so that no manifest is committed that fails to load.
Status CheckManifest(const Manifest& m) {
  if (m.dimension > limits::kDimensionMax) {
    return Status::InvalidArgument("manifest: dimension " + std::to_string(m.dimension) +
                                   " exceeds limits::kDimensionMax (" + std::to_string(limits::kDimensionMax) + ")");
  }
  if (m.segments.size() > limits::kManifestSegmentsMax) {
    return Status::InvalidArgument("manifest: " + std::to_string(m.segments.size()) +
                                   " segments exceed limits::kManifestSegmentsMax (" +
                                   std::to_string(limits::kManifestSegmentsMax) + ")");
  }
  if (m.cold_parts.size() > limits::kColdPartsMax) {
    return Status::InvalidArgument("manifest: " + std::to_string(m.cold_parts.size()) +
                                   " cold parts exceed limits::kColdPartsMax (" +
                                   std::to_string(limits::kColdPartsMax) + ")");
  }
  for (const SegmentRef& s : m.segments) FATHOM_RETURN_IF_ERROR(CheckObjectId(s.id, "segment"));
  if (m.vector_index) FATHOM_RETURN_IF_ERROR(CheckObjectId(m.vector_index->id, "vector index"));
  for (const ColdPartRef& p : m.cold_parts) FATHOM_RETURN_IF_ERROR(CheckObjectId(p.id, "cold part"));
  if (m.text_index) FATHOM_RETURN_IF_ERROR(CheckObjectId(m.text_index->id, "text index"));
  if (m.sparse_index) FATHOM_RETURN_IF_ERROR(CheckObjectId(m.sparse_index->id, "sparse index"));
  return Status::Ok();
}

// An optional index reference: varint count (0 or 1), then (string uuid, varint rows,
// varint size in bytes).
void PutOptionalIndexRef(std::string* out, const std::optional<IndexObjectRef>& ref) {
  PutVarint64(out, ref ? 1 : 0);
  if (!ref) return;
  PutLengthPrefixed(out, ref->id);
  PutVarint64(out, ref->rows);
  PutVarint64(out, ref->size_bytes);
}

Status GetOptionalIndexRef(Decoder& in, const char* what, std::optional<IndexObjectRef>* out) {
  uint64_t count;
  if (!in.GetVarint64(&count) || count > 1) return Status::Corruption(std::string("manifest: malformed ") + what + " count");
  if (count == 0) return Status::Ok();
  IndexObjectRef ref;
  std::string_view id;
  if (!in.GetLengthPrefixed(&id, limits::kManifestObjectIdBytesMax) || !IsUuid(std::string(id)) ||
      !in.GetVarint64(&ref.rows) || !in.GetVarint64(&ref.size_bytes)) {
    return Status::Corruption(std::string("manifest: malformed ") + what + " entry");
  }
  ref.id.assign(id);
  *out = std::move(ref);
  return Status::Ok();
}

}  // namespace

Result<std::string> EncodeManifest(const Manifest& m) {
  FATHOM_RETURN_IF_ERROR(CheckManifest(m));
  std::string out(kManifestMagic, 4);
  PutFixed16(&out, kManifestFormatVersion);
  PutFixed16(&out, 0);
  PutFixed64(&out, m.version);
  PutFixed64(&out, m.wal_sequence_covered);
  PutFixed64(&out, m.next_offset);
  PutFixed32(&out, m.dimension);
  PutVarint64(&out, m.segments.size());
  for (const SegmentRef& s : m.segments) {
    PutLengthPrefixed(&out, s.id);
    PutVarint64(&out, s.rows);
    PutVarint64(&out, s.tombstones);
    PutVarint64(&out, s.size_bytes);
  }
  PutVarint64(&out, m.vector_index ? 1 : 0);
  if (m.vector_index) {
    PutLengthPrefixed(&out, m.vector_index->id);
    PutVarint64(&out, m.vector_index->rows);
    PutVarint64(&out, m.vector_index->size_bytes);
  }
  PutVarint64(&out, m.cold_parts.size());
  for (const ColdPartRef& p : m.cold_parts) {
    PutLengthPrefixed(&out, p.id);
    PutVarint64(&out, p.rows);
    PutVarint64(&out, p.size_bytes);
  }
  PutOptionalIndexRef(&out, m.text_index);
  PutOptionalIndexRef(&out, m.sparse_index);
  PutFixed64(&out, Checksum64(out));
  return out;
}

Result<Manifest> DecodeManifest(std::string_view bytes) {
  if (bytes.size() < 4 + 4 + 28 + 1 + 8) return Status::Corruption("manifest too short");
  if (std::memcmp(bytes.data(), kManifestMagic, 4) != 0) return Status::Corruption("manifest: bad magic");
  std::string_view body = bytes.substr(0, bytes.size() - 8);
  if (Checksum64(body) != DecodeFixed64(bytes.data() + body.size())) {
    return Status::Corruption("manifest: checksum mismatch");
  }
  Decoder in(body.substr(4));
  uint16_t version, flags;
  Manifest m;
  uint64_t count;
  if (!in.GetFixed16(&version) || !in.GetFixed16(&flags) || !in.GetFixed64(&m.version) ||
      !in.GetFixed64(&m.wal_sequence_covered) || !in.GetFixed64(&m.next_offset) ||
      !in.GetFixed32(&m.dimension) || !in.GetVarint64(&count)) {
    return Status::Corruption("manifest: truncated");
  }
  if (version < 1 || version > kManifestFormatVersion || flags != 0) {
    return Status::Corruption("manifest: unsupported version " + std::to_string(version));
  }
  if (m.dimension > limits::kDimensionMax) return Status::Corruption("manifest: dimension out of range");
  if (count > limits::kManifestSegmentsMax || count > in.remaining()) {
    return Status::Corruption("manifest: too many segments");
  }
  for (uint64_t i = 0; i < count; ++i) {
    SegmentRef s;
    std::string_view id;
    if (!in.GetLengthPrefixed(&id, limits::kManifestObjectIdBytesMax) || !IsUuid(std::string(id)) || !in.GetVarint64(&s.rows) ||
        !in.GetVarint64(&s.tombstones) || !in.GetVarint64(&s.size_bytes)) {
      return Status::Corruption("manifest: malformed segment entry");
    }
    s.id.assign(id);
    m.segments.push_back(std::move(s));
  }
  if (version >= 2) {
    uint64_t indexes;
    if (!in.GetVarint64(&indexes) || indexes > 1) return Status::Corruption("manifest: malformed index count");
    if (indexes == 1) {
      VectorIndexRef ref;
      std::string_view id;
      if (!in.GetLengthPrefixed(&id, limits::kManifestObjectIdBytesMax) || !IsUuid(std::string(id)) || !in.GetVarint64(&ref.rows) ||
          !in.GetVarint64(&ref.size_bytes)) {
        return Status::Corruption("manifest: malformed vector index entry");
      }
      ref.id.assign(id);
      m.vector_index = std::move(ref);
    }
  }
  if (version >= 3) {
    uint64_t parts;
    if (!in.GetVarint64(&parts) || parts > limits::kColdPartsMax || parts > in.remaining()) {
      return Status::Corruption("manifest: malformed cold part count");
    }
    for (uint64_t i = 0; i < parts; ++i) {
      ColdPartRef ref;
      std::string_view id;
      if (!in.GetLengthPrefixed(&id, limits::kManifestObjectIdBytesMax) || !IsUuid(std::string(id)) || !in.GetVarint64(&ref.rows) ||
          !in.GetVarint64(&ref.size_bytes)) {
        return Status::Corruption("manifest: malformed cold part entry");
      }
      ref.id.assign(id);
      m.cold_parts.push_back(std::move(ref));
    }
  }
  if (version >= 4) FATHOM_RETURN_IF_ERROR(GetOptionalIndexRef(in, "text index", &m.text_index));
  if (version >= 5) FATHOM_RETURN_IF_ERROR(GetOptionalIndexRef(in, "sparse index", &m.sparse_index));
  if (!in.empty()) return Status::Corruption("manifest: trailing bytes");
  return m;
}

std::string CollectionPrefix(const std::string& collection_id) { return "c/" + collection_id + "/"; }
std::string ManifestPrefix(const std::string& collection_id) { return CollectionPrefix(collection_id) + "manifest/"; }
std::string SegmentPrefix(const std::string& collection_id) { return CollectionPrefix(collection_id) + "seg/"; }

std::string VectorIndexPrefix(const std::string& collection_id) { return CollectionPrefix(collection_id) + "vidx/"; }

std::string VectorIndexKey(const std::string& collection_id, const std::string& index_id) {
  return VectorIndexPrefix(collection_id) + index_id + ".ivf";
}

std::string ColdPartPrefix(const std::string& collection_id) { return CollectionPrefix(collection_id) + "vcold/"; }

std::string ColdPartKey(const std::string& collection_id, const std::string& part_id) {
  return ColdPartPrefix(collection_id) + part_id + ".vec";
}

std::string TextIndexPrefix(const std::string& collection_id) { return CollectionPrefix(collection_id) + "tidx/"; }

std::string TextIndexKey(const std::string& collection_id, const std::string& index_id) {
  return TextIndexPrefix(collection_id) + index_id + ".tix";
}

std::string SparseIndexPrefix(const std::string& collection_id) { return CollectionPrefix(collection_id) + "sidx/"; }

std::string SparseIndexKey(const std::string& collection_id, const std::string& index_id) {
  return SparseIndexPrefix(collection_id) + index_id + ".six";
}

bool IsCollectionDataKey(std::string_view key) {
  // "c/" + a 36-character collection id + "/" + a data prefix.
  constexpr size_t kIdEnd = 2 + 36;
  if (key.size() <= kIdEnd + 1 || key.substr(0, 2) != "c/" || key[kIdEnd] != '/') return false;
  const std::string_view rest = key.substr(kIdEnd + 1);
  for (std::string_view kind : {"seg/", "vidx/", "vcold/", "tidx/", "sidx/"}) {
    if (rest.substr(0, kind.size()) == kind && rest.size() > kind.size()) return true;
  }
  return false;
}

std::string ManifestKey(const std::string& collection_id, uint64_t version) {
  return ManifestPrefix(collection_id) + FixedWidthNumber(version);
}

std::string SegmentKey(const std::string& collection_id, const std::string& segment_id) {
  return SegmentPrefix(collection_id) + segment_id + ".records";
}

}  // namespace fathom
