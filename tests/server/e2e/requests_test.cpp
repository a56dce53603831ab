// What the real worker answers to bad requests, a full queue and cancellations.
#include <gtest/gtest.h>

#include <thread>

#include "server/e2e/worker_process.h"
#include "io/image.h"
#include "server/loopback.h"
#include "support/test_support.h"

namespace sd::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const std::string kToken = "e2e-token-0123456789";

json job(json extra = json::object()) {
  json body = {{"operation", "image_generation"}, {"prompt", "a fox"}, {"steps", 1}, {"width", 64}, {"height", 64}};
  body.update(extra);
  return body;
}

struct Bad {
  std::string name;
  std::string body;
  int status;
  std::string code;
  std::string field;  // for 400
  std::string content_type = "application/json";
};

TEST(WorkerRequests, BadRequestsGetTheRightStatusAndAJsonErrorAndTheWorkerKeepsServing) {
  SD_SKIP_WITHOUT_DATA("clip");
  auto flags = tiny_model_flags();
  flags.insert(flags.end(), {"--api-token", kToken});
  WorkerProcess worker(flags);
  ASSERT_TRUE(worker.wait_ready(60s, kToken)) << worker.log();
  auto c = worker.client(kToken);

  const std::string text_png = io::base64_encode(std::vector<uint8_t>{'n', 'o', 't', ' ', 'p', 'n', 'g'});
  std::vector<Bad> cases = {
      {"bad JSON", "{\"operation\": \"image_generation\", ", 400, "invalid_argument", "body"},
      {"JSON array", "[1,2,3]", 400, "invalid_argument", "body"},
      {"missing prompt", R"({"operation":"image_generation"})", 400, "invalid_argument", "prompt"},
      {"empty prompt", job({{"prompt", ""}}).dump(), 400, "invalid_argument", "prompt"},
      {"prompt a number", job({{"prompt", 3}}).dump(), 400, "invalid_argument", "prompt"},
      {"steps a string", job({{"steps", "4"}}).dump(), 400, "invalid_argument", "steps"},
      {"steps 0", job({{"steps", 0}}).dump(), 400, "invalid_argument", "steps"},
      {"steps 1000", job({{"steps", 1000}}).dump(), 400, "invalid_argument", "steps"},
      {"guidance -1", job({{"guidance_scale", -1}}).dump(), 400, "invalid_argument", "guidance_scale"},
      {"width 513", job({{"width", 513}}).dump(), 400, "invalid_argument", "width"},
      {"height 4096", job({{"height", 4096}}).dump(), 400, "invalid_argument", "height"},
      {"seed -5", job({{"seed", -5}}).dump(), 400, "invalid_argument", "seed"},
      {"seed a string", job({{"seed", "5"}}).dump(), 400, "invalid_argument", "seed"},
      {"missing operation", R"({"prompt":"a fox"})", 400, "invalid_argument", "operation"},
      {"unknown operation", job({{"operation", "text_generation"}}).dump(), 400, "invalid_argument", "operation"},
      {"unknown sampler", job({{"sampler", "warp_drive"}}).dump(), 400, "invalid_argument", "sampler"},
      {"unknown schedule", job({{"schedule", "cosine"}}).dump(), 400, "invalid_argument", "schedule"},
      {"clip_skip 40", job({{"clip_skip", 40}}).dump(), 400, "invalid_argument", "clip_skip"},
      {"strength 2",
       job({{"operation", "image_transform"}, {"strength", 2},
            {"input_image", io::base64_encode(io::encode_png({8, 8, 3, std::vector<uint8_t>(192, 9)}))}})
           .dump(),
       400, "invalid_argument", "strength"},
      {"loras not a list", job({{"loras", "style"}}).dump(), 400, "invalid_argument", "loras"},
      {"lora without a lora folder", job({{"loras", {{{"path", "/no/lora.safetensors"}}}}}).dump(), 400, "invalid_argument",
       "loras[0].path"},
      {"transform without image", job({{"operation", "image_transform"}}).dump(), 400, "invalid_argument", "input_image"},
      {"bad base64", job({{"operation", "image_transform"}, {"input_image", "@@@not base64@@@"}}).dump(), 400,
       "invalid_argument", "input_image"},
      {"base64 of no image", job({{"operation", "image_transform"}, {"init_image", text_png}}).dump(), 400,
       "invalid_argument", "init_image"},
      {"inpaint without mask",
       job({{"operation", "image_inpaint"}, {"input_image", io::base64_encode(io::encode_png({8, 8, 3, std::vector<uint8_t>(192, 9)}))}})
           .dump(),
       400, "invalid_argument", "mask_image"},
      {"huge body", std::string(33u << 20, ' '), 413, "payload_too_large", ""},
      {"text/plain", job().dump(), 415, "unsupported_media_type", "", "text/plain"},
      {"form encoded", "prompt=fox", 415, "unsupported_media_type", "", "application/x-www-form-urlencoded"},
  };
  ASSERT_GE(cases.size(), 20u);
  for (const auto& bad : cases) {
    auto r = c.Post("/v1/jobs", bad.body, bad.content_type.c_str());
    ASSERT_TRUE(r) << bad.name << ": no answer";
    EXPECT_EQ(r->status, bad.status) << bad.name << ": " << r->body;
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json") << bad.name;
    json err = json::parse(r->body, nullptr, false);
    ASSERT_FALSE(err.is_discarded()) << bad.name << ": " << r->body;
    EXPECT_EQ(err["error"]["code"], bad.code) << bad.name << ": " << r->body;
    EXPECT_TRUE(err["error"]["message"].is_string()) << bad.name;
    if (!bad.field.empty()) {
      EXPECT_EQ(err["error"]["field"], bad.field) << bad.name << ": " << r->body;
    }
  }

  // The exact shape of the contract.
  auto r = c.Post("/v1/jobs", job({{"width", 513}}).dump(), "application/json");
  EXPECT_EQ(json::parse(r->body),
            json::parse(R"({"error":{"code":"invalid_argument","field":"width","message":"width must be a multiple of 8, got 513"}})"));

  // Auth: none, wrong, and the wrong scheme are 401; /health needs none.
  auto anon = worker.client();
  for (const std::string& header : {std::string(), std::string("Bearer wrong"), "Basic " + kToken}) {
    httplib::Headers h;
    if (!header.empty()) h.emplace("Authorization", header);
    auto denied = anon.Post("/v1/jobs", h, job().dump(), "application/json");
    ASSERT_TRUE(denied);
    EXPECT_EQ(denied->status, 401) << header;
    EXPECT_EQ(json::parse(denied->body)["error"]["code"], "unauthorized");
    EXPECT_EQ(anon.Get("/info", h)->status, 401);
  }
  EXPECT_EQ(anon.Get("/health")->status, 200);

  // Unknown jobs and routes.
  const std::string unknown = "/v1/jobs/job-00000000-0000-0000-0000-000000000000";
  for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"GET", unknown}, {"GET", unknown + "/stream"}, {"DELETE", unknown}, {"GET", "/v1/nothing-here"}}) {
    auto res = method == "GET" ? c.Get(path) : c.Delete(path);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 404) << method << " " << path;
    EXPECT_EQ(json::parse(res->body)["error"]["code"], "not_found");
  }

  // Nothing bad was queued, and a good job still runs.
  EXPECT_EQ(json::parse(c.Get("/info")->body)["queue_length"], 0);
  std::string id = submit_job(c, job());
  auto msgs = read_whole_sse(c, "/v1/jobs/" + id + "/stream");
  ASSERT_FALSE(msgs.empty());
  EXPECT_EQ(msgs.back().data, "[DONE]") << worker.log();
}

