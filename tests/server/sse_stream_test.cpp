// The event stream over real HTTP in this process. The events are put into the job
// registry through the calls the engine thread makes (add_progress, add_preview,
// complete...), so these tests cover the transport: ordering, late and second clients,
// keep-alive, dropped clients and cancellation. Generation itself is covered end to end
// in e2e/, against the real pipeline.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "server/job_registry.h"
#include "server/loopback.h"
#include "server/routes.h"
#include "server/worker_config.h"
#include "server/worker_state.h"

namespace sd::server {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using sd::test::SseMessage;

class EventStream : public ::testing::Test {
 protected:
  void SetUp() override {
    cfg.worker_id = "w-test";
    cfg.keepalive_interval = 50ms;
    install_routes(server.router, cfg, registry, state);
    server.start({cfg.max_body_bytes});
  }
  httplib::Client client() {
    httplib::Client c("127.0.0.1", server.port);
    c.set_read_timeout(10, 0);
    return c;
  }
  std::shared_ptr<Job> running_job(int steps = 4) {
    JobSpec spec;
    spec.operation = "image_generation";
    spec.request.steps = steps;
    auto job = registry.submit(std::move(spec)).job;
    EXPECT_EQ(registry.next_job(), job);
    return job;
  }
  void run_to_completion(Job& job, int steps = 4) {
    // As the engine reports them: a step's preview before its progress, which it replaces.
    for (int s = 1; s <= steps; ++s) {
      if (s % 2 == 0) registry.add_preview(job, s, steps, "cHJldmlldw==");
      registry.add_progress(job, s, steps);
    }
    registry.add_image(job, {{"type", "complete"}, {"image", "iVBOR"}, {"format", "png"}, {"seed", 1},
                             {"width", 64}, {"height", 64}, {"timings", json::object()}});
    registry.complete(job);
  }
  static bool wait_for(const std::function<bool()>& cond, std::chrono::milliseconds limit = 5s) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (!cond()) {
      if (std::chrono::steady_clock::now() > until) return false;
      std::this_thread::sleep_for(5ms);
    }
    return true;
  }
  static std::vector<SseMessage> without_comments(const std::vector<SseMessage>& all) {
    std::vector<SseMessage> out;
    for (const auto& m : all)
      if (!m.comment) out.push_back(m);
    return out;
  }
  static std::string path(const Job& job) { return "/v1/jobs/" + job.id + "/stream"; }

  WorkerConfig cfg;
  JobRegistry registry{{16, 600s}};
  WorkerState state;
  sd::test::WorkerHttpServer server;
};

TEST_F(EventStream, ClientAfterCompletionGetsEveryEventInOrder) {
  auto job = running_job();
  run_to_completion(*job);
  auto c = client();
  auto msgs = without_comments(sd::test::read_whole_sse(c, path(*job)));
  // Steps 1 and 3 report progress; 2 and 4 a preview instead, of which only the newest
  // is kept for a late client.
  ASSERT_EQ(msgs.size(), 2u + 1 + 1 + 1);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(msgs[size_t(i)].event, "progress");
    json d = json::parse(msgs[size_t(i)].data);
    EXPECT_EQ(d["step"], 2 * i + 1);
    EXPECT_EQ(d["total"], 4);
  }
  EXPECT_EQ(msgs[2].event, "preview");
  EXPECT_EQ(json::parse(msgs[2].data)["step"], 4);
  EXPECT_EQ(msgs[3].event, "complete");
  EXPECT_EQ(msgs[4].event, "");
  EXPECT_EQ(msgs[4].data, "[DONE]");
  // The data lines alone tell the events apart.
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(json::parse(msgs[i].data)["event"], msgs[i].event);
  EXPECT_TRUE(wait_for([&] { return job->open_streams == 0; }));
}

