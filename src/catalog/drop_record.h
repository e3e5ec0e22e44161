// Drop records: which collections a catalog commit deleted, kept until their data is gone.
//
// Deleting collections (DeleteCollection, DeleteDatabase, Reset) first writes a drop record
// `dropped/<uuid>` naming them, then commits the catalog without them, then deletes their
// objects, then the record. A crash in between leaves data that no catalog names; at the
// next open only data a drop record names (and the catalog does not) is deleted. Data that
// neither names (a partial copy or restore) is kept and reported: fathom never deletes a
// collection's objects on the evidence of a missing catalog entry alone.
// Format: docs/format/drop_record.md.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "fathom/status.h"

namespace fathom {

inline constexpr std::string_view kDropRecordPrefix = "dropped/";

std::string DropRecordKey(const std::string& record_id);
// InvalidArgument unless every id is a UUID (collection ids always are).
Result<std::string> EncodeDropRecord(const std::vector<std::string>& collection_ids);
// Corruption on any damage; the ids are UUIDs.
Result<std::vector<std::string>> DecodeDropRecord(std::string_view bytes);

}  // namespace fathom
