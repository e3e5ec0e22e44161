#include "server/where_parser.h"

#include <string_view>

#include <fmt/format.h>
#include <re2/re2.h>

#include "server/server_limits.h"

namespace fathom::server {

namespace {

using simdjson::dom::element_type;

constexpr std::string_view kDocumentKey = "#document";
constexpr std::string_view kIdKey = "#id";

ApiError WhereError(std::string_view why) {
  return ApiError::InvalidArgument(fmt::format("{}: {}", kInvalidWhereMessage, why));
}

ApiError DocumentError(std::string_view why) {
  return ApiError::InvalidArgument(fmt::format("Invalid where document clause: {}", why));
}

// Chroma's regex dialect is Rust's `regex` crate; RE2 accepts the same core syntax and is
// what the engine evaluates with, so a pattern RE2 rejects is reported here, up front.
ApiStatus CheckRegex(const std::string& pattern) {
  RE2::Options options;
  options.set_log_errors(false);
  RE2 re(pattern, options);
  if (!re.ok()) {
    // "errror" (sic) is Chroma's spelling; clients that match on it keep working.
    return ApiError::InvalidArgument(fmt::format("Regex syntax errror: regex parse error: {}", re.error()));
  }
  return ApiStatus::Ok();
}

// A scalar operand: string, bool, i64 or f64. Integers beyond i64 are neither i64 nor
// f64 to Chroma's parser, so they are rejected too.
bool ReadScalar(JsonElement value, Scalar* out) {
  switch (value.type()) {
    case element_type::STRING:
      *out = std::string(value.get_string().value_unsafe());
      return true;
    case element_type::BOOL:
      *out = value.get_bool().value_unsafe();
      return true;
    case element_type::INT64:
      *out = value.get_int64().value_unsafe();
      return true;
    case element_type::DOUBLE:
      *out = value.get_double().value_unsafe();
      return true;
    default:
      return false;
  }
}

class WhereParser {
 public:
  ApiResult<Where> Parse(JsonElement value, size_t depth) {
    FATHOM_API_RETURN_IF_ERROR(Enter(depth));
    JsonObject object;
    if (value.get(object)) return WhereError(fmt::format("expected an object, got {}", DescribeJsonValue(value)));
    if (object.size() != 1) {
      return WhereError(fmt::format("expected exactly one key in each object, got {} (combine conditions "
                                    "with $and or $or)", object.size()));
    }
    auto field = *object.begin();
    const std::string_view key = field.key;
    JsonElement operand = field.value;
    if (key == "$and" || key == "$or") {
      JsonArray array;
      if (operand.get(array)) return WhereError(fmt::format("{} expects a list of clauses", key));
      Where node;
      node.kind = key == "$and" ? Where::Kind::kAnd : Where::Kind::kOr;
      node.children.reserve(array.size());
      for (JsonElement child : array) {
        Where parsed;
        FATHOM_API_ASSIGN_OR_RETURN(parsed, Parse(child, depth + 1));
        node.children.push_back(std::move(parsed));
      }
      return node;
    }
    if (!key.empty() && key[0] == '$') {
      return WhereError(fmt::format("unknown operator {} (only $and and $or may be used as keys)", key));
    }
    if (key == kDocumentKey) return ParseDocumentKey(operand);
    if (key == kIdKey) return ParseIdKey(operand);
    return ParseField(key, operand);
  }

 private:
  ApiStatus Enter(size_t depth) {
    if (depth > http_limits::kFilterDepthMax) {
      return WhereError(fmt::format("nested deeper than {} levels", http_limits::kFilterDepthMax));
    }
    if (++nodes_ > http_limits::kFilterNodesMax) {
      return WhereError(fmt::format("more than {} conditions", http_limits::kFilterNodesMax));
    }
    return ApiStatus::Ok();
  }

