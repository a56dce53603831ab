// sd-generate --batch-size: N files from one run, each the file a run with its seed alone
// writes; sizes outside 1..8 are a usage error.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "apps/usage_error.h"
#include "support/process.h"
#include "support/test_support.h"

namespace sd {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> tiny_args(const std::string& seed, const std::string& output) {
  return {test::bin_dir() + "/sd-generate", "--model-path", test::fixtures_dir() + "/tiny-sd15",
          "--tokenizer-dir", test::data_dir() + "/clip", "--prompt", "a photo of a cat", "--steps", "3",
          "--sampler", "euler_a", "--seed", seed, "--width", "64", "--height", "64", "--dtype", "f32",
          "--threads", "1", "--output", output};
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

TEST(SdGenerateBatch, BatchOfThreeWritesTheFilesOfThreeSingleRuns) {
  SD_SKIP_WITHOUT_DATA("clip");
  const std::string dir = test::temp_dir("sdgen-batch");
  auto args = tiny_args("70", dir + "/cat.png");
  args.insert(args.end(), {"--batch-size", "3"});
  const auto r = test::run_process(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(dir + "/cat.png"));
  for (int k = 0; k < 3; ++k) {
    const std::string batch_file = dir + "/cat-" + std::to_string(k + 1) + ".png";
    ASSERT_TRUE(fs::exists(batch_file)) << r.err;
    EXPECT_NE(r.err.find(batch_file), std::string::npos) << r.err;
    const std::string single = dir + "/single-" + std::to_string(k) + ".png";
    const auto s = test::run_process(tiny_args(std::to_string(70 + k), single));
    ASSERT_EQ(s.exit_code, 0) << s.err;
    EXPECT_TRUE(file_bytes(batch_file) == file_bytes(single)) << batch_file << " differs from the run with seed "
                                                              << 70 + k;
  }
  EXPECT_FALSE(file_bytes(dir + "/cat-1.png") == file_bytes(dir + "/cat-2.png"));
}

TEST(SdGenerateBatch, SizesOutsideOneToEightAreUsageErrors) {
  const std::string dir = test::temp_dir("sdgen-batch-bad");
  for (const char* n : {"0", "9", "two"}) {
    auto args = tiny_args("1", dir + "/x.png");
    args.insert(args.end(), {"--batch-size", n});
    test::expect_usage_error(test::run_process(args), "--batch-size", dir + "/x.png");
  }
}

}  // namespace
}  // namespace sd