// Waits until GET /v1/jobs/{id} reports `status`.
bool wait_status(httplib::Client& c, const std::string& id, const std::string& status) {
  auto until = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < until) {
    auto r = c.Get("/v1/jobs/" + id);
    if (r && r->status == 200 && json::parse(r->body)["status"] == status) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

TEST(WorkerRequests, FullQueueIs429AndQueuedAndRunningJobsCanBeCancelled) {
  SD_SKIP_WITHOUT_DATA("clip");
  auto flags = tiny_model_flags();
  flags.insert(flags.end(), {"--queue-capacity", "1"});
  WorkerProcess worker(flags);
  ASSERT_TRUE(worker.wait_ready()) << worker.log();
  auto c = worker.client();

  std::string running = submit_job(c, job({{"steps", 150}}));
  ASSERT_TRUE(wait_status(c, running, "running"));
  std::string queued = submit_job(c, job({{"steps", 150}}));
  json st = json::parse(c.Get("/v1/jobs/" + queued)->body);
  EXPECT_EQ(st["status"], "queued");
  EXPECT_EQ(st["position"], 1);

  auto full = c.Post("/v1/jobs", job().dump(), "application/json");
  ASSERT_TRUE(full);
  EXPECT_EQ(full->status, 429);
  EXPECT_FALSE(full->get_header_value("Retry-After").empty());
  EXPECT_EQ(json::parse(full->body)["error"]["code"], "queue_full");

  // The queued job: removed at once, its stream ends with [CANCELLED].
  auto del = c.Delete("/v1/jobs/" + queued);
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 200);
  EXPECT_EQ(json::parse(del->body)["status"], "cancelled");
  auto queued_msgs = read_whole_sse(c, "/v1/jobs/" + queued + "/stream");
  ASSERT_EQ(queued_msgs.size(), 1u);
  EXPECT_EQ(queued_msgs[0].data, "[CANCELLED]");

  // The running job: stops before its next step.
  std::vector<SseMessage> running_msgs;
  int last_step = 0;
  bool cancel_sent = false;
  read_sse(c, "/v1/jobs/" + running + "/stream", [&](const SseMessage& m) {
    running_msgs.push_back(m);
    if (m.event == "progress") last_step = json::parse(m.data)["step"];
    if (!cancel_sent && m.event == "progress") {
      auto d = worker.client().Delete("/v1/jobs/" + running);
      EXPECT_EQ(json::parse(d->body)["status"], "cancelling");
      cancel_sent = true;
    }
    return true;
  });
  ASSERT_FALSE(running_msgs.empty());
  EXPECT_EQ(running_msgs.back().data, "[CANCELLED]");
  EXPECT_LT(last_step, 150);
  EXPECT_TRUE(wait_status(c, running, "cancelled"));

  // The queue has room again.
  std::string next = submit_job(c, job());
  auto msgs = read_whole_sse(c, "/v1/jobs/" + next + "/stream");
  EXPECT_EQ(msgs.back().data, "[DONE]");
}

}  // namespace
}  // namespace sd::test
