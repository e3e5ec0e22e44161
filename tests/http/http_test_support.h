// Support for HTTP tests: starts the real `fathom` binary (path in $FATHOM_BINARY) on a
// free 127.0.0.1 port with a fresh temporary data directory, talks HTTP/1.1 to it over a
// plain socket, and stops it by PID. Header-only: the build globs only *_test.cc here.
//
// Synchronisation is by polling the heartbeat with a bounded deadline; nothing sleeps
// for a fixed time. ServerProcess cleans up its process and directory in its destructor.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <initializer_list>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace fathom::http_test {

struct Response {
  int status = 0;  // 0 = no response (connection failed or closed early)
  // The connection was made, so the server may have seen the request (with status 0:
  // its outcome is unknown). false: it certainly did not.
  bool connected = false;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  rapidjson::Document Json() const {
    rapidjson::Document d;
    d.Parse(body.c_str(), body.size());
    return d;
  }
  std::string Header(const std::string& name) const {
    for (const auto& [k, v] : headers) {
      if (strcasecmp(k.c_str(), name.c_str()) == 0) return v;
    }
    return "";
  }
};

inline std::string ToJson(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

// Sends one raw request on a new connection and reads the response (the request should
// ask for `Connection: close`; the response is read to its Content-Length or EOF).
inline Response RawExchange(uint16_t port, const std::string& raw, int timeout_ms = 30000) {
  Response out;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return out;
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return out;
  }
  out.connected = true;
  size_t sent = 0;
  while (sent < raw.size()) {
    const ssize_t n = ::send(fd, raw.data() + sent, raw.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may answer (413) before reading everything
    sent += static_cast<size_t>(n);
  }
  std::string data;
  char buf[65536];
  size_t header_end = std::string::npos;
  size_t content_length = std::string::npos;
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    data.append(buf, static_cast<size_t>(n));
    if (header_end == std::string::npos) {
      header_end = data.find("\r\n\r\n");
      if (header_end != std::string::npos) {
        std::istringstream lines(data.substr(0, header_end));
        std::string line;
        while (std::getline(lines, line)) {
          if (!line.empty() && line.back() == '\r') line.pop_back();
          const auto colon = line.find(':');
          if (colon == std::string::npos) continue;
          std::string name = line.substr(0, colon);
          std::string value = line.substr(colon + 1);
          while (!value.empty() && value.front() == ' ') value.erase(value.begin());
          if (strcasecmp(name.c_str(), "content-length") == 0) content_length = std::stoul(value);
        }
      }
    }
    if (header_end != std::string::npos && content_length != std::string::npos &&
        data.size() >= header_end + 4 + content_length) {
      break;
    }
  }
  ::close(fd);
  if (header_end == std::string::npos) return out;
  std::istringstream lines(data.substr(0, header_end));
  std::string status_line;
  std::getline(lines, status_line);
  if (status_line.size() >= 12) out.status = std::atoi(status_line.c_str() + 9);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(value.begin());
    out.headers.emplace_back(line.substr(0, colon), value);
  }
  out.content_type = out.Header("content-type");
  out.body = data.substr(header_end + 4);
  if (content_length != std::string::npos && out.body.size() > content_length) out.body.resize(content_length);
  return out;
}

inline Response Request(uint16_t port, const std::string& method, const std::string& target,
                        const std::optional<std::string>& body = std::nullopt,
                        const std::string& content_type = "application/json") {
  std::string raw = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  if (body.has_value()) {
    if (!content_type.empty()) raw += "Content-Type: " + content_type + "\r\n";
    raw += "Content-Length: " + std::to_string(body->size()) + "\r\n";
  }
  raw += "\r\n";
  if (body.has_value()) raw += *body;
  return RawExchange(port, raw);
}

