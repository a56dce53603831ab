// EulerAncestralDiscreteScheduler (diffusers 0.31): an Euler step down to sigma_down, then
// fresh noise of size sigma_up, one randn per step including the last (where sigma_up = 0).
// diffusers has no Karras/exponential option for this class; here they respace the sigmas
// exactly as EulerDiscreteScheduler does, which is A1111's and ComfyUI's "Euler a" with
// those schedules.
#include <cmath>

#include "core/error.h"
#include "sampling/latent_math.h"
#include "sampling/schedulers.h"
#include "sampling/sigma_scheduler.h"

namespace sd::sampling {

namespace {

class EulerAncestral : public SigmaScheduler {
 public:
  EulerAncestral(const SchedulerConfig& config, Schedule schedule)
      : SigmaScheduler(config, schedule, {.name = "euler_a", .zero_snr = true}) {
    if (config.prediction_type == "sample")
      throw Error("euler_a: prediction_type 'sample' is not supported (as in diffusers)");
  }

 protected:
  StepResult advance(const Tensor& model_output, int index, const Tensor& sample,
                     NoiseGenerator& noise) override {
    const double from = sigmas_[size_t(index)];
    const double to = sigmas_[size_t(index) + 1];
    const double up = std::sqrt(to * to * (from * from - to * to) / (from * from));
    const double down = std::sqrt(to * to - up * up);
    Tensor x0 = predict_x0(model_output, sample, float(from));
    const double ratio = down / from;
    Tensor eps = noise.randn(model_output.shape());
    Tensor prev = lincomb({{ratio, sample}, {1.0 - ratio, x0}, {up, eps}});
    return {prev, x0};
  }
};

}  // namespace

std::unique_ptr<Scheduler> make_euler_ancestral(const SchedulerConfig& config, Schedule schedule) {
  return std::make_unique<EulerAncestral>(config, schedule);
}

}  // namespace sd::sampling
