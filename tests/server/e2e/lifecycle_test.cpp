// The worker process's life: bad flags, a model that fails to load, heartbeats to a hive,
// and shutdown on SIGTERM in the middle of a job.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mutex>
#include <thread>

#include "server/e2e/worker_process.h"
#include "server/loopback.h"
#include "support/process.h"
#include "support/test_support.h"

namespace sd::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::string worker_binary() { return bin_dir() + "/sd-worker-cpu"; }

json job(int steps) {
  return {{"operation", "image_generation"}, {"prompt", "a fox"}, {"steps", steps}, {"width", 64}, {"height", 64}};
}

TEST(WorkerLifecycle, MissingOrBadFlagsExitWithCode2AndOneLine) {
  struct Case {
    std::vector<std::string> args;
    std::string names;
  };
  std::string model = fixtures_dir() + "/tiny-sd15";
  std::vector<Case> cases = {
      {{"--port", "9"}, "--worker-id"},
      {{"--worker-id", "w"}, "--port"},
      {{"--worker-id", "w", "--port", "99999", "--model-path", model}, "--port"},
      {{"--worker-id", "w", "--port", "9"}, "--model-path"},
      {{"--worker-id", "w", "--port", "9", "--model-path", model, "--sd-version", "v7"}, "--sd-version"},
  };
  for (auto& c : cases) {
    c.args.insert(c.args.begin(), worker_binary());
    auto r = run_process(c.args, {"WORKER_ID=", "PORT=", "MODEL_PATH=", "MODEL=", "SD_VERSION="});
    EXPECT_EQ(r.exit_code, 2) << c.names << ": " << r.err;
    EXPECT_NE(r.err.find(c.names), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line: " << r.err;
  }
  // The same flags from the environment.
  auto r = run_process({worker_binary()}, {"WORKER_ID=w", "PORT=abc", "MODEL_PATH=" + model});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--port"), std::string::npos) << r.err;
}

TEST(WorkerLifecycle, ModelThatFailsToLoadEndsTheProcessNamingTheFile) {
  std::string empty_model = temp_dir("no-model");
  WorkerProcess worker({"--model-path", empty_model});
  int code = worker.wait_exit(30s);
  EXPECT_NE(code, 0);
  EXPECT_NE(code, -2) << "still running";
  EXPECT_NE(worker.log().find(empty_model), std::string::npos) << worker.log();
}

// A port another program listens on (a plain socket, as most servers bind) ends the worker
// with code 1 and a line naming the port, before the model loads.
TEST(WorkerLifecycle, PortInUseEndsTheProcess) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int port = ntohs(addr.sin_port);
  auto r = run_process({worker_binary(), "--worker-id", "w", "--port", std::to_string(port), "--model-path",
                        fixtures_dir() + "/tiny-sd15"});
  ::close(fd);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(std::to_string(port)), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("loaded"), std::string::npos) << r.err;
}

TEST(WorkerLifecycle, SigtermDuringAJobEndsItsStreamWithCancelledAndExitsZero) {
  SD_SKIP_WITHOUT_DATA("clip");
  WorkerProcess worker(tiny_model_flags());
  ASSERT_TRUE(worker.wait_ready()) << worker.log();
  auto c = worker.client();
  std::string id = submit_job(c, job(150));
  std::vector<SseMessage> msgs;
  auto signalled = std::chrono::steady_clock::now();
  bool sent = false;
  read_sse(c, "/v1/jobs/" + id + "/stream", [&](const SseMessage& m) {
    if (!sent && m.event == "progress") {  // the job is running
      worker.signal(SIGTERM);
      signalled = std::chrono::steady_clock::now();
      sent = true;
    }
    msgs.push_back(m);
    return true;
  });
  ASSERT_FALSE(msgs.empty());
  EXPECT_EQ(msgs.back().data, "[CANCELLED]") << worker.log();
  EXPECT_EQ(worker.wait_exit(10s), 0) << worker.log();
  EXPECT_LT(std::chrono::steady_clock::now() - signalled, 10s);
  EXPECT_NE(worker.log().find("received SIGTERM"), std::string::npos);
}

// A hive that records the heartbeats it receives.
struct FakeHive {
  LoopbackServer server;
  std::mutex mu;
  std::vector<json> beats;
  FakeHive() {
    server.svr.Post("/v1/worker-heartbeat", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu);
      beats.push_back(json::parse(req.body));
      res.set_content("{}", "application/json");
    });
    server.start();
  }
  std::vector<std::string> statuses() {
    std::lock_guard<std::mutex> lock(mu);
    std::vector<std::string> out;
    for (const auto& b : beats) out.push_back(b["worker"]["status"]);
    return out;
  }
};

