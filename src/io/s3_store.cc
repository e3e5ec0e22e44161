#include "io/s3_store.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <random>
#include <thread>

#include "io/s3_xml.h"

namespace fathom {

namespace {

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

std::string FirstEnv(std::initializer_list<const char*> names) {
  for (const char* name : names) {
    std::string value = Env(name);
    if (!value.empty()) return value;
  }
  return {};
}

bool IsBucketChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
         c == '_';
}

// Throttling (503 SlowDown, 429) and server errors are transient; so is 408.
bool IsRetryableStatus(long status) { return status == 408 || status == 429 || (status >= 500 && status <= 599); }

// S3 (and RGW) answer 400 RequestTimeout when they stopped waiting for the request's bytes
// (a stalled or slow upload): nothing was applied, and the same request may succeed, as
// the AWS SDKs retry it. It is not the caller's bad input.
bool IsRequestTimeout(const S3Response& response) {
  if (response.http_status != 400 || response.body.empty()) return false;
  auto error = ParseS3Error(response.body);
  return error.ok() && error->code == "RequestTimeout";
}

// 400 BadDigest: the body that arrived does not match its Content-MD5 (damaged on the
// way); nothing was stored, and the next attempt sends the bytes again.
bool IsBadDigest(const S3Response& response) {
  if (response.http_status != 400 || response.body.empty()) return false;
  auto error = ParseS3Error(response.body);
  return error.ok() && error->code == "BadDigest";
}

bool IsRetryable(const S3Response& response) {
  if (response.transport_failed()) return response.transport_retryable;
  return IsRetryableStatus(response.http_status) || IsRequestTimeout(response) || IsBadDigest(response);
}

// After these answers a Put may or may not have been applied: the server failed while
// (or after) handling it, or the answer was lost on the way. 503 SlowDown and 429 are
// refusals before any work (S3 documents them so) and are not among them.
bool OutcomeUnknown(const S3Response& response) {
  if (response.transport_failed()) return response.transport_retryable;
  return response.http_status == 409 || (response.http_status >= 500 && response.http_status != 503);
}

// The last byte a range asks for (the whole rest of the object if the range overflows).
uint64_t RangeLast(const ByteRange& range) {
  uint64_t last = range.offset + range.length - 1;
  return last < range.offset ? UINT64_MAX : last;
}

const char* MethodName(S3Request::Method method) {
  switch (method) {
    case S3Request::Method::kGet: return "GET";
    case S3Request::Method::kHead: return "HEAD";
    case S3Request::Method::kPut: return "PUT";
    case S3Request::Method::kDelete: return "DELETE";
  }
  return "?";
}

}  // namespace

Status S3StoreOptions::ResolveFromEnvironment() {
  if (region.empty()) region = FirstEnv({"AWS_REGION", "AWS_DEFAULT_REGION"});
  if (region.empty()) region = "us-east-1";
  if (endpoint.empty()) endpoint = FirstEnv({"FATHOM_S3_ENDPOINT", "AWS_ENDPOINT_URL"});
  if (endpoint.empty()) endpoint = "https://s3." + region + ".amazonaws.com";
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  if (endpoint.rfind("http://", 0) != 0 && endpoint.rfind("https://", 0) != 0) {
    return Status::InvalidArgument("S3 endpoint '" + endpoint + "' must start with http:// or https://");
  }
  if (endpoint.find('/', endpoint.find("://") + 3) != std::string::npos) {
    return Status::InvalidArgument("S3 endpoint '" + endpoint +
                                   "' must be scheme://host[:port] without a path; put the bucket in s3://BUCKET/PREFIX");
  }
  // Credentials come as a set: a key from the options and a secret from the environment
  // would sign with a mismatched pair.
  if (access_key_id.empty() && secret_access_key.empty()) {
    access_key_id = Env("AWS_ACCESS_KEY_ID");
    secret_access_key = Env("AWS_SECRET_ACCESS_KEY");
    if (session_token.empty()) session_token = Env("AWS_SESSION_TOKEN");
  }
  if (access_key_id.empty() != secret_access_key.empty()) {
    return Status::InvalidArgument(
        "S3 credentials are incomplete: set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or neither, for "
        "unsigned requests)");
  }
  if (bucket.size() < 3 || bucket.size() > 63 ||
      !std::all_of(bucket.begin(), bucket.end(), IsBucketChar)) {
    return Status::InvalidArgument("S3 bucket name '" + bucket +
                                   "' must be 3 to 63 characters of letters, digits, '.', '-' and '_'");
  }
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  while (!prefix.empty() && prefix.front() == '/') prefix.erase(0, 1);
  if (!prefix.empty()) {
    Status valid = ValidateObjectKey(prefix);
    if (!valid.ok()) {
      return Status::InvalidArgument("S3 key prefix '" + prefix +
                                     "' must be '/'-separated names of letters, digits, '.', '_' and '-' "
                                     "(none starting with '.')");
    }
  }
  if (retry.attempts_max < 1) return Status::InvalidArgument("S3 retry attempts must be at least 1");
  if (list_page_keys_max < 1 || list_page_keys_max > 1000) {
    return Status::InvalidArgument("S3 list page size must be 1 to 1000 keys");
  }
  return Status::Ok();
}

