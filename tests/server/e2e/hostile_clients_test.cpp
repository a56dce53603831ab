// The worker's HTTP core against clients that hold connections without finishing requests,
// streams nobody reads, connect bursts, oversized chunked bodies and slow shutdowns: the
// real sd-worker-cpu on loopback with the tiny fixture model.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <thread>

#include "server/e2e/process_stats.h"
#include "server/e2e/raw_socket.h"
#include "server/e2e/worker_process.h"
#include "server/fd_limit.h"
#include "support/test_support.h"

namespace sd::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A bound a loaded 2-core machine always keeps; the measured figures are printed.
constexpr auto kPromptAnswer = 2000ms;

json job(int steps, int size = 64) {
  return {{"operation", "image_generation"}, {"prompt", "a fox"}, {"steps", steps}, {"width", size}, {"height", size}};
}

// A job that keeps the engine busy for the whole test (cancelled at its end).
json long_job() { return job(150, 64); }

// Client n of a crowd, as one of `addresses` loopback source addresses 127.<base>.x.y.
std::string source_address(int base, int n, int addresses) {
  int a = n % addresses + 1;
  return "127." + std::to_string(base) + "." + std::to_string(a / 250) + "." + std::to_string(a % 250 + 1);
}

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

std::string stream_request(const std::string& id) {
  return "GET /v1/jobs/" + id + "/stream HTTP/1.1\r\nHost: w\r\nAccept: text/event-stream\r\n\r\n";
}

class HostileClients : public ::testing::Test {
 protected:
  void SetUp() override {
    SD_SKIP_WITHOUT_DATA("clip");
    sd::server::raise_open_file_limit();
  }
  std::unique_ptr<WorkerProcess> start(std::vector<std::string> extra = {}, const std::string& token = "") {
    auto flags = tiny_model_flags();
    flags.insert(flags.end(), extra.begin(), extra.end());
    auto worker = std::make_unique<WorkerProcess>(flags);
    EXPECT_TRUE(worker->wait_ready(60s, token)) << worker->log();
    return worker;
  }
};

