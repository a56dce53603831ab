#pragma once
// One interface for every sampler, shaped after diffusers' schedulers so the denoising loop
// reads the same for all of them:
//
//   sched->set_timesteps(steps);
//   int first = img2img ? sched->start_index(strength) : 0;
//   x = img2img ? sched->add_noise(x0, gen.randn(shape), first)
//               : gen.randn(shape) * sched->init_noise_sigma();
//   for (int i = first; i < sched->num_steps(); ++i) {
//     eps = unet(sched->scale_model_input(x, i), sched->timesteps()[i]);
//     x = sched->step(eps, i, x, gen).prev_sample;
//   }
//
// Steps are addressed by their index in timesteps(), which is what diffusers tracks as
// step_index; step() must be called for consecutive indices (multistep schedulers keep
// history), starting anywhere after set_timesteps(). History is copied, so callers may
// reuse the tensors they pass in.
#include <string>
#include <vector>

#include "core/tensor.h"
#include "sampling/noise_generator.h"
#include "sampling/scheduler_config.h"

namespace sd::sampling {

// How the noise levels are spaced. Default: what the config says (the spacing of its
// timesteps, or its use_karras_sigmas/use_exponential_sigmas flag).
enum class Schedule { Default, Karras, Exponential };

struct StepResult {
  Tensor prev_sample;  // the latent for the next step
  Tensor denoised;     // the model's current estimate of the clean latent (for previews)
};

class Scheduler {
 public:
  virtual ~Scheduler() = default;
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Plans `steps` denoising steps and forgets all history.
  void set_timesteps(int steps);
  // The steps asked for in set_timesteps().
  int num_inference_steps() const { return inference_steps_; }
  // The timestep the UNet receives at each step() call, in order. Heun has 2N-1 entries
  // (each intermediate timestep twice), PNDM N+1 (its second timestep twice).
  const std::vector<float>& timesteps() const { return timesteps_; }
  int num_steps() const { return int(timesteps_.size()); }
  // True for the schedulers whose timesteps diffusers keeps as int64.
  bool integer_timesteps() const { return integer_timesteps_; }
  // k-diffusion noise levels sigma = sqrt((1-acp)/acp): one per step() plus the final one.
  // Empty for the schedulers that work on alphas (DDIM, PNDM, LCM).
  const std::vector<float>& sigmas() const { return sigmas_; }
  // step() calls per inference step: 2 for Heun, 1 for the others.
  int order() const { return order_; }

  // img2img: index of the first step for a denoising strength in (0, 1], as diffusers'
  // get_timesteps: t_start = steps - int(steps * strength), times order(). Throws sd::Error
  // when the strength leaves no step to run.
  int start_index(double strength) const;

  // Standard deviation of the initial noise for txt2img.
  virtual float init_noise_sigma() const { return 1.0f; }
  // The UNet input for step `index` (Euler family: x / sqrt(sigma^2 + 1); identity otherwise).
  Tensor scale_model_input(const Tensor& sample, int index) const;
  // One denoising step from the model output at timesteps()[index]. Schedulers that inject
  // noise (Euler a, DPM++ 2M SDE, LCM) draw it from `noise`.
  StepResult step(const Tensor& model_output, int index, const Tensor& sample, NoiseGenerator& noise);
  // img2img/inpaint: `original` noised to the level of step `index`.
  Tensor add_noise(const Tensor& original, const Tensor& noise, int index) const;

 protected:
  explicit Scheduler(int order = 1) : order_(order) {}

  // Fills timesteps_ (and sigmas_) for `steps` and clears any history.
  virtual void plan(int steps) = 0;
  virtual Tensor scale(const Tensor& sample, int index) const;
  virtual StepResult advance(const Tensor& model_output, int index, const Tensor& sample,
                             NoiseGenerator& noise) = 0;
  virtual Tensor noised(const Tensor& original, const Tensor& noise, int index) const = 0;

  std::vector<float> timesteps_;
  std::vector<float> sigmas_;
  bool integer_timesteps_ = true;

 private:
  void check_index(int index, const char* what) const;

  int order_;
  int inference_steps_ = 0;
  int last_index_ = -1;
};

}  // namespace sd::sampling
