// The GPU front ends on a machine where no GPU can be used (this build without the CUDA
// backend, or no driver, or no device): sd-generate --device cuda, sd-bench --device cuda
// and sd-worker-cuda end at once with exit code 1 and one line saying why, before loading
// anything. Where a GPU is present, scripts/device-check.sh runs them on it instead.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "apps/usage_error.h"
#include "backend/backend.h"
#include "support/process.h"
#include "support/test_support.h"

namespace sd {
namespace {

const std::string kExample = SD_SOURCE_DIR "/examples/tiny-sd15";

bool gpu_present() {
  for (Device d : backend::available_devices())
    if (!d.is_cpu()) return true;
  return false;
}

// Exit code 1 and exactly one line on stderr containing `mentions`.
void expect_one_line_failure(const test::ProcessResult& r, const std::string& mentions) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  std::string line = r.err;
  while (!line.empty() && line.back() == '\n') line.pop_back();
  EXPECT_FALSE(line.empty());
  EXPECT_EQ(line.find('\n'), std::string::npos) << "more than one line:\n" << r.err;
  EXPECT_NE(r.err.find(mentions), std::string::npos) << r.err;
  // A CUDA build's programs load its backend library and give the driver's reason.
  EXPECT_EQ(r.err.find("cannot load the CUDA backend"), std::string::npos) << r.err;
}

class WithoutGpu : public ::testing::Test {
 protected:
  void SetUp() override {
    if (gpu_present()) GTEST_SKIP() << "a GPU is present: scripts/device-check.sh runs the GPU front ends";
  }
};

TEST_F(WithoutGpu, SdGenerateDeviceCudaEndsWithOneLine) {
  const std::string out = test::temp_dir("gpu_generate") + "/x.png";
  auto r = test::run_process({test::bin_dir() + "/sd-generate", "--model-path", kExample, "--prompt", "a cat",
                              "--device", "cuda:0", "--output", out});
  expect_one_line_failure(r, "device cuda:0");
  EXPECT_FALSE(std::filesystem::exists(out));
}

TEST_F(WithoutGpu, SdGenerateUnknownDeviceIsAUsageError) {
  const std::string out = test::temp_dir("gpu_generate_bad") + "/x.png";
  auto r = test::run_process({test::bin_dir() + "/sd-generate", "--model-path", kExample, "--prompt", "a cat",
                              "--device", "gpu0", "--output", out});
  test::expect_usage_error(r, "gpu0", out);
}

TEST_F(WithoutGpu, SdBenchDeviceCudaEndsWithOneLine) {
  auto r = test::run_process({test::bin_dir() + "/sd-bench", "--config", kExample, "--device", "cuda", "--dtype",
                              "f16"});
  expect_one_line_failure(r, "device cuda:0");
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST_F(WithoutGpu, SdBenchF16OnTheCpuIsAUsageError) {
  auto r = test::run_process({test::bin_dir() + "/sd-bench", "--config", kExample, "--dtype", "f16"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("f16"), std::string::npos) << r.err;
}

#ifdef SD_HAVE_CUDA_WORKER
TEST_F(WithoutGpu, SdWorkerCudaEndsWithOneLine) {
  // It ends before binding its port, so any port number does.
  auto r = test::run_process({test::bin_dir() + "/sd-worker-cuda", "--worker-id", "w-gpu", "--port", "18699",
                              "--model-path", kExample, "--device", "0"});
  expect_one_line_failure(r, "sd-worker-cuda: device cuda:0");
}

TEST_F(WithoutGpu, SdWorkerCudaFlagMistakesStillExit2) {
  auto r = test::run_process({test::bin_dir() + "/sd-worker-cuda", "--port", "8600", "--model-path", kExample});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--worker-id"), std::string::npos) << r.err;
}
#else
TEST(SdWorkerCuda, BuiltOnlyWithTheCudaToolkit) {
  EXPECT_FALSE(std::filesystem::exists(test::bin_dir() + "/sd-worker-cuda"));
  GTEST_SKIP() << "this build has no CUDA backend, so no sd-worker-cuda";
}
#endif

}  // namespace
}  // namespace sd
