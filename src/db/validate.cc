#include "db/validate.h"

#include <cmath>

#include "common/limits.h"
#include "common/value_coding.h"

namespace fathom {

namespace {

bool IsAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

bool IsIpv4(const std::string& s) {
  int parts = 0;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = s.find('.', i);
    if (j == std::string::npos) j = s.size();
    std::string part = s.substr(i, j - i);
    if (part.empty() || part.size() > 3) return false;
    for (char c : part) {
      if (c < '0' || c > '9') return false;
    }
    if (std::stoi(part) > 255) return false;
    ++parts;
    i = j + 1;
  }
  return parts == 4;
}

Status CheckEmbedding(const std::vector<float>& e, size_t index) {
  if (e.empty()) return Status::InvalidArgument("Validation error: embeddings: Each embedding must have at least 1 dimension");
  if (e.size() > limits::kDimensionMax) {
    return Status::InvalidArgument("embedding dimension " + std::to_string(e.size()) + " exceeds the maximum of " +
                                   std::to_string(limits::kDimensionMax));
  }
  for (float v : e) {
    if (!std::isfinite(v)) {
      return Status::InvalidArgument("Non-finite float value at embedding index " + std::to_string(index) + ": " +
                                     (std::isnan(v) ? "NaN" : (v > 0 ? "inf" : "-inf")));
    }
  }
  return Status::Ok();
}

Status InvalidMetadata(size_t index) {
  return Status::InvalidArgument("Validation error: metadatas: Invalid metadata at index " + std::to_string(index));
}

bool ValidKey(const std::string& key) {
  return !key.empty() && key[0] != '#' && key[0] != '$' && key.size() <= limits::kMetadataKeyBytesMax;
}

}  // namespace

Status ValidateName(const std::string& name) {
  bool ok = name.size() >= limits::kNameLengthMin && name.size() <= limits::kNameLengthMax &&
            IsAlnum(name.front()) && IsAlnum(name.back());
  for (char c : name) ok = ok && (IsAlnum(c) || c == '.' || c == '_' || c == '-');
  if (!ok) {
    return Status::InvalidArgument(
        "Expected a name containing 3-512 characters from [a-zA-Z0-9._-], starting and ending with a "
        "character in [a-zA-Z0-9]. Got: " + name);
  }
  if (name.find("..") != std::string::npos) {
    return Status::InvalidArgument("Expected a name that does not contains two consecutive periods (..). Got " + name);
  }
  if (IsIpv4(name)) return Status::InvalidArgument("Expected a name that is not a valid ip address. Got " + name);
  return Status::Ok();
}

Status ValidateTenantName(const std::string& name) {
  if (name.size() < limits::kTenantNameLengthMin) {
    return Status::InvalidArgument("Validation error: name: Tenant name must be at least 3 characters long. Got: " + name);
  }
  if (name.size() > limits::kTenantNameLengthMax) {
    return Status::InvalidArgument("Tenant name must be at most 512 characters long");
  }
  for (char c : name) {
    if (c == '/' || static_cast<unsigned char>(c) < 0x20) {
      return Status::InvalidArgument("Tenant name must not contain '/' or control characters");
    }
  }
  return Status::Ok();
}

Status ValidateMetadataKeys(const Metadata& metadata, const char* field, size_t index) {
  if (metadata.size() > limits::kMetadataKeysMax) {
    return Status::InvalidArgument(std::string("Validation error: ") + field + ": too many metadata keys at index " +
                                   std::to_string(index));
  }
  for (const auto& [key, value] : metadata) {
    if (!ValidKey(key)) {
      return Status::InvalidArgument(std::string("Validation error: ") + field + ": Invalid metadata at index " +
                                     std::to_string(index));
    }
    // The limits the catalog and segment decoders enforce on values.
    if (Status s = CheckMetadataValueLimits(key, value); !s.ok()) {
      return Status::InvalidArgument(std::string("Validation error: ") + field + " at index " +
                                     std::to_string(index) + ": " + s.message());
    }
  }
  return Status::Ok();
}

Status ValidateQueryResultRows(size_t query_embeddings, uint32_t n_results) {
  // Both factors are bounded (kQueryEmbeddingsMax, 32 bits), so the product fits.
  const uint64_t rows = uint64_t{query_embeddings} * n_results;
  if (query_embeddings <= limits::kQueryEmbeddingsMax && rows > limits::kQueryResultRowsMax) {
    return Status::InvalidArgument("a query may return at most " + std::to_string(limits::kQueryResultRowsMax) +
                                   " result rows (limits::kQueryResultRowsMax); " + std::to_string(query_embeddings) +
                                   " query embeddings x n_results " + std::to_string(n_results) + " = " +
                                   std::to_string(rows));
  }
  return Status::Ok();
}

