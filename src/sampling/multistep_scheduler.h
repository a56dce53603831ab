#pragma once
// Base of the exponential-integrator multistep solvers (diffusers' DPMSolverMultistep and
// UniPCMultistep schedulers): integer timesteps, sigmas from the training table or respaced
// (Karras, exponential), the model output turned into a data prediction x0, and the
// half-log-SNR lambda = log(alpha_t / sigma_t) as the integration variable.
#include <vector>

#include "sampling/noise_schedule.h"
#include "sampling/scheduler.h"

namespace sd::sampling {

class MultistepScheduler : public Scheduler {
 protected:
  struct AlphaSigma {
    double alpha;   // 1 / sqrt(sigma^2 + 1)
    double sigma;   // sigma * alpha
    double lambda;  // log(alpha) - log(sigma); +inf at sigma 0
  };

  MultistepScheduler(const SchedulerConfig& config, Schedule schedule, const char* name);

  // Timesteps and sigmas for `steps`, ending with the final sigma. last_timestep is the
  // first timestep above the schedule (T, or lower when lambda_min_clipped cuts the tail).
  void plan_sigmas(int steps, int last_timestep);
  AlphaSigma at(int sigma_index) const;
  // The data prediction x0 from the model output at step `index`.
  Tensor data_prediction(const Tensor& model_output, const Tensor& sample, int index) const;
  Tensor noised(const Tensor& original, const Tensor& noise, int index) const override;

  SchedulerConfig config_;
  Schedule schedule_;
  Spacing spacing_;
  const char* name_;
  std::vector<float> alphas_cumprod_;
  std::vector<float> train_sigmas_;
};

}  // namespace sd::sampling
