// The start-up probe's variant for a caller that opens a store and deletes the probe key
// later (io/object_store.h has ProbeCreateOnly, which deletes it before returning).
#pragma once

#include <string>

#include "io/object_store.h"

namespace fathom {

// ProbeCreateOnly, except that when the store passes, the probe key is left in the store
// and named in *leftover for the caller to delete: the delete decides nothing, and a
// database opening a store over a 50 ms link saves a round trip by sending it after its
// open (db/database_impl.cc). When the probe fails the key is deleted as by
// ProbeCreateOnly.
Status ProbeCreateOnlyLeavingKey(ObjectStore& store, std::string* leftover);

}  // namespace fathom
