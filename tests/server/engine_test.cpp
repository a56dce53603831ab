// The engine thread, the job registry, the HTTP server's I/O thread and its handler pool
// together in this process, with the tiny fixture model: jobs submitted over HTTP run on
// the engine while clients stream their events and cancel them. Under ThreadSanitizer
// (scripts/tsan.sh) this is the test that crosses every thread of the worker.
#include <gtest/gtest.h>

#include <thread>

#include "server/engine.h"
#include "server/job_registry.h"
#include "server/loopback.h"
#include "server/routes.h"
#include "server/worker_config.h"
#include "server/worker_state.h"
#include "support/tiny_pipeline.h"

namespace sd::server {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using sd::test::SseMessage;

class EngineOverHttp : public ::testing::Test {
 protected:
  void SetUp() override {
    SD_SKIP_WITHOUT_DATA("clip");
    cfg.worker_id = "w-engine";
    cfg.keepalive_interval = 50ms;
    install_routes(server.router, cfg, registry, state);
    server.start();
    auto load = sd::test::tiny_load_options();
    load.threads = 1;  // one OpenMP thread: the threads under test are the worker's own
    engine = std::make_unique<Engine>(load, registry, state);
    engine->start();
    for (int i = 0; i < 600 && state.phase() == Phase::Loading; ++i) std::this_thread::sleep_for(50ms);
    ASSERT_EQ(state.phase(), Phase::Ready) << state.failure();
  }
  void TearDown() override {
    if (!engine) return;
    registry.shutdown(true);
    engine->join();
  }
  httplib::Client client() {
    httplib::Client c("127.0.0.1", server.port);
    c.set_read_timeout(60, 0);
    return c;
  }
  std::string submit(int steps) {
    auto c = client();
    json body = {{"operation", "image_generation"}, {"prompt", "a fox"}, {"steps", steps}, {"width", 64}, {"height", 64}};
    auto r = c.Post("/v1/jobs", body.dump(), "application/json");
    EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
    return r && r->status == 200 ? json::parse(r->body)["job_id"].get<std::string>() : "";
  }

  WorkerConfig cfg;
  JobRegistry registry{{16, 600s}};
  WorkerState state;
  sd::test::WorkerHttpServer server;
  std::unique_ptr<Engine> engine;
};

TEST_F(EngineOverHttp, JobsRunWhileClientsStreamAndCancel) {
  std::string first = submit(3), long_one = submit(150), after = submit(2);
  std::vector<SseMessage> first_events[3], long_events[2], after_events;
  std::vector<std::thread> readers;
  for (auto& out : first_events)
    readers.emplace_back([&, id = first] { auto c = client(); out = sd::test::read_whole_sse(c, "/v1/jobs/" + id + "/stream"); });
  for (auto& out : long_events)
    readers.emplace_back([&, id = long_one] { auto c = client(); out = sd::test::read_whole_sse(c, "/v1/jobs/" + id + "/stream"); });
  readers.emplace_back([&] { auto c = client(); after_events = sd::test::read_whole_sse(c, "/v1/jobs/" + after + "/stream"); });

  // Cancel the long job once it runs.
  for (int i = 0; i < 2000; ++i) {
    auto r = client().Get("/v1/jobs/" + long_one);
    ASSERT_TRUE(r);
    if (json::parse(r->body)["status"] == "running") break;
    std::this_thread::sleep_for(5ms);
  }
  auto cancel = client().Delete("/v1/jobs/" + long_one);
  ASSERT_TRUE(cancel);
  EXPECT_EQ(cancel->status, 200) << cancel->body;
  for (auto& t : readers) t.join();

  for (auto& events : first_events) {
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back().data, "[DONE]");
  }
  for (auto& events : long_events) {
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back().data, "[CANCELLED]");
  }
  ASSERT_FALSE(after_events.empty());
  EXPECT_EQ(after_events.back().data, "[DONE]");
  EXPECT_EQ(json::parse(client().Get("/v1/jobs/" + after)->body)["status"], "completed");
}

}  // namespace
}  // namespace sd::server
