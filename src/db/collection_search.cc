// TEMPORARY (search-api branch): the engine side of the Search API is the lead's to write
// (CollectionImpl::Search: a Ranker over the collection's vector and text indexes, then
// query/search_exec.h's ExecuteSearch under the read lock, then materialising the selected
// columns). Until then the route answers 501 as local Chroma does, so the branch links.
#include "fathom/db.h"

namespace fathom {

Result<std::vector<SearchResult>> Collection::Search(const SearchRequest& request) const {
  (void)request;
  return Status::Unimplemented(
      "Error executing plan: Not implemented: Search operation is not implemented for local executor");
}

}  // namespace fathom
