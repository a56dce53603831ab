// The worker's routes in this process, in the state a real worker is in while its model
// loads (no model yet, so no job can be queued): health, readiness, info, auth, and the
// answers that come before validation (413, 415, 503, 404).
#include <gtest/gtest.h>

#include <regex>

#include "server/job_registry.h"
#include "server/loopback.h"
#include "server/routes.h"
#include "server/worker_config.h"
#include "server/worker_state.h"

namespace sd::server {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const char* kJob = R"({"operation":"image_generation","prompt":"a fox","steps":4})";

class RoutesWhileLoading : public ::testing::Test {
 protected:
  void start(const std::string& token = "") {
    cfg.worker_id = "w-test";
    cfg.model_path = "/models/tiny";
    cfg.api_token = token;
    cfg.max_body_bytes = 1 << 20;
    install_routes(server.router, cfg, registry, state);
    server.start({cfg.max_body_bytes});
  }
  httplib::Client client() {
    httplib::Client c("127.0.0.1", server.port);
    c.set_read_timeout(5, 0);
    return c;
  }
  static json body_of(const httplib::Result& r) { return json::parse(r->body); }
  static void expect_error(const httplib::Result& r, int status, const std::string& code) {
    ASSERT_TRUE(r) << "no answer";
    EXPECT_EQ(r->status, status) << r->body;
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
    json b = json::parse(r->body);
    EXPECT_EQ(b["error"]["code"], code) << r->body;
    EXPECT_TRUE(b["error"]["message"].is_string()) << r->body;
  }

  WorkerConfig cfg;
  JobRegistry registry{{16, 600s}};
  WorkerState state;
  sd::test::WorkerHttpServer server;
};

TEST_F(RoutesWhileLoading, HealthAnswersAtOnce) {
  start();
  auto c = client();
  for (const char* path : {"/health", "/"}) {
    auto r = c.Get(path);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    json b = body_of(r);
    EXPECT_EQ(b["status"], "healthy");
    EXPECT_TRUE(std::regex_match(b["timestamp"].get<std::string>(),
                                 std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
        << b["timestamp"];
  }
}

TEST_F(RoutesWhileLoading, ReadyIs503WithRetryAfter) {
  start();
  auto r = client().Get("/ready");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(body_of(r), json({{"ready", false}, {"reason", "model loading"}}));
  EXPECT_FALSE(r->get_header_value("Retry-After").empty());
}

TEST_F(RoutesWhileLoading, JobsAre503WithRetryAfter) {
  start();
  auto r = client().Post("/v1/jobs", kJob, "application/json");
  expect_error(r, 503, "not_ready");
  EXPECT_FALSE(r->get_header_value("Retry-After").empty());
  EXPECT_EQ(registry.queue_length(), 0u);
}

TEST_F(RoutesWhileLoading, ReadyReportsShuttingDown) {
  start();
  state.set_stopping();
  auto r = client().Get("/ready");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(body_of(r)["reason"], "shutting down");
}

TEST_F(RoutesWhileLoading, InfoDescribesTheWorker) {
  start();
  auto r = client().Get("/info");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  json b = body_of(r);
  EXPECT_EQ(b["worker_id"], "w-test");
  EXPECT_EQ(b["implementation"], "sd-worker-rbee");
  EXPECT_TRUE(b["version"].is_string());
  EXPECT_EQ(b["ready"], false);
  EXPECT_EQ(b["model"], "/models/tiny");
  EXPECT_EQ(b["device"], "cpu");
  EXPECT_EQ(b["queue_length"], 0);
  EXPECT_EQ(b["queue_capacity"], 16);
  EXPECT_EQ(b["capabilities"], json({"image_generation", "image_transform", "image_inpaint"}));
}

TEST_F(RoutesWhileLoading, BodiesThatAreNotJsonAre415) {
  start();
  auto c = client();
  expect_error(c.Post("/v1/jobs", kJob, "text/plain"), 415, "unsupported_media_type");
  expect_error(c.Post("/v1/jobs", "prompt=fox", "application/x-www-form-urlencoded"), 415, "unsupported_media_type");
  // Parameters after the media type are fine (then: not ready yet).
  expect_error(c.Post("/v1/jobs", kJob, "application/json; charset=utf-8"), 503, "not_ready");
}

TEST_F(RoutesWhileLoading, BodyOverTheLimitIs413AndTheWorkerKeepsServing) {
  start();
  auto c = client();
  std::string huge(cfg.max_body_bytes + 1, 'a');
  expect_error(c.Post("/v1/jobs", huge, "application/json"), 413, "payload_too_large");
  auto r = client().Get("/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(RoutesWhileLoading, UnknownJobsAndRoutesAre404AndOtherMethods405) {
  start();
  auto c = client();
  expect_error(c.Get("/v1/jobs/job-nope"), 404, "not_found");
  expect_error(c.Get("/v1/jobs/job-nope/stream"), 404, "not_found");
  expect_error(c.Delete("/v1/jobs/job-nope"), 404, "not_found");
  expect_error(c.Get("/v2/anything"), 404, "not_found");
  expect_error(c.Post("/v2/anything", kJob, "application/json"), 404, "not_found");
  auto expect_405 = [](const httplib::Result& r, const std::string& allow) {
    expect_error(r, 405, "method_not_allowed");
    EXPECT_EQ(r->get_header_value("Allow"), allow);
  };
  expect_405(c.Get("/v1/jobs"), "POST");
  expect_405(c.Put("/health", "", "text/plain"), "GET");
  expect_405(c.Post("/v1/jobs/job-x", kJob, "application/json"), "GET, DELETE");
  auto head = c.Head("/health");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 405);
  EXPECT_EQ(head->get_header_value("Allow"), "GET");
  EXPECT_EQ(head->body, "");
}

TEST_F(RoutesWhileLoading, TokenGuardsEveryRouteButHealth) {
  start("s3cret-token");
  auto c = client();
  auto r = c.Get("/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);

  for (const char* path : {"/", "/ready", "/info", "/v1/jobs/job-x", "/v1/jobs/job-x/stream"}) {
    auto denied = c.Get(path);
    expect_error(denied, 401, "unauthorized");
    EXPECT_EQ(denied->get_header_value("WWW-Authenticate"), "Bearer");
    expect_error(c.Get(path, {{"Authorization", "Bearer wrong-token"}}), 401, "unauthorized");
    expect_error(c.Get(path, {{"Authorization", "Basic s3cret-token"}}), 401, "unauthorized");
  }
  expect_error(client().Post("/v1/jobs", kJob, "application/json"), 401, "unauthorized");
  expect_error(client().Delete("/v1/jobs/job-x"), 401, "unauthorized");

  httplib::Headers auth = {{"Authorization", "Bearer s3cret-token"}};
  EXPECT_EQ(c.Get("/", auth)->status, 200);
  EXPECT_EQ(c.Get("/info", auth)->status, 200);
  EXPECT_EQ(c.Get("/ready", auth)->status, 503);
  EXPECT_EQ(c.Get("/v1/jobs/job-x", auth)->status, 404);
  EXPECT_EQ(c.Post("/v1/jobs", auth, kJob, "application/json")->status, 503);
}

}  // namespace
}  // namespace sd::server
