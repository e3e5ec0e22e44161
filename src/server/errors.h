// Chroma-compatible API errors: an HTTP status, Chroma's error name and a message.
//
// Chroma answers every error with `{"error": <name>, "message": <text>}` (chroma.md §1.2).
// The engine reports fathom::Status values; FromStatus maps them onto Chroma's table.
// Conditions that have no engine status (422 decode errors, 415, 403 ...) are built here
// directly. ApiResult<T> / ApiStatus carry these through the API layer the way
// Result<T> / Status do in the engine. Thread-safety: plain values.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "fathom/status.h"
#include "server/http_types.h"

namespace fathom::server {

class ApiError {
 public:
  ApiError(unsigned http_status, std::string error_name, std::string message)
      : http_status_(http_status), error_name_(std::move(error_name)), message_(std::move(message)) {}

  unsigned http_status() const { return http_status_; }
  const std::string& error_name() const { return error_name_; }
  const std::string& message() const { return message_; }

  // 400 InvalidArgumentError: a value the request carried is not acceptable.
  static ApiError InvalidArgument(std::string message);
  // 400 InvalidArgumentError with Chroma's "Validation error: <field>: <text>" prefix.
  static ApiError Validation(std::string_view field, std::string_view text);
  // 404 NotFoundError.
  static ApiError NotFound(std::string message);
  // 422 ChromaError: the body is JSON but not the shape the route expects. `path` names
  // the offending field like serde does ("metadatas[0].color"); empty for the root.
  static ApiError Deserialize(std::string_view path, std::string_view text);
  // 400 InvalidArgumentError: the body is not JSON at all.
  static ApiError JsonParse(std::string_view detail);
  // Any other status with the ChromaError name.
  static ApiError Chroma(unsigned http_status, std::string message);
  // 500 InternalError.
  static ApiError Internal(std::string message);

  // Maps an engine status onto Chroma's status and error name (chroma.md §1.2).
  static ApiError FromStatus(const Status& status);

  HttpResponse ToResponse() const;

 private:
  unsigned http_status_;
  std::string error_name_;
  std::string message_;
};

// Either OK or an ApiError.
class [[nodiscard]] ApiStatus {
 public:
  ApiStatus() = default;
  ApiStatus(ApiError error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit by design

  static ApiStatus Ok() { return ApiStatus(); }
  bool ok() const { return ok_; }
  const ApiError& error() const {
    assert(!ok_);
    return error_;
  }

 private:
  ApiError error_{0, "", ""};
  bool ok_ = true;
};

// Either a T or an ApiError.
template <typename T>
class [[nodiscard]] ApiResult {
 public:
  ApiResult(T value) : value_(std::move(value)) {}             // NOLINT: implicit by design
  ApiResult(ApiError error) : value_(std::move(error)) {}      // NOLINT
  ApiResult(ApiStatus status) : value_(status.error()) {}      // NOLINT: only from a failed status

  bool ok() const { return std::holds_alternative<T>(value_); }
  const ApiError& error() const { return std::get<ApiError>(value_); }
  ApiStatus status() const { return ok() ? ApiStatus() : ApiStatus(error()); }
  T& value() & { return std::get<T>(value_); }
  const T& value() const& { return std::get<T>(value_); }
  T&& value() && { return std::get<T>(std::move(value_)); }
  T& operator*() & { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, ApiError> value_;
};

// Converts an engine Status into an ApiStatus (OK stays OK).
inline ApiStatus ToApiStatus(const Status& status) {
  if (status.ok()) return ApiStatus::Ok();
  return ApiError::FromStatus(status);
}

}  // namespace fathom::server

#define FATHOM_API_RETURN_IF_ERROR(expr)                       \
  do {                                                         \
    ::fathom::server::ApiStatus _fathom_api_status = (expr);   \
    if (!_fathom_api_status.ok()) return _fathom_api_status.error(); \
  } while (0)

#define FATHOM_API_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                     \
  if (!tmp.ok()) return tmp.error();                     \
  lhs = std::move(tmp).value()

#define FATHOM_API_ASSIGN_OR_RETURN(lhs, expr) \
  FATHOM_API_ASSIGN_OR_RETURN_IMPL(FATHOM_CONCAT(_fathom_api_result_, __LINE__), lhs, expr)

// Engine Result<T> into an ApiResult-returning function.
#define FATHOM_API_ASSIGN_OR_RETURN_STATUS_IMPL(tmp, lhs, expr)           \
  auto tmp = (expr);                                                      \
  if (!tmp.ok()) return ::fathom::server::ApiError::FromStatus(tmp.status()); \
  lhs = std::move(tmp).value()

#define FATHOM_API_ASSIGN_OR_RETURN_STATUS(lhs, expr) \
  FATHOM_API_ASSIGN_OR_RETURN_STATUS_IMPL(FATHOM_CONCAT(_fathom_api_sresult_, __LINE__), lhs, expr)
