#include "server/errors.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace fathom::server {

namespace {

constexpr const char* kInvalidArgumentName = "InvalidArgumentError";
constexpr const char* kNotFoundName = "NotFoundError";
constexpr const char* kInternalName = "InternalError";
constexpr const char* kChromaName = "ChromaError";

// Chroma sends a trace id with every error; all zeros when tracing is off. The Python
// client copies it into its exceptions, so it is always present.
constexpr const char* kTraceIdHeader = "chroma-trace-id";
constexpr const char* kTraceIdNone = "00000000000000000000000000000000";

}  // namespace

ApiError ApiError::InvalidArgument(std::string message) {
  return ApiError(400, kInvalidArgumentName, std::move(message));
}

ApiError ApiError::Validation(std::string_view field, std::string_view text) {
  std::string message = "Validation error: ";
  message += field;
  message += ": ";
  message += text;
  return InvalidArgument(std::move(message));
}

ApiError ApiError::NotFound(std::string message) {
  return ApiError(404, kNotFoundName, std::move(message));
}

ApiError ApiError::Deserialize(std::string_view path, std::string_view text) {
  std::string message = "Failed to deserialize the JSON body into the target type: ";
  if (!path.empty()) {
    message += path;
    message += ": ";
  }
  message += text;
  return ApiError(422, kChromaName, std::move(message));
}

ApiError ApiError::JsonParse(std::string_view detail) {
  std::string message = "Failed to parse the request body as JSON: ";
  message += detail;
  return InvalidArgument(std::move(message));
}

ApiError ApiError::Chroma(unsigned http_status, std::string message) {
  return ApiError(http_status, kChromaName, std::move(message));
}

ApiError ApiError::Internal(std::string message) {
  return ApiError(500, kInternalName, std::move(message));
}

ApiError ApiError::FromStatus(const Status& status) {
  const std::string& m = status.message();
  switch (status.code()) {
    case StatusCode::kOk:
      // A caller bug: an OK status is not an error. Report it rather than crash.
      return Internal("internal error: OK status reported as an error");
    case StatusCode::kInvalidArgument: return InvalidArgument(m);
    case StatusCode::kNotFound: return NotFound(m);
    case StatusCode::kAlreadyExists: return Chroma(409, m);
    case StatusCode::kResourceExhausted: return Chroma(429, m);
    case StatusCode::kUnavailable: return Chroma(503, m);
    case StatusCode::kUnimplemented: return Chroma(501, m);
    case StatusCode::kFailedPrecondition: return Chroma(412, m);
    case StatusCode::kStorageFull: return Chroma(507, m);  // Insufficient Storage
    // The server's own data directory refuses it: not the client's fault (so not 403) and
    // not a bug (so not 500); like a read-only directory it is unavailable until fixed.
    case StatusCode::kPermissionDenied: return Chroma(503, m);
    case StatusCode::kCorruption:
    case StatusCode::kIOError:
    case StatusCode::kInternal:
      return Internal(status.ToString());
  }
  return Internal(status.ToString());
}

HttpResponse ApiError::ToResponse() const {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.StartObject();
  writer.Key("error");
  writer.String(error_name_.data(), static_cast<rapidjson::SizeType>(error_name_.size()));
  writer.Key("message");
  writer.String(message_.data(), static_cast<rapidjson::SizeType>(message_.size()));
  writer.EndObject();
  HttpResponse response;
  response.status = http_status_;
  response.body.assign(buffer.GetString(), buffer.GetSize());
  response.headers.emplace_back(kTraceIdHeader, kTraceIdNone);
  return response;
}

}  // namespace fathom::server
