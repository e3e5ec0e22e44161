// ObjectStore, for engine code: the public interface (include/fathom/object_store.h) plus
// the checks fathom makes of every store and key.
#pragma once

#include <string_view>

#include "fathom/object_store.h"

namespace fathom {

// Checks that the store refuses a second create-only Put of one key; a store that does
// not is unsafe for fathom and is refused with FailedPrecondition.
Status ProbeCreateOnly(ObjectStore& store);

// Keys are 1..1024 bytes of [A-Za-z0-9._-/] with no empty segment and no segment starting
// with '.' (reserved for LocalStore's temporary and lock files).
Status ValidateObjectKey(std::string_view key);

}  // namespace fathom