TEST_F(EventStream, ResponseIsAnUncompressedEventStream) {
  auto job = running_job();
  run_to_completion(*job);
  auto c = client();
  auto r = c.Get(path(*job), {{"Accept-Encoding", "gzip, deflate, br"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/event-stream");
  EXPECT_EQ(r->get_header_value("Cache-Control"), "no-cache");
  EXPECT_FALSE(r->has_header("Content-Encoding"));
  EXPECT_EQ(r->body.rfind("data: [DONE]\n\n"), r->body.size() - 14);
}

TEST_F(EventStream, TwoLiveClientsGetTheSameEvents) {
  auto job = running_job();
  std::vector<SseMessage> got[2];
  std::thread readers[2];
  for (int i = 0; i < 2; ++i)
    readers[i] = std::thread([&, i] {
      auto c = client();
      got[i] = without_comments(sd::test::read_whole_sse(c, path(*job)));
    });
  ASSERT_TRUE(wait_for([&] { return job->open_streams == 2; }));
  for (int s = 1; s <= 4; ++s) {
    registry.add_progress(*job, s, 4);
    std::this_thread::sleep_for(10ms);
  }
  run_to_completion(*job, 0);
  for (auto& t : readers) t.join();
  ASSERT_EQ(got[0].size(), 6u);
  for (size_t i = 0; i < got[0].size(); ++i) {
    EXPECT_EQ(got[0][i].event, got[1][i].event);
    EXPECT_EQ(got[0][i].data, got[1][i].data);
  }
  EXPECT_EQ(got[0].back().data, "[DONE]");
}

TEST_F(EventStream, IdleStreamGetsKeepAliveComments) {
  auto job = running_job();
  auto c = client();
  int comments = 0;
  sd::test::read_sse(c, path(*job), [&](const SseMessage& m) {
    if (m.comment) ++comments;
    return comments < 2;
  });
  EXPECT_EQ(comments, 2);
}

TEST_F(EventStream, DroppedClientEndsOnlyItsOwnStream) {
  auto job = running_job();
  std::vector<SseMessage> stayer;
  std::thread stay([&] {
    auto c = client();
    stayer = without_comments(sd::test::read_whole_sse(c, path(*job)));
  });
  std::thread leave([&] {
    auto c = client();
    sd::test::read_sse(c, path(*job), [](const SseMessage& m) { return m.comment; });  // leaves at the first event
  });
  ASSERT_TRUE(wait_for([&] { return job->open_streams == 2; }));
  registry.add_progress(*job, 1, 4);
  leave.join();
  // The server notices the dropped client at its next write (an event or a keep-alive).
  EXPECT_TRUE(wait_for([&] { return job->open_streams == 1; }));
  EXPECT_FALSE(job->cancel_requested);
  EXPECT_EQ(registry.status_json(*job)["status"], "running");
  for (int s = 2; s <= 4; ++s) registry.add_progress(*job, s, 4);
  run_to_completion(*job, 0);
  stay.join();
  ASSERT_EQ(stayer.size(), 6u);
  EXPECT_EQ(stayer.back().data, "[DONE]");
  EXPECT_TRUE(wait_for([&] { return job->open_streams == 0; }));
}

TEST_F(EventStream, DeletingAQueuedJobEndsItsStreamWithCancelled) {
  running_job();  // occupies the engine
  JobSpec spec;
  spec.operation = "image_generation";
  auto queued = registry.submit(std::move(spec)).job;
  std::vector<SseMessage> got;
  std::thread reader([&] {
    auto c = client();
    got = without_comments(sd::test::read_whole_sse(c, path(*queued)));
  });
  ASSERT_TRUE(wait_for([&] { return queued->open_streams == 1; }));
  auto r = client().Delete("/v1/jobs/" + queued->id);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body)["status"], "cancelled");
  reader.join();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].data, "[CANCELLED]");
  EXPECT_EQ(json::parse(client().Get("/v1/jobs/" + queued->id)->body)["status"], "cancelled");
}

TEST_F(EventStream, DeletingTheRunningJobAsksTheEngineToStop) {
  auto job = running_job();
  registry.add_progress(*job, 1, 4);
  auto r = client().Delete("/v1/jobs/" + job->id);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body)["status"], "cancelling");
  EXPECT_TRUE(job->cancel_requested);
  registry.end_cancelled(*job);  // what the engine does when the pipeline throws Cancelled
  auto c = client();
  auto msgs = without_comments(sd::test::read_whole_sse(c, path(*job)));
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[1].data, "[CANCELLED]");
}

TEST_F(EventStream, FinishedJobsCannotBeDeletedAndReportTheirResult) {
  auto job = running_job();
  run_to_completion(*job);
  auto c = client();
  auto r = c.Delete("/v1/jobs/" + job->id);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409);
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "job_finished");
  json st = json::parse(c.Get("/v1/jobs/" + job->id)->body);
  EXPECT_EQ(st["status"], "completed");
  EXPECT_EQ(st["image"], "iVBOR");
}

}  // namespace
}  // namespace sd::server
