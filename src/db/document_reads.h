// DocumentReadScope: the error channel and the storage of documents read on demand while
// a request evaluates (docs/design/documents-on-demand.md).
//
// A row loaded from a segment keeps only a locator of its document (storage/row.h); the
// query layer sees rows through RowSource::view, which returns references and cannot
// fail. RecordTable::view reads such a row's document on demand, keeps it in a small
// per-thread ring (a view is used at once, before the next few views are taken, at every
// call site), and on a failed read records the error here and returns a view without the
// document. Whoever evaluates a request opens a scope first and, after evaluating, turns
// its status() into the request's error: an answer computed while a read failed may be
// wrong, so it is never returned.
//
// Ownership: a scope lives on the stack of the request's thread; scopes nest (the inner
// one sees the errors while it is open). Thread-safety: thread-confined (the query layer
// evaluates a request on one thread).
#pragma once

#include <optional>
#include <string>

#include "fathom/status.h"

namespace fathom {

class DocumentReadScope {
 public:
  DocumentReadScope();
  ~DocumentReadScope();
  DocumentReadScope(const DocumentReadScope&) = delete;
  DocumentReadScope& operator=(const DocumentReadScope&) = delete;

  // The first error a read on this thread met while the scope was open.
  const Status& status() const { return status_; }

  // Records a failed read in the innermost open scope on this thread (none open: the
  // error is counted in unscoped_failures() only, for tests and assertions).
  static void Fail(const Status& status);
  // Storage for a document read on demand that outlives the view it is returned in
  // until kRingSize more documents have been read on this thread.
  static const std::optional<std::string>& Keep(std::string document);
  static uint64_t unscoped_failures();

  static constexpr size_t kRingSize = 8;

 private:
  Status status_;
  DocumentReadScope* outer_;
};

}  // namespace fathom
