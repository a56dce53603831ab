// LCMScheduler (diffusers 0.31): latent consistency sampling. Each step maps the latent to
// its consistency-model estimate (boundary-condition scalings c_skip, c_out at
// timestep * timestep_scaling), then re-noises it to the next listed timestep with one
// randn, except at the last step. The timesteps are drawn from the distillation schedule
// of original_inference_steps (timestep_spacing and steps_offset play no part, as in
// diffusers).
// diffusers has no Karras/exponential option for LCM; here they give the integer
// timesteps of those sigma spacings (ComfyUI runs its "lcm" sampler on any schedule).
#include <cmath>

#include "core/error.h"
#include "sampling/alpha_scheduler.h"
#include "sampling/latent_math.h"
#include "sampling/numpy_compat.h"
#include "sampling/schedulers.h"

namespace sd::sampling {

namespace {

class Lcm : public AlphaScheduler {
 public:
  Lcm(const SchedulerConfig& config, Schedule schedule)
      : AlphaScheduler(config, schedule,
                       {.name = "lcm",
                        .set_alpha_to_one = true,
                        .betas = {.beta_start = 0.00085, .beta_end = 0.012, .beta_schedule = "scaled_linear"},
                        .zero_snr = true}) {}

 protected:
  void plan(int steps) override {
    if (schedule_ != Schedule::Default) {
      timesteps_ = respaced_timesteps(steps);
      check_timesteps();
      return;
    }
    const int train_steps = config_.num_train_timesteps;
    const int original = config_.original_inference_steps;
    if (original > train_steps)
      throw Error("lcm: original_inference_steps " + std::to_string(original) +
                  " exceeds num_train_timesteps " + std::to_string(train_steps));
    if (steps > original)
      throw Error("lcm: " + std::to_string(steps) + " steps exceed original_inference_steps " +
                  std::to_string(original));
    // The distillation timesteps k-1, 2k-1, ..., T-1 (k = T / original), newest first, and
    // N of them picked at evenly spaced positions.
    const int k = train_steps / original;
    std::vector<int64_t> origin;
    for (int i = original; i >= 1; --i) origin.push_back(int64_t(i) * k - 1);
    for (double pos : np::linspace(0, double(origin.size()), steps, false))
      timesteps_.push_back(float(origin[size_t(std::floor(pos))]));
  }

  StepResult advance(const Tensor& model_output, int index, const Tensor& sample,
                     NoiseGenerator& noise) override {
    const int64_t t = int64_t(timesteps_[size_t(index)]);
    const bool last = index == num_steps() - 1;
    const int64_t prev_t = last ? t : int64_t(timesteps_[size_t(index) + 1]);
    Tensor x0, eps;
    split(model_output, sample, t, x0, eps);
    if (config_.clip_sample.value_or(false)) x0 = clamp(x0, config_.clip_sample_range);
    // Boundary conditions of the consistency model (sigma_data = 0.5).
    const double scaled_t = double(t) * config_.timestep_scaling;
    const double c_skip = 0.25 / (scaled_t * scaled_t + 0.25);
    const double c_out = scaled_t / std::sqrt(scaled_t * scaled_t + 0.25);
    Tensor denoised = lincomb({{c_out, x0}, {c_skip, sample}});
    if (last) return {denoised, denoised};
    const double a_prev = alpha_cumprod(prev_t);
    Tensor z = noise.randn(model_output.shape());
    return {lincomb({{std::sqrt(a_prev), denoised}, {std::sqrt(1 - a_prev), z}}), denoised};
  }
};

}  // namespace

std::unique_ptr<Scheduler> make_lcm(const SchedulerConfig& config, Schedule schedule) {
  return std::make_unique<Lcm>(config, schedule);
}

}  // namespace sd::sampling
