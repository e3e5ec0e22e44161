#include "index/meta/filter.h"

#include <re2/re2.h>

#include <cmath>

#include "common/limits.h"

namespace fathom {

bool CompiledFilter::Node::TestsDocument() const {
  if (IsDocument()) return true;
  for (const Node& c : children) {
    if (c.TestsDocument()) return true;
  }
  return false;
}

namespace {

using Node = CompiledFilter::Node;

Status InvalidWhere(const std::string& why) {
  return Status::InvalidArgument("Invalid where clause: " + why);
}
Status InvalidWhereDocument(const std::string& why) {
  return Status::InvalidArgument("Invalid where document clause: " + why);
}

bool IsNumber(const Scalar& s) { return s.index() == 1 || s.index() == 2; }

// Equality on Chroma's terms: numbers on one number line, bools only equal bools.
bool ScalarEquals(const Scalar& a, const Scalar& b) {
  if (IsNumber(a) && IsNumber(b)) return NumberOf(a) == NumberOf(b);
  if (a.index() != b.index()) return false;
  return a == b;
}

// Calls fn on each scalar of a metadata value (one for a scalar, each element for arrays);
// stops and returns true as soon as fn does.
template <typename Fn>
bool AnyElement(const MetadataValue& value, Fn&& fn) {
  return std::visit(
      [&](const auto& v) -> bool {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, int64_t> ||
                      std::is_same_v<T, double> || std::is_same_v<T, std::string>) {
          return fn(Scalar(v));
        } else if constexpr (std::is_same_v<T, SparseVector>) {
          return false;  // no scalar equals a sparse vector (the API refuses such filters)
        } else {
          for (const auto& e : v) {
            if (fn(Scalar(static_cast<typename T::value_type>(e)))) return true;
          }
          return false;
        }
      },
      value);
}

bool IsArray(const MetadataValue& value) {
  return std::holds_alternative<std::vector<bool>>(value) || std::holds_alternative<std::vector<int64_t>>(value) ||
         std::holds_alternative<std::vector<double>>(value) || std::holds_alternative<std::vector<std::string>>(value);
}

bool CompareNumbers(CompareOp op, long double a, long double b) {
  switch (op) {
    case CompareOp::kGt: return a > b;
    case CompareOp::kGte: return a >= b;
    case CompareOp::kLt: return a < b;
    case CompareOp::kLte: return a <= b;
    default: return false;
  }
}

bool InOperands(const Scalar& value, const std::vector<Scalar>& operands) {
  for (const Scalar& o : operands) {
    if (ScalarEquals(value, o)) return true;
  }
  return false;
}

bool MatchField(const Node& node, const std::optional<Metadata>& metadata) {
  const MetadataValue* value = nullptr;
  if (metadata) {
    auto it = metadata->find(node.key);
    if (it != metadata->end()) value = &it->second;
  }
  auto equals_operand = [&](const Scalar& s) { return ScalarEquals(s, node.operands[0]); };
  switch (node.op) {
    case CompareOp::kEq:
      return value && AnyElement(*value, equals_operand);
    case CompareOp::kNe:
      return !value || !AnyElement(*value, equals_operand);
    // As Chroma: $contains looks into arrays only; a plain value equal to the operand does
    // not contain it (use $eq), so $not_contains matches it.
    case CompareOp::kContains:
      return value && IsArray(*value) && AnyElement(*value, equals_operand);
    case CompareOp::kNotContains:
      return !value || !IsArray(*value) || !AnyElement(*value, equals_operand);
    case CompareOp::kIn:
      return value && AnyElement(*value, [&](const Scalar& s) { return InOperands(s, node.operands); });
    case CompareOp::kNin:
      return !value || !AnyElement(*value, [&](const Scalar& s) { return InOperands(s, node.operands); });
    case CompareOp::kGt:
    case CompareOp::kGte:
    case CompareOp::kLt:
    case CompareOp::kLte:
      return value && AnyElement(*value, [&](const Scalar& s) {
               return IsNumber(s) && CompareNumbers(node.op, NumberOf(s), NumberOf(node.operands[0]));
             });
  }
  return false;
}

bool MatchId(const Node& node, const std::string& id) {
  Scalar s(id);
  switch (node.op) {
    case CompareOp::kEq: return ScalarEquals(s, node.operands[0]);
    case CompareOp::kNe: return !ScalarEquals(s, node.operands[0]);
    case CompareOp::kIn: return InOperands(s, node.operands);
    case CompareOp::kNin: return !InOperands(s, node.operands);
    default: return false;
  }
}

bool Evaluate(const Node& node, const RecordView& r) {
  switch (node.kind) {
    case Node::Kind::kAnd:
      for (const Node& c : node.children) {
        if (!Evaluate(c, r)) return false;
      }
      return true;
    case Node::Kind::kOr:
      for (const Node& c : node.children) {
        if (Evaluate(c, r)) return true;
      }
      return false;
    case Node::Kind::kField: return MatchField(node, r.metadata);
    case Node::Kind::kId: return MatchId(node, r.id);
    case Node::Kind::kDocContains:
      return r.document && r.document->find(node.pattern) != std::string::npos;
    case Node::Kind::kDocNotContains:
      return !r.document || r.document->find(node.pattern) == std::string::npos;
    case Node::Kind::kDocRegex:
      return r.document && re2::RE2::PartialMatch(*r.document, *node.regex);
    case Node::Kind::kDocNotRegex:
      return !r.document || !re2::RE2::PartialMatch(*r.document, *node.regex);
  }
  return false;
}

struct Compiler {
  size_t nodes = 0;

