// HTTP tests against the real `fathom run`: system routes and transport-level behaviour
// (routing, content type, body limit, keep-alive, clean shutdown).
#include <string>

#include "http/http_test_support.h"

namespace fathom::http_test {
namespace {

class SystemRoutesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new ServerProcess(/*allow_reset=*/true);
    ASSERT_TRUE(server_->Start());
  }
  static void TearDownTestSuite() {
    EXPECT_EQ(server_->Stop(), 0) << server_->log();
    delete server_;
    server_ = nullptr;
  }
  static ServerProcess* server_;
};

ServerProcess* SystemRoutesTest::server_ = nullptr;

TEST_F(SystemRoutesTest, Heartbeat) {
  for (const char* target : {"/api/v2/heartbeat", "/api/v2"}) {
    Response r = server_->Get(target);
    ASSERT_EQ(r.status, 200) << target;
    EXPECT_EQ(r.content_type, "application/json");
    auto d = r.Json();
    ASSERT_TRUE(d.IsObject() && d.HasMember("nanosecond heartbeat")) << r.body;
    EXPECT_GT(d["nanosecond heartbeat"].GetUint64(), 0u);
  }
}

TEST_F(SystemRoutesTest, VersionIsABareString) {
  Response r = server_->Get("/api/v2/version");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "\"1.0.0\"");
}

TEST_F(SystemRoutesTest, PreflightChecks) {
  Response r = server_->Get("/api/v2/pre-flight-checks");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"max_batch_size":5461,"supports_base64_encoding":true})");
}

TEST_F(SystemRoutesTest, IdentityAndHealthcheck) {
  Response r = server_->Get("/api/v2/auth/identity");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"user_id":"","tenant":"default_tenant","databases":["default_database"]})");
  r = server_->Get("/api/v2/healthcheck");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"is_executor_ready":true,"is_log_client_ready":true})");
}

TEST_F(SystemRoutesTest, ResetAllowedAnswersTrueAndWipes) {
  ASSERT_FALSE(CreateCollection(*server_, "wiped").empty());
  Response r = server_->Post("/api/v2/reset", "");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "true");
  EXPECT_EQ(server_->Get(kDb + "/collections_count").body, "0");
  // The defaults exist again.
  EXPECT_EQ(server_->Get("/api/v2/tenants/default_tenant").status, 200);
  EXPECT_EQ(server_->Get(kDb).status, 200);
}

TEST_F(SystemRoutesTest, UnknownV2RouteIs404WithEmptyBody) {
  for (const char* target : {"/api/v2/nope", "/api/v2/heartbeat/", "/", "/api/v3/heartbeat",
                             "/api/v2/tenants/default_tenant/databases/default_database/collections/x/y/z"}) {
    Response r = server_->Get(target);
    EXPECT_EQ(r.status, 404) << target;
    EXPECT_EQ(r.body, "") << target;
  }
}

TEST_F(SystemRoutesTest, V1RoutesAre410) {
  for (const char* target : {"/api/v1", "/api/v1/heartbeat", "/api/v1/collections"}) {
    Response r = server_->Get(target);
    ExpectError(r, 410, "Unimplemented", "The v1 API is deprecated. Please use /v2 apis");
  }
}

TEST_F(SystemRoutesTest, WrongMethodIs405) {
  Response r = Request(server_->port(), "DELETE", "/api/v2/heartbeat");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.Header("allow"), "GET");
}

TEST_F(SystemRoutesTest, NonJsonContentTypeIs415) {
  Response r = Request(server_->port(), "POST", kCollections, R"({"name":"abc"})", "text/plain");
  ExpectError(r, 415, "ChromaError", "Expected request with `Content-Type: application/json`");
  // No Content-Type at all is taken as JSON; charset parameters are fine.
  EXPECT_EQ(Request(server_->port(), "POST", kCollections, R"({"name":"ct1"})", "").status, 200);
  EXPECT_EQ(Request(server_->port(), "POST", kCollections, R"({"name":"ct2"})",
                    "application/json; charset=utf-8").status, 200);
}