Result<std::shared_ptr<S3Store>> S3Store::Open(S3StoreOptions options) {
  FATHOM_RETURN_IF_ERROR(options.ResolveFromEnvironment());
  return std::shared_ptr<S3Store>(new S3Store(std::move(options)));
}

S3Store::S3Store(S3StoreOptions options)
    : options_(std::move(options)),
      client_(S3ClientConfig{.endpoint = options_.endpoint,
                             .bucket = options_.bucket,
                             .region = options_.region,
                             .access_key_id = options_.access_key_id,
                             .secret_access_key = options_.secret_access_key,
                             .session_token = options_.session_token,
                             .virtual_host_style = options_.virtual_host_style,
                             .connect_timeout = options_.connect_timeout,
                             .request_timeout = options_.request_timeout,
                             .idle_handles_max = options_.idle_handles_max}) {}

std::string S3Store::Describe() const {
  return "s3://" + options_.bucket + (options_.prefix.empty() ? "" : "/" + options_.prefix) + " at " +
         options_.endpoint;
}

S3StoreStats S3Store::stats() const {
  return {client_.requests(), retries_.load(), unknown_outcomes_.load()};
}

std::string S3Store::FullKey(const std::string& key) const {
  return options_.prefix.empty() ? key : options_.prefix + "/" + key;
}

void S3Store::Backoff(int attempt) {
  // "Equal jitter" (AWS's "exponential backoff and jitter"): a uniformly random wait in
  // [bound/2, bound], so that clients throttled together do not retry together, while
  // every retry still backs off.
  thread_local std::mt19937_64 rng(std::random_device{}());
  int64_t bound = options_.retry.backoff_initial.count();
  for (int i = 1; i < attempt && bound < options_.retry.backoff_max.count(); ++i) bound *= 2;
  bound = std::min<int64_t>(bound, options_.retry.backoff_max.count());
  if (bound <= 0) return;
  std::uniform_int_distribution<int64_t> wait(bound / 2, bound);
  std::this_thread::sleep_for(std::chrono::milliseconds(wait(rng)));
}

S3Response S3Store::Execute(const S3Request& request) {
  S3Response response;
  for (int attempt = 0; attempt < options_.retry.attempts_max; ++attempt) {
    if (attempt > 0) {
      retries_.fetch_add(1, std::memory_order_relaxed);
      Backoff(attempt);
    }
    response = client_.Execute(request);
    if (!IsRetryable(response)) break;
  }
  return response;
}

