// What the real worker does with requests built to hurt it: files outside its folders.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "server/e2e/worker_process.h"
#include "server/loopback.h"
#include "support/test_support.h"

namespace sd::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

json job(json extra = json::object()) {
  json body = {{"operation", "image_generation"}, {"prompt", "a fox"}, {"steps", 1}, {"width", 64}, {"height", 64}};
  body.update(extra);
  return body;
}

// The terminal event of a job's stream ("complete" or "error") with its data.
std::pair<std::string, json> outcome(httplib::Client& c, const std::string& id) {
  for (const auto& m : read_whole_sse(c, "/v1/jobs/" + id + "/stream"))
    if (m.event == "complete" || m.event == "error") return {m.event, json::parse(m.data)};
  return {"", json()};
}

TEST(WorkerHostileInputs, LorasAreReadOnlyFromTheLoraFolderAndRefusalsRevealNothing) {
  SD_SKIP_WITHOUT_DATA("clip");
  const std::string root = temp_dir("e2e-loras"), dir = root + "/loras";
  fs::create_directories(dir);
  fs::copy_file(fixtures_dir() + "/tiny-lora-sd15.safetensors", dir + "/style.safetensors");
  std::ofstream(root + "/secret.txt") << "root:x:0:0:the secret line\n";
  auto flags = tiny_model_flags();
  flags.insert(flags.end(), {"--lora-dir", dir});
  WorkerProcess worker(flags);
  ASSERT_TRUE(worker.wait_ready(60s)) << worker.log();
  auto c = worker.client();

  auto refusal = [&](const std::string& path) {
    auto r = c.Post("/v1/jobs", job({{"loras", {{{"path", path}}}}}).dump(), "application/json");
    EXPECT_TRUE(r);
    if (!r) return json();
    EXPECT_EQ(r->status, 400) << path << ": " << r->body;
    EXPECT_EQ(r->body.find("secret line"), std::string::npos) << r->body;
    json err = json::parse(r->body)["error"];
    EXPECT_EQ(err["field"], "loras[0].path");
    return err;
  };
  // A file that exists outside the folder and one that does not get the same answer.
  json existing = refusal(root + "/secret.txt"), missing = refusal(root + "/nothing.txt");
  EXPECT_EQ(existing["message"], "loras[0].path: no LoRA file \"" + root + "/secret.txt\" in the worker's LoRA folders");
  EXPECT_EQ(missing["message"], "loras[0].path: no LoRA file \"" + root + "/nothing.txt\" in the worker's LoRA folders");
  refusal("../secret.txt");
  refusal("/etc/passwd");
  fs::create_symlink(root + "/secret.txt", dir + "/escape.safetensors");
  refusal("escape.safetensors");

  // What is inside the folder runs, by name or by path.
  for (const json& lora : {json{{"name", "style"}, {"strength", 0.5}}, json{{"path", "style.safetensors"}}}) {
    const std::string id = submit_job(c, job({{"loras", {lora}}}));
    ASSERT_FALSE(id.empty());
    EXPECT_EQ(outcome(c, id).first, "complete") << lora.dump();
  }
}

}  // namespace
}  // namespace sd::test
