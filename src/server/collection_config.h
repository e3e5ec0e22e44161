// Collection configuration as Chroma's API sees it (chroma.md §1.5, §3): the HNSW
// parameters, the embedding-function descriptor and the schema (collection_schema.h);
// their validation on create and modify; and the Collection JSON object.
//
// The engine stores this as an opaque string (CollectionInfo::configuration_json) and
// only reads `space`. Layout of that string, version 1 (all keys always present):
//   {"format":1,
//    "hnsw":{"space":"l2","ef_construction":100,"ef_search":100,"max_neighbors":16,
//            "num_threads":N,"resize_factor":1.2,"sync_threshold":1000,"batch_size":100},
//    "embedding_function": <the client's descriptor, verbatim> | null,
//    "schema": <the reconciled schema, WriteSchema(kStored)> | null}
// `hnsw` is authoritative for the vector index; the schema's `#embedding` vector index is
// kept equal to it. Before the typed schema, `schema` held the client's schema verbatim;
// LoadConfig reconciles such a schema (and a reconciled one, which it leaves as it is),
// and reads one it cannot parse as none. A collection whose string is empty or unreadable
// (created through the C++ API) is shown with default parameters and the engine's space.
//
// Local Chroma turns SPANN requests into HNSW with the same space, so only HNSW
// parameters are kept. Thread-safety: pure functions over plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "fathom/types.h"
#include "server/collection_schema.h"
#include "server/errors.h"
#include "server/index_settings.h"
#include "server/json_reader.h"
#include "server/json_writer.h"

namespace fathom::server {

struct CollectionConfig {
  HnswParams hnsw;
  std::optional<std::string> embedding_function_json;  // compact JSON; nullopt = null
  // The client's schema merged onto the default one; nullopt = none given (the default
  // schema, built from the configuration, is shown, and no filter is refused).
  std::optional<CollectionSchema> schema;
};

// Builds the configuration of a new collection from the create payload's
// `configuration` and `schema` fields (either may be absent or null) and its metadata
// (legacy `hnsw:*` keys configure HNSW when `configuration` names no index).
ApiResult<CollectionConfig> ConfigForCreate(std::optional<JsonElement> configuration,
                                            std::optional<JsonElement> schema,
                                            const std::optional<Metadata>& metadata);

// Applies a PUT's `new_configuration` (only mutable parameters are accepted).
ApiStatus ApplyConfigUpdate(CollectionConfig& config, JsonElement new_configuration);

std::string SerializeConfig(const CollectionConfig& config);
CollectionConfig LoadConfig(const CollectionInfo& info);

// The engine's search_effort for a collection's hnsw.ef_search: ef_search / 100 (Chroma's
// default 100 gives the engine's default probes), within the engine's bounds.
double SearchEffortForEfSearch(uint64_t ef_search);

// The Collection object of chroma.md §1.5.
void WriteCollection(JsonWriter& w, const CollectionInfo& info);

}  // namespace fathom::server
