// S3Client: one signed HTTP exchange with an S3-compatible server, on a pool of curl easy
// handles. S3Store (io/s3_store.h) builds the requests and decides what to retry; this
// file knows URLs, headers, SigV4 through CURLOPT_AWS_SIGV4 and the handle pool.
//
// Signing follows ../shared/s3/README.md: "x-amz-content-sha256: UNSIGNED-PAYLOAD" is
// always sent (curl 7.88 does not add it, and RGW answers 403 without it) and query
// parameters are sent sorted by name and percent-encoded, because curl signs the query
// string exactly as written.
//
// Thread-safety: Execute and ExecuteMany may be called from any number of threads; each
// call takes handles from the pools (one mutex) and returns them after, which keeps
// their connections alive for the next call.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fathom/object_store.h"
#include "fathom/status.h"

namespace fathom {

struct S3ClientConfig {
  std::string endpoint;  // "http(s)://host[:port]", no trailing slash
  std::string bucket;
  std::string region;
  std::string access_key_id;  // empty: unsigned requests
  std::string secret_access_key;
  std::string session_token;  // sent as x-amz-security-token when set
  bool virtual_host_style = false;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds request_timeout{60000};
  size_t idle_handles_max = 64;
};

struct S3Request {
  enum class Method { kGet, kHead, kPut, kDelete };
  Method method = Method::kGet;
  // The object's full key (root prefix included), or empty for the bucket itself.
  std::string key;
  // Sorted by name (std::map) and percent-encoded when the URL is built.
  std::map<std::string, std::string> query;
  // Extra headers, "Name: value".
  std::vector<std::string> headers;
  // kPut: the object's bytes. Not owned: must outlive Execute.
  std::string_view body;
};

struct S3Response {
  // 0 when no HTTP answer arrived (transport error: see transport_error).
  long http_status = 0;
  std::string transport_error;
  // True for failures that may be transient (connection refused or reset, timeouts):
  // the request may be retried. False for e.g. a malformed URL.
  bool transport_retryable = false;
  std::string body;
  // Content-Length of the answer, -1 if unknown (HEAD reports the object's size here).
  int64_t content_length = -1;
  // The answer's Content-Range header ("bytes FIRST-LAST/TOTAL" on a 206), "" if none:
  // where the bytes of a ranged GET sit in the object.
  std::string content_range;
  // The answer said where its body ends: a Content-Length, chunked encoding, or HTTP/2's
  // end of stream. False for a body that simply ran until the connection closed (HTTP/1.0
  // style), whose cut cannot be told from its end.
  bool body_framed = false;
  // kPut: curl sent the request more than once: a reused keep-alive connection died before
  // any answer, and curl resent the request on a new one by itself (seen as a rewind of the
  // body, or, for an empty body, as a second send). The first copy may have been applied,
  // so the answer (say 412 to a create-only Put) may be about our own write.
  bool body_resent = false;

  bool transport_failed() const { return http_status == 0; }
};

// Percent-encodes everything but RFC 3986 unreserved characters (and '/' if keep_slash),
// as SigV4's canonical form wants.
std::string S3PercentEncode(std::string_view text, bool keep_slash);

// "Content-MD5: <base64 of the body's MD5>" (RFC 1864). Sent with every PUT: the server
// recomputes it and refuses a body damaged on the way (400 BadDigest) instead of storing
// it, so an acknowledged object is the bytes fathom sent.
std::string ContentMd5Header(std::string_view body);

// The request's URL: endpoint, bucket (path or virtual-host style), encoded key, sorted
// and encoded query.
std::string S3RequestUrl(const S3ClientConfig& config, const S3Request& request);

class S3Client {
 public:
  explicit S3Client(S3ClientConfig config);
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  // One exchange, no retries. Never throws; failures are in the response.
  S3Response Execute(const S3Request& request);
  // The requests at once through curl multi, at most `parallelism` connections at a time
  // (the rest wait in curl's queue); responses in request order. No retries.
  std::vector<S3Response> ExecuteMany(const std::vector<S3Request>& requests, size_t parallelism);

  uint64_t requests() const { return requests_.load(std::memory_order_relaxed); }
  const S3ClientConfig& config() const { return config_; }

 private:
  struct Transfer;
  // Idle multi handles kept (each holds the connections of its last batch).
  static constexpr size_t kIdleMultisMax = 8;

  void* AcquireHandle();
  void ReleaseHandle(void* handle);
  void* AcquireMulti();
  void ReleaseMulti(void* multi);
  // Sets up a handle for `request`; on failure the transfer has no handle and its
  // response carries the error.
  std::unique_ptr<Transfer> Prepare(const S3Request& request);
  // Reads the outcome (a CURLcode) into the response and returns the handle to the pool.
  S3Response Finish(Transfer* transfer, int curl_code);

  const S3ClientConfig config_;
  std::string sigv4_;  // "aws:amz:<region>:s3"
  std::mutex mu_;
  std::vector<void*> idle_;         // CURL* handles, REQUIRES: mu_ held
  std::vector<void*> idle_multis_;  // CURLM* handles, REQUIRES: mu_ held
  std::atomic<uint64_t> requests_{0};
};

}  // namespace fathom
