// sd-bench --e2e on the tiny example's configs: the folder it writes on disk, the load
// through the real pipeline, and the JSON figures it reports.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "support/process.h"
#include "support/test_support.h"

namespace sd {
namespace {

namespace fs = std::filesystem;

const std::string kExample = SD_SOURCE_DIR "/examples/tiny-sd15";

nlohmann::json run_e2e(std::vector<std::string> extra) {
  std::vector<std::string> argv = {test::bin_dir() + "/sd-bench", "--config", kExample, "--e2e", "--dtype", "f32",
                                   "--width", "64", "--height", "64"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  const auto r = test::run_process(argv);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return nlohmann::json::parse(r.out);  // one JSON line, the only thing on stdout
}

TEST(SdBenchE2e, WritesReusesAndReportsTheFolder) {
  const std::string dir = test::temp_dir("bench-e2e") + "/model";
  const nlohmann::json first = run_e2e({"--e2e-dir", dir, "--e2e-jobs", "2"});
  EXPECT_EQ(first["mode"], "e2e");
  EXPECT_EQ(first["device_name"].get<std::string>().rfind("cpu (", 0), 0u) << first["device_name"];
  EXPECT_EQ(first["folder_precision"], "f32");
  EXPECT_GT(first["write_seconds"].get<double>(), 0.0);
  const auto unet = io::SafetensorsFile::open(dir + "/unet/diffusion_pytorch_model.safetensors");
  EXPECT_EQ(unet.info("conv_in.weight").dtype_name, "F32");
  uint64_t bytes = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().extension() == ".safetensors") bytes += e.file_size();
  EXPECT_EQ(first["weight_bytes"].get<uint64_t>(), bytes);
  for (const char* k : {"load_seconds", "warm_read_seconds", "warm_up_seconds", "peak_rss_mb", "matmul_tflops"})
    EXPECT_GT(first[k].get<double>(), 0.0) << k;
  for (const char* k : {"load_cpu_seconds", "warm_read_cpu_seconds"})  // a tiny model's may round to 0
    EXPECT_GE(first[k].get<double>(), 0.0) << k;
  ASSERT_EQ(first["jobs"].size(), 2u);
  for (const auto& job : first["jobs"])
    for (const char* k : {"first_step_seconds", "second_step_seconds", "vae_decode_seconds", "seconds"})
      EXPECT_GT(job[k].get<double>(), 0.0) << k;

  // The folder is reused as it is (nothing written), and kept.
  const auto mtime = fs::last_write_time(dir + "/unet/diffusion_pytorch_model.safetensors");
  const nlohmann::json again = run_e2e({"--e2e-dir", dir, "--e2e-jobs", "1", "--no-warm-up"});
  EXPECT_FALSE(again.contains("write_seconds"));
  EXPECT_FALSE(again.contains("warm_up_seconds"));
  EXPECT_FALSE(again.contains("reload_seconds"));
  EXPECT_EQ(fs::last_write_time(dir + "/unet/diffusion_pytorch_model.safetensors"), mtime);

  // --e2e-reload: a second load timed too, and the job runs on it.
  const nlohmann::json reload = run_e2e({"--e2e-dir", dir, "--e2e-jobs", "1", "--no-warm-up", "--e2e-reload"});
  EXPECT_GT(reload["reload_seconds"].get<double>(), 0.0);
  EXPECT_GT(reload["reload_over_read"].get<double>(), 0.0);
  EXPECT_GE(reload["reload_cpu_seconds"].get<double>(), 0.0);
  ASSERT_EQ(reload["jobs"].size(), 1u);
  EXPECT_GT(reload["jobs"][0]["second_step_seconds"].get<double>(), 0.0);
}

TEST(SdBenchE2e, Fp16VariantInATempFolderThatIsRemoved) {
  const nlohmann::json j = run_e2e({"--e2e-variant", "fp16", "--e2e-jobs", "1"});
  EXPECT_EQ(j["folder_precision"], "fp16");
  EXPECT_GT(j["write_seconds"].get<double>(), 0.0);
  EXPECT_FALSE(fs::exists(j["folder"].get<std::string>()));
}

TEST(SdBenchE2e, FlagsWithoutEffectAreUsageErrors) {
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{"--e2e", "--batch", "2"}, {"--e2e-variant", "fp16"}, {"--e2e", "--repeat", "2"},
        {"--e2e-reload", "--dtype", "f32"}}) {
    std::vector<std::string> argv = {test::bin_dir() + "/sd-bench", "--config", kExample};
    argv.insert(argv.end(), extra.begin(), extra.end());
    const auto r = test::run_process(argv);
    EXPECT_EQ(r.exit_code, 2) << extra[0] << " " << extra[1] << ": " << r.err;
  }
}

}  // namespace
}  // namespace sd