inline uint16_t FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// A `fathom run` child process with its own data directory.
class ServerProcess {
 public:
  // `data_dir` empty: a fresh temporary directory, removed at destruction.
  explicit ServerProcess(bool allow_reset = true, std::string data_dir = "")
      : allow_reset_(allow_reset) {
    if (data_dir.empty()) {
      std::string pattern = (std::filesystem::temp_directory_path() / "fathom-http-test.XXXXXX").string();
      std::vector<char> buf(pattern.begin(), pattern.end());
      buf.push_back('\0');
      const char* made = ::mkdtemp(buf.data());
      if (made == nullptr) {
        ADD_FAILURE() << "mkdtemp failed";
        return;
      }
      root_ = made;
      owns_root_ = true;
      data_dir_ = root_ + "/data";
    } else {
      data_dir_ = data_dir;
      root_ = std::filesystem::path(data_dir).parent_path().string();
    }
  }
  ~ServerProcess() {
    Stop();
    if (owns_root_) {
      std::error_code ec;
      std::filesystem::remove_all(root_, ec);
    }
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  const std::string& data_dir() const { return data_dir_; }
  uint16_t port() const { return port_; }
  // Serve `--store url` instead of `--path` the data directory (the log stays in the
  // temporary root).
  void set_store_url(std::string url) { store_url_ = std::move(url); }
  // Arguments added to `fathom run` by the next Start (e.g. {"--compaction-trigger-ops", "64"}).
  void set_extra_args(std::vector<std::string> args) { extra_args_ = std::move(args); }
  // A command the binary is run through by the next Start, its first word an absolute
  // path (e.g. {"/usr/bin/setpriv", "--reuid=65534", ...} to serve as another user).
  void set_command_prefix(std::vector<std::string> prefix) { command_prefix_ = std::move(prefix); }
  // Where server.log goes (default: the temporary root, or the parent of a given data
  // directory), e.g. off a small file system the test fills.
  void set_log_dir(std::string dir) { log_dir_ = std::move(dir); }
  pid_t pid() const { return pid_; }
  std::string log() const {
    std::ifstream in(LogPath());
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  // Starts the server and waits (bounded) until its heartbeat answers.
  bool Start() {
    const char* binary = std::getenv("FATHOM_BINARY");
    if (binary == nullptr) {
      ADD_FAILURE() << "FATHOM_BINARY is not set (run through ctest)";
      return false;
    }
    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = FreePort();
      const std::string log_path = LogPath();
      const std::string port = std::to_string(port_);
      // Everything the child needs is prepared before fork: after it, only
      // async-signal-safe calls.
      std::vector<const char*> args;
      for (const std::string& word : command_prefix_) args.push_back(word.c_str());
      args.insert(args.end(), {binary, "run"});
      if (store_url_.empty()) {
        args.insert(args.end(), {"--path", data_dir_.c_str()});
      } else {
        args.insert(args.end(), {"--store", store_url_.c_str()});
      }
      args.insert(args.end(), {"--host", "127.0.0.1", "--port", port.c_str()});
      if (allow_reset_) args.push_back("--allow-reset");
      for (const std::string& arg : extra_args_) args.push_back(arg.c_str());
      args.push_back(nullptr);
      pid_ = ::fork();
      if (pid_ == 0) {
        const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
          ::dup2(fd, 1);
          ::dup2(fd, 2);
        }
        ::execv(args[0], const_cast<char* const*>(args.data()));
        ::_exit(127);
      }
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      while (std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
          pid_ = -1;
          break;  // exited: probably the port was taken; try another
        }
        if (Request(port_, "GET", "/api/v2/heartbeat").status == 200) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling interval
      }
      if (pid_ > 0) Kill();
    }
    ADD_FAILURE() << "fathom did not start; log:\n" << log();
    return false;
  }

  // SIGTERM and a bounded wait for a clean exit; returns the exit status (-1 if killed).
  int Stop() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << "fathom did not stop on SIGTERM";
    Kill();
    return -1;
  }

  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  Response Get(const std::string& target) const { return Request(port_, "GET", target); }
  Response Delete(const std::string& target) const { return Request(port_, "DELETE", target); }
  Response Post(const std::string& target, const std::string& body) const {
    return Request(port_, "POST", target, body);
  }
  Response Put(const std::string& target, const std::string& body) const {
    return Request(port_, "PUT", target, body);
  }

 private:
  std::string LogPath() const { return (log_dir_.empty() ? root_ : log_dir_) + "/server.log"; }

  bool allow_reset_;
  std::string store_url_;  // empty: --path data_dir_
  std::vector<std::string> extra_args_;
  std::vector<std::string> command_prefix_;
  std::string log_dir_;  // empty: root_
  std::string root_;
  std::string data_dir_;
  bool owns_root_ = false;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

