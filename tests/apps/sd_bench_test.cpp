// sd-bench's phase timings on the tiny example's configs: each phase's ratio to the
// matmul rate of the same run, and the ratios of the runs timed between two agreeing
// measurements of that rate.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/process.h"
#include "support/test_support.h"

namespace sd {
namespace {

TEST(SdBench, ReportsEachPhaseAgainstTheMatmulRate) {
  const auto r = test::run_process({test::bin_dir() + "/sd-bench", "--config", SD_SOURCE_DIR "/examples/tiny-sd15",
                                    "--dtype", "f32", "--width", "64", "--height", "64", "--repeat", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  const double rate = j.at("matmul_tflops").get<double>();
  ASSERT_GT(rate, 0);
  for (const char* name : {"text_encoder", "unet_step", "vae_decode"}) {
    SCOPED_TRACE(name);
    const nlohmann::json& p = j.at("phases").at(name);
    const double seconds = p.at("seconds").get<double>(), tflop = p.at("tflop").get<double>();
    ASSERT_GT(seconds, 0);
    ASSERT_GT(tflop, 0);
    EXPECT_NEAR(p.at("limit_ratio").get<double>(), seconds / (tflop / rate), 1e-9 * seconds * rate / tflop);
    const int steady = p.at("steady_runs").get<int>();
    EXPECT_GE(steady, 0);
    EXPECT_LE(steady, 3);
    if (steady > 0)
      EXPECT_GT(p.at("steady_limit_ratio").get<double>(), 0);
    else
      EXPECT_EQ(p.at("steady_limit_ratio").get<double>(), 0);
  }
  EXPECT_NE(r.err.find("runs at a steady rate"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace sd
