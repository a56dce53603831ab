#include "sampling/sigma_scheduler.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "sampling/latent_math.h"
#include "sampling/numpy_compat.h"

namespace sd::sampling {

SigmaScheduler::SigmaScheduler(const SchedulerConfig& config, Schedule schedule, const Options& options)
    : Scheduler(options.order),
      config_(config),
      schedule_(schedule),
      spacing_(resolve_spacing(config, Spacing::Linspace)),
      options_(options) {
  // A class without the rescale_betas_zero_snr option ignores the key, as diffusers does.
  config_.rescale_betas_zero_snr = config.rescale_betas_zero_snr && options.zero_snr;
  std::vector<float> acp = make_alphas_cumprod(make_betas(config_, BetaDefaults{}));
  // Zero terminal SNR would make the first sigma infinite; diffusers nudges it.
  if (config_.rescale_betas_zero_snr) acp.back() = 0x1p-24f;
  train_sigmas_ = train_sigmas(acp);
  integer_timesteps_ = false;
}

void SigmaScheduler::plan_sigmas(int steps, std::vector<float>& timesteps, std::vector<float>& sigmas) const {
  const int train_steps = config_.num_train_timesteps;
  // diffusers keeps these timesteps in float32 before interpolating.
  std::vector<double> t = spaced_timesteps(spacing_, train_steps, steps, config_.steps_offset);
  for (double& v : t) v = double(float(v));
  std::vector<double> s(t.size());
  for (size_t i = 0; i < t.size(); ++i) s[i] = np::interp(t[i], train_sigmas_);

  if (schedule_ != Schedule::Default) {
    double lo = s.back(), hi = s.front();
    if (options_.config_sigma_range) {
      lo = config_.sigma_min.value_or(lo);
      hi = config_.sigma_max.value_or(hi);
    }
    s = schedule_ == Schedule::Karras ? karras_sigmas(lo, hi, steps) : exponential_sigmas(lo, hi, steps);
    for (size_t i = 0; i < s.size(); ++i) t[i] = sigma_to_t(s[i], train_sigmas_);
  }
  double last = 0.0;
  if (options_.config_final_sigma && config_.final_sigmas_type == "sigma_min") last = train_sigmas_.front();

  timesteps.assign(t.begin(), t.end());
  sigmas.assign(s.begin(), s.end());
  sigmas.push_back(float(last));
  for (float v : timesteps)
    SD_CHECK(v >= 0 && v <= float(train_steps - 1),
             std::string(options_.name) + ": timestep " + std::to_string(v) +
                 " outside the training schedule (check steps_offset)");
}

void SigmaScheduler::plan(int steps) { plan_sigmas(steps, timesteps_, sigmas_); }

float SigmaScheduler::init_noise_sigma() const {
  SD_CHECK(!sigmas_.empty(), "init_noise_sigma before set_timesteps");
  const float max_sigma = *std::max_element(sigmas_.begin(), sigmas_.end());
  if (spacing_ == Spacing::Linspace || spacing_ == Spacing::Trailing) return max_sigma;
  return std::sqrt(max_sigma * max_sigma + 1.0f);
}

Tensor SigmaScheduler::scale(const Tensor& sample, int index) const {
  const float s = sigmas_[size_t(index)];
  return divide(sample, std::sqrt(s * s + 1.0f));
}

Tensor SigmaScheduler::noised(const Tensor& original, const Tensor& noise, int index) const {
  return lincomb({{1.0, original}, {double(sigmas_[size_t(index)]), noise}});
}

Tensor SigmaScheduler::predict_x0(const Tensor& model_output, const Tensor& sample, float sigma) const {
  const double s = sigma;
  if (config_.prediction_type == "epsilon") return lincomb({{1.0, sample}, {-s, model_output}});
  if (config_.prediction_type == "v_prediction")
    return lincomb({{1.0 / (s * s + 1.0), sample}, {-s / std::sqrt(s * s + 1.0), model_output}});
  return model_output;  // "sample"
}

}  // namespace sd::sampling