  ApiResult<Where> ParseField(std::string_view key, JsonElement operand) {
    Where node;
    node.kind = Where::Kind::kField;
    node.key = std::string(key);
    Scalar scalar;
    if (ReadScalar(operand, &scalar)) {  // shorthand {key: value} = $eq
      node.op = CompareOp::kEq;
      node.operands.push_back(std::move(scalar));
      return node;
    }
    JsonObject object;
    if (operand.get(object)) {
      return WhereError(fmt::format("the value for key '{}' must be a string, number, boolean or an "
                                    "operator object, got {}", key, DescribeJsonValue(operand)));
    }
    if (object.size() != 1) {
      return WhereError(fmt::format("expected exactly one operator for key '{}', got {}", key, object.size()));
    }
    auto field = *object.begin();
    const std::string_view op = field.key;
    JsonElement value = field.value;
    if (op == "$eq" || op == "$ne") {
      node.op = op == "$eq" ? CompareOp::kEq : CompareOp::kNe;
      if (!ReadScalar(value, &scalar)) {
        return WhereError(fmt::format("{} for key '{}' needs a string, number or boolean, got {}", op, key,
                                      DescribeJsonValue(value)));
      }
      node.operands.push_back(std::move(scalar));
      return node;
    }
    if (op == "$gt" || op == "$gte" || op == "$lt" || op == "$lte") {
      node.op = op == "$gt" ? CompareOp::kGt : op == "$gte" ? CompareOp::kGte
              : op == "$lt" ? CompareOp::kLt : CompareOp::kLte;
      const auto t = value.type();
      if (t != element_type::INT64 && t != element_type::DOUBLE) {
        return WhereError(fmt::format("{} for key '{}' needs a number, got {}", op, key, DescribeJsonValue(value)));
      }
      ReadScalar(value, &scalar);
      node.operands.push_back(std::move(scalar));
      return node;
    }
    if (op == "$in" || op == "$nin") {
      node.op = op == "$in" ? CompareOp::kIn : CompareOp::kNin;
      FATHOM_API_ASSIGN_OR_RETURN(node.operands, ParseList(key, op, value));
      return node;
    }
    if (op == "$contains" || op == "$not_contains") {
      node.op = op == "$contains" ? CompareOp::kContains : CompareOp::kNotContains;
      if (!ReadScalar(value, &scalar)) {
        return WhereError(fmt::format("{} for key '{}' needs a string, number or boolean, got {}", op, key,
                                      DescribeJsonValue(value)));
      }
      node.operands.push_back(std::move(scalar));
      return node;
    }
    if (op == "$regex" || op == "$not_regex") {
      return WhereError(fmt::format("{} is only supported on the '#document' key, not '{}'", op, key));
    }
    return WhereError(fmt::format("unknown operator {} for key '{}'", op, key));
  }

  // $in / $nin lists: non-empty, scalars of one type fixed by the first element. As in
  // Chroma (serde_json), integers are accepted after a float, floats not after an integer.
  ApiResult<std::vector<Scalar>> ParseList(std::string_view key, std::string_view op, JsonElement value) {
    JsonArray array;
    if (value.get(array)) {
      return WhereError(fmt::format("{} for key '{}' needs a list, got {}", op, key, DescribeJsonValue(value)));
    }
    if (array.size() == 0) return WhereError(fmt::format("{} for key '{}' needs a non-empty list", op, key));
    std::vector<Scalar> out;
    out.reserve(array.size());
    element_type first = element_type::NULL_VALUE;
    size_t i = 0;
    for (JsonElement item : array) {
      const auto t = item.type();
      if (i == 0) {
        if (t != element_type::STRING && t != element_type::BOOL && t != element_type::INT64 &&
            t != element_type::DOUBLE) {
          return WhereError(fmt::format("{} for key '{}' needs strings, numbers or booleans, got {}", op, key,
                                        DescribeJsonValue(item)));
        }
        first = t;
      }
      const bool same = t == first || (first == element_type::DOUBLE && t == element_type::INT64);
      if (!same) {
        return WhereError(fmt::format("{} for key '{}' needs values of one type; element {} is {}", op, key, i,
                                      DescribeJsonValue(item)));
      }
      if (first == element_type::DOUBLE) {
        out.emplace_back(item.get_double().value_unsafe());
      } else {
        Scalar scalar;
        ReadScalar(item, &scalar);
        out.push_back(std::move(scalar));
      }
      ++i;
    }
    return out;
  }

  // {"#document": {"$contains": "..."}} and friends: a document predicate inside `where`.
  ApiResult<Where> ParseDocumentKey(JsonElement operand) {
    JsonObject object;
    std::string_view op = "$eq";
    JsonElement value = operand;
    if (!operand.get(object)) {
      if (object.size() != 1) {
        return WhereError(fmt::format("expected exactly one operator for key '#document', got {}", object.size()));
      }
      auto field = *object.begin();
      op = field.key;
      value = field.value;
    }
    WhereDocument doc;
    if (op == "$contains") {
      doc.kind = WhereDocument::Kind::kContains;
    } else if (op == "$not_contains") {
      doc.kind = WhereDocument::Kind::kNotContains;
    } else if (op == "$regex") {
      doc.kind = WhereDocument::Kind::kRegex;
    } else if (op == "$not_regex") {
      doc.kind = WhereDocument::Kind::kNotRegex;
    } else if ((op == "$eq" || op == "$ne" || op == "$in" || op == "$nin") &&
               (value.is_string() || value.is_array())) {
      // Local Chroma keeps no string inverted index on #document, so equality is refused.
      return ApiError::InvalidArgument(
          "Cannot filter using metadata key '#document' with type 'Str' because indexing is disabled");
    } else {
      return WhereError(fmt::format("unsupported operator {} for key '#document' (use $contains, "
                                    "$not_contains, $regex or $not_regex)", op));
    }
    std::string_view pattern;
    if (value.get(pattern)) {
      return WhereError(fmt::format("{} for key '#document' needs a string, got {}", op, DescribeJsonValue(value)));
    }
    doc.pattern = std::string(pattern);
    if (doc.kind == WhereDocument::Kind::kRegex || doc.kind == WhereDocument::Kind::kNotRegex) {
      FATHOM_API_RETURN_IF_ERROR(CheckRegex(doc.pattern));
    }
    Where node;
    node.kind = Where::Kind::kDocument;
    node.document.push_back(std::move(doc));
    return node;
  }