namespace {

// The Status for an answer that is not a success, with the server's own error code and
// message when it sent an Error document.
Status ErrorStatus(const S3Response& response, const S3Request& request, const S3StoreOptions& options,
                   int attempts) {
  const std::string what = std::string(MethodName(request.method)) + " s3://" + options.bucket + "/" +
                           request.key;
  if (response.transport_failed()) {
    return Status::Unavailable(what + ": cannot reach " + options.endpoint + ": " + response.transport_error +
                               " (" + std::to_string(attempts) + " attempts)");
  }
  std::string detail = "HTTP " + std::to_string(response.http_status);
  std::string code;
  if (!response.body.empty()) {
    auto error = ParseS3Error(response.body);
    if (error.ok()) {
      code = error->code;
      detail += " " + error->code + (error->message.empty() ? "" : ": " + error->message);
    }
  }
  const long status = response.http_status;
  if (status == 404 && code == "NoSuchBucket") {
    return Status::FailedPrecondition(what + ": bucket '" + options.bucket + "' does not exist at " +
                                      options.endpoint + " (" + detail + "); create it first");
  }
  if (status == 404) return Status::NotFound(what + ": no such object (" + detail + ")");
  if (status == 401 || status == 403) {
    return Status::PermissionDenied(what + ": permission denied (" + detail +
                                    "); check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, the region (" +
                                    options.region + ") and the bucket's policy");
  }
  if (status == 400 && (code == "RequestTimeout" || code == "BadDigest")) {
    return Status::Unavailable(what + ": " + detail + " (" + std::to_string(attempts) + " attempts)");
  }
  if (status == 400) return Status::InvalidArgument(what + ": the server refused the request (" + detail + ")");
  if (status == 412) return Status::FailedPrecondition(what + ": precondition failed (" + detail + ")");
  if (IsRetryableStatus(status)) {
    return Status::Unavailable(what + ": " + detail + " (" + std::to_string(attempts) + " attempts)");
  }
  return Status::IOError(what + ": unexpected answer " + detail);
}

}  // namespace

Status S3Store::Put(const std::string& key, std::string_view bytes, PutMode mode) {
  FATHOM_RETURN_IF_ERROR(ValidateObjectKey(key));
  if (mode == PutMode::kCreateOnly) return PutCreateOnly(key, bytes);
  S3Request request{
      .method = S3Request::Method::kPut, .key = FullKey(key), .headers = {ContentMd5Header(bytes)}, .body = bytes};
  S3Response response = Execute(request);
  if (response.http_status >= 200 && response.http_status < 300) return Status::Ok();
  return ErrorStatus(response, request, options_, options_.retry.attempts_max);
}

Status S3Store::ReadBack(const std::string& key, std::string_view bytes) {
  auto existing = Get(key, std::nullopt);
  if (!existing.ok()) return existing.status();
  if (*existing == bytes) return Status::Ok();
  return Status::AlreadyExists("object exists with other contents: " + key);
}

// The create-only Put. S3 answers 412 to the loser; everything else that is not a success
// is an unknown outcome unless the server says it refused before doing anything. An
// unknown outcome is settled by reading the object back (docs/design/object-storage.md):
// our bytes there = done (it was ours, or an identical write), other bytes = someone else
// won, nothing there = it did not land, so put again.
Status S3Store::PutCreateOnly(const std::string& key, std::string_view bytes) {
  S3Request request{.method = S3Request::Method::kPut,
                    .key = FullKey(key),
                    .headers = {"If-None-Match: *", ContentMd5Header(bytes)},
                    .body = bytes};
  // Set once an attempt may have landed: a later 412 may then be our own earlier write.
  bool maybe_landed = false;
  S3Response response;
  Status last;
  for (int attempt = 0; attempt < options_.retry.attempts_max; ++attempt) {
    if (attempt > 0) {
      retries_.fetch_add(1, std::memory_order_relaxed);
      Backoff(attempt);
    }
    response = client_.Execute(request);
    const long status = response.http_status;
    if (status >= 200 && status < 300) return Status::Ok();
    if (response.body_resent) maybe_landed = true;
    if (status == 412 && !maybe_landed) {
      return Status::AlreadyExists("object already exists: " + key);
    }
    const bool unknown = status == 412 || OutcomeUnknown(response);
    if (!unknown && !IsRetryable(response)) {
      return ErrorStatus(response, request, options_, attempt + 1);
    }
    if (!unknown) {  // throttled: refused, not applied
      last = ErrorStatus(response, request, options_, attempt + 1);
      continue;
    }
    maybe_landed = true;
    unknown_outcomes_.fetch_add(1, std::memory_order_relaxed);
    Status resolved = ReadBack(key, bytes);
    if (resolved.ok() || resolved.IsAlreadyExists()) return resolved;
    // NotFound: it did not land, put again. Another error: still unknown, try again.
    last = resolved.IsNotFound() ? ErrorStatus(response, request, options_, attempt + 1) : resolved;
  }
  return Status::Unavailable("create-only PUT s3://" + options_.bucket + "/" + request.key + " failed after " +
                             std::to_string(options_.retry.attempts_max) + " attempts; last: " + last.ToString());
}