Status ValidateQueryShape(size_t query_embeddings, uint32_t n_results) {
  if (n_results > limits::kQueryResultsMax) {
    return Status::InvalidArgument("n_results is " + std::to_string(n_results) + "; at most " +
                                   std::to_string(limits::kQueryResultsMax) + " results can be asked for");
  }
  return ValidateQueryResultRows(query_embeddings, n_results);
}

Status ValidateDeleteRequest(const DeleteRequest& request) {
  const bool has_filter = request.where.has_value() || request.where_document.has_value();
  if (request.ids && request.ids->empty() && !has_filter) {
    return Status::InvalidArgument("Validation error: ids, where: Either ids or where must be specified");
  }
  if (request.limit && !has_filter) {
    return Status::InvalidArgument(
        "Validation error: limit: limit can only be specified when a where clause is provided");
  }
  return Status::Ok();
}

std::string DimensionMismatchMessage(uint32_t expected, size_t got) {
  return "Collection expecting embedding with dimension of " + std::to_string(expected) + ", got " +
         std::to_string(got);
}

Result<std::optional<uint32_t>> ValidateWriteRecords(OpType type, const std::vector<WriteRecord>& records) {
  if (records.size() > limits::kWriteBatchRecordsMax) {
    return Status::InvalidArgument("a write may carry at most " + std::to_string(limits::kWriteBatchRecordsMax) +
                                   " records, got " + std::to_string(records.size()));
  }
  std::optional<uint32_t> dimension;
  for (size_t i = 0; i < records.size(); ++i) {
    const WriteRecord& r = records[i];
    if (r.id.empty()) return Status::InvalidArgument("Empty ID, ID must have at least one character");
    if (r.id.size() > limits::kIdLengthMax) {
      return Status::InvalidArgument("ID at index " + std::to_string(i) + " is longer than " +
                                     std::to_string(limits::kIdLengthMax) + " bytes");
    }
    if (r.embedding) {
      FATHOM_RETURN_IF_ERROR(CheckEmbedding(*r.embedding, i));
      if (dimension && *dimension != r.embedding->size()) {
        return Status::InvalidArgument("Inconsistent dimensions in provided embeddings");
      }
      dimension = static_cast<uint32_t>(r.embedding->size());
    } else if (type == OpType::kAdd || type == OpType::kUpsert) {
      return Status::InvalidArgument("Missing embedding for record '" + r.id + "': add and upsert need embeddings");
    }
    if (r.document && r.document->size() > limits::kDocumentBytesMax) {
      return Status::InvalidArgument("document at index " + std::to_string(i) + " exceeds " +
                                     std::to_string(limits::kDocumentBytesMax) + " bytes");
    }
    if (r.uri && r.uri->size() > limits::kUriBytesMax) {
      return Status::InvalidArgument("uri at index " + std::to_string(i) + " is too long");
    }
    if (r.metadata) {
      if (r.metadata->size() > limits::kMetadataKeysMax) return InvalidMetadata(i);
      for (const auto& [key, value] : *r.metadata) {
        if (!ValidKey(key)) return InvalidMetadata(i);
        if (!value && type == OpType::kAdd) {
          return Status::InvalidArgument("metadata value for key '" + key + "' at index " + std::to_string(i) +
                                         " is null; null (delete the key) is allowed only in update and upsert");
        }
        // The limits the WAL and segment decoders enforce on values.
        if (value) {
          if (Status s = CheckMetadataValueLimits(key, *value); !s.ok()) {
            return Status::InvalidArgument("Validation error: metadatas at index " + std::to_string(i) + ": " +
                                           s.message());
          }
        }
      }
    }
  }
  return dimension;
}

Status ValidateQueryEmbeddings(const std::vector<std::vector<float>>& embeddings, uint32_t n_results) {
  if (embeddings.size() > limits::kQueryEmbeddingsMax) {
    return Status::InvalidArgument("at most " + std::to_string(limits::kQueryEmbeddingsMax) +
                                   " query embeddings per request");
  }
  FATHOM_RETURN_IF_ERROR(ValidateQueryResultRows(embeddings.size(), n_results));
  std::optional<size_t> dimension;
  for (size_t i = 0; i < embeddings.size(); ++i) {
    FATHOM_RETURN_IF_ERROR(CheckEmbedding(embeddings[i], i));
    if (dimension && *dimension != embeddings[i].size()) {
      return Status::InvalidArgument("Inconsistent dimensions in provided embeddings");
    }
    dimension = embeddings[i].size();
  }
  return Status::Ok();
}

}  // namespace fathom
