#include <gtest/gtest.h>

#include <thread>

#include "server/job_registry.h"
#include "server/sse_format.h"

namespace sd::server {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

JobSpec spec(const std::string& prompt, int steps = 4) {
  JobSpec s;
  s.operation = "image_generation";
  s.request.prompt = prompt;
  s.request.steps = steps;
  return s;
}

std::shared_ptr<Job> submit(JobRegistry& reg, const std::string& prompt) {
  auto r = reg.submit(spec(prompt));
  EXPECT_EQ(r.status, JobRegistry::SubmitStatus::Accepted);
  return r.job;
}

// The events of a batch as "name:data" strings, for comparing whole logs.
std::vector<std::string> describe(const JobRegistry::EventBatch& batch) {
  std::vector<std::string> out;
  for (const auto& text : batch.events) {
    std::string t = *text;
    if (t.rfind("event: ", 0) == 0) {
      std::string name = t.substr(7, t.find('\n') - 7);
      json data = json::parse(sse_event_data(t));
      if (data.contains("image")) data["image"] = "<img>";
      out.push_back(name + ":" + data.dump());
    } else {
      out.push_back(t.substr(0, t.size() - 2));  // "data: [DONE]"
    }
  }
  return out;
}

json complete_data() {
  return {{"type", "complete"}, {"image", "iVBOR"}, {"format", "png"}, {"seed", 7}, {"width", 64}, {"height", 64},
          {"timings", {{"total", 0.5}}}};
}

TEST(JobRegistry, JobsRunInArrivalOrderAndIdsAreUuids) {
  JobRegistry reg({16, 600s});
  auto a = submit(reg, "a"), b = submit(reg, "b"), c = submit(reg, "c");
  EXPECT_EQ(a->id.size(), 4 + 36u);
  EXPECT_EQ(a->id.rfind("job-", 0), 0u);
  EXPECT_NE(a->id, b->id);
  EXPECT_EQ(reg.queue_length(), 3u);
  EXPECT_EQ(reg.status_json(*c)["position"], 3);
  EXPECT_EQ(reg.next_job(), a);
  EXPECT_EQ(reg.status_json(*b)["position"], 1);
  EXPECT_EQ(reg.status_json(*a)["status"], "running");
  EXPECT_EQ(reg.next_job(), b);
  EXPECT_EQ(reg.next_job(), c);
  EXPECT_EQ(reg.find(b->id), b);
  EXPECT_EQ(reg.find("job-unknown"), nullptr);
}

TEST(JobRegistry, QueueFullCountsQueuedJobsOnly) {
  JobRegistry reg({2, 600s});
  submit(reg, "a");
  submit(reg, "b");
  EXPECT_EQ(reg.submit(spec("c")).status, JobRegistry::SubmitStatus::QueueFull);
  auto running = reg.next_job();
  EXPECT_TRUE(reg.has_running_job());
  EXPECT_EQ(reg.submit(spec("c")).status, JobRegistry::SubmitStatus::Accepted);
  EXPECT_EQ(reg.submit(spec("d")).status, JobRegistry::SubmitStatus::QueueFull);
}

TEST(JobRegistry, CancelQueuedJobEndsItAndTakesItOutOfTheQueue) {
  JobRegistry reg({16, 600s});
  auto a = submit(reg, "a"), b = submit(reg, "b");
  EXPECT_EQ(reg.cancel(*a), JobRegistry::CancelOutcome::Cancelled);
  EXPECT_EQ(reg.queue_length(), 1u);
  EXPECT_EQ(reg.status_json(*a)["status"], "cancelled");
  auto log = reg.read_events(*a, 0, 0ms);
  EXPECT_TRUE(log.ended);
  EXPECT_EQ(describe(log), std::vector<std::string>{"data: [CANCELLED]"});
  EXPECT_EQ(reg.cancel(*a), JobRegistry::CancelOutcome::Cancelled);  // idempotent
  EXPECT_EQ(reg.next_job(), b);
}

TEST(JobRegistry, CancelRunningJobAsksTheEngineToStop) {
  JobRegistry reg({16, 600s});
  auto a = submit(reg, "a");
  reg.next_job();
  EXPECT_FALSE(a->cancel_requested);
  EXPECT_EQ(reg.cancel(*a), JobRegistry::CancelOutcome::Cancelling);
  EXPECT_TRUE(a->cancel_requested);
  EXPECT_EQ(reg.status_json(*a)["status"], "running");  // until the engine stops at a step
  reg.add_progress(*a, 1, 4);
  reg.end_cancelled(*a);
  EXPECT_EQ(describe(reg.read_events(*a, 0, 0ms)).back(), "data: [CANCELLED]");
  EXPECT_FALSE(reg.has_running_job());
}

TEST(JobRegistry, FinishedJobsCannotBeCancelled) {
  JobRegistry reg({16, 600s});
  auto a = submit(reg, "a");
  reg.next_job();
  reg.add_image(*a, complete_data());
  reg.complete(*a);
  EXPECT_EQ(reg.cancel(*a), JobRegistry::CancelOutcome::AlreadyFinished);
}

TEST(JobRegistry, LateReaderGetsEveryEventButOnlyTheNewestPreview) {
  JobRegistry reg({16, 600s});
  auto a = submit(reg, "a");
  reg.next_job();
  // As the engine reports them: a step's preview before its progress.
  for (int step = 1; step <= 4; ++step) {
    if (step % 2 == 0) reg.add_preview(*a, step, 4, "cHJldmlldw==");
    reg.add_progress(*a, step, 4);
  }
  reg.add_image(*a, complete_data());
  reg.complete(*a);
  auto log = reg.read_events(*a, 0, 0ms);
  EXPECT_TRUE(log.ended);
  std::vector<std::string> expected = {
      R"(progress:{"event":"progress","percent":25,"step":1,"total":4,"type":"progress"})",
      R"(progress:{"event":"progress","percent":75,"step":3,"total":4,"type":"progress"})",
      R"(preview:{"event":"preview","format":"png","image":"<img>","percent":100,"step":4,"total":4,"type":"preview"})",
      R"(complete:{"event":"complete","format":"png","height":64,"image":"<img>","seed":7,"timings":{"total":0.5},"type":"complete","width":64})",
      "data: [DONE]"};
  EXPECT_EQ(describe(log), expected);
  // Reading on from an index returns only what follows it.
  // Log indices: p1 (preview 2, replaced) p3 preview4 complete done.
  EXPECT_EQ(reg.read_events(*a, 2, 0ms).events.size(), 4u);
  EXPECT_EQ(reg.read_events(*a, log.next, 0ms).events.size(), 0u);
}

// A job of several images: a complete event per image, the job going on until complete();
// the status lists the images finished so far, the first one's fields at the top level.
TEST(JobRegistry, ImagesOfABatchAreEventsAndStatusEntries) {
  JobRegistry reg({16, 600s});
  auto a = submit(reg, "a");
  reg.next_job();
  auto image = [](int index) {
    json data = complete_data();
    data["index"] = index;
    data["seed"] = 7 + index;
    return data;
  };
  reg.add_image(*a, image(0));
  json st = reg.status_json(*a);
  EXPECT_EQ(st["status"], "running");
  ASSERT_EQ(st["images"].size(), 1u);
  reg.add_image(*a, image(1));
  EXPECT_FALSE(reg.read_events(*a, 0, 0ms).ended);
  reg.complete(*a);
  const auto log = describe(reg.read_events(*a, 0, 0ms));
  ASSERT_EQ(log.size(), 3u);
  EXPECT_NE(log[0].find(R"("index":0)"), std::string::npos) << log[0];
  EXPECT_NE(log[1].find(R"("index":1,"seed":8)"), std::string::npos) << log[1];
  EXPECT_EQ(log[2], "data: [DONE]");
  st = reg.status_json(*a);
  EXPECT_EQ(st["status"], "completed");
  ASSERT_EQ(st["images"].size(), 2u);
  EXPECT_EQ(st["images"][1]["seed"], 8);
  EXPECT_EQ(st["images"][1]["index"], 1);
  EXPECT_FALSE(st["images"][1].contains("type"));
  EXPECT_EQ(st["seed"], 7);
  EXPECT_EQ(st["index"], 0);
}

TEST(JobRegistry, ReaderWaitsForTheNextEvent) {
  JobRegistry reg({16, 600s});
  auto a = submit(reg, "a");
  reg.next_job();
  std::thread engine([&] {
    std::this_thread::sleep_for(50ms);
    reg.add_progress(*a, 1, 4);
  });
  auto t0 = std::chrono::steady_clock::now();
  auto batch = reg.read_events(*a, 0, 5s);
  engine.join();
  EXPECT_EQ(batch.events.size(), 1u);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s);
  // With nothing new, the wait ends at the timeout with an empty batch.
  batch = reg.read_events(*a, batch.next, 20ms);
  EXPECT_TRUE(batch.events.empty());
  EXPECT_FALSE(batch.ended);
}

