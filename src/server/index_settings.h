// Vector-index settings as Chroma's API carries them in both a collection's
// `configuration` and its `schema` (chroma.md §3.1–3.4): the distance space, the HNSW
// parameters, SPANN parameters and the embedding-function descriptor, with their readers.
//
// The readers answer like Chroma's serde structs: a wrong type, an unknown field or a
// negative number is 422 (`Failed to deserialize ...: <path>: <text>`); `null` reads as
// absent. Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fathom/types.h"
#include "server/errors.h"
#include "server/json_reader.h"
#include "server/json_writer.h"

namespace fathom::server {

// A collection's HNSW parameters, every one filled in (local Chroma's defaults).
struct HnswParams {
  DistanceSpace space = DistanceSpace::kL2;
  uint64_t ef_construction = 100;
  uint64_t ef_search = 100;
  uint64_t max_neighbors = 16;
  uint64_t num_threads = 0;  // 0 = the number of CPUs, filled in when shown
  double resize_factor = 1.2;
  uint64_t sync_threshold = 1000;
  uint64_t batch_size = 100;
};

// HNSW parameters as a payload names them: each may be absent (Chroma's
// HnswIndexConfig). The space is not among them: it sits beside `hnsw` in a schema and is
// read separately from a configuration's `hnsw`.
struct HnswFields {
  std::optional<uint64_t> ef_construction;
  std::optional<uint64_t> max_neighbors;
  std::optional<uint64_t> ef_search;
  std::optional<uint64_t> num_threads;
  std::optional<uint64_t> batch_size;
  std::optional<uint64_t> sync_threshold;
  std::optional<double> resize_factor;

  // Every parameter of `params` (the space aside).
  static HnswFields From(const HnswParams& params);
  // Overwrites the parameters this names.
  void ApplyTo(HnswParams& params) const;
  // Fields named here win; the others come from `base`.
  HnswFields Over(const HnswFields& base) const;
  bool operator==(const HnswFields&) const = default;
};

// Which keys an `hnsw` object may carry.
enum class HnswKeys {
  kConfigurationCreate,  // `configuration.hnsw` on create: the space and every parameter
  kConfigurationUpdate,  // `new_configuration.hnsw`: the mutable parameters only
  kSchema,               // a schema's vector-index `hnsw`: every parameter, no space
};

// Reads an `hnsw` object. `space` receives a configuration's `space` (kConfigurationCreate).
ApiResult<HnswFields> ReadHnswFields(JsonElement value, std::string_view path, HnswKeys keys,
                                     std::optional<DistanceSpace>* space = nullptr);

// `"l2"`, `"cosine"` or `"ip"`; anything else is 422.
ApiResult<DistanceSpace> ReadDistanceSpace(JsonElement value, std::string_view path);

// Which keys a `spann` object may carry, and whether Chroma's bounds are checked (400
// `Validation error: ...`): they are on a configuration, not inside a schema.
enum class SpannMode { kCreate, kUpdate, kSchema };

// Reads and validates a `spann` object. Local Chroma builds HNSW instead, so only the
// space (`space`, create and schema modes) is used by the caller.
ApiStatus ReadSpann(JsonElement value, std::string_view path, SpannMode mode,
                    std::optional<DistanceSpace>* space);

// An embedding-function descriptor (chroma.md §3.3), checked for its `type` and kept as
// compact JSON: fathom stores and echoes it, never runs it. `null` reads as nullopt.
ApiResult<std::optional<std::string>> ReadEmbeddingFunction(JsonElement value, std::string_view path);

// Writes an `hnsw` object with the fields in Chroma's HnswIndexConfig order. A
// num_threads of 0 is written as the number of CPUs when `resolve_threads` (shown),
// verbatim otherwise (stored).
void WriteHnswFields(JsonWriter& w, const HnswFields& fields, bool resolve_threads);

// The number of CPUs for a num_threads of 0, else num_threads.
uint64_t EffectiveThreads(uint64_t num_threads);

}  // namespace fathom::server
