// ObjectStore, for engine code: the public interface (include/fathom/object_store.h) plus
// the checks fathom makes of every store and key.
#pragma once

#include <string>
#include <string_view>

#include "fathom/object_store.h"

namespace fathom {

// Checks that the store refuses a second create-only Put of one key; a store that does
// not is unsafe for fathom and is refused with FailedPrecondition. The probe key is
// deleted before returning, or, with `leftover`, left for the caller to delete later
// (its key in *leftover): the delete decides nothing, and a caller that opens a store
// over a 50 ms link saves a round trip by sending it after its open.
Status ProbeCreateOnly(ObjectStore& store, std::string* leftover = nullptr);

// Keys are 1..1024 bytes of [A-Za-z0-9._-/] with no empty segment and no segment starting
// with '.' (reserved for LocalStore's temporary and lock files).
Status ValidateObjectKey(std::string_view key);

}  // namespace fathom
