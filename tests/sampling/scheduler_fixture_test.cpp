// Every scheduler against diffusers 0.31 on the fixtures: the scheduler-only trajectories
// (sched.<name>.*), fed the stored model outputs, and the scheduler side of the stored
// txt2img/img2img runs (fed the stored guided noise predictions).
#include <gtest/gtest.h>

#include <cmath>

#include "sampling/noise_schedule.h"
#include "sampling/scheduler_factory.h"
#include "sampling_test_util.h"

namespace sd::sampling {
namespace {

using namespace test_util;

struct Case {
  const char* model;     // whose scheduler_config.json is the base config
  const char* key;       // sched.<key>.*
  const char* sampler;
  const char* schedule;
  bool extra = false;    // in extra-references.safetensors rather than the model's reference
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.model << "/" << c.key; }

io::SafetensorsFile trajectories(const Case& c) {
  return c.extra ? io::SafetensorsFile::open(sd::test::fixtures_dir() + "/extra-references.safetensors")
                 : reference(c.model);
}

class SchedulerTrajectory : public ::testing::TestWithParam<Case> {};

// Runs the fixture's fake-model loop on `config` and compares everything stored.
void check_trajectory(const Case& c, const SchedulerConfig& config) {
  auto f = trajectories(c);
  const std::string p = std::string("sched.") + c.key + ".";
  auto sched = make_scheduler(c.sampler, c.schedule, config);
  sched->set_timesteps(10);

  // Timesteps: exact for the int64 schedulers, rel 1e-6 for the float ones.
  const Tensor ref_t = f.view(p + "timesteps");
  const std::vector<float> want_t = ref_t.to_floats();
  EXPECT_EQ(sched->integer_timesteps(), ref_t.dtype() == DType::I64);
  ASSERT_EQ(sched->timesteps().size(), want_t.size());
  for (size_t i = 0; i < want_t.size(); ++i) {
    if (sched->integer_timesteps())
      EXPECT_EQ(sched->timesteps()[i], want_t[i]) << "timestep " << i;
    else
      EXPECT_NEAR(sched->timesteps()[i], want_t[i], 1e-6 * std::fabs(want_t[i]) + 1e-6) << "timestep " << i;
  }
  if (f.contains(p + "sigmas")) {
    const std::vector<float> want_s = f.load(p + "sigmas", DType::F32).to_floats();
    ASSERT_EQ(sched->sigmas().size(), want_s.size());
    for (size_t i = 0; i < want_s.size(); ++i)
      EXPECT_NEAR(sched->sigmas()[i], want_s[i], 1e-6 * want_s[i]) << "sigma " << i;
  }
  const float want_ins = f.load(p + "init_noise_sigma", DType::F32).item();
  EXPECT_NEAR(sched->init_noise_sigma(), want_ins, 1e-6 * want_ins);

  const Tensor samples = f.load(p + "samples", DType::F32);
  const Tensor inputs = f.load(p + "model_inputs", DType::F32);
  const Tensor outputs = f.load(p + "model_outputs", DType::F32);
  const Tensor start = f.load("sched.start", DType::F32);
  Tensor x = Tensor::from_floats(start.to_floats(), start.shape());
  {
    auto v = x.to_floats();
    for (float& e : v) e *= sched->init_noise_sigma();
    x = Tensor::from_floats(v, x.shape());
  }
  ASSERT_TRUE(test::tensors_close(x, row(samples, 0), step_tol(row(samples, 0))));

  RecordingGenerator gen(1000);
  const bool has_denoised = f.contains(p + "denoised");
  for (int i = 0; i < sched->num_steps(); ++i) {
    const Tensor want_in = row(inputs, i);
    EXPECT_TRUE(test::tensors_close(sched->scale_model_input(x, i), want_in, step_tol(want_in))) << "input " << i;
    StepResult r = sched->step(row(outputs, i), i, x, gen);
    const Tensor want = row(samples, i + 1);
    ASSERT_TRUE(test::tensors_close(r.prev_sample, want, step_tol(want))) << "after step " << i;
    if (has_denoised) {
      const Tensor want_d = row(f.load(p + "denoised", DType::F32), i);
      EXPECT_TRUE(test::tensors_close(r.denoised, want_d, step_tol(want_d))) << "denoised " << i;
    }
    x = r.prev_sample;
  }

  // The noise the steps drew is the stored noise, draw for draw.
  if (f.contains(p + "noise")) {
    const Tensor noise = f.load(p + "noise", DType::F32);
    ASSERT_EQ(int64_t(gen.draws.size()), noise.size(0));
    for (size_t k = 0; k < gen.draws.size(); ++k)
      EXPECT_EQ(test::max_abs_diff(gen.draws[k], row(noise, int64_t(k))), 0.0) << "draw " << k;
  } else {
    EXPECT_TRUE(gen.draws.empty());
  }
}

TEST_P(SchedulerTrajectory, MatchesDiffusersFromTheModelConfig) {
  check_trajectory(GetParam(), model_config(GetParam().model));
}

// The effective config diffusers reports (every key explicit, timestep_spacing included)
// gives the same trajectory as the bare model config with class defaults.
TEST_P(SchedulerTrajectory, MatchesDiffusersFromTheEffectiveConfig) {
  const Case& c = GetParam();
  auto meta = metadata_json(trajectories(c), std::string("sched.") + c.key + ".config");
  check_trajectory(c, parse_scheduler_config(meta.at("effective_config")));
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, SchedulerTrajectory,
    ::testing::Values(Case{"tiny-sd15", "ddim", "ddim", "default"}, Case{"tiny-sd15", "euler", "euler", "default"},
                      Case{"tiny-sd15", "euler_a", "euler_a", "default"},
                      Case{"tiny-sd15", "dpmpp_2m", "dpmpp_2m", "default"},
                      Case{"tiny-sd15", "dpmpp_2m_karras", "dpmpp_2m", "karras"},
                      Case{"tiny-sd15", "lcm", "lcm", "default"}, Case{"tiny-sd15", "pndm", "pndm", "default"},
                      Case{"tiny-sd15", "heun", "heun", "default"}, Case{"tiny-sd15", "lms", "lms", "default"},
                      Case{"tiny-sd21v", "ddim_v", "ddim", "default"},
                      Case{"tiny-sd21v", "euler_v", "euler", "default"},
                      Case{"tiny-sd15", "unipc", "unipc", "default", true},
                      Case{"tiny-sd15", "unipc_karras", "unipc", "karras", true},
                      Case{"tiny-sd21v", "unipc_v", "unipc", "default", true},
                      Case{"tiny-sd15", "dpmpp_2m_sde", "dpmpp_2m_sde", "default", true},
                      Case{"tiny-sd21v", "dpmpp_2m_sde_v", "dpmpp_2m_sde", "default", true},
                      Case{"tiny-sd15", "euler_karras", "euler", "karras", true},
                      Case{"tiny-sd15", "lms_karras", "lms", "karras", true},
                      Case{"tiny-sd15", "heun_karras", "heun", "karras", true},
                      Case{"tiny-sd15", "euler_exponential", "euler", "exponential", true}),
    [](const ::testing::TestParamInfo<Case>& info) {
      return std::string(info.param.model == std::string("tiny-sd21v") ? "sd21v_" : "sd15_") + info.param.key;
    });

// The training schedule itself: diffusers' float32 betas and alphas_cumprod, bit for bit.
TEST(SchedulerFixtures, TrainingScheduleMatchesBitForBit) {
  auto f = reference("tiny-sd15");
  SchedulerConfig c = model_config("tiny-sd15");
  std::vector<float> betas = make_betas(c, BetaDefaults{});
  std::vector<float> acp = make_alphas_cumprod(betas);
  EXPECT_EQ(betas, f.load("sched.betas", DType::F32).to_floats());
  EXPECT_EQ(acp, f.load("sched.alphas_cumprod", DType::F32).to_floats());
}

// The scheduler half of a stored txt2img run: from init_noise * init_noise_sigma, each step
// fed the stored guided noise prediction must land on the stored latents, and the UNet
// input must be the stored one.
void check_txt2img(const std::string& model, const std::string& s, const std::string& sampler,
                   const std::vector<float>& want_timesteps) {
  SCOPED_TRACE(model + " t2i." + s);
  auto f = reference(model);
  const std::string p = "t2i." + s + ".";
  auto sched = make_scheduler(sampler, "default", model_config(model));
  sched->set_timesteps(4);
  EXPECT_EQ(sched->timesteps(), want_timesteps);
  EXPECT_EQ(f.view(p + "timesteps").to_floats(), want_timesteps);

  const Tensor noise = f.load("t2i.init_noise", DType::F32);
  std::vector<float> v = noise.to_floats();
  for (float& e : v) e *= sched->init_noise_sigma();
  Tensor x = Tensor::from_floats(v, noise.shape());
  const Tensor guided = f.load(p + "noise_pred_guided", DType::F32);
  const Tensor latents = f.load(p + "latents", DType::F32);
  const Tensor unet_in = f.load(p + "unet_input", DType::F32);
  TorchCpuGenerator gen(0);  // none of these samplers draws
  for (int i = 0; i < 4; ++i) {
    // The UNet input rows are the (uncond, cond) copies of one scaled latent.
    const Tensor want_in = row(row(unet_in, i), 1).unsqueeze(0);
    EXPECT_TRUE(test::tensors_close(sched->scale_model_input(x, i), want_in, 1e-5 * test::max_abs(want_in)));
    x = sched->step(row(guided, i), i, x, gen).prev_sample;
    const Tensor want = row(latents, i);
    ASSERT_TRUE(test::tensors_close(x, want, 1e-5 * test::max_abs(want))) << "step " << i;
  }
}

TEST(SchedulerFixtures, Txt2ImgRunsOfTinySd15) {
  check_txt2img("tiny-sd15", "ddim", "ddim", {751, 501, 251, 1});
  check_txt2img("tiny-sd15", "euler", "euler", {999, 666, 333, 0});
  check_txt2img("tiny-sd15", "dpmpp_2m", "dpmpp_2m", {999, 749, 500, 250});
  auto sched = make_scheduler("euler", "default", model_config("tiny-sd15"));
  sched->set_timesteps(4);
  auto meta = metadata_json(reference("tiny-sd15"), "t2i.euler.config");
  EXPECT_NEAR(sched->init_noise_sigma(), meta.at("init_noise_sigma").get<double>(), 1e-6 * 14.6);
}

TEST(SchedulerFixtures, Txt2ImgRunOfTinySd21V) { check_txt2img("tiny-sd21v", "ddim", "ddim", {751, 501, 251, 1}); }

// SDXL's config names "leading" spacing: Euler starts at 751 with sqrt(sigma_max^2 + 1).
TEST(SchedulerFixtures, Txt2ImgRunOfTinySdxlUsesLeadingSpacing) {
  check_txt2img("tiny-sdxl", "euler", "euler", {751, 501, 251, 1});
  auto f = reference("tiny-sdxl");
  auto sched = make_scheduler("euler", "default", model_config("tiny-sdxl"));
  sched->set_timesteps(4);
  const std::vector<float> want = f.load("t2i.sigmas", DType::F32).to_floats();
  ASSERT_EQ(sched->sigmas().size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(sched->sigmas()[i], want[i], 1e-6 * want[i]);
  const float ins = f.load("t2i.init_noise_sigma", DType::F32).item();
  EXPECT_NEAR(sched->init_noise_sigma(), ins, 1e-6 * ins);
  EXPECT_NEAR(ins, std::sqrt(want[0] * want[0] + 1.0f), 1e-6 * ins);
}

// img2img with strength 0.5 on 4 DDIM steps starts at index 2 (timesteps 251, 1), noises
// the encoded latent to timestep 251 and continues from there.
TEST(SchedulerFixtures, Img2ImgStartsHalfWay) {
  auto f = reference("tiny-sd15");
  auto sched = make_scheduler("ddim", "default", model_config("tiny-sd15"));
  sched->set_timesteps(4);
  EXPECT_EQ(f.view("i2i.full_timesteps").to_floats(), sched->timesteps());
  const int first = sched->start_index(0.5f);
  ASSERT_EQ(first, 2);
  const std::vector<float> want_t = f.view("i2i.timesteps").to_floats();
  EXPECT_EQ(std::vector<float>(sched->timesteps().begin() + first, sched->timesteps().end()), want_t);

  const Tensor noisy = f.load("i2i.noisy_latents", DType::F32);
  Tensor x = sched->add_noise(f.load("i2i.init_latents", DType::F32), f.load("i2i.noise", DType::F32), first);
  ASSERT_TRUE(test::tensors_close(x, noisy, 1e-6 * test::max_abs(noisy)));
  const Tensor guided = f.load("i2i.noise_pred_guided", DType::F32);
  const Tensor latents = f.load("i2i.latents", DType::F32);
  TorchCpuGenerator gen(0);
  for (int k = 0; k < 2; ++k) {
    x = sched->step(row(guided, k), first + k, x, gen).prev_sample;
    ASSERT_TRUE(test::tensors_close(x, row(latents, k), 1e-5 * test::max_abs(row(latents, k)))) << k;
  }
}

}  // namespace
}  // namespace sd::sampling
