// /metrics of the real worker after real jobs, read by the Prometheus client's parser:
// one completed, one failed in the engine (a LoRA file that is not a safetensors file),
// one cancelled while running and one cancelled in the queue.
#include <gtest/gtest.h>

#include <fstream>

#include "server/e2e/worker_process.h"
#include "server/loopback.h"
#include "server/prometheus_text.h"
#include "support/test_support.h"

namespace sd::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

json small_job(int steps) {
  return {{"operation", "image_generation"}, {"prompt", "a fox"}, {"steps", steps}, {"width", 64}, {"height", 64}};
}

// The data of a job stream's last message: its end marker.
std::string end_marker(httplib::Client& c, const std::string& id) {
  auto msgs = read_whole_sse(c, "/v1/jobs/" + id + "/stream");
  return msgs.empty() ? "(empty stream)" : msgs.back().data;
}

TEST(WorkerMetrics, CountJobsByOutcomeAfterRealJobs) {
  SD_SKIP_WITHOUT_DATA("clip");
  const std::string loras = temp_dir("metrics-loras");
  std::ofstream(loras + "/broken.safetensors") << "not a safetensors file";
  auto flags = tiny_model_flags();
  flags.insert(flags.end(), {"--lora-dir", loras, "--api-token", "tok"});
  WorkerProcess worker(flags);
  ASSERT_TRUE(worker.wait_ready(60s, "tok")) << worker.log();
  auto c = worker.client("tok");

  const std::string done = submit_job(c, small_job(3));
  EXPECT_EQ(end_marker(c, done), "[DONE]");
  json bad = small_job(2);
  bad["loras"] = json::array({{{"name", "broken"}, {"strength", 1.0}}});
  const std::string failed = submit_job(c, bad);
  EXPECT_EQ(end_marker(c, failed).rfind("[ERROR]", 0), 0u);
  // A long job, and one queued behind it; both cancelled.
  const std::string running = submit_job(c, small_job(150));
  const std::string queued = submit_job(c, small_job(2));
  std::optional<PrometheusText> while_running;
  read_sse(c, "/v1/jobs/" + running + "/stream", [&](const SseMessage& m) {
    if (m.event == "progress" && !while_running) {
      auto other = worker.client("tok");  // `c` is busy reading the stream
      while_running = parse_prometheus(other.Get("/metrics")->body);
      EXPECT_EQ(other.Delete("/v1/jobs/" + queued)->status, 200);
      EXPECT_EQ(other.Delete("/v1/jobs/" + running)->status, 200);
    }
    return true;
  });
  ASSERT_TRUE(while_running);
  EXPECT_EQ(while_running->value("sd_worker_running_jobs"), 1);
  EXPECT_EQ(while_running->value("sd_worker_queue_depth"), 1);
  EXPECT_GE(while_running->value("sd_worker_running_job_step"), 1);
  EXPECT_EQ(while_running->value("sd_worker_running_job_steps"), 150);

  auto r = c.Get("/metrics");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  auto m = parse_prometheus(r->body);
  EXPECT_EQ(m.value("sd_worker_jobs_total", {{"outcome", "completed"}}), 1);
  EXPECT_EQ(m.value("sd_worker_jobs_total", {{"outcome", "failed"}}), 1);
  EXPECT_EQ(m.value("sd_worker_jobs_total", {{"outcome", "cancelled"}}), 2);
  EXPECT_EQ(m.value("sd_worker_images_generated_total"), 1);
  EXPECT_EQ(m.value("sd_worker_job_duration_seconds_count"), 3) << "the queued job never ran";
  EXPECT_GE(m.value("sd_worker_step_duration_seconds_count"), 2) << "3 steps of the first job: 2 intervals";
  EXPECT_EQ(m.value("sd_worker_queue_depth"), 0);
  EXPECT_EQ(m.value("sd_worker_running_jobs"), 0);
  EXPECT_GT(m.value("sd_worker_model_load_seconds"), 0);
  EXPECT_GT(m.value("process_resident_memory_bytes"), 10e6);
  EXPECT_GT(m.value("sd_worker_buffer_pool_peak_bytes"), 0) << "the jobs used the pool";
  EXPECT_EQ(worker.client().Get("/metrics")->status, 401) << "the token is needed without --public-metrics";
}

}  // namespace
}  // namespace sd::test
