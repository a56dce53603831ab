// What the real worker does with requests built to hurt it: files outside its folders,
// bodies that are cheap to send and expensive to hold, inputs that cost far more to
// process than to send, jobs that would not fit in memory, weights changed under it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "io/image.h"
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

// Bodies and fields that cost far more to process than to send are refused with a 400
// naming the problem, before any work, and the worker keeps serving.
TEST(WorkerHostileInputs, ExpensiveBodiesAndInputsAreRefusedUpFront) {
  SD_SKIP_WITHOUT_DATA("clip");
  WorkerProcess worker(tiny_model_flags());
  ASSERT_TRUE(worker.wait_ready(60s)) << worker.log();
  auto c = worker.client();

  std::string tiny_values = R"({"operation":"image_generation","prompt":"a fox","junk":[)";
  for (int i = 0; i < 3000000; ++i) tiny_values += "{},";
  tiny_values += "{}]}";
  io::Image thin{2, 2, 3, std::vector<uint8_t>(12, 7)};
  std::vector<uint8_t> bomb = io::encode_png(thin);
  bomb[20] = 0x00, bomb[21] = 0x1E, bomb[22] = 0x84, bomb[23] = 0x80;  // IHDR height: 2,000,000
  const std::vector<std::tuple<std::string, std::string, std::string, std::string>> cases = {
      {"1e400 in an ignored field", R"({"operation":"image_generation","prompt":"a fox","extra":[1e400]})", "body",
       "number out of range"},
      {"an integer of 400 digits", R"({"operation":"image_generation","prompt":"a fox","seed":)" + std::string(400, '7') + "}",
       "body", "number out of range"},
      {"9 MB of empty objects", tiny_values, "body", "more than 10000 values"},
      {"nested 100 deep", std::string(100, '[') + std::string(100, ']'), "body", "nests deeper than 32 levels"},
      {"NUL in the prompt", job({{"prompt", std::string("a fox\0", 6)}}).dump(), "prompt", "control characters"},
      {"2 x 2,000,000 PNG", job({{"operation", "image_transform"}, {"input_image", io::base64_encode(bomb)}}).dump(),
       "input_image", "its sides must be at most 8192 pixels"},
  };
  for (const auto& [name, body, field, says] : cases) {
    auto r = c.Post("/v1/jobs", body, "application/json");
    ASSERT_TRUE(r) << name;
    EXPECT_EQ(r->status, 400) << name << ": " << r->body.substr(0, 300);
    json err = json::parse(r->body, nullptr, false);
    ASSERT_FALSE(err.is_discarded()) << name;
    EXPECT_EQ(err["error"]["field"], field) << name;
    EXPECT_NE(err["error"]["message"].get<std::string>().find(says), std::string::npos) << name << ": " << r->body;
  }
  const std::string id = submit_job(c, job());
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(outcome(c, id).first, "complete");
}

// With --max-memory below what a large job needs, the job is refused with the numbers
// before it is queued; one whose only excess is the VAE runs with the VAE in tiles; a
// small one runs as asked.
TEST(WorkerHostileInputs, JobsThatDoNotFitTheMemoryBudgetAreRefusedWithTheNumbers) {
  SD_SKIP_WITHOUT_DATA("clip");
  auto flags = tiny_model_flags();
  // The tiny model's worker is a few hundred MB; a 2048x2048 job's activations are more.
  flags.insert(flags.end(), {"--max-memory", "1GiB"});
  WorkerProcess worker(flags);
  ASSERT_TRUE(worker.wait_ready(60s)) << worker.log();
  auto c = worker.client();
  auto r = c.Post("/v1/jobs", job({{"width", 2048}, {"height", 2048}, {"guidance_scale", 7.5}}).dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  json err = json::parse(r->body)["error"];
  EXPECT_EQ(err["field"], "memory");
  const std::string m = err["message"];
  EXPECT_NE(m.find("a 2048x2048 job needs about"), std::string::npos) << m;
  EXPECT_NE(m.find("1024 MiB is available to the worker"), std::string::npos) << m;
  const std::string id = submit_job(c, job());
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(outcome(c, id).first, "complete");
}

// A worker whose weight files are cut to nothing after it loaded them keeps serving.
TEST(WorkerHostileInputs, WeightFilesTruncatedUnderTheWorker) {
  SD_SKIP_WITHOUT_DATA("clip");
  const std::string copy = temp_dir("e2e-truncated") + "/tiny-sd15";
  fs::copy(fixtures_dir() + "/tiny-sd15", copy, fs::copy_options::recursive);
  auto flags = tiny_model_flags();
  flags[1] = copy;  // --model-path
  WorkerProcess worker(flags);
  ASSERT_TRUE(worker.wait_ready(60s)) << worker.log();
  auto c = worker.client();
  const std::string first = submit_job(c, job({{"seed", 5}}));
  auto [kind, before] = outcome(c, first);
  ASSERT_EQ(kind, "complete");
  for (const auto& e : fs::recursive_directory_iterator(copy))
    if (e.path().extension() == ".safetensors") fs::resize_file(e.path(), 0);
  const std::string second = submit_job(c, job({{"seed", 5}}));
  auto [kind2, after] = outcome(c, second);
  ASSERT_EQ(kind2, "complete") << worker.log();
  EXPECT_EQ(after["image"], before["image"]);
  EXPECT_TRUE(worker.running());
}

}  // namespace
}  // namespace sd::test
