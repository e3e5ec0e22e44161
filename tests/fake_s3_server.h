// FakeS3Server: a tiny S3 in memory behind a real HTTP/1.1 socket on 127.0.0.1 (an
// ephemeral port), for testing S3Store's retries and unknown-outcome handling without a
// real server. It speaks just what S3Store sends: PUT (with If-None-Match: *), GET (with
// Range), HEAD, DELETE and ListObjectsV2 on one bucket, keep-alive, Content-Length bodies.
// It does not check signatures; it records whether each request carried one.
//
// Faults are queued: each of the next requests takes the first queued fault. A fault can
// answer 500/503/429 without applying the request, apply it and then answer 500 (a lost
// acknowledgement), close the connection without answering (before or after applying), or
// damage a GET or List answer (a cut body, a wrong range, an off-by-one continuation).
// kNone lets a request through untouched, to aim a later fault at a later request.
//
// Thread-safety: one mutex over the objects, the fault queue and the counters; one thread
// per connection, all joined by the destructor.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "io/s3_request.h"

namespace fathom::testing {

class FakeS3Server {
 public:
  enum class Fault {
    kNone,           // answered normally
    k500,            // 500 InternalError, nothing applied
    k503SlowDown,    // 503 SlowDown, nothing applied
    k429,            // 429 TooManyRequests, nothing applied
    k400RequestTimeout,  // 400 RequestTimeout (the server gave up reading the request), nothing applied
    kApplyThen500,   // applied, then 500 (RGW's conditional-PUT loser, a lost ack)
    kClose,          // connection closed without an answer, nothing applied
    kApplyThenClose,  // applied, then the connection closed without an answer
    // GET faults. The answer's Content-Length is the whole body, but only half of it is
    // sent before the connection is closed (a dropped connection mid-body).
    kTruncateBody,
    // A GET answered with neither Content-Length nor chunked encoding (the body ends when
    // the connection closes, as HTTP/1.0 allows) and only half the body sent: a cut that
    // the framing cannot reveal.
    kCloseDelimitedTruncated,
    // A ranged GET is answered 206 with one byte fewer than asked (and than the object
    // has), Content-Range saying so: a short answer that is not the object's end.
    kShortRange,
    // A ranged GET is answered 206 with the range shifted one byte earlier, Content-Range
    // saying so: bytes of the object, but not the ones asked for.
    kShiftedRange,
    // A ListObjectsV2 page starts at its continuation token's key instead of after it (an
    // off-by-one continuation): the previous page's last key comes again.
    kListRepeatsLastKey,
    // A PUT's body arrives with one byte flipped (damage in transit). With a Content-MD5
    // header the server answers 400 BadDigest and stores nothing, as S3 and RGW do;
    // without one it stores the damaged bytes.
    kCorruptBodyInTransit
  };

  struct Counts {
    int requests = 0;
    int puts = 0;
    int gets = 0;
    int heads = 0;
    int deletes = 0;
    int lists = 0;
    int unsigned_requests = 0;  // without Authorization: AWS4-HMAC-SHA256 or the payload header
    int unsorted_queries = 0;
    int puts_without_md5 = 0;  // PUTs without a Content-MD5 header
    int bad_digests = 0;       // PUTs refused with 400 BadDigest
  };

  explicit FakeS3Server(std::string bucket = "fake-bucket") : bucket_(std::move(bucket)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(listen_fd_, 64) != 0) {
      ::close(listen_fd_);
      listen_fd_ = -1;
      return;
    }
    socklen_t len = sizeof(addr);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }

  ~FakeS3Server() {
    stopping_ = true;
    if (listen_fd_ >= 0) ::shutdown(listen_fd_, SHUT_RDWR);
    if (accept_thread_.joinable()) accept_thread_.join();
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int fd : connections_) ::shutdown(fd, SHUT_RDWR);
    }
    for (std::thread& t : connection_threads_) t.join();
    if (listen_fd_ >= 0) ::close(listen_fd_);
  }

  bool ok() const { return listen_fd_ >= 0; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  const std::string& bucket() const { return bucket_; }

  void QueueFault(Fault fault, int count = 1) {
    std::lock_guard<std::mutex> lock(mu_);
    for (int i = 0; i < count; ++i) faults_.push_back(fault);
  }
  // A server that ignores If-None-Match (old MinIO, some gateways): fathom must refuse it.
  void set_ignore_create_only(bool ignore) {
    std::lock_guard<std::mutex> lock(mu_);
    ignore_create_only_ = ignore;
  }
  // Answers ListObjectsV2 with at most this many keys per page (S3: 1000).
  void set_page_keys_max(size_t keys) {
    std::lock_guard<std::mutex> lock(mu_);
    page_keys_max_ = keys;
  }
  Counts counts() const {
    std::lock_guard<std::mutex> lock(mu_);
    return counts_;
  }
  void ResetCounts() {
    std::lock_guard<std::mutex> lock(mu_);
    counts_ = {};
  }
  // Objects by full key (the store's root prefix included).
  void SetObject(const std::string& key, std::string bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    objects_[key] = std::move(bytes);
  }
  std::map<std::string, std::string> objects() const {
    std::lock_guard<std::mutex> lock(mu_);
    return objects_;
  }

 private:
  struct Request {
    std::string method, path, query;
    std::map<std::string, std::string> headers;  // names lower-case
    std::string body;
  };
  struct Answer {
    int status = 200;
    std::string body;
    std::vector<std::string> headers;
    bool close = false;
    bool head = false;
    size_t head_length = 0;
    bool truncate = false;  // send half the body, then close
    bool no_length = false;  // no Content-Length header (the body ends at close)
  };

  void AcceptLoop() {
    while (!stopping_) {
      int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) {
        ::close(fd);
        return;
      }
      connections_.push_back(fd);
      connection_threads_.emplace_back([this, fd] { Serve(fd); });
    }
  }

  // Reads one request; false on EOF or a malformed request.
  static bool ReadRequest(int fd, std::string* buffer, Request* out) {
    size_t header_end;
    while ((header_end = buffer->find("\r\n\r\n")) == std::string::npos) {
      char chunk[8192];
      ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
      if (n <= 0) return false;
      buffer->append(chunk, static_cast<size_t>(n));
    }
    std::string head = buffer->substr(0, header_end);
    buffer->erase(0, header_end + 4);
    size_t line_end = head.find("\r\n");
    std::string request_line = head.substr(0, line_end);
    size_t sp1 = request_line.find(' '), sp2 = request_line.rfind(' ');
    if (sp1 == std::string::npos || sp2 == sp1) return false;
    out->method = request_line.substr(0, sp1);
    std::string target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
    size_t q = target.find('?');
    out->path = target.substr(0, q);
    out->query = q == std::string::npos ? "" : target.substr(q + 1);
    size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      size_t end = head.find("\r\n", pos);
      if (end == std::string::npos) end = head.size();
      std::string line = head.substr(pos, end - pos);
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        size_t v = line.find_first_not_of(' ', colon + 1);
        out->headers[name] = v == std::string::npos ? "" : line.substr(v);
      }
      pos = end + 2;
    }
    size_t length = 0;
    if (auto it = out->headers.find("content-length"); it != out->headers.end()) length = std::stoul(it->second);
    while (buffer->size() < length) {
      char chunk[65536];
      ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
      if (n <= 0) return false;
      buffer->append(chunk, static_cast<size_t>(n));
    }
    out->body = buffer->substr(0, length);
    buffer->erase(0, length);
    return true;
  }

  static std::string Decode(const std::string& text) {
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '%' && i + 2 < text.size()) {
        out.push_back(static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16)));
        i += 2;
      } else {
        out.push_back(text[i]);
      }
    }
    return out;
  }

  static std::string ErrorXml(const std::string& code, const std::string& message) {
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + code + "</Code><Message>" + message +
           "</Message><RequestId>fake</RequestId></Error>";
  }

  void Serve(int fd) {
    std::string buffer;
    Request request;
    while (ReadRequest(fd, &buffer, &request)) {
      Answer answer = Handle(request);
      if (answer.close) break;
      std::string out = "HTTP/1.1 " + std::to_string(answer.status) + " X\r\n";
      for (const std::string& h : answer.headers) out += h + "\r\n";
      if (!answer.no_length) {
        out += "Content-Length: " + std::to_string(answer.head ? answer.head_length : answer.body.size()) + "\r\n";
      }
      out += "\r\n";
      if (!answer.head) out += answer.truncate ? answer.body.substr(0, answer.body.size() / 2) : answer.body;
      size_t sent = 0;
      while (sent < out.size()) {
        ssize_t n = ::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += static_cast<size_t>(n);
      }
      if (answer.truncate) break;
      request = Request{};
    }
    std::lock_guard<std::mutex> lock(mu_);
    std::erase(connections_, fd);
    ::close(fd);
  }

  Answer Handle(const Request& request) {
    std::lock_guard<std::mutex> lock(mu_);
    ++counts_.requests;
    auto auth = request.headers.find("authorization");
    if (auth == request.headers.end() || auth->second.rfind("AWS4-HMAC-SHA256", 0) != 0 ||
        request.headers.count("x-amz-content-sha256") == 0) {
      ++counts_.unsigned_requests;
    }
    std::map<std::string, std::string> query;
    std::string previous;
    size_t pos = 0;
    while (pos < request.query.size()) {
      size_t end = request.query.find('&', pos);
      if (end == std::string::npos) end = request.query.size();
      std::string pair = request.query.substr(pos, end - pos);
      size_t eq = pair.find('=');
      std::string name = Decode(pair.substr(0, eq));
      if (name < previous) ++counts_.unsorted_queries;
      previous = name;
      query[name] = eq == std::string::npos ? "" : Decode(pair.substr(eq + 1));
      pos = end + 1;
    }
    const std::string bucket_path = "/" + bucket_;
    if (request.path.rfind(bucket_path, 0) != 0) return {404, ErrorXml("NoSuchBucket", "no such bucket")};
    std::string key = Decode(request.path.substr(bucket_path.size()));
    if (!key.empty() && key[0] == '/') key.erase(0, 1);

    std::optional<Fault> fault;
    if (!faults_.empty()) {
      fault = faults_.front();
      faults_.pop_front();
    }
    if (fault == Fault::k500) return {500, ErrorXml("InternalError", "injected")};
    if (fault == Fault::k503SlowDown) return {503, ErrorXml("SlowDown", "Please reduce your request rate.")};
    if (fault == Fault::k429) return {429, ErrorXml("TooManyRequests", "injected")};
    if (fault == Fault::k400RequestTimeout) {
      return {400, ErrorXml("RequestTimeout",
                            "Your socket connection to the server was not read from or written to within the timeout "
                            "period.")};
    }
    if (fault == Fault::kClose) return Answer{.close = true};

    Answer answer = Apply(request, key, query, fault);
    if (fault == Fault::kTruncateBody) answer.truncate = true;
    if (fault == Fault::kCloseDelimitedTruncated) answer.truncate = answer.no_length = true;
    if (fault == Fault::kApplyThen500) return {500, ErrorXml("UnknownError", "injected after applying")};
    if (fault == Fault::kApplyThenClose) return Answer{.close = true};
    return answer;
  }

  // REQUIRES: mu_ held.
  Answer Apply(const Request& request, const std::string& key, const std::map<std::string, std::string>& query,
               std::optional<Fault> fault) {
    if (request.method == "PUT") {
      ++counts_.puts;
      std::string body = request.body;
      if (fault == Fault::kCorruptBodyInTransit && !body.empty()) body[body.size() / 2] ^= 0x01;
      auto md5 = request.headers.find("content-md5");
      if (md5 == request.headers.end()) {
        ++counts_.puts_without_md5;
      } else if ("Content-MD5: " + md5->second != ContentMd5Header(body)) {
        ++counts_.bad_digests;
        return {400, ErrorXml("BadDigest", "The Content-MD5 you specified did not match what was received.")};
      }
      auto inm = request.headers.find("if-none-match");
      if (inm != request.headers.end() && inm->second == "*" && objects_.count(key) && !ignore_create_only_) {
        return {412, ErrorXml("PreconditionFailed", "At least one of the pre-conditions you specified did not hold")};
      }
      objects_[key] = body;
      return {200, "", {"ETag: \"fake\""}};
    }
    if (request.method == "DELETE") {
      ++counts_.deletes;
      objects_.erase(key);
      return {204, ""};
    }
    if (request.method == "HEAD") {
      ++counts_.heads;
      auto it = objects_.find(key);
      if (it == objects_.end()) return Answer{.status = 404, .head = true};
      return Answer{.status = 200, .head = true, .head_length = it->second.size()};
    }
    if (request.method != "GET") return {405, ErrorXml("MethodNotAllowed", request.method)};
    if (key.empty()) {
      ++counts_.lists;
      return List(query, fault == Fault::kListRepeatsLastKey);
    }
    ++counts_.gets;
    auto it = objects_.find(key);
    if (it == objects_.end()) return {404, ErrorXml("NoSuchKey", "The specified key does not exist.")};
    const std::string& bytes = it->second;
    auto range = request.headers.find("range");
    if (range == request.headers.end()) return {200, bytes};
    // "bytes=first-last"
    size_t dash = range->second.find('-');
    uint64_t first = std::stoull(range->second.substr(6, dash - 6));
    uint64_t last = std::stoull(range->second.substr(dash + 1));
    if (first >= bytes.size()) return {416, ErrorXml("InvalidRange", "The requested range is not satisfiable")};
    last = std::min<uint64_t>(last, bytes.size() - 1);
    if (fault == Fault::kShortRange && last > first) --last;
    if (fault == Fault::kShiftedRange && first > 0) --first, --last;
    // As S3 and RGW: "Content-Range: bytes FIRST-LAST/TOTAL".
    return {206, bytes.substr(first, last - first + 1),
            {"Content-Range: bytes " + std::to_string(first) + "-" + std::to_string(last) + "/" +
             std::to_string(bytes.size())}};
  }

  // REQUIRES: mu_ held.
  Answer List(const std::map<std::string, std::string>& query, bool repeat_last_key) {
    auto get = [&](const char* name) {
      auto it = query.find(name);
      return it == query.end() ? std::string() : it->second;
    };
    const std::string prefix = get("prefix");
    std::string after = get("start-after");
    if (std::string token = get("continuation-token"); !token.empty()) after = token.substr(4);  // "tok:"
    size_t max_keys = get("max-keys").empty() ? 1000 : std::stoul(get("max-keys"));
    max_keys = std::min(max_keys, page_keys_max_);
    std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                      "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>" + bucket_ +
                      "</Name><Prefix>" + prefix + "</Prefix>";
    size_t n = 0;
    bool truncated = false;
    std::string last;
    for (auto it = repeat_last_key ? objects_.lower_bound(after) : objects_.upper_bound(after); it != objects_.end();
         ++it) {
      if (it->first.compare(0, prefix.size(), prefix) != 0) continue;
      if (n == max_keys) {
        truncated = true;
        break;
      }
      xml += "<Contents><Key>" + it->first + "</Key><Size>" + std::to_string(it->second.size()) +
             "</Size><StorageClass>STANDARD</StorageClass></Contents>";
      last = it->first;
      ++n;
    }
    xml += "<KeyCount>" + std::to_string(n) + "</KeyCount><IsTruncated>" + (truncated ? "true" : "false") +
           "</IsTruncated>";
    if (truncated) xml += "<NextContinuationToken>tok:" + last + "</NextContinuationToken>";
    xml += "</ListBucketResult>";
    return {200, xml};
  }

  const std::string bucket_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread accept_thread_;

  mutable std::mutex mu_;
  std::vector<int> connections_;
  std::vector<std::thread> connection_threads_;
  std::deque<Fault> faults_;
  std::map<std::string, std::string> objects_;
  bool ignore_create_only_ = false;
  size_t page_keys_max_ = 1000;
  Counts counts_;
};

}  // namespace fathom::testing