  Status Count(size_t depth) {
    if (depth > limits::kFilterDepthMax) return Status::InvalidArgument("filter nested too deeply");
    if (++nodes > limits::kFilterNodesMax) return Status::InvalidArgument("filter has too many clauses");
    return Status::Ok();
  }

  Result<Node> Document(const WhereDocument& w, size_t depth) {
    FATHOM_RETURN_IF_ERROR(Count(depth));
    Node n;
    switch (w.kind) {
      case WhereDocument::Kind::kAnd:
      case WhereDocument::Kind::kOr:
        n.kind = w.kind == WhereDocument::Kind::kAnd ? Node::Kind::kAnd : Node::Kind::kOr;
        for (const WhereDocument& c : w.children) {
          FATHOM_ASSIGN_OR_RETURN(Node child, Document(c, depth + 1));
          n.children.push_back(std::move(child));
        }
        return n;
      case WhereDocument::Kind::kContains: n.kind = Node::Kind::kDocContains; break;
      case WhereDocument::Kind::kNotContains: n.kind = Node::Kind::kDocNotContains; break;
      case WhereDocument::Kind::kRegex: n.kind = Node::Kind::kDocRegex; break;
      case WhereDocument::Kind::kNotRegex: n.kind = Node::Kind::kDocNotRegex; break;
    }
    if (!w.children.empty()) return InvalidWhereDocument("a predicate has no sub-clauses");
    n.pattern = w.pattern;
    if (n.kind == Node::Kind::kDocRegex || n.kind == Node::Kind::kDocNotRegex) {
      re2::RE2::Options options;
      options.set_log_errors(false);
      auto re = std::make_shared<re2::RE2>(w.pattern, options);
      if (!re->ok()) return Status::InvalidArgument("Regex syntax errror: " + re->error());
      n.regex = std::move(re);
    }
    return n;
  }

  Result<Node> Field(const Where& w) {
    Node n;
    n.kind = w.kind == Where::Kind::kId ? Node::Kind::kId : Node::Kind::kField;
    n.key = w.key;
    n.op = w.op;
    n.operands = w.operands;
    const bool list_op = w.op == CompareOp::kIn || w.op == CompareOp::kNin;
    if (list_op) {
      if (w.operands.empty()) return InvalidWhere("$in and $nin need a non-empty array");
    } else if (w.operands.size() != 1) {
      return InvalidWhere("operator needs exactly one operand");
    }
    switch (w.op) {
      case CompareOp::kGt:
      case CompareOp::kGte:
      case CompareOp::kLt:
      case CompareOp::kLte:
        if (!IsNumber(w.operands[0])) return InvalidWhere("$gt, $gte, $lt and $lte need a number");
        break;
      default:
        break;
    }
    if (n.kind == Node::Kind::kId) {
      if (w.op != CompareOp::kEq && w.op != CompareOp::kNe && !list_op) {
        return InvalidWhere("#id supports $eq, $ne, $in and $nin");
      }
      for (const Scalar& s : w.operands) {
        if (s.index() != 3) return InvalidWhere("#id operands must be strings");
      }
    } else if (w.key.empty() || w.key[0] == '$') {
      return InvalidWhere("invalid key '" + w.key + "'");
    }
    return n;
  }

  Result<Node> Clause(const Where& w, size_t depth) {
    FATHOM_RETURN_IF_ERROR(Count(depth));
    switch (w.kind) {
      case Where::Kind::kAnd:
      case Where::Kind::kOr: {
        Node n;
        n.kind = w.kind == Where::Kind::kAnd ? Node::Kind::kAnd : Node::Kind::kOr;
        for (const Where& c : w.children) {
          FATHOM_ASSIGN_OR_RETURN(Node child, Clause(c, depth + 1));
          n.children.push_back(std::move(child));
        }
        return n;
      }
      case Where::Kind::kDocument:
        if (w.document.size() != 1) return InvalidWhere("a #document clause needs one predicate");
        return Document(w.document[0], depth + 1);
      case Where::Kind::kField:
      case Where::Kind::kId:
        return Field(w);
    }
    return InvalidWhere("unknown clause");
  }
};

}  // namespace

Result<CompiledFilter> CompiledFilter::Compile(const std::optional<Where>& where,
                                               const std::optional<WhereDocument>& where_document) {
  Compiler compiler;
  std::vector<Node> parts;
  if (where) {
    FATHOM_ASSIGN_OR_RETURN(Node n, compiler.Clause(*where, 0));
    parts.push_back(std::move(n));
  }
  if (where_document) {
    FATHOM_ASSIGN_OR_RETURN(Node n, compiler.Document(*where_document, 0));
    parts.push_back(std::move(n));
  }
  CompiledFilter filter;
  if (parts.size() == 1) {
    filter.root_ = std::make_shared<const Node>(std::move(parts[0]));
  } else if (parts.size() == 2) {
    Node both;
    both.kind = Node::Kind::kAnd;
    both.children = std::move(parts);
    filter.root_ = std::make_shared<const Node>(std::move(both));
  }
  return filter;
}

bool CompiledFilter::Matches(const RecordView& record) const {
  return root_ == nullptr || Evaluate(*root_, record);
}

bool CompiledFilter::MatchesNode(const Node& node, const RecordView& record) { return Evaluate(node, record); }

}  // namespace fathom
