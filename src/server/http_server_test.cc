// HttpServer in process, with a handler that blocks on demand: where requests run (fast
// reads on the I/O thread, writes and slow reads on the workers), that a blocked request
// stalls no other connection's thread, and graceful shutdown with requests in flight.
// Synchronisation is by the handler's own signals; nothing sleeps to wait for an event.
#include "server/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace fathom::server {
namespace {

// Targets: /cheap (kCheap), /read (kRead), /write (kWrite); a query string containing
// `block` makes the request wait until Release(), one containing `slow` makes it take at
// least 100 ms (over the 50 ms inline_read_duration_max the tests use, which a fast
// request stays under even on a loaded machine). Records the thread each target ran on.
class BlockingHandler final : public RequestHandler {
 public:
  HttpResponse Handle(HttpRequest request) const override {
    const std::string path = request.target.substr(0, request.target.find('?'));
    {
      std::unique_lock<std::mutex> lock(mu_);
      threads_[request.target] = std::this_thread::get_id();
      ++entered_;
      entered_cv_.notify_all();
      if (request.target.find("block") != std::string::npos) {
        released_cv_.wait(lock, [this] { return released_; });
      }
    }
    if (request.target.find("slow") != std::string::npos) {
      // Stands in for a slow engine call (the duration is the point, not a synchronisation).
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    HttpResponse response;
    response.body = "\"" + path + "\"";
    return response;
  }
  RequestKind Classify(const HttpRequest& request) const override {
    if (request.target.starts_with("/cheap")) return RequestKind::kCheap;
    if (request.target.starts_with("/read")) return RequestKind::kRead;
    return RequestKind::kWrite;
  }

  // Waits until `count` requests in all have entered Handle.
  void WaitEntered(int count) const {
    std::unique_lock<std::mutex> lock(mu_);
    entered_cv_.wait(lock, [&] { return entered_ >= count; });
  }
  void Release() const {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    released_cv_.notify_all();
  }
  std::thread::id ThreadOf(const std::string& target) const {
    std::lock_guard<std::mutex> lock(mu_);
    return threads_.at(target);
  }

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable entered_cv_, released_cv_;
  mutable int entered_ = 0;
  mutable bool released_ = false;
  mutable std::map<std::string, std::thread::id> threads_;
};

struct Reply {
  int status = 0;  // 0: no reply (closed or timed out)
  bool close = false;
  std::string body;
};

// One keep-alive client connection; reads time out after 20 s so a failure cannot hang.
class Client {
 public:
  explicit Client(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{20, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~Client() { ::close(fd_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return connected_; }
  void Send(const std::string& method, const std::string& target) {
    const std::string raw = method + " " + target + " HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
    ASSERT_EQ(::send(fd_, raw.data(), raw.size(), MSG_NOSIGNAL), static_cast<ssize_t>(raw.size()));
  }
  Reply Read() {
    Reply reply;
    size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return reply;
    }
    reply.status = std::atoi(buffer_.c_str() + 9);
    size_t length = 0;
    for (size_t pos = buffer_.find("\r\n") + 2; pos < end;) {
      const size_t eol = buffer_.find("\r\n", pos);
      const std::string line = buffer_.substr(pos, eol - pos);
      if (strncasecmp(line.c_str(), "content-length:", 15) == 0) length = std::stoul(line.substr(15));
      if (strncasecmp(line.c_str(), "connection:", 11) == 0 && line.find("close") != std::string::npos) {
        reply.close = true;
      }
      pos = eol + 2;
    }
    while (buffer_.size() < end + 4 + length) {
      if (!Fill()) return Reply{};
    }
    reply.body = buffer_.substr(end + 4, length);
    buffer_.erase(0, end + 4 + length);
    return reply;
  }
  Reply Call(const std::string& method, const std::string& target) {
    Send(method, target);
    return Read();
  }
  // True when the server closed the connection (EOF), false on data or timeout.
  bool ReadsEof() {
    char c;
    return ::recv(fd_, &c, 1, 0) == 0;
  }

 private:
  bool Fill() {
    char chunk[4096];
    const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  std::string buffer_;
};

class HttpServerTest : public ::testing::Test {
 protected:
  void StartServer(ServerOptions options) {
    options.port = 0;
    options.inline_read_duration_max = std::chrono::milliseconds(50);
    server_ = std::make_unique<HttpServer>(&handler_, options);
    ASSERT_TRUE(server_->Start().ok());
  }
  void TearDown() override {
    handler_.Release();
    if (server_) server_->Stop();
  }

  BlockingHandler handler_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, FastReadsRunOnTheIoThreadWritesOnAWorker) {
  StartServer({.io_threads = 1, .worker_threads = 2});
  Client client(server_->port());
  ASSERT_TRUE(client.connected());
  EXPECT_EQ(client.Call("GET", "/cheap").status, 200);
  EXPECT_EQ(client.Call("GET", "/read").status, 200);
  EXPECT_EQ(client.Call("POST", "/write").status, 200);
  const std::thread::id io_thread = handler_.ThreadOf("/cheap");
  EXPECT_EQ(handler_.ThreadOf("/read"), io_thread);
  EXPECT_NE(handler_.ThreadOf("/write"), io_thread);
}

TEST_F(HttpServerTest, WithoutInlineReadsEveryEngineRequestGoesToAWorker) {
  StartServer({.io_threads = 1, .worker_threads = 2, .inline_reads = false});
  Client client(server_->port());
  EXPECT_EQ(client.Call("GET", "/cheap").status, 200);
  EXPECT_EQ(client.Call("GET", "/read").status, 200);
  EXPECT_NE(handler_.ThreadOf("/read"), handler_.ThreadOf("/cheap"));
}

TEST_F(HttpServerTest, SlowReadSendsItsConnectionsNextReadToAWorker) {
  StartServer({.io_threads = 1, .worker_threads = 2});
  Client slow(server_->port());
  EXPECT_EQ(slow.Call("GET", "/cheap").status, 200);
  EXPECT_EQ(slow.Call("GET", "/read?slow").status, 200);  // inline, and over the limit
  EXPECT_EQ(handler_.ThreadOf("/read?slow"), handler_.ThreadOf("/cheap"));
  // The connection's next read goes to a worker: blocked there, it leaves the only I/O
  // thread free for everyone else.
  slow.Send("GET", "/read?block-slow");
  handler_.WaitEntered(3);
  Client other(server_->port());
  EXPECT_EQ(other.Call("GET", "/cheap").status, 200);
  EXPECT_EQ(other.Call("GET", "/read").status, 200);
  handler_.Release();
  EXPECT_EQ(slow.Read().status, 200);
  EXPECT_NE(handler_.ThreadOf("/read?block-slow"), handler_.ThreadOf("/cheap"));
  // Slow again on the worker, so the next read goes to a worker too; that one is fast, so
  // the one after runs inline again.
  EXPECT_EQ(slow.Call("GET", "/read?on-worker").status, 200);
  EXPECT_NE(handler_.ThreadOf("/read?on-worker"), handler_.ThreadOf("/cheap"));
  EXPECT_EQ(slow.Call("GET", "/read?again").status, 200);
  EXPECT_EQ(handler_.ThreadOf("/read?again"), handler_.ThreadOf("/cheap"));
}

TEST_F(HttpServerTest, ManyConnectionsAreAnsweredWhileWritesAreBlocked) {
  StartServer({.io_threads = 2, .worker_threads = 2});
  // Both workers blocked in writes.
  Client writer1(server_->port()), writer2(server_->port());
  writer1.Send("POST", "/write?block");
  writer2.Send("POST", "/write?block");
  handler_.WaitEntered(2);
  // Every other connection, on either I/O thread, is still served, reads included.
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 64; ++i) clients.push_back(std::make_unique<Client>(server_->port()));
  for (auto& c : clients) {
    ASSERT_TRUE(c->connected());
    c->Send("GET", "/cheap");
    c->Send("GET", "/read");
  }
  for (auto& c : clients) {
    EXPECT_EQ(c->Read().status, 200);
    EXPECT_EQ(c->Read().status, 200);
  }
  handler_.Release();
  EXPECT_EQ(writer1.Read().status, 200);
  EXPECT_EQ(writer2.Read().status, 200);
}

TEST_F(HttpServerTest, StopLetsRequestsInFlightAnswerAndClosesIdleConnections) {
  StartServer({.io_threads = 2, .worker_threads = 2});
  // Accepted round robin: `reader` and `idle_other` share I/O thread 0, `writer` and
  // `idle` thread 1.
  Client reader(server_->port());
  Client writer(server_->port());
  Client idle_other(server_->port());
  Client idle(server_->port());
  ASSERT_EQ(reader.Call("GET", "/cheap").status, 200);
  ASSERT_EQ(writer.Call("GET", "/cheap").status, 200);
  ASSERT_EQ(idle_other.Call("GET", "/cheap").status, 200);
  ASSERT_EQ(idle.Call("GET", "/cheap").status, 200);
  reader.Send("GET", "/read?block");    // inline on I/O thread 0
  writer.Send("POST", "/write?block");  // on a worker
  handler_.WaitEntered(6);

  auto stopped = std::async(std::launch::async, [this] { server_->Stop(); });
  // An idle connection on a free I/O thread is closed at once; Stop waits for the rest.
  EXPECT_TRUE(idle.ReadsEof());
  EXPECT_EQ(stopped.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);

  handler_.Release();
  const Reply read = reader.Read();
  const Reply written = writer.Read();
  EXPECT_EQ(read.status, 200);
  EXPECT_TRUE(read.close);
  EXPECT_EQ(written.status, 200);
  EXPECT_TRUE(written.close);
  EXPECT_TRUE(idle_other.ReadsEof());
  stopped.get();
  Client late(server_->port());  // the listener is closed
  EXPECT_FALSE(late.connected());
}

}  // namespace
}  // namespace fathom::server
