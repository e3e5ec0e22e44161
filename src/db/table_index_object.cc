#include "db/table_index_object.h"

#include "common/assert.h"
#include "index/text/text_index_format.h"

namespace fathom {

LiveRowChecksums::Hashes LiveRowChecksums::Hash() const {
  FATHOM_CHECK(offsets.size() == checksums.size());
  TextIndexRowsHasher hasher;
  for (size_t i = 0; i < offsets.size(); ++i) hasher.AddRowChecksum(offsets[i], checksums[i]);
  return Hashes{hasher.offsets_hash(), hasher.documents_hash()};
}

}  // namespace fathom