S3Request S3Store::GetRequest(const std::string& key, const std::optional<ByteRange>& range) const {
  S3Request request{.method = S3Request::Method::kGet, .key = FullKey(key)};
  if (range.has_value()) {
    // An overflowing range asks for everything to the end.
    request.headers.push_back("Range: bytes=" + std::to_string(range->offset) + "-" + std::to_string(RangeLast(*range)));
  }
  return request;
}

namespace {

// Parses "bytes FIRST-LAST/TOTAL" (TOTAL may be "*": unknown).
bool ParseContentRange(std::string_view text, uint64_t* first, uint64_t* last, std::optional<uint64_t>* total) {
  constexpr std::string_view kUnit = "bytes ";
  if (text.substr(0, kUnit.size()) != kUnit) return false;
  const char* p = text.data() + kUnit.size();
  const char* end = text.data() + text.size();
  auto r1 = std::from_chars(p, end, *first);
  if (r1.ec != std::errc() || r1.ptr == end || *r1.ptr != '-') return false;
  auto r2 = std::from_chars(r1.ptr + 1, end, *last);
  if (r2.ec != std::errc() || r2.ptr == end || *r2.ptr != '/') return false;
  std::string_view rest(r2.ptr + 1, static_cast<size_t>(end - r2.ptr - 1));
  if (rest == "*") {
    total->reset();
    return true;
  }
  uint64_t value = 0;
  auto r3 = std::from_chars(rest.data(), rest.data() + rest.size(), value);
  if (rest.empty() || r3.ec != std::errc() || r3.ptr != rest.data() + rest.size()) return false;
  *total = value;
  return true;
}

// A 206 must hold exactly the bytes asked for, cut short only by the object's end: a body
// that starts elsewhere, or stops before both the asked end and the object's end, is not
// the object's bytes at `range`, and a reader would take a short one for the end.
Status CheckPartialAnswer(const S3Response& response, const ByteRange& range, const std::string& what) {
  uint64_t first = 0, last = 0;
  std::optional<uint64_t> total;
  const uint64_t asked_last = RangeLast(range);
  auto bad = [&](const std::string& why) {
    return Status::IOError(what + ": the server's 206 answer to bytes=" + std::to_string(range.offset) + "-" +
                           std::to_string(asked_last) + " " + why + " (Content-Range '" + response.content_range +
                           "', " + std::to_string(response.body.size()) + " bytes received)");
  };
  if (!ParseContentRange(response.content_range, &first, &last, &total)) return bad("has no valid Content-Range");
  if (first != range.offset || last < first || last > asked_last) return bad("is for other bytes");
  if (response.body.size() != last - first + 1) return bad("has a body that does not match its Content-Range");
  // Short of the asked end only at the object's end; with the size unknown, not at all.
  const bool complete = last == asked_last || (total.has_value() && last + 1 == *total);
  if (!complete || (total.has_value() && last >= *total)) return bad("stops before the range and the object end");
  return Status::Ok();
}

}  // namespace

