// Requests HTTP/1.1 refuses because a proxy in front of the worker could frame them
// otherwise (request smuggling), requests for routes that do not exist, and HEAD: the real
// sd-worker-cpu on loopback with the tiny fixture model, spoken to over raw sockets.
#include <gtest/gtest.h>

#include "server/e2e/raw_socket.h"
#include "server/e2e/worker_process.h"
#include "support/test_support.h"

namespace sd::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// Sent after each refused head: were it taken for a request of its own, it would be
// answered 200.
const std::string kSmuggled = "GET /info HTTP/1.1\r\nHost: w\r\n\r\n";

class HttpFraming : public ::testing::Test {
 protected:
  void SetUp() override { SD_SKIP_WITHOUT_DATA("clip"); }
  std::unique_ptr<WorkerProcess> start() {
    auto worker = std::make_unique<WorkerProcess>(tiny_model_flags());
    EXPECT_TRUE(worker->wait_ready(60s)) << worker->log();
    return worker;
  }
};

std::string header_of(const std::string& response, const std::string& name) {
  const size_t head_end = response.find("\r\n\r\n");
  const size_t at = response.find("\r\n" + name + ": ");
  if (at == std::string::npos || at > head_end) return "";
  const size_t from = at + name.size() + 4;
  return response.substr(from, response.find("\r\n", from) - from);
}

TEST_F(HttpFraming, HeadsAProxyCouldFrameOtherwiseAreRefusedAndNothingAfterThemIsRead) {
  auto worker = start();
  const std::string post = "POST /v1/jobs HTTP/1.1\r\nHost: w\r\nContent-Type: application/json\r\n";
  struct Case {
    const char* what;
    std::string request;
    int status;
    const char* code;
  };
  const Case cases[] = {
      {"chunked, then another coding", post + "Transfer-Encoding: chunked, identity\r\n\r\n", 501, "not_implemented"},
      {"a coding the worker does not decode", post + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501,
       "not_implemented"},
      {"no chunked", post + "Transfer-Encoding: identity\r\n\r\n", 501, "not_implemented"},
      {"chunked twice", post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
       "bad_request"},
      {"chunked in HTTP/1.0",
       "POST /v1/jobs HTTP/1.0\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
       "bad_request"},
      {"no Host", "GET /health HTTP/1.1\r\n\r\n", 400, "bad_request"},
      {"two Hosts", "GET /health HTTP/1.1\r\nHost: w\r\nHost: x\r\n\r\n", 400, "bad_request"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    RawSocket s(worker->port());
    ASSERT_TRUE(s.send(c.request + kSmuggled));
    const std::string answer = s.read_response(5s);
    ASSERT_EQ(status_of(answer), c.status) << answer;
    EXPECT_EQ(json::parse(body_of(answer))["error"]["code"], c.code) << answer;
    bool closed = false;
    const std::string after = s.read_for(5s, &closed);
    EXPECT_TRUE(closed);
    EXPECT_EQ(after, "") << "the bytes after the refused head were read as a request";
  }
  auto r = worker->client().Get("/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpFraming, UnknownPathsAre404AndOtherMethods405BeforeTheBodyIsRead) {
  auto worker = start();
  // Each announces 30 MiB and sends none of it: the answer must not wait for the body.
  const std::string rest = "Host: w\r\nContent-Type: application/json\r\nContent-Length: 31457280\r\n\r\n";
  {
    RawSocket s(worker->port());
    ASSERT_TRUE(s.send("POST /v2/upload HTTP/1.1\r\n" + rest));
    const std::string answer = s.read_response(5s);
    ASSERT_EQ(status_of(answer), 404) << answer;
    EXPECT_EQ(json::parse(body_of(answer))["error"]["code"], "not_found");
  }
  {
    RawSocket s(worker->port());
    ASSERT_TRUE(s.send("PUT /v1/jobs/job-x HTTP/1.1\r\n" + rest));
    const std::string answer = s.read_response(5s);
    ASSERT_EQ(status_of(answer), 405) << answer;
    EXPECT_EQ(header_of(answer, "Allow"), "GET, DELETE") << answer;
    EXPECT_EQ(json::parse(body_of(answer))["error"]["code"], "method_not_allowed");
  }
}

TEST_F(HttpFraming, HeadIs405WithoutABodyAndTheConnectionGoesOn) {
  auto worker = start();
  RawSocket s(worker->port());
  ASSERT_TRUE(s.send("HEAD /health HTTP/1.1\r\nHost: w\r\n\r\nGET /health HTTP/1.1\r\nHost: w\r\n\r\n"));
  std::string both;
  for (int i = 0; i < 100 && both.find("healthy") == std::string::npos; ++i) both += s.read_for(50ms);
  ASSERT_EQ(status_of(both), 405) << both;
  EXPECT_EQ(header_of(both, "Allow"), "GET") << both;
  EXPECT_NE(header_of(both, "Content-Length"), "0") << "the length of the body a GET would get";
  // The next answer follows the head at once: an answer to HEAD has no body.
  const std::string second = both.substr(both.find("\r\n\r\n") + 4);
  ASSERT_EQ(status_of(second), 200) << both;
  EXPECT_EQ(json::parse(body_of(second))["status"], "healthy");
}

}  // namespace
}  // namespace sd::test
