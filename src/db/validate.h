// Validation of names and write payloads: the checks every API (C++, HTTP) gets, with
// Chroma's messages where clients rely on them (chroma.md sections 1.1, 1.7, 3.5).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "fathom/status.h"
#include "fathom/types.h"
#include "wal/operation.h"

namespace fathom {

// Collection and database names: 3-512 characters of [a-zA-Z0-9._-], alphanumeric at
// both ends, no "..", not an IPv4 address.
Status ValidateName(const std::string& name);
Status ValidateTenantName(const std::string& name);
// Keys (count, bytes, no '#'/'$' prefix) and values (the decode limits in
// common/value_coding.h) of a record's or a collection's metadata.
Status ValidateMetadataKeys(const Metadata& metadata, const char* field, size_t index);

// Checks a write request's records for `type` and returns the dimension of its
// embeddings (nullopt when it carries none). Dimension against the collection is checked
// at commit time, when the collection's dimension is known for certain.
Result<std::optional<uint32_t>> ValidateWriteRecords(OpType type, const std::vector<WriteRecord>& records);

// Embeddings (count, dimension, finite) and the request's total result rows
// (ValidateQueryResultRows).
Status ValidateQueryEmbeddings(const std::vector<std::vector<float>>& embeddings, uint32_t n_results);
// query_embeddings x n_results must be at most limits::kQueryResultRowsMax.
Status ValidateQueryResultRows(size_t query_embeddings, uint32_t n_results);
// n_results at most limits::kQueryResultsMax, and the total rows as above.
Status ValidateQueryShape(size_t query_embeddings, uint32_t n_results);

// A delete's shape, with Chroma's messages: ids or a filter; a limit only with a filter.
Status ValidateDeleteRequest(const DeleteRequest& request);

std::string DimensionMismatchMessage(uint32_t expected, size_t got);

}  // namespace fathom
