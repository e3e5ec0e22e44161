// Binary encoding of metadata values, shared by the WAL, segments and the catalog.
// Layout in docs/format/values.md. Decoders return false on malformed input.
#pragma once

#include <string>

#include "common/coding.h"
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
};

void EncodeMetadataValue(std::string* dst, const MetadataValue& value);
bool DecodeMetadataValue(Decoder* in, ValueTag tag, MetadataValue* out);

void EncodeMetadata(std::string* dst, const Metadata& metadata);
bool DecodeMetadata(Decoder* in, Metadata* out);

void EncodeMetadataPatch(std::string* dst, const MetadataPatch& patch);
bool DecodeMetadataPatch(Decoder* in, MetadataPatch* out);

}  // namespace fathom