  // {"#id": {"$in": [...]}}: a predicate on record ids.
  ApiResult<Where> ParseIdKey(JsonElement operand) {
    Where node;
    node.kind = Where::Kind::kId;
    std::string_view id;
    if (!operand.get(id)) {
      node.op = CompareOp::kEq;
      node.operands.emplace_back(std::string(id));
      return node;
    }
    JsonObject object;
    if (operand.get(object) || object.size() != 1) {
      return WhereError("key '#id' needs a string or one of $eq, $ne, $in, $nin with strings");
    }
    auto field = *object.begin();
    const std::string_view op = field.key;
    JsonElement value = field.value;
    if (op == "$eq" || op == "$ne") {
      node.op = op == "$eq" ? CompareOp::kEq : CompareOp::kNe;
      if (value.get(id)) return WhereError(fmt::format("{} for key '#id' needs a string", op));
      node.operands.emplace_back(std::string(id));
      return node;
    }
    if (op == "$in" || op == "$nin") {
      node.op = op == "$in" ? CompareOp::kIn : CompareOp::kNin;
      JsonArray array;
      if (value.get(array) || array.size() == 0) {
        return WhereError(fmt::format("{} for key '#id' needs a non-empty list of strings", op));
      }
      for (JsonElement item : array) {
        if (item.get(id)) return WhereError(fmt::format("{} for key '#id' needs a list of strings", op));
        node.operands.emplace_back(std::string(id));
      }
      return node;
    }
    return WhereError(fmt::format("unsupported operator {} for key '#id' (use $eq, $ne, $in or $nin)", op));
  }

  size_t nodes_ = 0;
};

class WhereDocumentParser {
 public:
  ApiResult<WhereDocument> Parse(JsonElement value, size_t depth) {
    if (depth > http_limits::kFilterDepthMax) {
      return DocumentError(fmt::format("nested deeper than {} levels", http_limits::kFilterDepthMax));
    }
    if (++nodes_ > http_limits::kFilterNodesMax) {
      return DocumentError(fmt::format("more than {} conditions", http_limits::kFilterNodesMax));
    }
    JsonObject object;
    if (value.get(object)) return DocumentError(fmt::format("expected an object, got {}", DescribeJsonValue(value)));
    if (object.size() != 1) {
      return DocumentError(fmt::format("expected exactly one key in each object, got {} (combine conditions "
                                       "with $and or $or)", object.size()));
    }
    auto field = *object.begin();
    const std::string_view key = field.key;
    JsonElement operand = field.value;
    WhereDocument node;
    if (key == "$and" || key == "$or") {
      JsonArray array;
      if (operand.get(array)) return DocumentError(fmt::format("{} expects a list of clauses", key));
      node.kind = key == "$and" ? WhereDocument::Kind::kAnd : WhereDocument::Kind::kOr;
      node.children.reserve(array.size());
      for (JsonElement child : array) {
        WhereDocument parsed;
        FATHOM_API_ASSIGN_OR_RETURN(parsed, Parse(child, depth + 1));
        node.children.push_back(std::move(parsed));
      }
      return node;
    }
    if (key == "$contains") {
      node.kind = WhereDocument::Kind::kContains;
    } else if (key == "$not_contains") {
      node.kind = WhereDocument::Kind::kNotContains;
    } else if (key == "$regex") {
      node.kind = WhereDocument::Kind::kRegex;
    } else if (key == "$not_regex") {
      node.kind = WhereDocument::Kind::kNotRegex;
    } else {
      return DocumentError(fmt::format("unknown operator '{}' (use $contains, $not_contains, $regex, "
                                       "$not_regex, $and or $or)", key));
    }
    std::string_view pattern;
    if (operand.get(pattern)) {
      return DocumentError(fmt::format("{} needs a string, got {}", key, DescribeJsonValue(operand)));
    }
    node.pattern = std::string(pattern);
    if (node.kind == WhereDocument::Kind::kRegex || node.kind == WhereDocument::Kind::kNotRegex) {
      FATHOM_API_RETURN_IF_ERROR(CheckRegex(node.pattern));
    }
    return node;
  }

 private:
  size_t nodes_ = 0;
};

}  // namespace

ApiResult<Where> ParseWhere(JsonElement value) {
  WhereParser parser;
  return parser.Parse(value, 0);
}

ApiResult<WhereDocument> ParseWhereDocument(JsonElement value) {
  WhereDocumentParser parser;
  return parser.Parse(value, 0);
}

}  // namespace fathom::server