Result<std::string> S3Store::GetResult(S3Response& response, const S3Request& request,
                                       const std::optional<ByteRange>& range) const {
  if ((response.http_status == 200 || response.http_status == 206) && !response.body_framed) {
    // The body ran until the connection closed: a cut one looks complete. S3 and RGW always
    // send a Content-Length; an answer without one (some proxy) cannot be trusted as data.
    return Status::IOError("GET s3://" + options_.bucket + "/" + request.key +
                           ": the answer has neither Content-Length nor chunked encoding, so a cut body cannot be "
                           "told from a whole one");
  }
  if ((response.http_status == 200 || response.http_status == 206) && response.content_length >= 0 &&
      response.body.size() != static_cast<uint64_t>(response.content_length)) {
    // curl itself fails a transfer cut short of its Content-Length (CURLE_PARTIAL_FILE,
    // retried); this guards the bytes handed on against any path that would not.
    return Status::IOError("GET s3://" + options_.bucket + "/" + request.key + ": received " +
                           std::to_string(response.body.size()) + " bytes of a " +
                           std::to_string(response.content_length) + "-byte answer");
  }
  if (response.http_status == 206) {
    if (!range.has_value()) {
      return Status::IOError("GET s3://" + options_.bucket + "/" + request.key +
                             ": the server answered 206 Partial Content to a whole-object read");
    }
    FATHOM_RETURN_IF_ERROR(CheckPartialAnswer(response, *range, "GET s3://" + options_.bucket + "/" + request.key));
    return std::move(response.body);
  }
  if (response.http_status == 200) {
    // A server that ignores Range sends the whole object; cut the range out here.
    if (!range.has_value()) return std::move(response.body);
    if (range->offset >= response.body.size()) return std::string();
    return response.body.substr(range->offset, range->length);
  }
  // 416: the range starts at or after the object's end (the object exists: a missing one
  // is 404). The other stores clamp to an empty result; so does this one.
  if (response.http_status == 416 && range.has_value()) return std::string();
  return ErrorStatus(response, request, options_, options_.retry.attempts_max);
}

Result<std::string> S3Store::Get(const std::string& key, std::optional<ByteRange> range) {
  FATHOM_RETURN_IF_ERROR(ValidateObjectKey(key));
  if (range.has_value() && range->length == 0) {
    // No bytes wanted; an HTTP range cannot say so, but a missing object is still NotFound.
    FATHOM_RETURN_IF_ERROR(Head(key).status());
    return std::string();
  }
  S3Request request = GetRequest(key, range);
  S3Response response = Execute(request);
  return GetResult(response, request, range);
}

Result<std::vector<std::string>> S3Store::GetMany(const std::vector<S3RangedRead>& reads, size_t parallelism) {
  if (reads.size() > kS3GetManyReadsMax) {
    return Status::InvalidArgument("GetMany of " + std::to_string(reads.size()) + " reads exceeds " +
                                   std::to_string(kS3GetManyReadsMax));
  }
  std::vector<std::string> results(reads.size());
  std::vector<S3Request> requests;
  std::vector<size_t> batched;  // requests[j] reads reads[batched[j]]
  for (size_t i = 0; i < reads.size(); ++i) {
    FATHOM_RETURN_IF_ERROR(ValidateObjectKey(reads[i].key));
    if (reads[i].range.has_value() && reads[i].range->length == 0) {
      FATHOM_ASSIGN_OR_RETURN(results[i], Get(reads[i].key, reads[i].range));
      continue;
    }
    requests.push_back(GetRequest(reads[i].key, reads[i].range));
    batched.push_back(i);
  }
  std::vector<S3Response> responses = client_.ExecuteMany(requests, parallelism);
  for (size_t j = 0; j < responses.size(); ++j) {
    const S3RangedRead& read = reads[batched[j]];
    if (IsRetryable(responses[j])) {
      // Transient: this read alone goes through Get's retries.
      retries_.fetch_add(1, std::memory_order_relaxed);
      FATHOM_ASSIGN_OR_RETURN(results[batched[j]], Get(read.key, read.range));
      continue;
    }
    FATHOM_ASSIGN_OR_RETURN(results[batched[j]], GetResult(responses[j], requests[j], read.range));
  }
  return results;
}

Result<ObjectInfo> S3Store::Head(const std::string& key) {
  FATHOM_RETURN_IF_ERROR(ValidateObjectKey(key));
  S3Request request{.method = S3Request::Method::kHead, .key = FullKey(key)};
  S3Response response = Execute(request);
  if (response.http_status == 200) {
    if (response.content_length < 0) {
      return Status::IOError("HEAD s3://" + options_.bucket + "/" + request.key + ": answer has no Content-Length");
    }
    return ObjectInfo{key, static_cast<uint64_t>(response.content_length)};
  }
  return ErrorStatus(response, request, options_, options_.retry.attempts_max);
}

Status S3Store::DeleteResult(const S3Response& response, const S3Request& request) const {
  const long status = response.http_status;
  if (status >= 200 && status < 300) return Status::Ok();
  // A missing object is fine (S3 itself answers 204); a missing bucket is not.
  if (status == 404 && response.body.find("NoSuchBucket") == std::string::npos) return Status::Ok();
  return ErrorStatus(response, request, options_, options_.retry.attempts_max);
}

