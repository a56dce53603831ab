// EulerDiscreteScheduler (diffusers 0.31) with s_churn = 0, as the pipelines call it: the
// explicit Euler step of the probability-flow ODE in sigma space; draws no noise.
#include "sampling/latent_math.h"
#include "sampling/schedulers.h"
#include "sampling/sigma_scheduler.h"

namespace sd::sampling {

namespace {

class Euler : public SigmaScheduler {
 public:
  Euler(const SchedulerConfig& config, Schedule schedule)
      : SigmaScheduler(config, schedule,
                       {.name = "euler", .config_sigma_range = true, .config_final_sigma = true,
                        .zero_snr = true}) {}

 protected:
  StepResult advance(const Tensor& model_output, int index, const Tensor& sample, NoiseGenerator&) override {
    const float sigma = sigmas_[size_t(index)];
    const double ratio = double(sigmas_[size_t(index) + 1]) / double(sigma);
    Tensor x0 = predict_x0(model_output, sample, sigma);
    // x + (x - x0)/sigma * (sigma_next - sigma)
    Tensor prev = lincomb({{ratio, sample}, {1.0 - ratio, x0}});
    return {prev, x0};
  }
};

}  // namespace

std::unique_ptr<Scheduler> make_euler(const SchedulerConfig& config, Schedule schedule) {
  return std::make_unique<Euler>(config, schedule);
}

}  // namespace sd::sampling
