// HeunDiscreteScheduler (diffusers 0.31): Heun's second-order method in sigma space. Every
// step but the last takes two model evaluations, so timesteps() repeats each intermediate
// timestep and step() is called 2N-1 times: an Euler predictor (first order), then the
// corrector that averages both slopes (second order). The last step, to sigma 0, is Euler.
#include <optional>

#include "sampling/latent_math.h"
#include "sampling/schedulers.h"
#include "sampling/sigma_scheduler.h"

namespace sd::sampling {

namespace {

class Heun : public SigmaScheduler {
 public:
  Heun(const SchedulerConfig& config, Schedule schedule)
      : SigmaScheduler(config, schedule, {.name = "heun", .order = 2}) {}

 protected:
  void plan(int steps) override {
    std::vector<float> t, s;
    plan_sigmas(steps, t, s);
    // [t0, t1, t1, t2, t2, ...] and [s0, s1, s1, ..., s_{N-1}, s_{N-1}, 0]
    timesteps_ = {t[0]};
    for (size_t i = 1; i < t.size(); ++i) timesteps_.insert(timesteps_.end(), {t[i], t[i]});
    sigmas_ = {s[0]};
    for (size_t i = 1; i + 1 < s.size(); ++i) sigmas_.insert(sigmas_.end(), {s[i], s[i]});
    sigmas_.push_back(s.back());
    pending_.reset();
  }

  StepResult advance(const Tensor& model_output, int index, const Tensor& sample, NoiseGenerator&) override {
    const size_t i = size_t(index);
    if (!pending_) {  // predictor: Euler from sigma_i to sigma_{i+1}
      const float sigma = sigmas_[i];
      Tensor x0 = clipped(predict_x0(model_output, sample, sigma));
      Tensor slope = lincomb({{1.0 / sigma, sample}, {-1.0 / sigma, x0}});
      const double dt = double(sigmas_[i + 1]) - sigma;
      Tensor prev = lincomb({{1.0, sample}, {dt, slope}});
      pending_ = Pending{sample.clone(), slope, dt};
      return {prev, x0};
    }
    // corrector: the slope at the predicted point, averaged with the first one
    const float sigma_next = sigmas_[i];
    Tensor x0 = clipped(predict_x0(model_output, sample, sigma_next));
    const double dt = pending_->dt;
    Tensor prev = lincomb({{1.0, pending_->sample},
                           {0.5 * dt, pending_->slope},
                           {0.5 * dt / sigma_next, sample},
                           {-0.5 * dt / sigma_next, x0}});
    pending_.reset();
    return {prev, x0};
  }

 private:
  Tensor clipped(Tensor x0) const {
    return config_.clip_sample.value_or(false) ? clamp(x0, config_.clip_sample_range) : x0;
  }

  struct Pending {
    Tensor sample;  // where the predictor started
    Tensor slope;   // its derivative
    double dt;
  };
  std::optional<Pending> pending_;
};

}  // namespace

std::unique_ptr<Scheduler> make_heun(const SchedulerConfig& config, Schedule schedule) {
  return std::make_unique<Heun>(config, schedule);
}

}  // namespace sd::sampling
