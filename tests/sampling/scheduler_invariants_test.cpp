// Properties every sampler must have, for the samplers and schedules without a diffusers
// trajectory in the fixtures (DPM++ 2M SDE, UniPC, the Karras/exponential variants, the
// other prediction types), plus the cross-checks that tie some of them to diffusers numbers.
#include <gtest/gtest.h>

#include <cmath>

#include "sampling/latent_math.h"
#include "sampling/noise_schedule.h"
#include "sampling/scheduler_factory.h"
#include "sampling_test_util.h"

namespace sd::sampling {
namespace {

using namespace test_util;

const Shape kShape{1, 4, 8, 8};

SchedulerConfig sd15_config(const std::string& prediction = "epsilon") {
  SchedulerConfig c = model_config("tiny-sd15");
  c.prediction_type = prediction;
  return c;
}

// alpha_t and sigma_t (VP) of the noise level the UNet sees at step i.
struct Level {
  double alpha, sigma;
};

Level level_at(const Scheduler& s, const SchedulerConfig& config, int i) {
  if (!s.sigmas().empty()) {
    const double k = s.sigmas()[size_t(i)];
    const double a = 1 / std::sqrt(k * k + 1);
    return {a, k * a};
  }
  const auto acp = make_alphas_cumprod(make_betas(config, BetaDefaults{}));
  const double a = acp[size_t(s.timesteps()[size_t(i)])];
  return {std::sqrt(a), std::sqrt(1 - a)};
}

bool works_on_sigmas(const std::string& sampler) {  // samples are x0 + sigma * noise
  return sampler == "euler" || sampler == "euler_a" || sampler == "heun" || sampler == "lms";
}

// A perfect denoiser: whatever the latent, the clean image is D. Returns the model output
// for the given prediction type at step i.
Tensor perfect_model(const Scheduler& s, const SchedulerConfig& config, const std::string& sampler,
                     const Tensor& x, const Tensor& d, int i) {
  const Level l = level_at(s, config, i);
  // the latent in variance-preserving form, alpha * D + sigma * eps
  const Tensor vp = works_on_sigmas(sampler) ? lincomb({{l.alpha, x}}) : x;
  const Tensor eps = lincomb({{1 / l.sigma, vp}, {-l.alpha / l.sigma, d}});
  if (config.prediction_type == "epsilon") return eps;
  if (config.prediction_type == "v_prediction") return lincomb({{l.alpha, eps}, {-l.sigma, d}});
  return d;
}

struct Trajectory {
  std::vector<Tensor> samples;   // after each step
  std::vector<Tensor> denoised;
  std::vector<Tensor> draws;
};

Trajectory run_perfect(const std::string& sampler, const std::string& schedule, const SchedulerConfig& config,
                int steps, uint64_t seed, const Tensor& d, const Tensor& start_noise) {
  auto s = make_scheduler(sampler, schedule, config);
  s->set_timesteps(steps);
  Tensor x = lincomb({{s->init_noise_sigma(), start_noise}});
  if (!works_on_sigmas(sampler)) x = lincomb({{level_at(*s, config, 0).alpha, d}, {level_at(*s, config, 0).sigma, start_noise}});
  else x = lincomb({{1.0, d}, {double(s->sigmas()[0]), start_noise}});
  RecordingGenerator gen(seed);
  Trajectory r;
  for (int i = 0; i < s->num_steps(); ++i) {
    StepResult out = s->step(perfect_model(*s, config, sampler, x, d, i), i, x, gen);
    x = out.prev_sample;
    r.samples.push_back(x);
    r.denoised.push_back(out.denoised);
  }
  r.draws = gen.draws;
  return r;
}

struct Deterministic {
  const char* sampler;
  const char* schedule;
};
void PrintTo(const Deterministic& c, std::ostream* os) { *os << c.sampler << "/" << c.schedule; }

class PerfectDenoiser : public ::testing::TestWithParam<std::tuple<Deterministic, const char*>> {};

// With a perfect denoiser the probability-flow ODE is linear in sigma, and every
// deterministic sampler here integrates it exactly: each step lands on D plus the starting
// noise at the next noise level, whatever the order, the schedule or the prediction type.
TEST_P(PerfectDenoiser, EveryStepLandsOnTheExactSolution) {
  const auto& [c, prediction] = GetParam();
  const std::string sampler = c.sampler;
  const SchedulerConfig config = sd15_config(prediction);
  TorchCpuGenerator g(5);
  const Tensor d = g.randn(kShape), noise = g.randn(kShape);
  auto s = make_scheduler(sampler, c.schedule, config);
  s->set_timesteps(7);
  const Trajectory r = run_perfect(sampler, c.schedule, config, 7, 0, d, noise);
  ASSERT_EQ(int(r.samples.size()), s->num_steps());
  EXPECT_TRUE(r.draws.empty());
  const auto acp = make_alphas_cumprod(make_betas(config, BetaDefaults{}));
  for (int i = 0; i < s->num_steps(); ++i) {
    Tensor want;
    if (works_on_sigmas(sampler)) {
      want = lincomb({{1.0, d}, {double(s->sigmas()[size_t(i) + 1]), noise}});
    } else if (!s->sigmas().empty()) {
      const double k = s->sigmas()[size_t(i) + 1], a = 1 / std::sqrt(k * k + 1);
      want = lincomb({{a, d}, {k * a, noise}});
    } else {  // DDIM, PNDM: to the next listed timestep, the last step to acp[0]
      const double a = i + 1 < s->num_steps() ? acp[size_t(s->timesteps()[size_t(i) + 1])] : acp[0];
      want = lincomb({{std::sqrt(a), d}, {std::sqrt(1 - a), noise}});
    }
    ASSERT_TRUE(test::tensors_close(r.samples[size_t(i)], want, 2e-5 * test::max_abs(want))) << "step " << i;
    ASSERT_TRUE(test::tensors_close(r.denoised[size_t(i)], d, 2e-5 * test::max_abs(d))) << "denoised " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllDeterministic, PerfectDenoiser,
    ::testing::Combine(::testing::Values(Deterministic{"ddim", "default"}, Deterministic{"ddim", "karras"},
                                         Deterministic{"euler", "default"}, Deterministic{"euler", "karras"},
                                         Deterministic{"euler", "exponential"}, Deterministic{"heun", "default"},
                                         Deterministic{"heun", "karras"}, Deterministic{"lms", "default"},
                                         Deterministic{"lms", "exponential"},
                                         Deterministic{"dpmpp_2m", "default"}, Deterministic{"dpmpp_2m", "karras"},
                                         Deterministic{"dpmpp_2m", "exponential"}, Deterministic{"unipc", "default"},
                                         Deterministic{"unipc", "karras"}, Deterministic{"unipc", "exponential"}),
                       ::testing::Values("epsilon", "v_prediction", "sample")),
    [](const auto& info) {
      const Deterministic& c = std::get<0>(info.param);
      return std::string(c.sampler) + "_" + c.schedule + "_" + std::get<1>(info.param);
    });

// PNDM takes no "sample" prediction, and it mixes raw v outputs across steps (as diffusers
// does), which is exact for epsilon only.
INSTANTIATE_TEST_SUITE_P(Pndm, PerfectDenoiser,
                         ::testing::Values(std::make_tuple(Deterministic{"pndm", "default"}, "epsilon")),
                         [](const auto&) { return std::string("pndm_default_epsilon"); });

// The ancestral and SDE samplers keep the marginal: after a step the latent is D at the
// new level plus noise of exactly the new level's size, mixing the old noise direction
// with the fresh draw.
TEST(StochasticSamplers, EulerAncestralMixesOldAndFreshNoiseToTheNextSigma) {
  const SchedulerConfig config = sd15_config();
  TorchCpuGenerator g(6);
  const Tensor d = g.randn(kShape), noise = g.randn(kShape);
  for (const char* schedule : {"default", "karras"}) {
    auto s = make_scheduler("euler_a", schedule, config);
    s->set_timesteps(6);
    const Trajectory r = run_perfect("euler_a", schedule, config, 6, 11, d, noise);
    ASSERT_EQ(r.draws.size(), 6u);  // one per step, the last one included
    Tensor direction = noise;       // unit-variance noise direction of the current latent
    for (int i = 0; i < 6; ++i) {
      const double from = s->sigmas()[size_t(i)], to = s->sigmas()[size_t(i) + 1];
      const double up = std::sqrt(to * to * (from * from - to * to) / (from * from));
      const double down = std::sqrt(to * to - up * up);
      EXPECT_NEAR(up * up + down * down, to * to, 1e-9 * (1 + to * to));
      const Tensor want = lincomb({{1.0, d}, {down, direction}, {up, r.draws[size_t(i)]}});
      ASSERT_TRUE(test::tensors_close(r.samples[size_t(i)], want, 2e-5 * test::max_abs(want))) << schedule << " " << i;
      if (to > 0) direction = lincomb({{down / to, direction}, {up / to, r.draws[size_t(i)]}});
    }
    EXPECT_TRUE(test::tensors_close(r.samples.back(), d, 1e-5 * test::max_abs(d)));
  }
}

TEST(StochasticSamplers, DpmSolverSdeMixesOldAndFreshNoiseToTheNextLevel) {
  const SchedulerConfig config = sd15_config();
  TorchCpuGenerator g(7);
  const Tensor d = g.randn(kShape), noise = g.randn(kShape);
  for (const char* schedule : {"default", "karras", "exponential"}) {
    auto s = make_scheduler("dpmpp_2m_sde", schedule, config);
    s->set_timesteps(8);
    const Trajectory r = run_perfect("dpmpp_2m_sde", schedule, config, 8, 12, d, noise);
    ASSERT_EQ(r.draws.size(), 8u);  // one per step, the last one included
    Tensor direction = noise;
    for (int i = 0; i < 8; ++i) {
      auto alpha_sigma = [&](int k) {
        const double sig = s->sigmas()[size_t(k)], a = 1 / std::sqrt(sig * sig + 1);
        return std::pair<double, double>{a, sig * a};
      };
      const auto [a_s, s_s] = alpha_sigma(i);
      const auto [a_t, s_t] = alpha_sigma(i + 1);
      // exp(-h) = (sigma_t / alpha_t) / (sigma_s / alpha_s)
      const double e = s_t > 0 ? (s_t / a_t) / (s_s / a_s) : 0.0;
      direction = lincomb({{e, direction}, {std::sqrt(1 - e * e), r.draws[size_t(i)]}});
      const Tensor want = lincomb({{a_t, d}, {s_t, direction}});
      ASSERT_TRUE(test::tensors_close(r.samples[size_t(i)], want, 2e-5 * test::max_abs(want))) << schedule << " " << i;
    }
    EXPECT_TRUE(test::tensors_close(r.samples.back(), d, 1e-6 * test::max_abs(d)));
  }
}

// Same seed, same result; another seed, another result: the noise comes from the generator.
TEST(StochasticSamplers, SeedDeterminesTheRun) {
  const SchedulerConfig config = sd15_config();
  TorchCpuGenerator g(8);
  const Tensor d = g.randn(kShape), noise = g.randn(kShape);
  for (const char* sampler : {"euler_a", "dpmpp_2m_sde", "lcm"}) {
    const Trajectory a = run_perfect(sampler, "default", config, 5, 21, d, noise);
    const Trajectory b = run_perfect(sampler, "default", config, 5, 21, d, noise);
    const Trajectory c = run_perfect(sampler, "default", config, 5, 22, d, noise);
    EXPECT_EQ(test::max_abs_diff(a.samples[2], b.samples[2]), 0.0) << sampler;
    EXPECT_GT(test::max_abs_diff(a.samples[2], c.samples[2]), 1e-3) << sampler;
  }
}

// The same clean-image and noise estimates given as epsilon, v or x0 must drive every
// sampler, stochastic ones included, along the same path.
TEST(PredictionTypes, EpsilonVAndSampleGiveTheSameTrajectory) {
  TorchCpuGenerator g(9);
  const Tensor d = g.randn(kShape), noise = g.randn(kShape);
  for (const std::string& sampler : sampler_names()) {
    if (sampler == "euler_a" || sampler == "pndm") continue;  // no "sample" in diffusers; checked below
    const Trajectory eps = run_perfect(sampler, "default", sd15_config("epsilon"), 6, 3, d, noise);
    for (const char* other : {"v_prediction", "sample"}) {
      const Trajectory r = run_perfect(sampler, "default", sd15_config(other), 6, 3, d, noise);
      for (size_t i = 0; i < eps.samples.size(); ++i)
        ASSERT_TRUE(test::tensors_close(r.samples[i], eps.samples[i], 2e-5 * test::max_abs(eps.samples[i])))
            << sampler << " " << other << " step " << i;
    }
  }
  // Euler a has no "sample" prediction in diffusers; PNDM neither, and it combines the raw
  // v outputs of several steps before converting them (diffusers does the same), so only
  // its first step, made from a single output, is the same for v and epsilon.
  for (const char* sampler : {"euler_a", "pndm"}) {
    const Trajectory eps = run_perfect(sampler, "default", sd15_config("epsilon"), 6, 3, d, noise);
    const Trajectory v = run_perfect(sampler, "default", sd15_config("v_prediction"), 6, 3, d, noise);
    const size_t same = std::string(sampler) == "pndm" ? 1 : eps.samples.size();
    for (size_t i = 0; i < same; ++i)
      ASSERT_TRUE(test::tensors_close(v.samples[i], eps.samples[i], 2e-5 * test::max_abs(eps.samples[i])))
          << sampler << " step " << i;
    EXPECT_THROW(make_scheduler(sampler, "default", sd15_config("sample")), Error);
  }
}

}  // namespace
}  // namespace sd::sampling
