#include "sampling/multistep_scheduler.h"

#include <cmath>

#include "core/error.h"
#include "sampling/latent_math.h"
#include "sampling/numpy_compat.h"

namespace sd::sampling {

MultistepScheduler::MultistepScheduler(const SchedulerConfig& config, Schedule schedule, const char* name)
    : config_(config), schedule_(schedule), spacing_(resolve_spacing(config, Spacing::Linspace)), name_(name) {
  alphas_cumprod_ = make_alphas_cumprod(make_betas(config, BetaDefaults{}));
  // Zero terminal SNR would make the first sigma infinite; diffusers nudges it.
  if (config.rescale_betas_zero_snr) alphas_cumprod_.back() = 0x1p-24f;
  train_sigmas_ = train_sigmas(alphas_cumprod_);
  integer_timesteps_ = true;
}

void MultistepScheduler::plan_sigmas(int steps, int last_timestep) {
  const int train_steps = config_.num_train_timesteps;
  std::vector<int64_t> t = multistep_timesteps(spacing_, last_timestep, train_steps, steps, config_.steps_offset);
  std::vector<double> s;
  if (schedule_ == Schedule::Default) {
    for (int64_t v : t) s.push_back(np::interp(double(v), train_sigmas_));
  } else {
    // Respaced over the whole training range. diffusers rounds the Karras timesteps but
    // truncates the exponential ones (an int64 cast without round).
    const double lo = train_sigmas_.front(), hi = train_sigmas_.back();
    s = schedule_ == Schedule::Karras ? karras_sigmas(lo, hi, steps) : exponential_sigmas(lo, hi, steps);
    t.clear();
    for (double sigma : s) {
      const double tc = sigma_to_t(sigma, train_sigmas_);
      t.push_back(int64_t(schedule_ == Schedule::Karras ? np::round(tc) : tc));
    }
  }
  for (int64_t v : t) {
    if (v < 0 || v >= train_steps)
      throw Error(std::string(name_) + ": timestep " + std::to_string(v) +
                  " outside the training schedule (check steps and steps_offset)");
    timesteps_.push_back(float(v));
  }
  sigmas_.assign(s.begin(), s.end());
  sigmas_.push_back(config_.final_sigmas_type == "sigma_min" ? train_sigmas_.front() : 0.0f);
}

MultistepScheduler::AlphaSigma MultistepScheduler::at(int sigma_index) const {
  const double s = sigmas_[size_t(sigma_index)];
  const double alpha = 1.0 / std::sqrt(s * s + 1.0);
  const double sigma = s * alpha;
  return {alpha, sigma, std::log(alpha) - std::log(sigma)};
}

Tensor MultistepScheduler::data_prediction(const Tensor& model_output, const Tensor& sample, int index) const {
  const AlphaSigma a = at(index);
  if (config_.prediction_type == "epsilon")
    return lincomb({{1 / a.alpha, sample}, {-a.sigma / a.alpha, model_output}});
  if (config_.prediction_type == "v_prediction") return lincomb({{a.alpha, sample}, {-a.sigma, model_output}});
  return model_output;  // "sample"
}

Tensor MultistepScheduler::noised(const Tensor& original, const Tensor& noise, int index) const {
  const AlphaSigma a = at(index);
  return lincomb({{a.alpha, original}, {a.sigma, noise}});
}

}  // namespace sd::sampling
