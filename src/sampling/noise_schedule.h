#pragma once
// The training noise schedule every scheduler starts from (betas, cumulative alphas, the
// k-diffusion sigmas) and the timestep and sigma spacings diffusers derives from it.
#include <cstdint>
#include <string>
#include <vector>

#include "sampling/scheduler_config.h"

namespace sd::sampling {

// Where a scheduler class stands when the config leaves a beta parameter out.
struct BetaDefaults {
  double beta_start = 0.0001;
  double beta_end = 0.02;
  const char* beta_schedule = "linear";
};

// betas as diffusers builds them in float32 (torch.linspace for linear/scaled_linear, the
// Glide cosine for squaredcos_cap_v2, or trained_betas), rescaled to zero terminal SNR when
// the config asks. Throws sd::Error for an unknown beta_schedule.
std::vector<float> make_betas(const SchedulerConfig& config, const BetaDefaults& defaults);
// cumprod(1 - betas), accumulated in double as torch's CPU cumprod does.
std::vector<float> make_alphas_cumprod(const std::vector<float>& betas);
// sqrt((1 - acp) / acp) per training timestep (float32, ascending in t).
std::vector<float> train_sigmas(const std::vector<float>& alphas_cumprod);

// torch.linspace(start, end, steps) for float32 on CPU, element for element.
std::vector<float> torch_linspace_f32(float start, float end, int64_t steps);

enum class Spacing { Linspace, Leading, Trailing };
// The config's timestep_spacing, or the scheduler class's own default when it has none.
Spacing resolve_spacing(const SchedulerConfig& config, Spacing class_default);

// The N timesteps of DDIM, PNDM and the Euler family, descending and not yet rounded:
// linspace(0, T-1, N); leading arange(N) * (T // N) + steps_offset; trailing
// round(arange(T, 0, -T/N)) - 1.
std::vector<double> spaced_timesteps(Spacing spacing, int train_steps, int steps, int steps_offset);
// The N timesteps of DPM-Solver and UniPC (N+1 points, the last dropped), descending:
// linspace round(linspace(0, last-1, N+1)); leading arange(N+1) * (last // (N+1)) + offset;
// trailing round(arange(last, 0, -T/N)) - 1.
std::vector<int64_t> multistep_timesteps(Spacing spacing, int last_timestep, int train_steps,
                                         int steps, int steps_offset);

// The continuous timestep of a sigma: log-sigma interpolation in the training table
// (diffusers _sigma_to_t).
double sigma_to_t(double sigma, const std::vector<float>& train_sigmas);
// Karras et al. (2022) sigmas, rho = 7, from sigma_max down to sigma_min.
std::vector<double> karras_sigmas(double sigma_min, double sigma_max, int steps);
// Sigmas evenly spaced in log sigma from sigma_max down to sigma_min.
std::vector<double> exponential_sigmas(double sigma_min, double sigma_max, int steps);

}  // namespace sd::sampling