TEST(WorkerLifecycle, HiveGetsStartingReadyBusyReadyAndStopping) {
  SD_SKIP_WITHOUT_DATA("clip");
  FakeHive hive;
  auto flags = tiny_model_flags();
  flags.insert(flags.end(), {"--callback-url", "http://127.0.0.1:" + std::to_string(hive.server.port), "--model", "tiny"});
  WorkerProcess worker(flags);
  ASSERT_TRUE(worker.wait_ready()) << worker.log();
  auto c = worker.client();
  std::string id = submit_job(c, job(2));
  auto msgs = read_whole_sse(c, "/v1/jobs/" + id + "/stream");
  EXPECT_EQ(msgs.back().data, "[DONE]");
  // The "ready" after the job is sent by the engine thread just after the job ends.
  auto until = std::chrono::steady_clock::now() + 10s;
  while (hive.statuses().size() < 4 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(10ms);
  worker.signal(SIGTERM);
  EXPECT_EQ(worker.wait_exit(10s), 0) << worker.log();
  EXPECT_EQ(hive.statuses(), (std::vector<std::string>{"starting", "ready", "busy", "ready", "stopping"}));

  std::lock_guard<std::mutex> lock(hive.mu);
  for (const auto& b : hive.beats) {
    const json& w = b["worker"];
    EXPECT_EQ(w["id"], "w-e2e");
    EXPECT_EQ(w["model_id"], "tiny");
    EXPECT_EQ(w["device"], "cpu");
    EXPECT_EQ(w["port"], worker.port());
    EXPECT_EQ(w["implementation"], "sd-worker-rbee");
    EXPECT_TRUE(w["version"].is_string());
    EXPECT_TRUE(b["timestamp"].is_string());
  }
}

TEST(WorkerLifecycle, WorkerServesWithTheHiveDown) {
  SD_SKIP_WITHOUT_DATA("clip");
  auto flags = tiny_model_flags();
  ReservedPort hive_down;  // connections refused for the whole test
  flags.insert(flags.end(), {"--callback-url", hive_down.url()});
  WorkerProcess worker(flags);
  ASSERT_TRUE(worker.wait_ready()) << worker.log();
  auto c = worker.client();
  EXPECT_EQ(c.Get("/health")->status, 200);
  std::string id = submit_job(c, job(1));
  auto msgs = read_whole_sse(c, "/v1/jobs/" + id + "/stream");
  EXPECT_EQ(msgs.back().data, "[DONE]");
  worker.signal(SIGTERM);
  EXPECT_EQ(worker.wait_exit(10s), 0) << worker.log();
  EXPECT_NE(worker.log().find("heartbeat"), std::string::npos) << "failures are logged";
}

TEST(WorkerLifecycle, HealthAnswersFromTheStartAndReadyOnceLoaded) {
  SD_SKIP_WITHOUT_DATA("clip");
  WorkerProcess worker(tiny_model_flags());
  auto c = worker.client();
  c.set_connection_timeout(0, 200000);
  // The port is bound before the model loads: /health answers while /ready may still be 503.
  auto until = std::chrono::steady_clock::now() + 30s;
  int health = 0;
  while (std::chrono::steady_clock::now() < until && health == 0) {
    if (auto r = c.Get("/health")) health = r->status;
    else std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(health, 200);
  auto ready = c.Get("/ready");
  ASSERT_TRUE(ready);
  if (ready->status == 503) {
    EXPECT_EQ(json::parse(ready->body), json({{"ready", false}, {"reason", "model loading"}}));
    EXPECT_FALSE(ready->get_header_value("Retry-After").empty());
  } else {
    EXPECT_EQ(ready->status, 200);
  }
  ASSERT_TRUE(worker.wait_ready()) << worker.log();
  json info = json::parse(c.Get("/info")->body);
  EXPECT_EQ(info["ready"], true);
  EXPECT_EQ(info["sd_version"], "v1-5");
  EXPECT_EQ(info["dtype"], "f32");
  EXPECT_FALSE(info["samplers"].empty());
  EXPECT_EQ(info["defaults"]["width"], 64);  // the fixture's native size comes from its config
  worker.signal(SIGINT);
  EXPECT_EQ(worker.wait_exit(10s), 0) << worker.log();
}

}  // namespace
}  // namespace sd::test
