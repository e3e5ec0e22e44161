#include "io/s3_request.h"

#include "common/assert.h"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
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
  int sends = 0;  // times curl was about to send the request (PrepareToSend)
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

// curl calls this right before it sends the request, on a new or a reused connection; a
// second call means curl resent the request by itself. That is the only trace of a
// resend with an empty body, which has nothing to rewind (SeekBody is never called).
int PrepareToSend(void* user, char* /*conn_primary_ip*/, char* /*conn_local_ip*/, int /*conn_primary_port*/,
                  int /*conn_local_port*/) {
  ++static_cast<Upload*>(user)->sends;
  return CURL_PREREQFUNC_OK;
}

size_t WriteBody(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

// Keeps the Content-Range of the final answer and notes a chunked body. A status line starts a new header block
// (after a "100 Continue", or on curl's resend over a new connection), so it clears what an
// earlier block set.
size_t ReadHeader(char* data, size_t size, size_t count, void* user) {
  auto* response = static_cast<S3Response*>(user);
  std::string_view line(data, size * count);
  if (line.rfind("HTTP/", 0) == 0) {
    response->content_range.clear();
    response->body_framed = false;
    return size * count;
  }
  std::string lower(line);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower.rfind("transfer-encoding:", 0) == 0 && lower.find("chunked") != std::string::npos) {
    response->body_framed = true;
  }
  constexpr std::string_view kName = "content-range:";
  if (line.size() >= kName.size() &&
      std::equal(kName.begin(), kName.end(), line.begin(),
                 [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); })) {
    line.remove_prefix(kName.size());
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n' || line.back() == ' ')) line.remove_suffix(1);
    response->content_range = std::string(line);
  }
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
  for (void* multi : idle_multis_) curl_multi_cleanup(static_cast<CURLM*>(multi));
  for (void* handle : idle_) curl_easy_cleanup(static_cast<CURL*>(handle));
}

void* S3Client::AcquireMulti() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_multis_.empty()) {
      void* multi = idle_multis_.back();
      idle_multis_.pop_back();
      return multi;
    }
  }
  return curl_multi_init();
}

// A multi handle keeps its own connection cache, so it is pooled like the easy handles:
// the next batch reuses the connections of the last.
void S3Client::ReleaseMulti(void* multi) {
  std::lock_guard<std::mutex> lock(mu_);
  if (idle_multis_.size() < kIdleMultisMax) {
    idle_multis_.push_back(multi);
    return;
  }
  curl_multi_cleanup(static_cast<CURLM*>(multi));
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

// One request in flight: its handle and everything the handle points into, so it must
// not move once prepared (held by unique_ptr).
struct S3Client::Transfer {
  CURL* handle = nullptr;
  std::string url;
  curl_slist* headers = nullptr;
  std::string token_header;
  Upload upload;
  char error_buffer[CURL_ERROR_SIZE] = {0};
  S3Response response;
  size_t index = 0;  // ExecuteMany: the request's position
};

std::unique_ptr<S3Client::Transfer> S3Client::Prepare(const S3Request& request) {
  requests_.fetch_add(1, std::memory_order_relaxed);
  auto t = std::make_unique<Transfer>();
  CURL* h = static_cast<CURL*>(AcquireHandle());
  if (h == nullptr) {
    t->response.transport_error = "curl_easy_init failed";
    return t;
  }
  t->handle = h;
  t->url = S3RequestUrl(config_, request);
  curl_easy_setopt(h, CURLOPT_URL, t->url.c_str());
  curl_easy_setopt(h, CURLOPT_PRIVATE, t.get());
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
  if (!config_.session_token.empty()) {
    t->token_header = "x-amz-security-token: " + config_.session_token;
    headers = curl_slist_append(headers, t->token_header.c_str());
  }
  for (const std::string& header : request.headers) headers = curl_slist_append(headers, header.c_str());

  t->upload = Upload{request.body, 0, false};
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
      curl_easy_setopt(h, CURLOPT_READDATA, &t->upload);
      curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, SeekBody);
      curl_easy_setopt(h, CURLOPT_SEEKDATA, &t->upload);
      curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, PrepareToSend);
      curl_easy_setopt(h, CURLOPT_PREREQDATA, &t->upload);
      curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
      // curl sends "Expect: 100-continue" with every upload and waits up to 1 s for the
      // server's go-ahead (a server that never sends one costs a second per Put). The
      // usual cure, an empty "Expect:" header, breaks SigV4 in curl 7.88 (it signs the
      // header but does not send it: 403 SignatureDoesNotMatch), so the wait is zero
      // instead: the body follows the headers at once, which HTTP/1.1 allows.
      curl_easy_setopt(h, CURLOPT_EXPECT_100_TIMEOUT_MS, 0L);
      // Without it curl sends none; S3 keeps the type as metadata only.
      headers = curl_slist_append(headers, "Content-Type: application/octet-stream");
      break;
  }
  t->headers = headers;
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, WriteBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &t->response.body);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, ReadHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &t->response);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, t->error_buffer);
  return t;
}

