// A cancel and a SIGTERM take effect within a second even while one denoising step takes
// seconds: the networks check between their blocks (core/cancellation.h), not only between
// steps. The tiny model at 128x128 with CFG on one thread: a step takes one to a few
// seconds on the shared 2-core machine, its longest block (a full-resolution attention) a
// fraction of that. Latencies are printed; sd-bench --cancel-latency measures the
// full-size models.
#include <gtest/gtest.h>
#include <signal.h>

#include <iostream>
#include <thread>

#include "server/e2e/worker_process.h"
#include "server/loopback.h"
#include "support/test_support.h"

namespace sd::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kCancelBound = 1s;

json long_job() {
  return {{"operation", "image_generation"}, {"prompt", "a lighthouse at dusk"}, {"steps", 150},
          {"width", 128}, {"height", 128}, {"guidance_scale", 7.5}, {"preview", "none"}};
}

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

struct Measured {
  double step_seconds = 0;   // between the first two progress events
  double cancel_seconds = 0; // from the request (or signal) to the end marker
  std::string end_marker;
};

// Streams the job; once two steps are done, waits half a step (so the request lands in
// the middle of one) and calls `request_stop`, then reads to the end of the stream.
Measured stop_mid_step(WorkerProcess& worker, const std::string& id, const std::function<void()>& request_stop) {
  auto c = worker.client();
  Measured m;
  Clock::time_point first, requested;
  bool sent = false;
  read_sse(c, "/v1/jobs/" + id + "/stream", [&](const SseMessage& msg) {
    const auto now = Clock::now();
    if (msg.event == "progress" && !sent) {
      int step = json::parse(msg.data)["step"];
      if (step == 1) first = now;
      if (step == 2) {
        m.step_seconds = seconds(now - first);
        std::this_thread::sleep_for(std::chrono::duration<double>(m.step_seconds / 2));
        requested = Clock::now();
        request_stop();
        sent = true;
      }
    }
    if (msg.event.empty() && !msg.comment) {
      m.end_marker = msg.data;
      m.cancel_seconds = seconds(now - requested);
    }
    return true;
  });
  return m;
}

TEST(CancelLatency, DeleteStopsARunningJobWithinASecondMidStep) {
  SD_SKIP_WITHOUT_DATA("clip");
  WorkerProcess worker(tiny_model_flags());
  ASSERT_TRUE(worker.wait_ready()) << worker.log();
  auto c = worker.client();
  const std::string id = submit_job(c, long_job());
  ASSERT_FALSE(id.empty());
  int delete_status = 0;
  std::string delete_body;
  Measured m = stop_mid_step(worker, id, [&] {
    auto r = worker.client().Delete("/v1/jobs/" + id);
    delete_status = r ? r->status : 0;
    delete_body = r ? r->body : "";
  });
  std::cout << "step " << m.step_seconds << " s, DELETE to [CANCELLED] " << m.cancel_seconds << " s\n";
  EXPECT_EQ(delete_status, 200) << delete_body;
  EXPECT_EQ(json::parse(delete_body)["status"], "cancelling");
  EXPECT_EQ(m.end_marker, "[CANCELLED]") << worker.log();
  EXPECT_LT(m.cancel_seconds, seconds(kCancelBound)) << "a step takes " << m.step_seconds << " s";
  EXPECT_EQ(json::parse(c.Get("/v1/jobs/" + id)->body)["status"], "cancelled");
  // The worker goes on serving: the next job runs.
  auto next = long_job();
  next["steps"] = 1;
  next["width"] = next["height"] = 64;
  const std::string id2 = submit_job(c, next);
  auto msgs = read_whole_sse(c, "/v1/jobs/" + id2 + "/stream");
  ASSERT_FALSE(msgs.empty());
  EXPECT_EQ(msgs.back().data, "[DONE]");
}

TEST(CancelLatency, SigtermCancelsMidStepWithinASecondAndExitsZero) {
  SD_SKIP_WITHOUT_DATA("clip");
  WorkerProcess worker(tiny_model_flags());
  ASSERT_TRUE(worker.wait_ready()) << worker.log();
  auto c = worker.client();
  const std::string id = submit_job(c, long_job());
  ASSERT_FALSE(id.empty());
  Clock::time_point signalled;
  Measured m = stop_mid_step(worker, id, [&] {
    signalled = Clock::now();
    worker.signal(SIGTERM);
  });
  const int code = worker.wait_exit(10s);
  const double exit_seconds = seconds(Clock::now() - signalled);
  std::cout << "step " << m.step_seconds << " s, SIGTERM to [CANCELLED] " << m.cancel_seconds << " s, to exit "
            << exit_seconds << " s\n";
  EXPECT_EQ(m.end_marker, "[CANCELLED]") << worker.log();
  EXPECT_LT(m.cancel_seconds, seconds(kCancelBound)) << "a step takes " << m.step_seconds << " s";
  EXPECT_EQ(code, 0) << worker.log();
}

}  // namespace
}  // namespace sd::test
