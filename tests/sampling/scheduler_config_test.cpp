// Parsing scheduler_config.json, and how an absent key falls back to each class's default.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "sampling/scheduler_factory.h"
#include "sampling_test_util.h"

namespace sd::sampling {
namespace {

using nlohmann::json;

TEST(SchedulerConfig, ReadsTheRealSd15KeySet) {
  SchedulerConfig c = test_util::model_config("tiny-sd15");
  EXPECT_EQ(c.class_name, "DDIMScheduler");
  EXPECT_EQ(c.beta_schedule.value(), "scaled_linear");
  EXPECT_DOUBLE_EQ(c.beta_start.value(), 0.00085);
  EXPECT_DOUBLE_EQ(c.beta_end.value(), 0.012);
  EXPECT_EQ(c.steps_offset, 1);
  EXPECT_EQ(c.set_alpha_to_one, false);
  EXPECT_EQ(c.clip_sample, false);
  EXPECT_EQ(c.skip_prk_steps, true);
  EXPECT_FALSE(c.timestep_spacing.has_value());
  EXPECT_TRUE(c.trained_betas.empty());
  EXPECT_EQ(test_util::model_config("tiny-sd21v").prediction_type, "v_prediction");
  EXPECT_EQ(test_util::model_config("tiny-sdxl").timestep_spacing.value(), "leading");
}

// Without a timestep_spacing key each class uses its own default; with one, every class
// follows it. This is why SD1.5's Euler starts at 999 but SDXL's at 751.
TEST(SchedulerConfig, AbsentSpacingMeansEachClassDefault) {
  SchedulerConfig c = test_util::model_config("tiny-sd15");
  auto first = [&](const char* sampler) {
    auto s = make_scheduler(sampler, "default", c);
    s->set_timesteps(4);
    return s->timesteps().front();
  };
  EXPECT_EQ(first("ddim"), 751);      // leading + steps_offset
  EXPECT_EQ(first("pndm"), 751);
  EXPECT_EQ(first("euler"), 999);     // linspace
  EXPECT_EQ(first("euler_a"), 999);
  EXPECT_EQ(first("heun"), 999);
  EXPECT_EQ(first("lms"), 999);
  EXPECT_EQ(first("dpmpp_2m"), 999);
  EXPECT_EQ(first("unipc"), 999);
  c.timestep_spacing = "leading";
  EXPECT_EQ(first("euler"), 751);
  EXPECT_EQ(first("dpmpp_2m"), 801);  // arange(N+1) * (1000 // 5) + 1
  c.timestep_spacing = "trailing";
  EXPECT_EQ(first("ddim"), 999);
  EXPECT_EQ(first("euler"), 999);
}

TEST(SchedulerConfig, ClassDefaultsForAbsentKeys) {
  // DDIM: set_alpha_to_one and clip_sample default to true; PNDM needs skip_prk_steps.
  SchedulerConfig bare = parse_scheduler_config(json{{"beta_schedule", "scaled_linear"},
                                                     {"beta_start", 0.00085},
                                                     {"beta_end", 0.012}});
  EXPECT_THROW(make_scheduler("pndm", "default", bare), Error);
  auto ddim = make_scheduler("ddim", "default", bare);
  ddim->set_timesteps(1);
  // x0 from an epsilon of 100 is far outside [-1, 1]: clipped, then with the final alpha of
  // 1 (set_alpha_to_one) the single step returns x0 itself.
  Tensor x = Tensor::full({1, 4}, 0.5f);
  Tensor eps = Tensor::full({1, 4}, 100.0f);
  TorchCpuGenerator gen(0);
  EXPECT_EQ(ddim->step(eps, 0, x, gen).prev_sample.to_floats(), std::vector<float>(4, -1.0f));
}

TEST(SchedulerConfig, AcceptsPythonsNonFiniteSpellingsAndNulls) {
  SchedulerConfig c = parse_scheduler_config(json::parse(R"({
    "lambda_min_clipped": "-inf", "variance_type": null, "trained_betas": null,
    "sigma_min": null, "timestep_spacing": null, "use_karras_sigmas": true})"));
  EXPECT_TRUE(std::isinf(c.lambda_min_clipped) && c.lambda_min_clipped < 0);
  EXPECT_FALSE(c.sigma_min.has_value());
  EXPECT_FALSE(c.timestep_spacing.has_value());
  EXPECT_TRUE(c.use_karras_sigmas);
}

TEST(SchedulerConfig, WrongTypesAndUnsupportedFeaturesAreErrorsNamingTheKey) {
  auto message = [](const char* text) {
    try {
      parse_scheduler_config(json::parse(text));
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message(R"({"steps_offset": "one"})").find("steps_offset"), std::string::npos);
  EXPECT_NE(message(R"({"clip_sample": 1})").find("clip_sample"), std::string::npos);
  EXPECT_NE(message(R"({"prediction_type": "flow"})").find("prediction_type"), std::string::npos);
  EXPECT_NE(message(R"({"thresholding": true})").find("thresholding"), std::string::npos);
  EXPECT_NE(message(R"({"variance_type": "learned_range"})").find("variance_type"), std::string::npos);
  EXPECT_NE(message(R"({"interpolation_type": "log_linear"})").find("interpolation_type"), std::string::npos);
  EXPECT_NE(message(R"({"use_karras_sigmas": true, "use_exponential_sigmas": true})").find("use_karras_sigmas"),
            std::string::npos);
  EXPECT_NE(message(R"({"trained_betas": [0.1, "x"]})").find("trained_betas"), std::string::npos);
  EXPECT_NE(message(R"([1, 2])").find("object"), std::string::npos);
  EXPECT_EQ(message(R"({"some_future_key": {"a": 1}})"), "no error");
}

TEST(SchedulerConfig, BadSpacingOrBetaScheduleFailsWhenTheSchedulerIsMade) {
  SchedulerConfig c = test_util::model_config("tiny-sd15");
  c.timestep_spacing = "sometimes";
  EXPECT_THROW(make_scheduler("euler", "default", c), Error);
  c = test_util::model_config("tiny-sd15");
  c.beta_schedule = "quadratic";
  EXPECT_THROW(make_scheduler("ddim", "default", c), Error);
}

}  // namespace
}  // namespace sd::sampling