TEST(JobRegistry, StatusShapes) {
  JobRegistry reg({16, 600s});
  JobSpec s = spec("a");
  s.echo = {{"hive_id", "h1"}};
  auto a = reg.submit(std::move(s)).job;
  json st = reg.status_json(*a);
  EXPECT_EQ(st["job_id"], a->id);
  EXPECT_EQ(st["status"], "queued");
  EXPECT_EQ(st["position"], 1);
  EXPECT_EQ(st["hive_id"], "h1");
  EXPECT_EQ(st["operation"], "image_generation");
  reg.next_job();
  reg.add_progress(*a, 2, 4);
  st = reg.status_json(*a);
  EXPECT_EQ(st["step"], 2);
  EXPECT_EQ(st["total"], 4);
  reg.add_image(*a, complete_data());
  reg.complete(*a);
  st = reg.status_json(*a);
  EXPECT_EQ(st["status"], "completed");
  EXPECT_EQ(st["seed"], 7);
  EXPECT_EQ(st["image"], "iVBOR");
  EXPECT_FALSE(st.contains("type"));
  EXPECT_FALSE(st.contains("event"));

  auto b = submit(reg, "b");
  reg.next_job();
  reg.fail(*b, "unet: out of range\nsecond line");
  st = reg.status_json(*b);
  EXPECT_EQ(st["status"], "failed");
  EXPECT_EQ(st["error"], "unet: out of range\nsecond line");
  auto log = describe(reg.read_events(*b, 0, 0ms));
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0], R"(error:{"event":"error","message":"unet: out of range\nsecond line","type":"error"})");
  EXPECT_EQ(log[1], "data: [ERROR] unet: out of range second line");
}

