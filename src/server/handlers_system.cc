// System routes: heartbeat, healthcheck, version, pre-flight checks, identity, reset.
#include <chrono>

#include "common/limits.h"
#include "server/api.h"
#include "server/json_writer.h"

namespace fathom::server {

HttpResponse ApiService::Heartbeat() const {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  JsonWriter w;
  w.StartObject();
  w.Key("nanosecond heartbeat");  // the key has a space, as in Chroma
  w.Uint64(static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count()));
  w.EndObject();
  return JsonResponse(w.Take());
}

HttpResponse ApiService::Healthcheck() const {
  return JsonResponse(R"({"is_executor_ready":true,"is_log_client_ready":true})");
}

HttpResponse ApiService::Version() const {
  // Chroma's frontend hard-codes its API version; clients only check the x.y.z shape.
  return JsonResponse(R"("1.0.0")");
}

HttpResponse ApiService::PreflightChecks() const {
  JsonWriter w;
  w.StartObject();
  w.Key("max_batch_size");
  w.Uint64(fathom::limits::kMaxBatchSizeAdvertised);
  w.Key("supports_base64_encoding");
  w.Bool(true);
  w.EndObject();
  return JsonResponse(w.Take());
}

HttpResponse ApiService::Identity() const {
  // No authentication, like local Chroma: everyone is the default tenant's user.
  JsonWriter w;
  w.StartObject();
  w.Key("user_id");
  w.String("");
  w.Key("tenant");
  w.String(Database::kDefaultTenant);
  w.Key("databases");
  w.StartArray();
  w.String(Database::kDefaultDatabase);
  w.EndArray();
  w.EndObject();
  return JsonResponse(w.Take());
}

ApiResult<HttpResponse> ApiService::Reset() const {
  if (!options_.allow_reset) return ApiError::Chroma(403, "Reset is disabled by config");
  FATHOM_API_RETURN_IF_ERROR(ToApiStatus(db_->Reset()));
  return JsonResponse("true");
}

}  // namespace fathom::server
