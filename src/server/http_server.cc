#include "server/http_server.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include "server/errors.h"
#include "server/server_limits.h"

namespace fathom::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

// A response still being written after this long is abandoned (the client stopped
// reading).
constexpr std::chrono::seconds kWriteTimeout{300};
// After an error response sent before the request body was read (413), the rest of the
// body is read and dropped for at most this long, so the client sees the response
// instead of a connection reset.
constexpr std::chrono::seconds kDrainTimeout{5};
constexpr size_t kDrainBytesMax = 64u << 20;

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

class Session;

struct HttpServer::Impl {
  Impl(const RequestHandler* api_in, ServerOptions options_in) : api(api_in), options(std::move(options_in)) {}

  void DoAccept();
  void Register(const std::shared_ptr<Session>& session);
  void Unregister(Session* session);

  const RequestHandler* api;
  ServerOptions options;
  // One io_context per I/O thread, each run by that thread alone: a connection lives on one
  // of them (round robin at accept) and needs no strand, and a thread that takes an event
  // off epoll runs its handler itself instead of waking another thread to take over the
  // reactor, as a shared multi-threaded io_context does on every event.
  std::vector<std::unique_ptr<net::io_context>> iocs;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> work;
  std::optional<tcp::acceptor> acceptor;  // on iocs[0]
  size_t next_ioc = 0;                    // round robin; touched by the accept handler only
  std::unique_ptr<net::thread_pool> workers;
  std::vector<std::thread> io_threads;
  std::atomic<bool> stopping{false};
  // Bytes of request bodies being read or handled, across all connections.
  std::atomic<size_t> body_bytes_in_flight{0};
  uint16_t bound_port = 0;
  bool started = false;
  bool stopped = false;

  std::mutex mu;
  std::condition_variable sessions_done;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;  // guarded by mu
};

