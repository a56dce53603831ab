// DDIMScheduler (diffusers 0.31) with eta = 0, as the pipelines call it: deterministic, draws
// no noise. Each step goes from t to t - T/N (diffusers' rule, also under "linspace" spacing
// where that is not the next listed timestep); below 0 it lands on the final alpha
// (1 with set_alpha_to_one, else acp[0]).
// diffusers has no Karras/exponential option for DDIM; here they give integer timesteps
// from those sigma spacings (as DPM-Solver does) and each step goes to the next listed
// timestep: the deterministic DDIM update is the Euler step in sigma space, which is how
// ComfyUI's "ddim" runs such schedules.
#include <cmath>

#include "sampling/alpha_scheduler.h"
#include "sampling/latent_math.h"
#include "sampling/numpy_compat.h"
#include "sampling/schedulers.h"

namespace sd::sampling {

namespace {

class Ddim : public AlphaScheduler {
 public:
  Ddim(const SchedulerConfig& config, Schedule schedule)
      : AlphaScheduler(config, schedule, {.name = "ddim", .set_alpha_to_one = true, .zero_snr = true}) {}

 protected:
  void plan(int steps) override {
    if (schedule_ == Schedule::Default) {
      for (double t : spaced_timesteps(spacing_, config_.num_train_timesteps, steps, config_.steps_offset))
        timesteps_.push_back(float(np::round(t)));
    } else {
      timesteps_ = respaced_timesteps(steps);
    }
    check_timesteps();
    stride_ = config_.num_train_timesteps / steps;
  }

  StepResult advance(const Tensor& model_output, int index, const Tensor& sample, NoiseGenerator&) override {
    const int64_t t = int64_t(timesteps_[size_t(index)]);
    int64_t prev_t = t - stride_;
    if (schedule_ != Schedule::Default)
      prev_t = index + 1 < num_steps() ? int64_t(timesteps_[size_t(index) + 1]) : -1;
    Tensor x0, eps;
    split(model_output, sample, t, x0, eps);
    if (config_.clip_sample.value_or(true)) x0 = clamp(x0, config_.clip_sample_range);
    const double a_prev = alpha_cumprod(prev_t);
    return {lincomb({{std::sqrt(a_prev), x0}, {std::sqrt(1 - a_prev), eps}}), x0};
  }

 private:
  int stride_ = 0;
};

}  // namespace

std::unique_ptr<Scheduler> make_ddim(const SchedulerConfig& config, Schedule schedule) {
  return std::make_unique<Ddim>(config, schedule);
}

}  // namespace sd::sampling
