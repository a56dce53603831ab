// A worker started the way a hive starts it, with --model naming a Hugging Face repo: the
// engine fetches the model from a fake Hub on loopback into the Hub cache as part of
// loading (so /ready stays 503 until it is there), then jobs run.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>

#include "server/e2e/worker_process.h"
#include "server/loopback.h"
#include "support/fake_hub.h"
#include "support/test_support.h"

namespace sd::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// tiny-sd15 as a diffusers repository on the Hub, with the CLIP vocabulary in tokenizer/.
FakeRepo tiny_repo() {
  const std::string fx = fixtures_dir() + "/tiny-sd15/";
  FakeRepo repo;
  repo.commit = "00112233445566778899aabbccddeeff00112233";
  for (const char* name : {"model_index.json", "scheduler/scheduler_config.json", "text_encoder/config.json",
                           "tokenizer/special_tokens_map.json", "tokenizer/tokenizer_config.json", "unet/config.json",
                           "vae/config.json"})
    repo.files[name] = FakeFile{read_file(fx + name), false, ""};
  for (const char* name : {"text_encoder/model.safetensors", "unet/diffusion_pytorch_model.safetensors",
                           "vae/diffusion_pytorch_model.safetensors"})
    repo.files[name] = FakeFile{read_file(fx + name), true, ""};
  repo.files["tokenizer/vocab.json"] = FakeFile{read_file(data_dir() + "/clip/vocab.json"), false, ""};
  repo.files["tokenizer/merges.txt"] = FakeFile{read_file(data_dir() + "/clip/merges.txt"), false, ""};
  return repo;
}

TEST(WorkerModelDownload, ModelNamedByRepoIdIsFetchedThenServed) {
  SD_SKIP_WITHOUT_DATA("clip");
  FakeHub hub({{"test-org/tiny-sd15", tiny_repo()}});
  const std::string home = temp_dir("worker-hf-home");
  WorkerProcess worker({"--model", "test-org/tiny-sd15", "--dtype", "f32", "--threads", "1"},
                       {"HF_ENDPOINT=" + hub.endpoint(), "HF_HOME=" + home, "HF_HUB_CACHE=" + home + "/hub",
                        "HF_HUB_OFFLINE=", "HF_TOKEN="});
  ASSERT_TRUE(worker.wait_ready()) << worker.log();
  auto c = worker.client();
  json info = json::parse(c.Get("/info")->body);
  EXPECT_EQ(info["model"], "test-org/tiny-sd15");
  EXPECT_EQ(info["sd_version"], "v1-5");
  EXPECT_FALSE(hub.requests().empty());
  std::string id = submit_job(c, {{"operation", "image_generation"}, {"prompt", "a fox"}, {"steps", 1}});
  auto msgs = read_whole_sse(c, "/v1/jobs/" + id + "/stream");
  ASSERT_FALSE(msgs.empty());
  EXPECT_EQ(msgs.back().data, "[DONE]") << worker.log();
  worker.signal(SIGTERM);
  EXPECT_EQ(worker.wait_exit(10s), 0) << worker.log();
}

TEST(WorkerModelDownload, ModelMissingFromTheHubEndsTheProcessNamingIt) {
  FakeHub hub({});
  const std::string home = temp_dir("worker-hf-home");
  WorkerProcess worker({"--model", "test-org/missing", "--dtype", "f32"},
                       {"HF_ENDPOINT=" + hub.endpoint(), "HF_HOME=" + home, "HF_HUB_CACHE=" + home + "/hub",
                        "HF_HUB_OFFLINE=", "HF_TOKEN="});
  int code = worker.wait_exit(30s);
  EXPECT_NE(code, 0);
  EXPECT_NE(code, -2) << "still running";
  EXPECT_NE(worker.log().find("test-org/missing"), std::string::npos) << worker.log();
}

}  // namespace
}  // namespace sd::test
