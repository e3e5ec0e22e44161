#include "io/s3_request.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstring>

namespace fathom {

namespace {

// curl_global_init is not thread-safe and must run before the first handle; the first
// S3Client does it, once per process. curl_global_cleanup is never called: late users
// (a store held by a static) may still need curl during exit.
void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Upload {
  std::string_view bytes;
  size_t offset = 0;
  bool rewound = false;
};

size_t ReadBody(char* buffer, size_t size, size_t count, void* user) {
  auto* upload = static_cast<Upload*>(user);
  size_t n = std::min(size * count, upload->bytes.size() - upload->offset);
  std::memcpy(buffer, upload->bytes.data() + upload->offset, n);
  upload->offset += n;
  return n;
}

// curl rewinds the body when it must resend it (a redirect, a reused connection that
// turned out closed); without this callback such a resend fails. A rewind is recorded:
// the copy sent before it may have been applied (S3Response::body_resent).
int SeekBody(void* user, curl_off_t offset, int origin) {
  auto* upload = static_cast<Upload*>(user);
  upload->rewound = true;
  if (origin != SEEK_SET || offset < 0 || static_cast<size_t>(offset) > upload->bytes.size()) {
    return CURL_SEEKFUNC_FAIL;
  }
  upload->offset = static_cast<size_t>(offset);
  return CURL_SEEKFUNC_OK;
}

size_t WriteBody(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

// Errors after which the same request may succeed: the server or the network, not us.
bool IsRetryableCurlError(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_WEIRD_SERVER_REPLY:
      return true;
    default:
      return false;
  }
}

// "http://host:port" -> {"http://", "host:port"}.
std::pair<std::string, std::string> SplitEndpoint(const std::string& endpoint) {
  size_t sep = endpoint.find("://");
  if (sep == std::string::npos) return {"https://", endpoint};
  return {endpoint.substr(0, sep + 3), endpoint.substr(sep + 3)};
}

}  // namespace

std::string S3PercentEncode(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    unsigned char c = static_cast<unsigned char>(ch);
    bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_' || c == '.' || c == '~';
    if (unreserved || (keep_slash && c == '/')) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string S3RequestUrl(const S3ClientConfig& config, const S3Request& request) {
  auto [scheme, host] = SplitEndpoint(config.endpoint);
  std::string url;
  if (config.virtual_host_style) {
    url = scheme + config.bucket + "." + host + "/";
  } else {
    url = scheme + host + "/" + config.bucket;
    // The bucket itself is "/bucket" (path style); an object is "/bucket/key".
    if (!request.key.empty()) url += "/";
  }
  url += S3PercentEncode(request.key, /*keep_slash=*/true);
  char separator = '?';
  for (const auto& [name, value] : request.query) {
    // A bare flag must be written "name=" or curl canonicalises it wrongly (README).
    url += separator;
    url += S3PercentEncode(name, false) + "=" + S3PercentEncode(value, false);
    separator = '&';
  }
  return url;
}

S3Client::S3Client(S3ClientConfig config) : config_(std::move(config)) {
  InitCurlOnce();
  sigv4_ = "aws:amz:" + config_.region + ":s3";
}

S3Client::~S3Client() {
  for (void* handle : idle_) curl_easy_cleanup(static_cast<CURL*>(handle));
}

void* S3Client::AcquireHandle() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      void* handle = idle_.back();
      idle_.pop_back();
      return handle;
    }
  }
  return curl_easy_init();
}

void S3Client::ReleaseHandle(void* handle) {
  // Reset clears the options of the last request but keeps the handle's live connection
  // (and DNS cache), which is what the pool is for.
  curl_easy_reset(static_cast<CURL*>(handle));
  std::lock_guard<std::mutex> lock(mu_);
  if (idle_.size() < config_.idle_handles_max) {
    idle_.push_back(handle);
    return;
  }
  curl_easy_cleanup(static_cast<CURL*>(handle));
}

S3Response S3Client::Execute(const S3Request& request) {
  requests_.fetch_add(1, std::memory_order_relaxed);
  S3Response response;
  CURL* h = static_cast<CURL*>(AcquireHandle());
  if (h == nullptr) {
    response.transport_error = "curl_easy_init failed";
    return response;
  }
  const std::string url = S3RequestUrl(config_, request);
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM for DNS timeouts
  curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);  // README quirk 6: small requests wait otherwise
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(config_.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(config_.request_timeout.count()));
  if (!config_.access_key_id.empty()) {
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4_.c_str());
    curl_easy_setopt(h, CURLOPT_USERNAME, config_.access_key_id.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, config_.secret_access_key.c_str());
  }

  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
  // curl sends "Expect: 100-continue" with every upload and waits up to 1 s for the
  // server's go-ahead (forever, in effect, with a server that never sends one). The
  // usual cure, an empty "Expect:" header, breaks SigV4 in curl 7.88 (it signs the header
  // but does not send it: 403 SignatureDoesNotMatch), so the wait is set to zero instead:
  // the body follows the headers at once, which HTTP/1.1 allows.
  std::string token_header;
  if (!config_.session_token.empty()) {
    token_header = "x-amz-security-token: " + config_.session_token;
    headers = curl_slist_append(headers, token_header.c_str());
  }
  for (const std::string& header : request.headers) headers = curl_slist_append(headers, header.c_str());

  Upload upload{request.body, 0};
  switch (request.method) {
    case S3Request::Method::kGet:
      curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
      break;
    case S3Request::Method::kHead:
      curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
      break;
    case S3Request::Method::kDelete:
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
      break;
    case S3Request::Method::kPut:
      curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(h, CURLOPT_READFUNCTION, ReadBody);
      curl_easy_setopt(h, CURLOPT_READDATA, &upload);
      curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, SeekBody);
      curl_easy_setopt(h, CURLOPT_SEEKDATA, &upload);
      curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
      curl_easy_setopt(h, CURLOPT_EXPECT_100_TIMEOUT_MS, 0L);
      // A PUT without a Content-Type would be sent as-is; S3 stores it as metadata only.
      headers = curl_slist_append(headers, "Content-Type: application/octet-stream");
      break;
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, WriteBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &response.body);

  char error_buffer[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
  CURLcode code = curl_easy_perform(h);
  if (code == CURLE_OK) {
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.http_status);
    curl_off_t length = -1;
    curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
    response.content_length = length;
  } else {
    response.http_status = 0;
    response.transport_error = std::string(curl_easy_strerror(code)) +
                               (error_buffer[0] != '\0' ? std::string(": ") + error_buffer : std::string());
    response.transport_retryable = IsRetryableCurlError(code);
    response.body.clear();
  }
  response.body_resent = upload.rewound;
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
  curl_slist_free_all(headers);
  ReleaseHandle(h);
  return response;
}

}  // namespace fathom
