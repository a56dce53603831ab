// GET /metrics over real HTTP in this process, read by the Prometheus client's parser:
// the counters after a known sequence of jobs driven through the registry calls the
// engine makes, the live gauges, and who may scrape. e2e/metrics_test.cpp does the same
// with real jobs in the real worker.
#include <gtest/gtest.h>

#include <regex>
#include <thread>

#include "server/job_registry.h"
#include "server/loopback.h"
#include "server/prometheus_text.h"
#include "server/routes.h"
#include "server/version.h"
#include "server/worker_config.h"
#include "server/worker_state.h"

namespace sd::server {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class Metrics : public ::testing::Test {
 protected:
  void start(const std::string& token = "", bool public_metrics = false) {
    cfg.worker_id = "w-test";
    cfg.api_token = token;
    cfg.public_metrics = public_metrics;
    install_routes(server.router, cfg, registry, state);
    server.start({cfg.max_body_bytes});
  }
  httplib::Client client() {
    httplib::Client c("127.0.0.1", server.port);
    c.set_read_timeout(5, 0);
    return c;
  }
  std::shared_ptr<Job> submit() {
    JobSpec spec;
    spec.operation = "image_generation";
    spec.request.steps = 10;
    return registry.submit(std::move(spec)).job;
  }
  std::shared_ptr<Job> run_next(const std::shared_ptr<Job>& expected) {
    EXPECT_EQ(registry.next_job(), expected);
    return expected;
  }

  WorkerConfig cfg;
  JobRegistry registry{{16, 600s}};
  WorkerState state;
  sd::test::WorkerHttpServer server;
};

TEST_F(Metrics, CountersAndGaugesAfterAKnownSequenceOfJobs) {
  start();
  registry.metrics().model_loaded(2.5);
  // Completed: three steps (two intervals between them), a preview on the last.
  auto done = run_next(submit());
  registry.add_progress(*done, 1, 3);
  std::this_thread::sleep_for(30ms);
  registry.add_progress(*done, 2, 3);
  registry.add_preview(*done, 3, 3, "cHJldmlldw==");
  registry.add_progress(*done, 3, 3);
  registry.add_image(*done, {{"image", "iVBOR"}, {"seed", 1}});
  registry.complete(*done);
  // Failed while running.
  registry.fail(*run_next(submit()), "out of memory");
  // Cancelled while running, and a second one while still queued.
  auto cancelled = run_next(submit());
  auto queued = submit();
  EXPECT_EQ(registry.cancel(*queued), JobRegistry::CancelOutcome::Cancelled);
  EXPECT_EQ(registry.cancel(*cancelled), JobRegistry::CancelOutcome::Cancelling);
  registry.end_cancelled(*cancelled);
  // One running at step 4 of 10, one waiting.
  auto running = run_next(submit());
  registry.add_progress(*running, 4, 10);
  submit();

  auto c = client();
  auto r = c.Get("/metrics");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  auto m = sd::test::parse_prometheus(r->body);

  EXPECT_EQ(m.family_types["sd_worker_jobs"], "counter");
  EXPECT_EQ(m.value("sd_worker_jobs_total", {{"outcome", "completed"}}), 1);
  EXPECT_EQ(m.value("sd_worker_jobs_total", {{"outcome", "failed"}}), 1);
  EXPECT_EQ(m.value("sd_worker_jobs_total", {{"outcome", "cancelled"}}), 2);
  EXPECT_EQ(m.value("sd_worker_images_generated_total"), 1);

  EXPECT_EQ(m.family_types["sd_worker_step_duration_seconds"], "histogram");
  EXPECT_EQ(m.value("sd_worker_step_duration_seconds_count"), 2);
  EXPECT_GE(m.value("sd_worker_step_duration_seconds_sum"), 0.03);
  EXPECT_EQ(m.value("sd_worker_step_duration_seconds_bucket", {{"le", "+Inf"}}), 2);
  EXPECT_EQ(m.value("sd_worker_step_duration_seconds_bucket", {{"le", "0.025"}}), 1) << "the 30 ms step is above";
  // Jobs that ran: the completed, the failed and the one cancelled while running.
  EXPECT_EQ(m.family_types["sd_worker_job_duration_seconds"], "histogram");
  EXPECT_EQ(m.value("sd_worker_job_duration_seconds_count"), 3);
  EXPECT_GE(m.value("sd_worker_job_duration_seconds_sum"), 0.03);

  EXPECT_EQ(m.value("sd_worker_queue_depth"), 1);
  EXPECT_EQ(m.value("sd_worker_running_jobs"), 1);
  EXPECT_EQ(m.value("sd_worker_running_job_step"), 4);
  EXPECT_EQ(m.value("sd_worker_running_job_steps"), 10);
  EXPECT_EQ(m.value("sd_worker_model_load_seconds"), 2.5);
  EXPECT_GT(m.value("process_resident_memory_bytes"), 1e6);
  EXPECT_GE(m.value("sd_worker_buffer_pool_bytes", {{"state", "in_use"}}), 0);
  EXPECT_GE(m.value("sd_worker_buffer_pool_bytes", {{"state", "cached"}}), 0);

  EXPECT_EQ(m.value("sd_worker_build_info"), 1);
  const json* build = m.labels_of("sd_worker_build_info");
  ASSERT_NE(build, nullptr);
  EXPECT_EQ((*build)["version"], worker_version());
  EXPECT_TRUE(std::regex_match((*build)["git_commit"].get<std::string>(), std::regex("([0-9a-f]{12})?")))
      << *build;
}

TEST_F(Metrics, IdleWorkerBeforeTheModelLoadsReportsZeros) {
  start();
  auto r = client().Get("/metrics");
  ASSERT_TRUE(r);
  auto m = sd::test::parse_prometheus(r->body);
  for (const char* outcome : {"completed", "failed", "cancelled"})
    EXPECT_EQ(m.value("sd_worker_jobs_total", {{"outcome", outcome}}), 0) << outcome;
  EXPECT_EQ(m.value("sd_worker_running_jobs"), 0);
  EXPECT_EQ(m.value("sd_worker_running_job_step"), 0);
  EXPECT_EQ(m.value("sd_worker_step_duration_seconds_count"), 0);
  EXPECT_TRUE(std::isnan(m.value("sd_worker_model_load_seconds"))) << "no load time before the model is loaded";
}

TEST_F(Metrics, NeedTheTokenUnlessPublic) {
  start("s3cret");
  auto c = client();
  auto r = c.Get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  r = c.Get("/metrics", {{"Authorization", "Bearer s3cret"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(Metrics, PublicMetricsOpenOnlyMetrics) {
  start("s3cret", /*public_metrics=*/true);
  auto c = client();
  auto r = c.Get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  r = c.Get("/info");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
}

}  // namespace
}  // namespace sd::server