inline const std::string kDb = "/api/v2/tenants/default_tenant/databases/default_database";
inline const std::string kCollections = kDb + "/collections";

// Creates a collection and returns its id ("" on failure, with a test failure recorded).
inline std::string CreateCollection(const ServerProcess& server, const std::string& name,
                                    const std::string& extra = "") {
  Response r = server.Post(kCollections, "{\"name\":\"" + name + "\"" + extra + "}");
  EXPECT_EQ(r.status, 200) << r.body;
  auto d = r.Json();
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("id")) return "";
  return d["id"].GetString();
}

// Expects a Chroma error body with the given status, name and message (prefix).
// The JSON text at `path` under `value`, or "<missing ...>" (so a test fails, not aborts,
// on a shape it did not expect).
inline std::string At(const rapidjson::Value& value, std::initializer_list<const char*> path) {
  const rapidjson::Value* v = &value;
  std::string walked;
  for (const char* key : path) {
    walked += std::string("/") + key;
    if (!v->IsObject() || !v->HasMember(key)) return "<missing " + walked + ">";
    v = &(*v)[key];
  }
  return ToJson(*v);
}

// Creates collection `name` with `schema` (JSON) holding `records` (an add body); its
// base path ("" after a failed expectation).
inline std::string CollectionWithRecords(const ServerProcess& server, const std::string& name,
                                         const std::string& schema, const std::string& records) {
  const std::string id = CreateCollection(server, name, R"(,"schema":)" + schema);
  EXPECT_FALSE(id.empty());
  const std::string base = kCollections + "/" + id;
  Response r = server.Post(base + "/add", records);
  EXPECT_EQ(r.status, 201) << r.body;
  return base;
}

// One Search API search (`payload` is a SearchPayload's JSON) on the collection at `base`:
// its ids and scores (empty after a failed expectation).
struct Ranked {
  std::vector<std::string> ids;
  std::vector<double> scores;
};
inline Ranked SearchRanked(const ServerProcess& server, const std::string& base, const std::string& payload) {
  Response r = server.Post(base + "/search", R"({"searches":[)" + payload + "]}");
  EXPECT_EQ(r.status, 200) << payload << " -> " << r.body;
  Ranked out;
  auto d = r.Json();
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("ids")) {
    ADD_FAILURE() << r.body;
    return out;
  }
  for (const auto& id : d["ids"][0].GetArray()) out.ids.push_back(id.GetString());
  if (d["scores"].IsArray() && d["scores"][0].IsArray()) {
    for (const auto& s : d["scores"][0].GetArray()) out.scores.push_back(s.GetDouble());
  }
  return out;
}

inline void ExpectError(const Response& r, int status, const std::string& error,
                        const std::string& message_prefix) {
  EXPECT_EQ(r.status, status) << r.body;
  auto d = r.Json();
  ASSERT_FALSE(d.HasParseError()) << r.body;
  ASSERT_TRUE(d.IsObject() && d.HasMember("error") && d.HasMember("message")) << r.body;
  EXPECT_EQ(std::string(d["error"].GetString()), error) << r.body;
  const std::string message = d["message"].GetString();
  EXPECT_EQ(message.substr(0, message_prefix.size()), message_prefix) << r.body;
}

}  // namespace fathom::http_test
