// One logged write operation on a collection: the unit the WAL stores and replay applies.
#pragma once

#include <cstdint>
#include <vector>

#include "fathom/types.h"

namespace fathom {

enum class OpType : uint8_t { kAdd = 1, kUpsert = 2, kUpdate = 3, kDelete = 4 };

// For kDelete only record.id is used. Filter deletes are resolved to ids before logging.
struct Operation {
  OpType type = OpType::kAdd;
  WriteRecord record;
};

using OperationBatch = std::vector<Operation>;

}  // namespace fathom
