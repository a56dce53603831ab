// The worker with what a lone model needs and what prompts may name: no tokenizer folder
// (the built-in CLIP vocabulary), --vae, --embeddings-dir and <lora:NAME:WEIGHT> tags,
// driven over HTTP and compared with sd-generate given the same flags.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "io/image.h"
#include "io/safetensors.h"
#include "server/e2e/worker_process.h"
#include "server/loopback.h"
#include "support/process.h"
#include "support/test_support.h"

namespace sd::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Folders {
  std::string vae, embeddings, loras;
};

// A copy of the tiny model's VAE as a folder, an embedding "mycat" (the token embedding of
// "cat"), and the LoRA fixture's folder.
Folders write_folders() {
  const std::string dir = temp_dir("worker-loading");
  const std::string model = fixtures_dir() + "/tiny-sd15";
  Folders f{dir + "/vae", dir + "/embeddings", fixtures_dir()};
  fs::create_directory(f.vae);
  fs::copy_file(model + "/vae/config.json", f.vae + "/config.json");
  fs::copy_file(model + "/vae/diffusion_pytorch_model.safetensors", f.vae + "/diffusion_pytorch_model.safetensors");
  fs::create_directory(f.embeddings);
  const auto te = io::SafetensorsFile::open(model + "/text_encoder/model.safetensors");
  const Tensor cat = te.view("text_model.embeddings.token_embedding.weight").narrow(0, 2368, 1);
  io::write_safetensors(f.embeddings + "/mycat.safetensors", {{"emb_params", cat}});
  // An SDXL embedding: read, and skipped, since this model has one text encoder.
  io::write_safetensors(f.embeddings + "/xlcat.safetensors", {{"clip_l", cat}, {"clip_g", cat}});
  return f;
}

std::vector<std::string> flags(const Folders& f) {
  return {"--model-path", fixtures_dir() + "/tiny-sd15", "--dtype", "f32", "--threads", "1", "--vae", f.vae,
          "--embeddings-dir", f.embeddings, "--lora-dir", f.loras};
}

const char* kPrompt = "a photo of a <lora:tiny-lora-sd15:0.8>mycat";

TEST(WorkerLoading, TagsEmbeddingsAndVaeGiveSdGeneratesImage) {
  const Folders f = write_folders();
  WorkerProcess worker(flags(f));
  ASSERT_TRUE(worker.wait_ready()) << worker.log();
  auto c = worker.client();

  const json info = json::parse(c.Get("/info")->body);
  EXPECT_EQ(info["vae"], f.vae);
  EXPECT_EQ(info["embeddings"], json({"mycat"}));
  // A1111's listing of the same folder; the tiny text encoder is 32 wide.
  const json unknown = {{"step", nullptr}, {"sd_checkpoint", nullptr}, {"sd_checkpoint_name", nullptr}};
  json mycat = unknown, xlcat = unknown;
  mycat.update({{"shape", 32}, {"vectors", 1}});
  xlcat.update({{"shape", 64}, {"vectors", 1}});
  EXPECT_EQ(json::parse(c.Get("/sdapi/v1/embeddings")->body),
            json({{"loaded", {{"mycat", mycat}}}, {"skipped", {{"xlcat", xlcat}}}}));

  const json body = {{"operation", "image_generation"}, {"prompt", kPrompt}, {"steps", 4}, {"width", 64},
                     {"height", 64}, {"seed", 42}, {"sampler", "ddim"}};
  const std::string id = submit_job(c, body);
  ASSERT_FALSE(id.empty());
  const auto msgs = read_whole_sse(c, "/v1/jobs/" + id + "/stream");
  const SseMessage* complete = nullptr;
  for (const auto& m : msgs)
    if (m.event == "complete") complete = &m;
  ASSERT_NE(complete, nullptr) << worker.log();
  const std::vector<uint8_t> png = io::base64_decode(json::parse(complete->data)["image"].get<std::string>());

  const std::string out = temp_dir("worker-loading-ref") + "/ref.png";
  std::vector<std::string> argv = {bin_dir() + "/sd-generate"};
  const auto model_flags = flags(f);
  argv.insert(argv.end(), model_flags.begin(), model_flags.end());
  argv.insert(argv.end(), {"--prompt", kPrompt, "--steps", "4", "--width", "64", "--height", "64", "--seed", "42",
                           "--sampler", "ddim", "--output", out});
  const auto gen = run_process(argv);
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  const std::string ref = read_file(out);
  EXPECT_TRUE(png == std::vector<uint8_t>(ref.begin(), ref.end())) << "the worker's PNG differs from sd-generate's";
}

TEST(WorkerLoading, PromptTagsOutsideTheLoraFoldersAre400) {
  const Folders f = write_folders();
  WorkerProcess worker(flags(f));
  ASSERT_TRUE(worker.wait_ready()) << worker.log();
  auto c = worker.client();
  for (const char* prompt : {"a cat <lora:missing:1>", "a cat <lora:../tiny-sd15/unet/diffusion_pytorch_model:1>",
                             "a cat <lora:/etc/passwd:1>"}) {
    const json body = {{"operation", "image_generation"}, {"prompt", prompt}, {"steps", 1}};
    const auto r = c.Post("/v1/jobs", body.dump(), "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << prompt << ": " << r->body;
    const json e = json::parse(r->body)["error"];
    EXPECT_EQ(e["field"], "prompt") << r->body;
    EXPECT_NE(e["message"].get<std::string>().find("no LoRA file"), std::string::npos) << r->body;
  }
}

}  // namespace
}  // namespace sd::test