// One client connection. All its handlers run on its I/O thread; an engine call runs there
// too (a fast read) or on the worker pool, which posts the response back.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, HttpServer::Impl* server) : stream_(std::move(socket)), server_(server) {}
  ~Session() {
    ReleaseBodyBudget();
    server_->Unregister(this);
  }

  void Start() {
    buffer_.reserve(http_limits::kReadBufferBytes);
    net::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::DoReadHeader, shared_from_this()));
  }

  // Called from the controlling thread during shutdown: idle connections close now,
  // busy ones after answering.
  void RequestShutdown(bool force) {
    net::post(stream_.get_executor(), [self = shared_from_this(), force] {
      self->close_requested_ = true;
      if (!self->busy_ || force) {
        beast::error_code ec;
        self->stream_.socket().close(ec);
      }
    });
  }

 private:
  void DoReadHeader() {
    busy_ = false;
    if (close_requested_ || server_->stopping.load()) {
      DoClose();
      return;
    }
    if (buffer_.capacity() > http_limits::kReadBufferBytes) {
      // The last request had a large body: give back its read buffer, keeping any bytes
      // of the next request already read.
      buffer_.shrink_to_fit();
      buffer_.reserve(http_limits::kReadBufferBytes);
    }
    parser_.emplace();
    parser_->body_limit(http_limits::kRequestBodyBytesMax);
    parser_->header_limit(static_cast<uint32_t>(http_limits::kRequestHeaderBytesMax));
    stream_.expires_after(http_limits::kIdleTimeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::OnReadHeader, shared_from_this()));
  }

  void OnReadHeader(beast::error_code ec, size_t) {
    if (ec) {
      OnReadError(ec);
      return;
    }
    busy_ = true;
    version_ = parser_->get().version();
    // Bound the memory all connections together may hold in request bodies: past the
    // budget a request is refused before its body is read.
    if (auto length = parser_->content_length(); length.has_value() && *length > 0) {
      const size_t before = server_->body_bytes_in_flight.fetch_add(*length);
      reserved_body_bytes_ = *length;
      if (before + *length > http_limits::kBodyBytesInFlightMax) {
        ReleaseBodyBudget();
        SendErrorAndClose(ApiError::Chroma(503, "Server busy: too many large request bodies in flight; retry "
                                                "later").ToResponse());
        return;
      }
      if (*length > http_limits::kReadBufferBytes) buffer_.reserve(http_limits::kLargeReadBufferBytes);
    }
    auto expect = parser_->get().find(http::field::expect);
    if (expect != parser_->get().end() && IEquals(std::string_view(expect->value().data(), expect->value().size()), "100-continue") && !parser_->is_done()) {
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_, version_);
      pending_ = cont;
      stream_.expires_after(kWriteTimeout);
      http::async_write(stream_, *cont, [self = shared_from_this()](beast::error_code write_ec, size_t) {
        self->pending_.reset();
        if (write_ec) {
          self->DoClose();
          return;
        }
        self->DoReadBody();
      });
      return;
    }
    DoReadBody();
  }

  void DoReadBody() {
    stream_.expires_after(http_limits::kIdleTimeout);
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t) {
    if (ec) {
      OnReadError(ec);
      return;
    }
    http::request<http::string_body> request = parser_->release();
    parser_.reset();
    HandleRequest(std::move(request));
  }

  void OnReadError(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      busy_ = true;
      SendPlainAndClose(http::status::payload_too_large, "Payload too large");
      return;
    }
    const bool http_parse_error = &ec.category() == &http::make_error_code(http::error::bad_target).category();
    if (http_parse_error && ec != http::error::end_of_stream && ec != http::error::partial_message) {
      // A malformed request: say so before closing, since the stream cannot be resynced.
      busy_ = true;
      SendPlainAndClose(http::status::bad_request, std::string("Bad Request: ") + ec.message());
      return;
    }
    DoClose();  // end of stream, timeout, reset, shutdown
  }

  void HandleRequest(http::request<http::string_body>&& beast_request) {
    HttpRequest request;
    request.method = std::string(beast_request.method_string());
    request.target = std::string(beast_request.target());
    auto content_type = beast_request.find(http::field::content_type);
    if (content_type != beast_request.end()) request.content_type = std::string(content_type->value());
    const bool keep_alive = beast_request.keep_alive();
    request.body = std::move(beast_request.body());

    const RequestKind kind = server_->api->Classify(request);
    if (kind == RequestKind::kCheap) {
      SendResponse(server_->api->Handle(std::move(request)), keep_alive);
      return;
    }
    // A fast read runs right here: no hand-off to a worker and back (two thread wake-ups,
    // most of a small request's CPU). The connections sharing this thread wait while it
    // runs, so a connection whose last read took longer than inline_read_duration_max
    // sends its reads to the workers until one is fast again; writes, which may wait for
    // storage, and large bodies always go there (docs/design/http-api.md, "Threads").
    if (kind == RequestKind::kRead && server_->options.inline_reads && !slow_reads_ &&
        request.body.size() <= http_limits::kInlineReadBodyBytesMax) {
      const auto start = std::chrono::steady_clock::now();
      HttpResponse response = server_->api->Handle(std::move(request));
      slow_reads_ = std::chrono::steady_clock::now() - start > server_->options.inline_read_duration_max;
      SendResponse(std::move(response), keep_alive);
      return;
    }
    net::post(*server_->workers, [self = shared_from_this(), request = std::move(request), keep_alive, kind]() mutable {
      const auto start = std::chrono::steady_clock::now();
      HttpResponse response = self->server_->api->Handle(std::move(request));
      const bool slow = std::chrono::steady_clock::now() - start > self->server_->options.inline_read_duration_max;
      net::post(self->stream_.get_executor(), [self, response = std::move(response), keep_alive, kind, slow]() mutable {
        if (kind == RequestKind::kRead) self->slow_reads_ = slow;
        self->SendResponse(std::move(response), keep_alive);
      });
    });
  }

  void SendResponse(HttpResponse&& response, bool keep_alive) {
    ReleaseBodyBudget();
    if (close_requested_ || server_->stopping.load()) keep_alive = false;
    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(version_);
    res->result(response.status);
    if (!response.content_type.empty()) res->set(http::field::content_type, response.content_type);
    for (auto& [name, value] : response.headers) res->set(name, value);
    res->body() = std::move(response.body);
    res->keep_alive(keep_alive);
    res->prepare_payload();
    pending_ = res;
    stream_.expires_after(kWriteTimeout);
    http::async_write(stream_, *res, [self = shared_from_this(), keep_alive](beast::error_code ec, size_t) {
      self->pending_.reset();
      if (ec || !keep_alive) {
        self->DoClose();
        return;
      }
      self->DoReadHeader();
    });
  }

  void SendPlainAndClose(http::status status, std::string text) {
    HttpResponse response;
    response.status = static_cast<unsigned>(status);
    response.content_type = "text/plain; charset=utf-8";
    response.body = std::move(text);
    SendErrorAndClose(std::move(response));
  }

  // An error answered before the body was read: reply, stop sending, then read and drop
  // what the client still sends (bounded) so it can read the reply.
  void SendErrorAndClose(HttpResponse&& response) {
    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(version_);
    res->result(response.status);
    if (!response.content_type.empty()) res->set(http::field::content_type, response.content_type);
    for (auto& [name, value] : response.headers) res->set(name, value);
    res->body() = std::move(response.body);
    res->keep_alive(false);
    res->prepare_payload();
    pending_ = res;
    stream_.expires_after(kWriteTimeout);
    http::async_write(stream_, *res, [self = shared_from_this()](beast::error_code ec, size_t) {
      self->pending_.reset();
      if (ec) {
        self->DoClose();
        return;
      }
      beast::error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      self->stream_.expires_after(kDrainTimeout);
      self->DoDrain();
    });
  }

  void ReleaseBodyBudget() {
    if (reserved_body_bytes_ == 0) return;
    server_->body_bytes_in_flight.fetch_sub(reserved_body_bytes_);
    reserved_body_bytes_ = 0;
  }

  void DoDrain() {
    drain_buffer_.resize(64 * 1024);
    stream_.async_read_some(net::buffer(drain_buffer_), [self = shared_from_this()](beast::error_code ec, size_t n) {
      self->drained_bytes_ += n;
      if (ec || self->drained_bytes_ > kDrainBytesMax) {
        beast::error_code ignored;
        self->stream_.socket().close(ignored);
        return;
      }
      self->DoDrain();
    });
  }

  void DoClose() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.socket().close(ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<void> pending_;  // the message being written
  std::vector<char> drain_buffer_;
  size_t drained_bytes_ = 0;
  size_t reserved_body_bytes_ = 0;  // this request's share of body_bytes_in_flight
  unsigned version_ = 11;
  bool busy_ = false;             // a request is being read past its header, handled or answered
  bool close_requested_ = false;  // shutdown: close after the current exchange
  bool slow_reads_ = false;       // the last engine read took over inline_read_duration_max
  HttpServer::Impl* server_;
};

