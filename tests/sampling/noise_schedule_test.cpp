// The numpy/torch building blocks of the schedules and the sigma respacings, checked
// against values worked out by hand from diffusers' formulas.
#include <gtest/gtest.h>

#include <cmath>

#include "sampling/noise_schedule.h"
#include "sampling/numpy_compat.h"
#include "sampling_test_util.h"

namespace sd::sampling {
namespace {

TEST(NumpyCompat, RoundIsHalfToEven) {
  EXPECT_EQ(np::round(499.5), 500);
  EXPECT_EQ(np::round(500.5), 500);
  EXPECT_EQ(np::round(-0.5), 0);
  EXPECT_EQ(np::round(2.5000001), 3);
}

TEST(NumpyCompat, LinspaceEndsExactlyAndDropsTheEndpointWhenAsked) {
  auto v = np::linspace(0, 999, 11);
  ASSERT_EQ(v.size(), 11u);
  EXPECT_EQ(v[5], 499.5);
  EXPECT_EQ(v.back(), 999.0);
  auto w = np::linspace(0, 50, 10, false);
  ASSERT_EQ(w.size(), 10u);
  EXPECT_EQ(w[1], 5.0);
  EXPECT_EQ(w.back(), 45.0);
}

TEST(NumpyCompat, ArangeWithAFloatStepHasNumpysLength) {
  EXPECT_EQ(np::arange(1000, 0, -1000.0 / 3).size(), 3u);
  EXPECT_EQ(np::arange(1000, 0, -100).size(), 10u);
  auto v = np::arange(1000, 0, -1000.0 / 7);
  ASSERT_EQ(v.size(), 7u);
  EXPECT_NEAR(v[6], 1000 - 6000.0 / 7, 1e-9);
}

TEST(NumpyCompat, InterpHitsTableValuesAndClampsOutside) {
  std::vector<float> fp = {1.0f, 3.0f, 7.0f};
  EXPECT_EQ(np::interp(1, fp), 3.0);
  EXPECT_EQ(np::interp(0.25, fp), 1.5);
  EXPECT_EQ(np::interp(1.5, fp), 5.0);
  EXPECT_EQ(np::interp(-1, fp), 1.0);
  EXPECT_EQ(np::interp(9, fp), 7.0);
}

TEST(NoiseSchedule, LinearAndCosineBetasFollowTheirFormulas) {
  SchedulerConfig c;
  c.beta_schedule = "linear";
  auto lin = make_betas(c, BetaDefaults{});
  ASSERT_EQ(lin.size(), 1000u);
  EXPECT_FLOAT_EQ(lin.front(), 0.0001f);
  EXPECT_FLOAT_EQ(lin.back(), 0.02f);
  EXPECT_NEAR(lin[500], 0.0001 + 500 * (0.02 - 0.0001) / 999, 1e-9);

  c.beta_schedule = "squaredcos_cap_v2";
  auto cos = make_betas(c, BetaDefaults{});
  auto bar = [](double t) { return std::pow(std::cos((t + 0.008) / 1.008 * M_PI / 2), 2); };
  EXPECT_FLOAT_EQ(cos[10], float(1 - bar(0.011) / bar(0.010)));
  EXPECT_FLOAT_EQ(cos.back(), 0.999f);  // capped

  c.beta_schedule = "cosine";
  EXPECT_THROW(make_betas(c, BetaDefaults{}), Error);
}

TEST(NoiseSchedule, ZeroTerminalSnrRescaleEndsAtZeroAndKeepsTheStart) {
  SchedulerConfig c = test_util::model_config("tiny-sd15");
  auto plain = make_alphas_cumprod(make_betas(c, BetaDefaults{}));
  c.rescale_betas_zero_snr = true;
  auto rescaled = make_alphas_cumprod(make_betas(c, BetaDefaults{}));
  EXPECT_NEAR(rescaled.front(), plain.front(), 1e-6);
  EXPECT_LT(rescaled.back(), 1e-9);
  EXPECT_GT(plain.back(), 1e-3);
}

TEST(NoiseSchedule, TrainedBetasReplaceTheScheduleAndMustFit) {
  SchedulerConfig c;
  c.num_train_timesteps = 4;
  c.trained_betas = {0.1, 0.2, 0.3, 0.4};
  auto acp = make_alphas_cumprod(make_betas(c, BetaDefaults{}));
  EXPECT_FLOAT_EQ(acp[3], 0.9f * 0.8f * 0.7f * 0.6f);
  c.trained_betas.pop_back();
  EXPECT_THROW(make_betas(c, BetaDefaults{}), Error);
}

// Timestep tables for 10 of 1000 steps, written out from diffusers' formulas.
TEST(NoiseSchedule, SpacedTimestepsOfEachSpacing) {
  EXPECT_EQ(spaced_timesteps(Spacing::Leading, 1000, 10, 1),
            (std::vector<double>{901, 801, 701, 601, 501, 401, 301, 201, 101, 1}));
  EXPECT_EQ(spaced_timesteps(Spacing::Trailing, 1000, 10, 1),
            (std::vector<double>{999, 899, 799, 699, 599, 499, 399, 299, 199, 99}));
  auto lin = spaced_timesteps(Spacing::Linspace, 1000, 10, 1);
  EXPECT_EQ(lin.front(), 999);
  EXPECT_EQ(lin[1], 888);
  EXPECT_EQ(lin.back(), 0);
  // trailing with a step that does not divide: round(arange(1000, 0, -1000/3)) - 1
  EXPECT_EQ(spaced_timesteps(Spacing::Trailing, 1000, 3, 0), (std::vector<double>{999, 666, 332}));
  EXPECT_THROW(spaced_timesteps(Spacing::Leading, 1000, 0, 0), Error);
  EXPECT_THROW(spaced_timesteps(Spacing::Leading, 1000, 1001, 0), Error);
}

TEST(NoiseSchedule, MultistepTimestepsDropTheLastOfNPlusOnePoints) {
  EXPECT_EQ(multistep_timesteps(Spacing::Linspace, 1000, 1000, 4, 0), (std::vector<int64_t>{999, 749, 500, 250}));
  // leading: arange(N+1) * (1000 // (N+1)), reversed, last dropped, + offset
  EXPECT_EQ(multistep_timesteps(Spacing::Leading, 1000, 1000, 4, 1), (std::vector<int64_t>{801, 601, 401, 201}));
  EXPECT_EQ(multistep_timesteps(Spacing::Trailing, 1000, 1000, 4, 0), (std::vector<int64_t>{999, 749, 499, 249}));
}

TEST(NoiseSchedule, KarrasSigmasFollowRhoSeven) {
  const double lo = 0.0291675, hi = 14.614642;
  auto s = karras_sigmas(lo, hi, 5);
  ASSERT_EQ(s.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    const double r = i / 4.0;
    const double want = std::pow(std::pow(hi, 1 / 7.0) + r * (std::pow(lo, 1 / 7.0) - std::pow(hi, 1 / 7.0)), 7.0);
    EXPECT_NEAR(s[size_t(i)], want, 1e-12 * want);
  }
  EXPECT_NEAR(s.front(), hi, 1e-12);
  EXPECT_NEAR(s.back(), lo, 1e-12);
}

TEST(NoiseSchedule, ExponentialSigmasAreEvenInLogSigma) {
  auto s = exponential_sigmas(0.03, 14.6, 6);
  ASSERT_EQ(s.size(), 6u);
  const double ratio = s[1] / s[0];
  for (size_t i = 1; i < s.size(); ++i) EXPECT_NEAR(s[i] / s[i - 1], ratio, 1e-12);
  EXPECT_NEAR(s.front(), 14.6, 1e-12);
  EXPECT_NEAR(s.back(), 0.03, 1e-12);
}

TEST(NoiseSchedule, SigmaToTInvertsTheTable) {
  auto table = train_sigmas(make_alphas_cumprod(make_betas(test_util::model_config("tiny-sd15"), BetaDefaults{})));
  EXPECT_NEAR(sigma_to_t(table[0], table), 0.0, 1e-9);
  EXPECT_NEAR(sigma_to_t(table[999], table), 999.0, 1e-9);
  EXPECT_NEAR(sigma_to_t(table[500], table), 500.0, 1e-6);
  // halfway in log sigma between two neighbours lands halfway in t
  const double mid = std::sqrt(double(table[400]) * table[401]);
  EXPECT_NEAR(sigma_to_t(mid, table), 400.5, 1e-3);
  EXPECT_EQ(sigma_to_t(1e-6, table), 0.0);     // below the table
  EXPECT_EQ(sigma_to_t(1e6, table), 999.0);    // above it
}

}  // namespace
}  // namespace sd::sampling