S3Response S3Client::Finish(Transfer* t, int curl_code) {
  S3Response& response = t->response;
  if (t->handle == nullptr) return std::move(response);  // Prepare failed: the error is set
  const CURLcode code = static_cast<CURLcode>(curl_code);
  if (code == CURLE_OK) {
    curl_easy_getinfo(t->handle, CURLINFO_RESPONSE_CODE, &response.http_status);
    curl_off_t length = -1;
    curl_easy_getinfo(t->handle, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
    response.content_length = length;
    long version = 0;
    curl_easy_getinfo(t->handle, CURLINFO_HTTP_VERSION, &version);
    if (length >= 0 || version >= CURL_HTTP_VERSION_2_0) response.body_framed = true;
  } else {
    response.http_status = 0;
    response.transport_error = std::string(curl_easy_strerror(code)) +
                               (t->error_buffer[0] != '\0' ? std::string(": ") + t->error_buffer : std::string());
    response.transport_retryable = IsRetryableCurlError(code);
    response.body.clear();
    response.content_range.clear();
  }
  response.body_resent = t->upload.rewound || t->upload.sends > 1;
  curl_easy_setopt(t->handle, CURLOPT_ERRORBUFFER, nullptr);
  curl_slist_free_all(t->headers);
  t->headers = nullptr;
  ReleaseHandle(t->handle);
  t->handle = nullptr;
  return std::move(response);
}

S3Response S3Client::Execute(const S3Request& request) {
  std::unique_ptr<Transfer> t = Prepare(request);
  if (t->handle == nullptr) return Finish(t.get(), CURLE_FAILED_INIT);
  return Finish(t.get(), curl_easy_perform(t->handle));
}

std::vector<S3Response> S3Client::ExecuteMany(const std::vector<S3Request>& requests, size_t parallelism) {
  std::vector<S3Response> responses(requests.size());
  if (requests.empty()) return responses;
  CURLM* multi = static_cast<CURLM*>(AcquireMulti());
  if (multi == nullptr) {
    for (S3Response& r : responses) r.transport_error = "curl_multi_init failed";
    return responses;
  }
  // Transfers past the limit wait inside curl for a free connection.
  curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(std::max<size_t>(1, parallelism)));
  std::vector<std::unique_ptr<Transfer>> transfers;
  transfers.reserve(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    transfers.push_back(Prepare(requests[i]));
    Transfer* t = transfers.back().get();
    t->index = i;
    if (t->handle == nullptr || curl_multi_add_handle(multi, t->handle) != CURLM_OK) {
      responses[i] = Finish(t, CURLE_FAILED_INIT);
    }
  }
  int running = 0;
  do {
    CURLMcode mc = curl_multi_perform(multi, &running);
    if (mc == CURLM_OK && running > 0) mc = curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
    int queued = 0;
    while (CURLMsg* message = curl_multi_info_read(multi, &queued)) {
      if (message->msg != CURLMSG_DONE) continue;
      CURL* h = message->easy_handle;
      const CURLcode result = message->data.result;
      char* raw = nullptr;
      curl_easy_getinfo(h, CURLINFO_PRIVATE, &raw);
      curl_multi_remove_handle(multi, h);
      Transfer* t = reinterpret_cast<Transfer*>(raw);
      responses[t->index] = Finish(t, result);
    }
    if (mc != CURLM_OK) {
      // The multi handle itself failed: end what is left as transport errors.
      for (size_t i = 0; i < transfers.size(); ++i) {
        if (transfers[i]->handle == nullptr) continue;
        curl_multi_remove_handle(multi, transfers[i]->handle);
        responses[i] = Finish(transfers[i].get(), CURLE_RECV_ERROR);
      }
      break;
    }
  } while (running > 0);
  ReleaseMulti(multi);
  return responses;
}

std::string ContentMd5Header(std::string_view body) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_bytes = 0;
  FATHOM_CHECK(EVP_Digest(body.data(), body.size(), digest, &digest_bytes, EVP_md5(), nullptr) == 1);
  unsigned char base64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
  const int length = EVP_EncodeBlock(base64, digest, static_cast<int>(digest_bytes));
  return "Content-MD5: " + std::string(reinterpret_cast<const char*>(base64), static_cast<size_t>(length));
}

}  // namespace fathom
