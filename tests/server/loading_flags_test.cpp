// The worker's flags for what it loads beside the model: --vae and --embeddings-dir (and
// their environment variables) reach the loader, and paths that do not exist are refused
// with one line naming the flag.
#include <gtest/gtest.h>

#include <cstdlib>
#include <vector>

#include "server/worker_flags.h"
#include "support/test_support.h"

namespace sd::server {
namespace {

FlagsOutcome parse(std::vector<std::string> args) {
  args.insert(args.begin(), {"sd-worker-cpu", "--worker-id", "w1", "--port", "1", "--model-path",
                             sd::test::fixtures_dir() + "/tiny-sd15"});
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  return parse_worker_flags(int(argv.size()), argv.data(), "sd-worker-cpu", "cpu");
}

TEST(WorkerLoadingFlags, VaeEmbeddingsAndLoraFoldersReachTheLoader) {
  const std::string vae = sd::test::temp_dir("flags-vae"), embeddings = sd::test::temp_dir("flags-ti");
  const std::string loras = sd::test::temp_dir("flags-loras");
  auto o = parse({"--vae", vae, "--embeddings-dir", embeddings, "--lora-dir", loras});
  ASSERT_TRUE(o.config) << o.message;
  const auto load = o.config->load_options();
  EXPECT_EQ(load.vae_path, vae);
  EXPECT_EQ(load.embeddings_dir, embeddings);
  EXPECT_EQ(load.lora_dirs, std::vector<std::string>{loras});
}

TEST(WorkerLoadingFlags, EnvironmentVariables) {
  const std::string vae = sd::test::temp_dir("flags-env-vae"), embeddings = sd::test::temp_dir("flags-env-ti");
  setenv("SD_VAE_PATH", vae.c_str(), 1);
  setenv("SD_EMBEDDINGS_DIR", embeddings.c_str(), 1);
  auto o = parse({});
  unsetenv("SD_VAE_PATH");
  unsetenv("SD_EMBEDDINGS_DIR");
  ASSERT_TRUE(o.config) << o.message;
  EXPECT_EQ(o.config->vae_path, vae);
  EXPECT_EQ(o.config->embeddings_dir, embeddings);
}

TEST(WorkerLoadingFlags, MissingPathsAreOneLineNamingTheFlag) {
  for (const char* flag : {"--vae", "--embeddings-dir"}) {
    auto o = parse({flag, "/no/such/path"});
    EXPECT_FALSE(o.config);
    EXPECT_EQ(o.exit_code, 2);
    EXPECT_NE(o.message.find(flag), std::string::npos) << o.message;
    EXPECT_EQ(o.message.find('\n'), std::string::npos) << o.message;
  }
}

}  // namespace
}  // namespace sd::server
