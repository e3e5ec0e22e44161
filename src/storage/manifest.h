// Manifest: which segments make up a collection, and the last WAL sequence they cover.
// One immutable object per version at c/<id>/manifest/<version:020>, committed with a
// create-only Put; the highest version is current. Byte layout: docs/format/manifest.md.
#pragma once

#include <cstdint>
#include <string>
#include <optional>
#include <string_view>
#include <vector>

#include "fathom/status.h"

namespace fathom {

inline constexpr char kManifestMagic[4] = {'F', 'M', 'A', 'N'};
inline constexpr uint16_t kManifestFormatVersion = 5;  // 1 to 4 are still read

struct SegmentRef {
  std::string id;  // object c/<collection>/seg/<id>.records
  uint64_t rows = 0;
  uint64_t tombstones = 0;
  uint64_t size_bytes = 0;
};

// A derived, persisted index of the state the manifest describes: one object per index
// (db/collection_index.h). The vector index (docs/format/vector_index.md, "collection
// envelope") is object c/<collection>/vidx/<id>.ivf; the full-text index (docs/format/
// text-index.md) is c/<collection>/tidx/<id>.tix; the sparse vector index (docs/format/
// sparse-index.md) is c/<collection>/sidx/<id>.six. Derived data: may lag or be absent,
// never required.
struct IndexObjectRef {
  std::string id;
  uint64_t rows = 0;  // vector index: rows the index covers; text, sparse index: live rows of the state
  uint64_t size_bytes = 0;
};
using VectorIndexRef = IndexObjectRef;
using TextIndexRef = IndexObjectRef;
using SparseIndexRef = IndexObjectRef;

// A cold part: spilled full vectors (docs/format/vector_file.md with row tags), object
// c/<collection>/vcold/<id>.vec. Derived data like the index: rows are matched to it by
// record offset and content hash at open, and rows it does not match stay in RAM.
struct ColdPartRef {
  std::string id;
  uint64_t rows = 0;
  uint64_t size_bytes = 0;
};

struct Manifest {
  uint64_t version = 0;
  uint64_t wal_sequence_covered = 0;  // every WAL object <= this is folded into segments
  uint64_t next_offset = 0;           // the collection's insertion counter after them
  uint32_t dimension = 0;             // 0 = not known yet
  std::vector<SegmentRef> segments;   // oldest first; later segments override earlier
  std::optional<VectorIndexRef> vector_index;  // derived data: may lag, never required
  std::vector<ColdPartRef> cold_parts;         // derived data, oldest first
  std::optional<TextIndexRef> text_index;      // derived data: may be absent, never required
  std::optional<SparseIndexRef> sparse_index;  // derived data (version 5): may be absent
};

// InvalidArgument naming the limit (nothing encoded) when `manifest` breaks a limit that
// DecodeManifest enforces: limits::kManifestSegmentsMax segments, limits::kColdPartsMax
// cold parts, UUID ids, limits::kDimensionMax.
Result<std::string> EncodeManifest(const Manifest& manifest);
Result<Manifest> DecodeManifest(std::string_view bytes);

std::string ManifestPrefix(const std::string& collection_id);
std::string ManifestKey(const std::string& collection_id, uint64_t version);
std::string SegmentPrefix(const std::string& collection_id);
std::string SegmentKey(const std::string& collection_id, const std::string& segment_id);
std::string VectorIndexPrefix(const std::string& collection_id);
std::string VectorIndexKey(const std::string& collection_id, const std::string& index_id);
std::string ColdPartPrefix(const std::string& collection_id);
std::string ColdPartKey(const std::string& collection_id, const std::string& part_id);
std::string TextIndexPrefix(const std::string& collection_id);
std::string TextIndexKey(const std::string& collection_id, const std::string& index_id);
std::string SparseIndexPrefix(const std::string& collection_id);
std::string SparseIndexKey(const std::string& collection_id, const std::string& index_id);
std::string CollectionPrefix(const std::string& collection_id);
// Whether `key` names a collection's data object: a segment, vector index, cold part,
// text index or sparse index.
// Their ids are fresh UUIDs, so such a key never names two different byte strings (what
// lets io/cache_store.h keep them without asking the store); WAL objects, manifests and
// the catalog are read to learn what exists and are not data objects.
bool IsCollectionDataKey(std::string_view key);

}  // namespace fathom
