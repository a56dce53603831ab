#pragma once
// Base of the schedulers that step in k-diffusion sigma space (diffusers' Euler, Euler
// ancestral, Heun and LMS discrete schedulers): float timesteps from the timestep spacing,
// sigmas interpolated from the training table or respaced (Karras, exponential), the UNet
// input scaled by 1/sqrt(sigma^2 + 1), img2img noise added as x + sigma * noise.
#include <vector>

#include "sampling/noise_schedule.h"
#include "sampling/scheduler.h"

namespace sd::sampling {

class SigmaScheduler : public Scheduler {
 public:
  float init_noise_sigma() const override;

 protected:
  struct Options {
    const char* name;                  // for messages
    int order = 1;
    bool config_sigma_range = false;   // Euler: config sigma_min/sigma_max bound Karras/exponential
    bool config_final_sigma = false;   // Euler: final_sigmas_type; the others always end at 0
    bool zero_snr = false;             // has rescale_betas_zero_snr (acp[-1] = 2^-24)
  };
  SigmaScheduler(const SchedulerConfig& config, Schedule schedule, const Options& options);

  // The N step timesteps and N+1 sigmas (the last one final) as diffusers computes them.
  void plan_sigmas(int steps, std::vector<float>& timesteps, std::vector<float>& sigmas) const;
  void plan(int steps) override;
  Tensor scale(const Tensor& sample, int index) const override;
  Tensor noised(const Tensor& original, const Tensor& noise, int index) const override;
  // The clean-latent estimate from the model output at noise level sigma.
  Tensor predict_x0(const Tensor& model_output, const Tensor& sample, float sigma) const;

  SchedulerConfig config_;
  Schedule schedule_;
  Spacing spacing_;
  Options options_;
  std::vector<float> train_sigmas_;
};

}  // namespace sd::sampling
