#pragma once
// Base of the schedulers that step on the cumulative alphas of integer timesteps (diffusers'
// DDIM, PNDM and LCM schedulers): the UNet input is the latent itself, the initial noise
// has standard deviation 1, and img2img noise is sqrt(acp) x + sqrt(1 - acp) noise.
#include <vector>

#include "sampling/noise_schedule.h"
#include "sampling/scheduler.h"

namespace sd::sampling {

class AlphaScheduler : public Scheduler {
 protected:
  struct Options {
    const char* name;
    bool set_alpha_to_one;  // class default when the config does not say
    BetaDefaults betas{};
    bool zero_snr = false;  // has rescale_betas_zero_snr
  };
  AlphaScheduler(const SchedulerConfig& config, Schedule schedule, const Options& options);

  Tensor noised(const Tensor& original, const Tensor& noise, int index) const override;

  // acp of a timestep, or the final value for timesteps before 0.
  double alpha_cumprod(int64_t t) const;
  // The clean-latent and noise estimates from the model output at timestep t.
  void split(const Tensor& model_output, const Tensor& sample, int64_t t, Tensor& x0, Tensor& eps) const;
  // Karras/exponential noise levels over the whole training range, mapped to the nearest
  // integer timesteps (descending), for schedulers diffusers gives no such option.
  std::vector<float> respaced_timesteps(int steps) const;
  // Rejects timesteps the training schedule does not have.
  void check_timesteps() const;

  SchedulerConfig config_;
  Schedule schedule_;
  Spacing spacing_;
  const char* name_;
  std::vector<float> alphas_cumprod_;
  double final_alpha_cumprod_;
};

}  // namespace sd::sampling
