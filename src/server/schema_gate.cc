#include "server/schema_gate.h"

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <fmt/format.h>

namespace fathom::server {

namespace {

// Chroma's MetadataValueType of a filter operand, and its Debug name.
struct OperandType {
  SchemaValueType type;
  std::string_view name;
};

OperandType TypeOf(const Scalar& operand) {
  switch (operand.index()) {
    case 0: return {SchemaValueType::kBool, "Bool"};
    case 1: return {SchemaValueType::kInt, "Int"};
    case 2: return {SchemaValueType::kFloat, "Float"};
    default: return {SchemaValueType::kString, "Str"};
  }
}

// The collection's sparse vector key holds sparse vectors, which no inverted index covers:
// a filter on it is refused like a filter on a key whose index is disabled.
ApiStatus CheckKey(const CollectionSchema& schema, const std::optional<std::string>& sparse_key, std::string_view key,
                   const Scalar& operand) {
  const OperandType type = TypeOf(operand);
  if (schema.InvertedIndexEnabled(key, type.type) && sparse_key != key) return ApiStatus::Ok();
  return ApiError::InvalidArgument(fmt::format(
      "Cannot filter using metadata key '{}' with type '{}' because indexing is disabled", key, type.name));
}

ApiStatus CheckFts(const CollectionSchema& schema) {
  if (schema.FtsEnabled()) return ApiStatus::Ok();
  return ApiError::InvalidArgument("Cannot filter using full-text search because FTS indexing is disabled");
}

// A document clause needs the full-text index once it holds a predicate: an empty
// `$and` / `$or` asks nothing of it (as in Chroma).
ApiStatus CheckDocument(const CollectionSchema& schema, const WhereDocument& document) {
  if (document.kind != WhereDocument::Kind::kAnd && document.kind != WhereDocument::Kind::kOr) {
    return CheckFts(schema);
  }
  for (const WhereDocument& child : document.children) FATHOM_API_RETURN_IF_ERROR(CheckDocument(schema, child));
  return ApiStatus::Ok();
}

// The where parsers bound the depth (http_limits::kFilterDepthMax), so recursion is bounded.
ApiStatus CheckWhere(const CollectionSchema& schema, const std::optional<std::string>& sparse_key,
                     const Where& where) {
  switch (where.kind) {
    case Where::Kind::kAnd:
    case Where::Kind::kOr:
      for (const Where& child : where.children) FATHOM_API_RETURN_IF_ERROR(CheckWhere(schema, sparse_key, child));
      return ApiStatus::Ok();
    case Where::Kind::kField:
      if (where.operands.empty()) return ApiStatus::Ok();
      return CheckKey(schema, sparse_key, where.key, where.operands.front());
    case Where::Kind::kId:
      // Chroma treats `#id` as a metadata key with string operands.
      return CheckKey(schema, sparse_key, "#id", Scalar(std::string()));
    case Where::Kind::kDocument:
      for (const WhereDocument& document : where.document) FATHOM_API_RETURN_IF_ERROR(CheckDocument(schema, document));
      return ApiStatus::Ok();
  }
  return ApiStatus::Ok();
}

}  // namespace

ApiStatus CheckFilterIndexes(const std::optional<CollectionSchema>& schema, const std::optional<Where>& where,
                             const std::optional<WhereDocument>& where_document) {
  if (!schema.has_value()) return ApiStatus::Ok();
  if (where.has_value()) FATHOM_API_RETURN_IF_ERROR(CheckWhere(*schema, schema->SparseKey(), *where));
  if (where_document.has_value()) FATHOM_API_RETURN_IF_ERROR(CheckDocument(*schema, *where_document));
  return ApiStatus::Ok();
}

}  // namespace fathom::server
