#include "sampling/scheduler.h"

#include <algorithm>

#include "core/error.h"

namespace sd::sampling {

void Scheduler::set_timesteps(int steps) {
  timesteps_.clear();
  sigmas_.clear();
  plan(steps);
  inference_steps_ = steps;
  last_index_ = -1;
}

int Scheduler::start_index(double strength) const {
  SD_CHECK(inference_steps_ > 0, "set_timesteps has not been called");
  if (!(strength > 0.0 && strength <= 1.0))
    throw Error("strength must be in (0, 1], got " + std::to_string(strength));
  const int init_steps = std::min(int(double(inference_steps_) * strength), inference_steps_);
  if (init_steps == 0)
    throw Error("strength " + std::to_string(strength) + " with " + std::to_string(inference_steps_) +
                " steps leaves no denoising step; raise the strength or the step count");
  return (inference_steps_ - init_steps) * order_;
}

void Scheduler::check_index(int index, const char* what) const {
  SD_CHECK(!timesteps_.empty(), std::string(what) + " before set_timesteps");
  SD_CHECK(index >= 0 && index < int(timesteps_.size()),
           std::string(what) + ": step index " + std::to_string(index) + " outside [0, " +
               std::to_string(timesteps_.size()) + ")");
}

Tensor Scheduler::scale_model_input(const Tensor& sample, int index) const {
  check_index(index, "scale_model_input");
  return scale(sample, index);
}

Tensor Scheduler::scale(const Tensor& sample, int) const { return sample; }

StepResult Scheduler::step(const Tensor& model_output, int index, const Tensor& sample,
                           NoiseGenerator& noise) {
  check_index(index, "step");
  SD_CHECK(last_index_ < 0 || index == last_index_ + 1,
           "step " + std::to_string(index) + " after step " + std::to_string(last_index_) +
               ": steps must be consecutive");
  SD_CHECK(model_output.shape() == sample.shape(),
           "model output " + model_output.shape().str() + " vs sample " + sample.shape().str());
  StepResult r = advance(model_output, index, sample, noise);
  last_index_ = index;
  return r;
}

Tensor Scheduler::add_noise(const Tensor& original, const Tensor& noise, int index) const {
  check_index(index, "add_noise");
  SD_CHECK(original.shape() == noise.shape(),
           "noise " + noise.shape().str() + " vs latent " + original.shape().str());
  return noised(original, noise, index);
}

}  // namespace sd::sampling
