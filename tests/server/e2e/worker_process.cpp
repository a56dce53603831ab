#include "server/e2e/worker_process.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "server/loopback.h"
#include "support/test_support.h"

namespace sd::test {

std::vector<std::string> tiny_model_flags() {
  return {"--model-path", fixtures_dir() + "/tiny-sd15", "--tokenizer-dir", data_dir() + "/clip",
          "--dtype", "f32", "--threads", "1"};
}

WorkerProcess::WorkerProcess(const std::vector<std::string>& flags, const std::vector<std::string>& env)
    : port_(std::make_unique<ReservedPort>()), log_path_(temp_dir("worker") + "/worker.log") {
  ignore_sigpipe();
  std::vector<std::string> argv = {bin_dir() + "/sd-worker-cpu", "--worker-id", "w-e2e", "--port", std::to_string(port())};
  argv.insert(argv.end(), flags.begin(), flags.end());
  process_ = std::make_unique<ChildProcess>(argv, log_path_, env);
}

httplib::Client WorkerProcess::client(const std::string& token) const {
  httplib::Client c("127.0.0.1", port());
  c.set_connection_timeout(5, 0);
  c.set_read_timeout(60, 0);
  if (!token.empty()) c.set_bearer_token_auth(token.c_str());
  return c;
}

bool WorkerProcess::wait_ready(std::chrono::milliseconds limit, const std::string& token) {
  auto until = std::chrono::steady_clock::now() + limit;
  auto c = client(token);
  c.set_connection_timeout(0, 200000);
  while (std::chrono::steady_clock::now() < until) {
    if (!process_->running()) return false;
    auto r = c.Get("/ready");
    if (r && r->status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

std::string WorkerProcess::log() const {
  std::ifstream in(log_path_);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string submit_job(httplib::Client& client, const nlohmann::json& body) {
  auto r = client.Post("/v1/jobs", body.dump(), "application/json");
  if (!r) {
    ADD_FAILURE() << "POST /v1/jobs: no answer";
    return "";
  }
  if (r->status != 200) {
    ADD_FAILURE() << "POST /v1/jobs: " << r->status << " " << r->body;
    return "";
  }
  auto answer = nlohmann::json::parse(r->body);
  std::string id = answer["job_id"];
  EXPECT_EQ(answer["sse_url"], "/v1/jobs/" + id + "/stream");
  return id;
}

}  // namespace sd::test
