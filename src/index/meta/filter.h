// Filter evaluation: a compiled `where` + `where_document` pair tested against a record.
//
// Compile() validates the tree (operand types, depth, regex syntax) and compiles regexes
// with RE2 once; Matches() is then cheap and allocation-free. Semantics are Chroma's
// (chroma.md section 2) with two deliberate choices: numbers compare on one number line
// (int 1 == float 1.0, no truncation), and $eq/$in/$gt... on an array-valued key match
// when any element matches (Chroma's distributed behaviour).
// Thread-safety: a compiled filter is immutable and may be shared between threads.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fathom/status.h"
#include "fathom/types.h"

namespace re2 {
class RE2;
}

namespace fathom {

// What a filter sees of one record.
struct RecordView {
  const std::string& id;
  const std::optional<std::string>& document;
  const std::optional<Metadata>& metadata;
};

// An int or float scalar on the number line (long double holds both exactly).
inline long double NumberOf(const Scalar& s) {
  return s.index() == 1 ? static_cast<long double>(std::get<int64_t>(s))
                        : static_cast<long double>(std::get<double>(s));
}

class CompiledFilter {
 public:
  // The compiled tree: $and/$or nodes over leaves. A leaf tests one metadata key (kField),
  // the id (kId) or the document (kDoc*). where and where_document together are one $and.
  struct Node {
    enum class Kind { kAnd, kOr, kField, kId, kDocContains, kDocNotContains, kDocRegex, kDocNotRegex };
    Kind kind = Kind::kAnd;
    std::vector<Node> children;
    std::string key;
    CompareOp op = CompareOp::kEq;
    std::vector<Scalar> operands;
    std::string pattern;
    std::shared_ptr<const re2::RE2> regex;

    bool IsDocument() const { return kind >= Kind::kDocContains; }
    // True when this node or one below it tests the document.
    bool TestsDocument() const;
  };

  static Result<CompiledFilter> Compile(const std::optional<Where>& where,
                                        const std::optional<WhereDocument>& where_document);

  // True when there is nothing to test: every record matches.
  bool empty() const { return root_ == nullptr; }
  bool Matches(const RecordView& record) const;
  // The tree, null when empty(); valid as long as this filter (or a copy) lives.
  const Node* root() const { return root_.get(); }
  // Row-by-row evaluation of one node (the reference the bitmap evaluator must equal).
  static bool MatchesNode(const Node& node, const RecordView& record);

 private:
  std::shared_ptr<const Node> root_;
};

}  // namespace fathom