void HttpServer::Impl::Register(const std::shared_ptr<Session>& session) {
  std::lock_guard<std::mutex> lock(mu);
  sessions.emplace(session.get(), session);
}

void HttpServer::Impl::Unregister(Session* session) {
  std::lock_guard<std::mutex> lock(mu);
  sessions.erase(session);
  if (sessions.empty()) sessions_done.notify_all();
}

void HttpServer::Impl::DoAccept() {
  net::io_context& target = *iocs[next_ioc];
  next_ioc = (next_ioc + 1) % iocs.size();
  acceptor->async_accept(target, [this](beast::error_code ec, tcp::socket socket) {
    if (stopping.load() || ec == net::error::operation_aborted) return;
    if (ec) {
      // Out of descriptors and similar: log, keep accepting (the condition may pass).
      spdlog::warn("accept failed: {}", ec.message());
      DoAccept();
      return;
    }
    size_t open = 0;
    {
      std::lock_guard<std::mutex> lock(mu);
      open = sessions.size();
    }
    if (open >= http_limits::kConnectionsMax) {
      beast::error_code ignored;
      socket.close(ignored);
    } else {
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      auto session = std::make_shared<Session>(std::move(socket), this);
      Register(session);
      session->Start();
    }
    DoAccept();
  });
}