Status S3Store::Delete(const std::string& key) {
  FATHOM_RETURN_IF_ERROR(ValidateObjectKey(key));
  S3Request request{.method = S3Request::Method::kDelete, .key = FullKey(key)};
  return DeleteResult(Execute(request), request);
}

std::vector<Status> S3Store::DeleteMany(const std::vector<std::string>& keys) {
  std::vector<Status> statuses(keys.size());
  for (size_t first = 0; first < keys.size(); first += kS3GetManyReadsMax) {
    const size_t end = std::min(keys.size(), first + kS3GetManyReadsMax);
    std::vector<S3Request> requests;
    std::vector<size_t> batched;  // requests[j] deletes keys[batched[j]]
    for (size_t i = first; i < end; ++i) {
      statuses[i] = ValidateObjectKey(keys[i]);
      if (!statuses[i].ok()) continue;
      requests.push_back(S3Request{.method = S3Request::Method::kDelete, .key = FullKey(keys[i])});
      batched.push_back(i);
    }
    std::vector<S3Response> responses = client_.ExecuteMany(requests, /*parallelism=*/16);
    for (size_t j = 0; j < responses.size(); ++j) {
      if (IsRetryable(responses[j])) {
        retries_.fetch_add(1, std::memory_order_relaxed);
        statuses[batched[j]] = Delete(keys[batched[j]]);  // with Delete's retries
        continue;
      }
      statuses[batched[j]] = DeleteResult(responses[j], requests[j]);
    }
  }
  return statuses;
}

Result<std::vector<ObjectInfo>> S3Store::List(const std::string& prefix, const std::string& start_after,
                                              size_t max_keys) {
  const size_t page_keys_max = options_.list_page_keys_max;
  const std::string root = options_.prefix.empty() ? std::string() : options_.prefix + "/";
  std::vector<ObjectInfo> out;
  std::string token;
  // The full key of the last object taken: keys must come in strictly increasing order,
  // across pages too, or a faulty continuation would hand the engine a key twice.
  std::string previous;
  for (;;) {
    S3Request request{.method = S3Request::Method::kGet};
    request.query["list-type"] = "2";
    request.query["prefix"] = root + prefix;
    const size_t wanted = max_keys == 0 ? page_keys_max : std::min(page_keys_max, max_keys - out.size());
    request.query["max-keys"] = std::to_string(wanted);
    if (!token.empty()) {
      request.query["continuation-token"] = token;
    } else if (!start_after.empty()) {
      request.query["start-after"] = root + start_after;
    }
    S3Response response = Execute(request);
    if (response.http_status != 200) {
      return ErrorStatus(response, request, options_, options_.retry.attempts_max)
          .WithContext("list " + root + prefix);
    }
    auto page = ParseListBucketResult(response.body);
    if (!page.ok()) return page.status().WithContext("list s3://" + options_.bucket + "/" + root + prefix);
    for (ObjectInfo& object : page->objects) {
      // The server must answer what was asked; anything else would hand the engine keys
      // outside its root.
      if (object.key.compare(0, root.size() + prefix.size(), root + prefix) != 0 ||
          object.key.size() <= root.size() || (!start_after.empty() && object.key <= root + start_after)) {
        return Status::Corruption("list s3://" + options_.bucket + "/" + root + prefix + ": the server returned key '" +
                                  object.key + "' outside the requested range");
      }
      if (!previous.empty() && object.key <= previous) {
        return Status::Corruption("list s3://" + options_.bucket + "/" + root + prefix + ": the server returned key '" +
                                  object.key + "' after '" + previous + "' (repeated or out of order)");
      }
      previous = object.key;
      object.key.erase(0, root.size());
      out.push_back(std::move(object));
      if (max_keys != 0 && out.size() == max_keys) return out;
    }
    if (!page->is_truncated) return out;
    if (page->next_continuation_token == token) {
      return Status::Corruption("list s3://" + options_.bucket + "/" + root + prefix +
                                ": the server repeated its continuation token");
    }
    token = page->next_continuation_token;
  }
}

}  // namespace fathom
