#include "sampling/alpha_scheduler.h"

#include <cmath>

#include "core/error.h"
#include "sampling/latent_math.h"
#include "sampling/numpy_compat.h"

namespace sd::sampling {

AlphaScheduler::AlphaScheduler(const SchedulerConfig& config, Schedule schedule, const Options& options)
    : config_(config), schedule_(schedule), spacing_(resolve_spacing(config, Spacing::Leading)),
      name_(options.name) {
  config_.rescale_betas_zero_snr = config.rescale_betas_zero_snr && options.zero_snr;
  alphas_cumprod_ = make_alphas_cumprod(make_betas(config_, options.betas));
  final_alpha_cumprod_ = config.set_alpha_to_one.value_or(options.set_alpha_to_one) ? 1.0 : alphas_cumprod_[0];
  integer_timesteps_ = true;
}

double AlphaScheduler::alpha_cumprod(int64_t t) const {
  return t >= 0 ? double(alphas_cumprod_[size_t(t)]) : final_alpha_cumprod_;
}

Tensor AlphaScheduler::noised(const Tensor& original, const Tensor& noise, int index) const {
  const double a = alphas_cumprod_[size_t(timesteps_[size_t(index)])];
  return lincomb({{std::sqrt(a), original}, {std::sqrt(1 - a), noise}});
}

void AlphaScheduler::split(const Tensor& model_output, const Tensor& sample, int64_t t, Tensor& x0,
                           Tensor& eps) const {
  const double a = alpha_cumprod(t), sa = std::sqrt(a), sb = std::sqrt(1 - a);
  if (config_.prediction_type == "epsilon") {
    x0 = lincomb({{1 / sa, sample}, {-sb / sa, model_output}});
    eps = model_output;
  } else if (config_.prediction_type == "v_prediction") {
    x0 = lincomb({{sa, sample}, {-sb, model_output}});
    eps = lincomb({{sa, model_output}, {sb, sample}});
  } else {  // "sample"
    x0 = model_output;
    eps = lincomb({{1 / sb, sample}, {-sa / sb, model_output}});
  }
}

std::vector<float> AlphaScheduler::respaced_timesteps(int steps) const {
  const std::vector<float> table = train_sigmas(alphas_cumprod_);
  const std::vector<double> s = schedule_ == Schedule::Karras
                                    ? karras_sigmas(table.front(), table.back(), steps)
                                    : exponential_sigmas(table.front(), table.back(), steps);
  std::vector<float> t;
  for (double sigma : s) t.push_back(float(np::round(sigma_to_t(sigma, table))));
  return t;
}

void AlphaScheduler::check_timesteps() const {
  for (float t : timesteps_)
    if (t < 0 || t >= float(alphas_cumprod_.size()))
      throw Error(std::string(name_) + ": timestep " + std::to_string(int64_t(t)) +
                  " outside the training schedule (check steps and steps_offset)");
}

}  // namespace sd::sampling