TEST_F(SystemRoutesTest, MalformedJsonIs400) {
  Response r = server_->Post(kCollections, R"({"name": "abc",)");
  ExpectError(r, 400, "InvalidArgumentError", "Failed to parse the request body as JSON: ");
  r = server_->Post(kCollections, "");
  ExpectError(r, 400, "InvalidArgumentError", "Failed to parse the request body as JSON: ");
  r = server_->Post(kCollections, R"({"name": NaN})");
  ExpectError(r, 400, "InvalidArgumentError", "Failed to parse the request body as JSON: ");
  // Deep nesting is refused by the parser, not by a stack overflow.
  r = server_->Post(kCollections, std::string(100000, '[') + std::string(100000, ']'));
  EXPECT_EQ(r.status, 400) << r.body;
}

TEST_F(SystemRoutesTest, OversizedBodyIs413PlainText) {
  const std::string body(41u * 1024 * 1024, ' ');
  Response r = server_->Post(kCollections, body);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.body, "Payload too large");
  EXPECT_EQ(r.content_type.substr(0, 10), "text/plain");
  // The server is still healthy.
  EXPECT_EQ(server_->Get("/api/v2/heartbeat").status, 200);
}

TEST_F(SystemRoutesTest, BodyJustUnderTheLimitIsParsed) {
  // 40 MiB exactly is allowed: it is parsed (and here rejected as the wrong shape).
  std::string body = "[" + std::string(40u * 1024 * 1024 - 2, ' ') + "]";
  Response r = server_->Post(kCollections, body);
  EXPECT_EQ(r.status, 422) << r.body.substr(0, 200);
}

TEST_F(SystemRoutesTest, KeepAliveServesManyRequestsOnOneConnection) {
  std::string raw;
  for (int i = 0; i < 3; ++i) raw += "GET /api/v2/version HTTP/1.1\r\nHost: x\r\n\r\n";
  raw += "GET /api/v2/version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  // Read everything until the server closes after the fourth answer.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(server_->port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ASSERT_EQ(::send(fd, raw.data(), raw.size(), MSG_NOSIGNAL), static_cast<ssize_t>(raw.size()));
  std::string data;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  size_t answers = 0;
  for (size_t pos = 0; (pos = data.find("HTTP/1.1 200 OK", pos)) != std::string::npos; ++pos) ++answers;
  EXPECT_EQ(answers, 4u) << data;
}

TEST_F(SystemRoutesTest, GarbageRequestLineGets400AndServerSurvives) {
  Response r = RawExchange(server_->port(), "THIS IS NOT HTTP\r\n\r\n");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(server_->Get("/api/v2/heartbeat").status, 200);
}

TEST_F(SystemRoutesTest, ExpectContinueIsHonoured) {
  const std::string body = R"({"name":"expect_continue"})";
  const std::string raw = "POST " + kCollections + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                          "Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\n\r\n" + body;
  Response r = RawExchange(server_->port(), raw);
  // The interim 100 comes first; the final answer follows it on the same connection.
  EXPECT_TRUE(r.status == 100 || r.status == 200) << r.status;
  Response get = server_->Get(kCollections + "/expect_continue");
  EXPECT_EQ(get.status, 200) << get.body;
}

TEST(ResetDisabledTest, ResetIs403WithoutAllowReset) {
  ServerProcess server(/*allow_reset=*/false);
  ASSERT_TRUE(server.Start());
  ASSERT_FALSE(CreateCollection(server, "kept").empty());
  Response r = server.Post("/api/v2/reset", "");
  ExpectError(r, 403, "ChromaError", "Reset is disabled by config");
  EXPECT_EQ(server.Get(kDb + "/collections_count").body, "1");
  EXPECT_EQ(server.Stop(), 0) << server.log();
}

}  // namespace
}  // namespace fathom::http_test
