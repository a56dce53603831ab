#include <gtest/gtest.h>

#include <cstdlib>
#include <vector>

#include "pipeline/pipeline.h"
#include "server/worker_flags.h"
#include "support/test_support.h"

namespace sd::server {
namespace {

std::string model_dir() { return sd::test::fixtures_dir() + "/tiny-sd15"; }

FlagsOutcome parse(std::vector<std::string> args) {
  args.insert(args.begin(), "sd-worker-cpu");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  return parse_worker_flags(int(argv.size()), argv.data(), "sd-worker-cpu", "cpu");
}

// Environment variables set for one test, removed afterwards.
struct ScopedEnv {
  std::vector<std::string> names;
  void set(const std::string& name, const std::string& value) {
    setenv(name.c_str(), value.c_str(), 1);
    names.push_back(name);
  }
  ~ScopedEnv() {
    for (const auto& n : names) unsetenv(n.c_str());
  }
};

void expect_usage_error(const FlagsOutcome& o, const std::string& says) {
  EXPECT_FALSE(o.config);
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.message.find(says), std::string::npos) << o.message;
  EXPECT_EQ(o.message.find('\n'), std::string::npos) << "one line, got: " << o.message;
}

TEST(WorkerFlags, MinimalFlagsGiveDefaults) {
  auto o = parse({"--worker-id", "w1", "--port", "8123", "--model-path", model_dir()});
  ASSERT_TRUE(o.config) << o.message;
  const auto& c = *o.config;
  EXPECT_EQ(c.worker_id, "w1");
  EXPECT_EQ(c.port, 8123);
  EXPECT_EQ(c.host, "127.0.0.1");
  EXPECT_EQ(c.device, "cpu");
  EXPECT_EQ(c.queue_capacity, 16u);
  EXPECT_EQ(c.preview, pipeline::PreviewMode::LatentRgb);
  EXPECT_EQ(c.preview_every, 5);
  EXPECT_FALSE(c.vae_tiling);
  EXPECT_EQ(c.job_retention, std::chrono::seconds(600));
  EXPECT_FALSE(c.finish_running_on_shutdown);
  EXPECT_TRUE(c.flash_attention);
  EXPECT_EQ(c.keepalive_interval, std::chrono::milliseconds(15000));
  EXPECT_EQ(c.heartbeat_interval, std::chrono::milliseconds(30000));
  EXPECT_TRUE(c.sd_version.empty());  // detected from the model
  EXPECT_EQ(c.model_id(), model_dir());
}

TEST(WorkerFlags, MissingRequiredFlagsExitWithCode2AndOneLine) {
  expect_usage_error(parse({"--port", "8123", "--model-path", model_dir()}), "--worker-id");
  expect_usage_error(parse({"--worker-id", "w1", "--model-path", model_dir()}), "--port");
  expect_usage_error(parse({"--worker-id", "w1", "--port", "8123"}), "--model-path");
}

TEST(WorkerFlags, InvalidValuesExitWithCode2NamingTheFlag) {
  std::vector<std::string> base = {"--worker-id", "w1", "--model-path", model_dir()};
  auto with = [&](std::vector<std::string> extra) {
    auto args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return parse(args);
  };
  expect_usage_error(with({"--port", "70000"}), "--port");
  expect_usage_error(with({"--port", "http"}), "--port");
  expect_usage_error(with({"--port", "1", "--sd-version", "v9"}), "--sd-version v9");
  expect_usage_error(with({"--port", "1", "--dtype", "f64"}), "--dtype");
  expect_usage_error(with({"--port", "1", "--dtype", "bf16", "--use-f16"}), "--use-f16");
  expect_usage_error(with({"--port", "1", "--dtype", "f16"}), "--dtype f16");
  expect_usage_error(with({"--port", "1", "--queue-capacity", "0"}), "--queue-capacity");
  expect_usage_error(with({"--port", "1", "--on-shutdown", "later"}), "--on-shutdown");
  expect_usage_error(with({"--port", "1", "--callback-url", "hive:9000"}), "--callback-url");
  expect_usage_error(with({"--port", "1", "--no-such-flag"}), "--no-such-flag");
  expect_usage_error(with({"--port", "1", "--vae-tiling", "--vae-tile-size", "100"}), "--vae-tile-size");
  expect_usage_error(with({"--port", "1", "--vae-tiling", "--vae-tile-size", "32"}), "--vae-tile-size");
  expect_usage_error(with({"--port", "1", "--vae-tiling", "--vae-tile-size", "99999999999"}), "--vae-tile-size");
  expect_usage_error(with({"--port", "1", "--vae-tile-size", "256"}), "--vae-tiling");
  expect_usage_error(parse({"--worker-id", "w1", "--port", "1", "--model-path", "/no/such/model"}),
                     "--model-path /no/such/model");
}

TEST(WorkerFlags, EveryListedFlagReadsItsEnvironmentVariable) {
  ScopedEnv env;
  env.set("WORKER_ID", "env-worker");
  env.set("PORT", "9001");
  env.set("HOST", "0.0.0.0");
  env.set("SD_VERSION", "1.5");
  env.set("CALLBACK_URL", "http://127.0.0.1:7000/");
  env.set("MODEL", "my-model");
  env.set("MODEL_PATH", model_dir());
  env.set("CUDA_DEVICE", "1");
  env.set("USE_F16", "1");
  env.set("USE_FLASH_ATTN", "false");
  env.set("SD_WORKER_API_TOKEN", "secret");
  auto o = parse({});
  ASSERT_TRUE(o.config) << o.message;
  const auto& c = *o.config;
  EXPECT_EQ(c.worker_id, "env-worker");
  EXPECT_EQ(c.port, 9001);
  EXPECT_EQ(c.host, "0.0.0.0");
  EXPECT_EQ(c.sd_version, "v1-5");
  EXPECT_EQ(c.callback_url, "http://127.0.0.1:7000/");
  EXPECT_EQ(c.model_id(), "my-model");
  EXPECT_EQ(c.model_path, model_dir());
  EXPECT_EQ(c.device_index, 1);
  EXPECT_EQ(c.dtype, pipeline::default_cpu_dtype(c.load_options()))
      << "--use-f16 is a GPU flag; the CPU worker keeps auto";
  EXPECT_FALSE(c.flash_attention);
  EXPECT_EQ(c.api_token, "secret");
}

TEST(WorkerFlags, FlagsWinOverEnvironment) {
  ScopedEnv env;
  env.set("PORT", "9001");
  auto o = parse({"--worker-id", "w1", "--port", "9002", "--model-path", model_dir()});
  ASSERT_TRUE(o.config) << o.message;
  EXPECT_EQ(o.config->port, 9002);
}

TEST(WorkerFlags, CallbackUrlAliasesAndVersionSpellings) {
  for (const char* flag : {"--callback-url", "--queen-url", "--hive-url"}) {
    auto o = parse({"--worker-id", "w1", "--port", "1", "--model-path", model_dir(), flag, "http://h:1"});
    ASSERT_TRUE(o.config) << flag << ": " << o.message;
    EXPECT_EQ(o.config->callback_url, "http://h:1");
  }
  for (auto [given, canonical] : std::vector<std::pair<std::string, std::string>>{
           {"V1.5", "v1-5"}, {"2.1", "v2-1"}, {"XL", "xl"}, {"sd-turbo", "sd-turbo"}, {"v1-5-inpaint", "v1-5-inpaint"}}) {
    auto o = parse({"--worker-id", "w1", "--port", "1", "--model-path", model_dir(), "--sd-version", given});
    ASSERT_TRUE(o.config) << given << ": " << o.message;
    EXPECT_EQ(o.config->sd_version, canonical);
  }
}

TEST(WorkerFlags, ModelNamesAPathAVersionOrARepo) {
  // A local path: loaded from there.
  auto o = parse({"--worker-id", "w1", "--port", "1", "--model", model_dir()});
  ASSERT_TRUE(o.config) << o.message;
  EXPECT_EQ(o.config->load_options().model, model_dir());
  EXPECT_EQ(o.config->model_id(), model_dir());
  // With --model-path, --model only names the model (a version there is the one expected).
  o = parse({"--worker-id", "w1", "--port", "1", "--model", "v1.5", "--model-path", model_dir()});
  ASSERT_TRUE(o.config) << o.message;
  EXPECT_EQ(o.config->sd_version, "v1-5");
  EXPECT_EQ(o.config->model_id(), "v1.5");
  EXPECT_EQ(o.config->load_options().model_path, model_dir());
  EXPECT_EQ(o.config->load_options().model, "");
  // A repo id or a version alone: fetched when the engine loads, not while parsing flags.
  o = parse({"--worker-id", "w1", "--port", "1", "--model", "stabilityai/sdxl-turbo"});
  ASSERT_TRUE(o.config) << o.message;
  EXPECT_EQ(o.config->load_options().model, "stabilityai/sdxl-turbo");
  o = parse({"--worker-id", "w1", "--port", "1", "--sd-version", "xl"});
  ASSERT_TRUE(o.config) << o.message;
  EXPECT_EQ(o.config->model_id(), "xl");
  // Neither a path, a version nor a repo id.
  expect_usage_error(parse({"--worker-id", "w1", "--port", "1", "--model", "not a model"}), "--model not a model");
  expect_usage_error(parse({"--worker-id", "w1", "--port", "1", "--model", "v1-5", "--sd-version", "xl"}),
                     "name different versions");
}

TEST(WorkerFlags, PreviewsFollowTaesd) {
  std::vector<std::string> base = {"--worker-id", "w1", "--port", "1", "--model-path", model_dir()};
  auto o = parse(base);
  ASSERT_TRUE(o.config) << o.message;
  EXPECT_EQ(o.config->preview, pipeline::PreviewMode::LatentRgb);
  auto args = base;
  args.insert(args.end(), {"--taesd", "/models/taesd"});
  o = parse(args);
  ASSERT_TRUE(o.config) << o.message;
  EXPECT_EQ(o.config->preview, pipeline::PreviewMode::Taesd);
  EXPECT_EQ(o.config->load_options().taesd_path, "/models/taesd");
  args.insert(args.end(), {"--preview", "latent"});
  o = parse(args);
  ASSERT_TRUE(o.config) << o.message;
  EXPECT_EQ(o.config->preview, pipeline::PreviewMode::LatentRgb);
  args = base;
  args.insert(args.end(), {"--preview", "taesd"});
  expect_usage_error(parse(args), "--preview taesd needs --taesd");
  args = base;
  args.insert(args.end(), {"--preview-every", "0"});
  expect_usage_error(parse(args), "--preview-every");
  args = base;
  args.insert(args.end(), {"--lora-dir", "/no/such/lora/folder"});
  expect_usage_error(parse(args), "--lora-dir");
  args = base;
  args.insert(args.end(), {"--max-memory", "lots"});
  expect_usage_error(parse(args), "--max-memory");
}

TEST(WorkerFlags, WorkerSettings) {
  const std::string lora_a = sd::test::temp_dir("flags-lora-a"), lora_b = sd::test::temp_dir("flags-lora-b");
  auto o = parse({"--worker-id", "w1", "--port", "1", "--model-path", model_dir(), "--queue-capacity", "3",
                  "--preview", "none", "--preview-every", "2", "--job-retention", "60", "--on-shutdown", "finish", "--dtype", "f32",
                  "--threads", "2", "--tokenizer-dir", "/tok", "--lora-dir", lora_a, "--lora-dir", lora_b + ":" + lora_a, "--keepalive-interval-ms",
                  "50", "--heartbeat-interval-ms", "100", "--no-use-flash-attn", "--vae-tiling", "--vae-tile-size", "256",
                  "--max-memory", "3GiB"});
  ASSERT_TRUE(o.config) << o.message;
  const auto& c = *o.config;
  EXPECT_EQ(c.queue_capacity, 3u);
  EXPECT_EQ(c.preview, pipeline::PreviewMode::None);
  EXPECT_EQ(c.preview_every, 2);
  EXPECT_EQ(c.job_retention, std::chrono::seconds(60));
  EXPECT_TRUE(c.finish_running_on_shutdown);
  EXPECT_EQ(c.dtype, DType::F32);
  EXPECT_EQ(c.threads, 2);
  EXPECT_EQ(c.tokenizer_dir, "/tok");
  auto load = c.load_options();
  EXPECT_EQ(load.model_path, model_dir());
  EXPECT_EQ(load.tokenizer_dir, "/tok");
  EXPECT_EQ(load.threads, 2);
  EXPECT_EQ(load.dtype, DType::F32);
  EXPECT_EQ(c.lora_dirs, (std::vector<std::string>{lora_a, lora_b, lora_a}));
  EXPECT_EQ(c.keepalive_interval, std::chrono::milliseconds(50));
  EXPECT_EQ(c.heartbeat_interval, std::chrono::milliseconds(100));
  EXPECT_FALSE(c.flash_attention);
  EXPECT_TRUE(c.vae_tiling);
  EXPECT_EQ(c.vae_tile_size, 256);
  EXPECT_EQ(c.max_memory, uint64_t(3) << 30);
}

TEST(WorkerFlags, PublicMetricsIsOffUnlessAskedFor) {
  const std::vector<std::string> base = {"--worker-id", "w1", "--port", "1", "--model-path", model_dir()};
  auto o = parse(base);
  ASSERT_TRUE(o.config) << o.message;
  EXPECT_FALSE(o.config->public_metrics);
  auto args = base;
  args.push_back("--public-metrics");
  o = parse(args);
  ASSERT_TRUE(o.config) << o.message;
  EXPECT_TRUE(o.config->public_metrics);
  ScopedEnv env;
  env.set("SD_WORKER_PUBLIC_METRICS", "1");
  o = parse(base);
  ASSERT_TRUE(o.config) << o.message;
  EXPECT_TRUE(o.config->public_metrics);
}

TEST(WorkerFlags, HelpExitsWithZeroAndListsTheFlags) {
  auto o = parse({"--help"});
  EXPECT_FALSE(o.config);
  EXPECT_EQ(o.exit_code, 0);
  for (const char* flag : {"--worker-id", "--port", "--callback-url", "--api-token", "--tokenizer-dir"})
    EXPECT_NE(o.message.find(flag), std::string::npos) << flag;
  EXPECT_EQ(o.message.find("--keepalive-interval-ms"), std::string::npos) << "test hooks stay hidden";
}

}  // namespace
}  // namespace sd::server