TEST_F(HostileClients, ThousandIdleConnectionsAnd500StreamsLeaveEveryRoutePrompt) {
  auto worker = start({"--header-timeout", "120"});
  auto c = worker->client();
  std::string running = submit_job(c, long_job());
  std::string queued = submit_job(c, job(2));
  ASSERT_FALSE(queued.empty());

  // 500 clients that connect and never send; 500 that trickle a header line a second.
  std::vector<RawSocket> idle, trickling, streams;
  for (int i = 0; i < 500; ++i) idle.emplace_back(worker->port(), source_address(10, i, 20));
  for (int i = 0; i < 500; ++i) {
    trickling.emplace_back(worker->port(), source_address(11, i, 20));
    trickling.back().send("GET /health HTTP/1.1\r\n");
  }
  // 500 event streams on the queued job whose clients do not read.
  for (int i = 0; i < 500; ++i) {
    streams.emplace_back(worker->port(), source_address(12, i, 20));
    streams.back().send(stream_request(queued));
  }
  for (auto* group : {&idle, &trickling, &streams})
    for (auto& s : *group) ASSERT_TRUE(s.valid()) << "connect failed";
  std::atomic<bool> done{false};
  std::thread trickler([&] {
    for (int line = 0; !done; ++line) {
      for (auto& s : trickling) s.send("X-Line-" + std::to_string(line) + ": slow\r\n");
      for (int t = 0; t < 10 && !done; ++t) std::this_thread::sleep_for(100ms);
    }
  });
  std::this_thread::sleep_for(1s);  // every connection reaches the worker
  auto held = process_stats(worker->pid());
  EXPECT_GE(held.fds, 1500u) << describe(held);

  double worst_health = 0, worst_ready = 0;
  for (int i = 0; i < 10; ++i) {
    auto t = Clock::now();
    auto r = c.Get("/health");
    worst_health = std::max(worst_health, ms_since(t));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    t = Clock::now();
    r = c.Get("/ready");
    worst_ready = std::max(worst_ready, ms_since(t));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
  auto t = Clock::now();
  std::string extra = submit_job(c, job(2));
  double submit_ms = ms_since(t);
  ASSERT_FALSE(extra.empty());
  t = Clock::now();
  auto cancel = c.Delete("/v1/jobs/" + extra);
  double cancel_ms = ms_since(t);
  ASSERT_TRUE(cancel);
  EXPECT_EQ(cancel->status, 200) << cancel->body;
  std::printf("[ figures ] held %zu fds (%s): /health worst %.1f ms, /ready worst %.1f ms, submit %.1f ms, "
              "cancel %.1f ms\n",
              held.fds, describe(held).c_str(), worst_health, worst_ready, submit_ms, cancel_ms);
  EXPECT_LT(worst_health, double(kPromptAnswer.count()));
  EXPECT_LT(worst_ready, double(kPromptAnswer.count()));
  EXPECT_LT(submit_ms, double(kPromptAnswer.count()));
  EXPECT_LT(cancel_ms, double(kPromptAnswer.count()));

  // Every stream is live: cancelling its job ends each with exactly one end marker.
  ASSERT_EQ(c.Delete("/v1/jobs/" + queued)->status, 200);
  size_t ended = 0;
  for (auto& s : streams) {
    std::string text = s.read_for(200ms);
    for (int i = 0; i < 50 && text.find("0\r\n\r\n") == std::string::npos; ++i) text += s.read_for(100ms);
    size_t first = text.find("data: [CANCELLED]");
    if (first != std::string::npos && text.find("data: [CANCELLED]", first + 1) == std::string::npos) ++ended;
  }
  EXPECT_EQ(ended, streams.size());
  done = true;
  trickler.join();
  c.Delete("/v1/jobs/" + running);
}

TEST_F(HostileClients, HeadersTrickledByteByByteAreCutOffAtTheHeaderDeadline) {
  auto worker = start({"--header-timeout", "2"});
  std::vector<RawSocket> slow;
  for (int i = 0; i < 20; ++i) slow.emplace_back(worker->port(), source_address(20, i, 4));
  auto started = Clock::now();
  const std::string request = "GET /health HTTP/1.1\r\nHost: w\r\nX-Padding: " + std::string(200, 'x') + "\r\n\r\n";
  std::vector<bool> closed(slow.size(), false);
  size_t open = slow.size();
  for (size_t byte = 0; open > 0 && ms_since(started) < 8000; ++byte) {
    for (size_t i = 0; i < slow.size(); ++i) {
      if (closed[i]) continue;
      // A failed send or a read of end-of-stream: the worker has closed the connection.
      bool peer_closed = false;
      slow[i].read_for(0ms, &peer_closed);
      if (peer_closed || !slow[i].send(std::string(1, request[byte % request.size()]))) {
        closed[i] = true;
        --open;
      }
    }
    std::this_thread::sleep_for(100ms);
  }
  double elapsed = ms_since(started);
  std::printf("[ figures ] %zu of %zu trickling connections closed after %.0f ms (header deadline 2000 ms)\n",
              slow.size() - open, slow.size(), elapsed);
  EXPECT_EQ(open, 0u);
  EXPECT_GE(elapsed, 1500.0);
  auto r = worker->client().Get("/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(HostileClients, ChunkedBodyOverTheLimitIs413WithoutBeingBuffered) {
  auto worker = start();
  auto before = process_stats(worker->pid());
  RawSocket s(worker->port());
  ASSERT_TRUE(s.send("POST /v1/jobs HTTP/1.1\r\nHost: w\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n"));
  constexpr size_t kChunk = 1 << 20, kChunks = 128;  // 128 MiB, four times the 32 MiB limit
  std::atomic<size_t> sent{0};
  std::thread sender([&] {
    std::string chunk = "100000\r\n" + std::string(kChunk, ' ') + "\r\n";
    for (size_t i = 0; i < kChunks && s.send(chunk); ++i) sent += kChunk;
    s.send("0\r\n\r\n");
  });
  std::string answer = s.read_response(30s);
  sender.join();
  auto after = process_stats(worker->pid());
  std::printf("[ figures ] %zu MiB sent chunked; worker before: %s; after: %s\n", sent.load() >> 20,
              describe(before).c_str(), describe(after).c_str());
  ASSERT_EQ(status_of(answer), 413) << answer.substr(0, 300);
  EXPECT_EQ(json::parse(body_of(answer))["error"]["code"], "payload_too_large");
  // At most the 32 MiB limit is ever held (plus slack for the allocator), never the body.
  EXPECT_LT(after.peak_kb - std::min(after.peak_kb, before.rss_kb), size_t(48) * 1024);
  auto r = worker->client().Get("/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(HostileClients, TokenIsCheckedBeforeTheBodyIsRead) {
  auto worker = start({"--api-token", "s3cret"}, "s3cret");
  RawSocket s(worker->port());
  // Announces 30 MiB and sends none of it: the answer must not wait for the body.
  ASSERT_TRUE(s.send("POST /v1/jobs HTTP/1.1\r\nHost: w\r\nContent-Type: application/json\r\n"
                     "Content-Length: 31457280\r\nAuthorization: Bearer wrong\r\n\r\n"));
  auto t = Clock::now();
  std::string answer = s.read_response(5s);
  std::printf("[ figures ] 401 after %.1f ms with the body unsent\n", ms_since(t));
  ASSERT_EQ(status_of(answer), 401) << answer;
  EXPECT_EQ(json::parse(body_of(answer))["error"]["code"], "unauthorized");
}

TEST_F(HostileClients, ConnectBurstIsAnsweredWithoutResets) {
  auto worker = start();
  constexpr int kBurst = 1000;
  std::vector<RawSocket> burst;
  burst.reserve(kBurst);
  // Connected back to back, before the worker has accepted any of them.
  for (int i = 0; i < kBurst; ++i) burst.emplace_back(worker->port(), source_address(30, i, 8));
  int connected = 0, answered = 0;
  for (auto& s : burst)
    if (s.valid() && s.send("GET /health HTTP/1.1\r\nHost: w\r\nConnection: close\r\n\r\n")) ++connected;
  for (auto& s : burst)
    if (status_of(s.read_response(10s)) == 200) ++answered;
  std::printf("[ figures ] burst of %d connects: %d connected, %d answered 200\n", kBurst, connected, answered);
  EXPECT_EQ(connected, kBurst);
  EXPECT_EQ(answered, kBurst);
}

TEST_F(HostileClients, ConnectionsPerClientAreCapped) {
  auto worker = start({"--max-connections-per-client", "8"});
  std::vector<RawSocket> held;
  for (int i = 0; i < 8; ++i) held.emplace_back(worker->port(), "127.0.40.1");
  std::this_thread::sleep_for(200ms);
  RawSocket ninth(worker->port(), "127.0.40.1");
  ASSERT_TRUE(ninth.send("GET /health HTTP/1.1\r\nHost: w\r\n\r\n"));
  std::string refused = ninth.read_response(5s);
  EXPECT_EQ(status_of(refused), 503) << refused;
  EXPECT_EQ(json::parse(body_of(refused))["error"]["code"], "too_many_connections");
  // Another address is served, and the first one again once it holds fewer sockets.
  RawSocket other(worker->port(), "127.0.40.2");
  ASSERT_TRUE(other.send("GET /health HTTP/1.1\r\nHost: w\r\n\r\n"));
  EXPECT_EQ(status_of(other.read_response(5s)), 200);
  held.pop_back();
  ninth.close();
  std::this_thread::sleep_for(200ms);
  RawSocket again(worker->port(), "127.0.40.1");
  ASSERT_TRUE(again.send("GET /health HTTP/1.1\r\nHost: w\r\n\r\n"));
  EXPECT_EQ(status_of(again.read_response(5s)), 200);
}

TEST_F(HostileClients, SigtermWithSlowAndSilentClientsExitsPromptly) {
  auto worker = start();
  auto c = worker->client();
  std::string running = submit_job(c, long_job());
  ASSERT_FALSE(running.empty());
  std::vector<RawSocket> clients;
  for (int i = 0; i < 50; ++i) {  // streams that are never read
    clients.emplace_back(worker->port(), source_address(50, i, 4));
    clients.back().send(stream_request(running));
  }
  for (int i = 0; i < 50; ++i) {  // headers that never end
    clients.emplace_back(worker->port(), source_address(51, i, 4));
    clients.back().send("GET /health HTTP/1.1\r\nX-Slow: ");
  }
  for (int i = 0; i < 20; ++i) {  // bodies that never arrive
    clients.emplace_back(worker->port(), source_address(52, i, 4));
    clients.back().send("POST /v1/jobs HTTP/1.1\r\nHost: w\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{");
  }
  std::this_thread::sleep_for(500ms);
  auto t = Clock::now();
  worker->signal(SIGTERM);
  int code = worker->wait_exit(20s);
  double exit_ms = ms_since(t);
  std::printf("[ figures ] exit code %d %.0f ms after SIGTERM with %zu slow clients\n", code, exit_ms, clients.size());
  EXPECT_EQ(code, 0) << worker->log();
  EXPECT_LT(exit_ms, 10000.0);
}

}  // namespace
}  // namespace sd::test
