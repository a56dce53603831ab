// Heartbeats from the real sender (libcurl) to a fake hive on loopback.
#include <gtest/gtest.h>

#include <mutex>
#include <thread>

#include "server/heartbeat.h"
#include "server/loopback.h"

namespace sd::server {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// A hive that records every heartbeat body it receives.
struct FakeHive {
  sd::test::LoopbackServer server;
  std::mutex mu;
  std::vector<json> beats;
  std::vector<std::string> content_types;

  FakeHive() {
    server.svr.Post("/v1/worker-heartbeat", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu);
      beats.push_back(json::parse(req.body));
      content_types.push_back(req.get_header_value("Content-Type"));
      res.set_content("{}", "application/json");
    });
    server.start();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server.port); }
  std::vector<std::string> statuses() {
    std::lock_guard<std::mutex> lock(mu);
    std::vector<std::string> out;
    for (const auto& b : beats) out.push_back(b["worker"]["status"]);
    return out;
  }
  bool wait_for_count(size_t n, std::chrono::milliseconds limit = 5s) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (statuses().size() < n) {
      if (std::chrono::steady_clock::now() > until) return false;
      std::this_thread::sleep_for(5ms);
    }
    return true;
  }
};

HeartbeatOptions options(const std::string& url, std::chrono::milliseconds interval = 30s) {
  HeartbeatOptions o;
  o.callback_url = url;
  o.worker_id = "w-7";
  o.model_id = "v1-5";
  o.device = "cpu";
  o.port = 8123;
  o.interval = interval;
  o.request_timeout = 2s;
  return o;
}

TEST(Heartbeat, EveryStatusChangeReachesTheHiveInOrder) {
  FakeHive hive;
  Heartbeat hb(options(hive.url() + "/"));  // a trailing slash is fine
  for (const char* s : {"starting", "ready", "busy", "ready"}) hb.set_status(s);
  ASSERT_TRUE(hive.wait_for_count(4));
  hb.set_status("stopping");
  hb.stop();
  EXPECT_EQ(hive.statuses(), (std::vector<std::string>{"starting", "ready", "busy", "ready", "stopping"}));

  std::lock_guard<std::mutex> lock(hive.mu);
  const json& b = hive.beats.front();
  const json& w = b["worker"];
  EXPECT_EQ(w["id"], "w-7");
  EXPECT_EQ(w["model_id"], "v1-5");
  EXPECT_EQ(w["device"], "cpu");
  EXPECT_EQ(w["port"], 8123);
  EXPECT_EQ(w["implementation"], "sd-worker-rbee");
  EXPECT_TRUE(w["version"].is_string());
  EXPECT_EQ(w.size(), 7u);
  EXPECT_TRUE(b["timestamp"].is_string());
  EXPECT_EQ(hive.content_types.front(), "application/json");
}

TEST(Heartbeat, AGpuWorkerNamesItsGpuAndMemory) {
  FakeHive hive;
  HeartbeatOptions o = options(hive.url());
  o.device = "cuda:1";
  o.device_name = "NVIDIA H200";
  o.device_memory_bytes = uint64_t(143771) << 20;
  Heartbeat hb(o);
  hb.set_status("starting");
  ASSERT_TRUE(hive.wait_for_count(1));
  hb.stop();
  std::lock_guard<std::mutex> lock(hive.mu);
  const json& w = hive.beats.front()["worker"];
  EXPECT_EQ(w["device"], "cuda:1");
  EXPECT_EQ(w["device_name"], "NVIDIA H200");
  EXPECT_EQ(w["device_memory_mb"], 143771);
}

TEST(Heartbeat, RepeatsTheCurrentStatusEveryInterval) {
  FakeHive hive;
  Heartbeat hb(options(hive.url(), 50ms));
  hb.set_status("ready");
  ASSERT_TRUE(hive.wait_for_count(4));
  hb.stop();
  for (const auto& s : hive.statuses()) EXPECT_EQ(s, "ready");
}

// Bounds here are far above what the work takes and far below what blocking would: a
// loaded 2-core machine keeps them.
TEST(Heartbeat, HiveDownNeverBlocksTheWorker) {
  sd::test::ReservedPort down;  // connections refused
  Heartbeat hb(options(down.url()));
  auto t0 = std::chrono::steady_clock::now();
  for (const char* s : {"starting", "ready", "busy", "ready"}) hb.set_status(s);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  std::this_thread::sleep_for(100ms);
  hb.set_status("stopping");
  hb.stop();  // one last try, refused at once
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
}

// A hive that accepts the connection and never answers holds each request for the whole
// 2 s request timeout; status changes must still return at once.
TEST(Heartbeat, HungHiveNeverBlocksTheWorker) {
  sd::test::ReservedPort hung;
  hung.listen_without_serving();
  Heartbeat hb(options(hung.url()));
  auto t0 = std::chrono::steady_clock::now();
  for (const char* s : {"starting", "ready", "busy", "ready"}) hb.set_status(s);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s) << "a blocking send would take 2 s per status";
  hb.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
}

TEST(Heartbeat, RetriesUntilTheHiveIsBackAndSendsTheNewestStatus) {
  sd::test::ReservedPort reserved;  // down now; the hive comes back on this very port
  const int port = reserved.port();
  Heartbeat hb(options(reserved.url()));
  hb.set_status("starting");
  std::this_thread::sleep_for(100ms);  // "starting" failed; its retry is due in about a second
  hb.set_status("ready");              // set while the retry waits: the retry sends it instead
  sd::test::LoopbackServer hive;
  std::mutex mu;
  std::vector<std::string> got;
  hive.svr.Post("/v1/worker-heartbeat", [&](const httplib::Request& req, httplib::Response&) {
    std::lock_guard<std::mutex> lock(mu);
    got.push_back(json::parse(req.body)["worker"]["status"]);
  });
  hive.port = port;
  ASSERT_TRUE(hive.svr.bind_to_port("127.0.0.1", port));
  hive.thread = std::thread([&] { hive.svr.listen_after_bind(); });
  auto until = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < until) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!got.empty()) break;
    }
    std::this_thread::sleep_for(10ms);
  }
  hb.stop();
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.front(), "ready");
}

}  // namespace
}  // namespace sd::server
