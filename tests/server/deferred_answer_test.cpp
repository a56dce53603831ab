// The HTTP core's deferred answers (a route that answers later holds no thread while it
// waits; a client that leaves drops the answer) and guards by path prefix, on the worker's
// own server over loopback with a real client.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "server/loopback.h"

namespace sd::server::http {
namespace {

using namespace std::chrono_literals;

// Answers once release() was called; records whether it was destroyed unanswered.
class Gate : public DeferredAnswer {
 public:
  explicit Gate(std::atomic<int>& destroyed) : destroyed_(destroyed) {}
  ~Gate() override { ++destroyed_; }
  void start(std::function<void()> wake) override {
    std::lock_guard<std::mutex> lock(mu_);
    wake_ = std::move(wake);
  }
  std::optional<Response> ready() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!released_) return std::nullopt;
    Response res;
    res.headers.set("Content-Type", "text/plain");
    res.body = "released";
    return res;
  }
  void release() {
    std::function<void()> wake;
    {
      std::lock_guard<std::mutex> lock(mu_);
      released_ = true;
      wake = wake_;
    }
    if (wake) wake();
  }
  bool started() {
    std::lock_guard<std::mutex> lock(mu_);
    return bool(wake_);
  }
  void wake_without_answer() {
    std::function<void()> wake;
    {
      std::lock_guard<std::mutex> lock(mu_);
      wake = wake_;
    }
    if (wake) wake();
  }

 private:
  std::atomic<int>& destroyed_;
  std::mutex mu_;
  std::function<void()> wake_;
  bool released_ = false;
};

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 5s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

class Deferred : public ::testing::Test {
 protected:
  void SetUp() override {
    server.router.add("GET", "/wait", [this](const Request&, Response& res) {
      auto gate = std::make_shared<Gate>(destroyed);
      {
        std::lock_guard<std::mutex> lock(mu);
        gates.push_back(gate);
      }
      res.deferred = gate;
    });
    server.router.add("GET", "/ping", [](const Request&, Response& res) { res.body = "pong"; });
    ServerOptions opt;
    opt.handler_threads = 1;  // one waiting answer would block everything if it held a thread
    server.start(opt);
  }
  std::shared_ptr<Gate> gate(size_t i) {
    std::lock_guard<std::mutex> lock(mu);
    return i < gates.size() ? gates[i].lock() : nullptr;
  }
  httplib::Client client() {
    httplib::Client c("127.0.0.1", server.port);
    c.set_read_timeout(10, 0);
    return c;
  }

  std::atomic<int> destroyed{0};
  std::mutex mu;
  std::vector<std::weak_ptr<Gate>> gates;
  sd::test::WorkerHttpServer server;
};

TEST_F(Deferred, AnswersWhenReadyWhileOtherRequestsAreServed) {
  int waited_status = 0;
  std::string waited_body;
  std::thread waiter([&] {
    auto c = client();
    if (auto r = c.Get("/wait")) {
      waited_status = r->status;
      waited_body = r->body;
    }
  });
  ASSERT_TRUE(eventually([&] { return gate(0) && gate(0)->started(); }));
  // Wakes without an answer are polled and then wait again.
  gate(0)->wake_without_answer();
  auto c = client();
  for (int i = 0; i < 3; ++i) {
    auto pong = c.Get("/ping");
    ASSERT_TRUE(pong);
    EXPECT_EQ(pong->body, "pong");
  }
  gate(0)->release();
  waiter.join();
  EXPECT_EQ(waited_status, 200);
  EXPECT_EQ(waited_body, "released");
  EXPECT_TRUE(eventually([&] { return destroyed == 1; }));
}

TEST_F(Deferred, AClientThatLeavesDropsTheAnswer) {
  {
    httplib::Client c("127.0.0.1", server.port);
    c.set_read_timeout(0, 300000);  // gives up after 0.3 s and closes its socket
    auto r = c.Get("/wait");
    EXPECT_FALSE(r);
  }
  EXPECT_TRUE(eventually([&] { return destroyed == 1; })) << "the answer outlived its client";
  EXPECT_EQ(gate(0), nullptr);
}

TEST(RouterGuards, TheLongestPrefixDecides) {
  Router router;
  auto refuse = [](int status) {
    return [status](const Request&) {
      Response res;
      res.status = status;
      return std::optional<Response>(res);
    };
  };
  router.set_guard(refuse(401));
  router.set_guard("/v1/models", refuse(403));
  router.set_guard("/open", [](const Request&) { return std::optional<Response>(); });
  router.add("GET", "/open", [](const Request&, Response&) {});
  router.add("GET", "/open/{name}", [](const Request&, Response&) {});
  auto status_for = [&](const std::string& path) {
    Request req;
    req.method = "GET";
    req.path = path;
    auto res = router.check(req);
    return res ? res->status : 0;
  };
  EXPECT_EQ(status_for("/v1/jobs"), 401);
  EXPECT_EQ(status_for("/v1/models"), 403);
  EXPECT_EQ(status_for("/v1/models/x/y"), 403);
  EXPECT_EQ(status_for("/v1/modelsx"), 401);  // whole segments only
  EXPECT_EQ(status_for("/open"), 0);
  EXPECT_EQ(status_for("/open/file"), 0);
  EXPECT_EQ(status_for("/open/file/x"), 404);  // let through, and no route has it
  EXPECT_EQ(status_for("/opener"), 401);
}

}  // namespace
}  // namespace sd::server::http