TEST(JobRegistry, FinishedJobsArePurgedAfterTheRetentionTime) {
  JobRegistry reg({16, 100ms});
  auto done = submit(reg, "done");
  reg.next_job();
  reg.add_image(*done, complete_data());
  reg.complete(*done);
  auto queued = submit(reg, "queued");
  EXPECT_EQ(reg.find(done->id), done);
  std::this_thread::sleep_for(150ms);
  EXPECT_EQ(reg.find(done->id), nullptr);
  EXPECT_EQ(reg.find(queued->id), queued);  // unfinished jobs stay
  EXPECT_EQ(reg.job_count(), 1u);
  // A stream still holding the job keeps reading it.
  EXPECT_TRUE(reg.read_events(*done, 0, 0ms).ended);
}

TEST(JobRegistry, ShutdownCancelsQueuedJobsAndStopsTheRunningOne) {
  JobRegistry reg({16, 600s});
  auto a = submit(reg, "a"), b = submit(reg, "b");
  reg.next_job();
  reg.shutdown(true);
  EXPECT_TRUE(a->cancel_requested);
  EXPECT_EQ(reg.status_json(*b)["status"], "cancelled");
  EXPECT_EQ(reg.submit(spec("c")).status, JobRegistry::SubmitStatus::ShuttingDown);
  EXPECT_EQ(reg.next_job(), nullptr);
}

TEST(JobRegistry, ShutdownCanLetTheRunningJobFinish) {
  JobRegistry reg({16, 600s});
  auto a = submit(reg, "a");
  reg.next_job();
  reg.shutdown(false);
  EXPECT_FALSE(a->cancel_requested);
}

TEST(JobRegistry, NextJobWakesWhenAJobArrivesOrOnShutdown) {
  JobRegistry reg({16, 600s});
  std::shared_ptr<Job> taken;
  std::thread engine([&] { taken = reg.next_job(); });
  std::this_thread::sleep_for(20ms);
  auto a = submit(reg, "a");
  engine.join();
  EXPECT_EQ(taken, a);
  std::thread idle([&] { taken = reg.next_job(); });
  std::this_thread::sleep_for(20ms);
  reg.shutdown(true);
  idle.join();
  EXPECT_EQ(taken, nullptr);
}

TEST(JobRegistry, StreamCountsAndDrain) {
  JobRegistry reg({16, 600s});
  auto a = submit(reg, "a");
  reg.stream_opened(*a);
  EXPECT_EQ(a->open_streams, 1);
  EXPECT_FALSE(reg.wait_streams_closed(10ms));
  std::thread closer([&] {
    std::this_thread::sleep_for(20ms);
    reg.stream_closed(*a);
  });
  EXPECT_TRUE(reg.wait_streams_closed(5s));
  closer.join();
  EXPECT_EQ(a->open_streams, 0);
}

}  // namespace
}  // namespace sd::server
