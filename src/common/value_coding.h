// Binary encoding of metadata values, shared by the WAL, segments and the catalog.
// Layout in docs/format/values.md. Decoders return false on malformed input. Encoders
// first check the limits the decoders enforce (common/limits.h) and return
// InvalidArgument naming the limit, appending nothing, so that nothing encoded here is
// refused when read back.
#pragma once

#include <string>
#include <string_view>

#include "common/coding.h"
#include "fathom/status.h"
#include "fathom/types.h"

namespace fathom {

// Type tags on disk. kDeleteKey appears only in metadata patches (WAL).
enum class ValueTag : uint8_t {
  kDeleteKey = 0,
  kBool = 1,
  kInt = 2,
  kDouble = 3,
  kString = 4,
  kBoolArray = 5,
  kIntArray = 6,
  kDoubleArray = 7,
  kStringArray = 8,
  kSparseVector = 9,
};

// The checks a sparse vector must pass to be stored or searched (InvalidArgument
// otherwise, with Chroma's wording where it has one): indices and values of equal length
// (at most limits::kSparseVectorLengthMax), indices strictly ascending, values finite,
// tokens empty or one per index (each at most limits::kMetadataStringBytesMax bytes).
Status CheckSparseVector(const SparseVector& vector);

// The decode limits: string values (and array elements) of at most
// limits::kMetadataStringBytesMax, arrays of at most limits::kMetadataArrayLengthMax,
// sparse vectors as CheckSparseVector, keys
// of at most limits::kMetadataKeyBytesMax and at most limits::kMetadataKeysMax of them.
// `key` only names the value in the message.
Status CheckMetadataValueLimits(std::string_view key, const MetadataValue& value);
Status CheckMetadataLimits(const Metadata& metadata);
Status CheckMetadataPatchLimits(const MetadataPatch& patch);

Status EncodeMetadataValue(std::string* dst, const MetadataValue& value);
bool DecodeMetadataValue(Decoder* in, ValueTag tag, MetadataValue* out);

Status EncodeMetadata(std::string* dst, const Metadata& metadata);
bool DecodeMetadata(Decoder* in, Metadata* out);

Status EncodeMetadataPatch(std::string* dst, const MetadataPatch& patch);
bool DecodeMetadataPatch(Decoder* in, MetadataPatch* out);

}  // namespace fathom