HttpServer::HttpServer(const RequestHandler* api, ServerOptions options)
    : impl_(std::make_unique<Impl>(api, std::move(options))) {}

HttpServer::~HttpServer() { Stop(); }

uint16_t HttpServer::port() const { return impl_->bound_port; }

Status HttpServer::Start() {
  Impl& s = *impl_;
  if (s.started) return Status::FailedPrecondition("server already started");
  const size_t cpus = std::max<size_t>(2, std::thread::hardware_concurrency());
  const size_t io_threads = s.options.io_threads != 0 ? s.options.io_threads : cpus;
  for (size_t i = 0; i < io_threads; ++i) {
    // Concurrency hint 1: one thread runs each io_context (posts from other threads are
    // still safe).
    s.iocs.push_back(std::make_unique<net::io_context>(1));
  }
  s.acceptor.emplace(*s.iocs[0]);
  tcp::acceptor& acceptor = *s.acceptor;
  beast::error_code ec;
  const auto address = net::ip::make_address(s.options.host, ec);
  if (ec) return Status::InvalidArgument("invalid listen address '" + s.options.host + "': " + ec.message());
  const tcp::endpoint endpoint(address, s.options.port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::IOError("cannot listen on " + s.options.host + ":" + std::to_string(s.options.port) + ": " +
                           ec.message());
  }
  s.bound_port = acceptor.local_endpoint().port();
  const size_t workers = s.options.worker_threads != 0 ? s.options.worker_threads : cpus;
  s.workers = std::make_unique<net::thread_pool>(workers);
  for (auto& ioc : s.iocs) s.work.push_back(net::make_work_guard(*ioc));
  s.DoAccept();
  for (auto& ioc : s.iocs) s.io_threads.emplace_back([ioc = ioc.get()] { ioc->run(); });
  s.started = true;
  return Status::Ok();
}

void HttpServer::Stop() {
  Impl& s = *impl_;
  if (!s.started || s.stopped) return;
  s.stopped = true;
  s.stopping.store(true);
  net::post(*s.iocs[0], [&s] {
    beast::error_code ignored;
    s.acceptor->close(ignored);
  });
  auto signal_sessions = [&s](bool force) {
    std::vector<std::shared_ptr<Session>> live;
    {
      std::lock_guard<std::mutex> lock(s.mu);
      for (auto& [raw, weak] : s.sessions) {
        if (auto session = weak.lock()) live.push_back(std::move(session));
      }
    }
    for (auto& session : live) session->RequestShutdown(force);
  };
  signal_sessions(false);
  {
    std::unique_lock<std::mutex> lock(s.mu);
    if (!s.sessions_done.wait_for(lock, http_limits::kShutdownGrace, [&s] { return s.sessions.empty(); })) {
      lock.unlock();
      spdlog::warn("shutdown: requests still running after {}s; closing their connections",
                   http_limits::kShutdownGrace.count());
      signal_sessions(true);
    }
  }
  // Requests already on the worker pool finish before the pool joins; their answers have
  // nowhere to go once the I/O threads stop, which is the price of the grace deadline.
  // A read running inline finishes before its I/O thread joins, likewise.
  s.workers->join();
  s.work.clear();
  for (auto& ioc : s.iocs) ioc->stop();
  for (auto& t : s.io_threads) t.join();
  s.io_threads.clear();
  // Destroyed here, while the session registry they unregister from is still alive:
  // handlers still queued may hold the last reference to a session.
  s.acceptor.reset();
  s.iocs.clear();
}

}  // namespace fathom::server
