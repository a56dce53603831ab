// PNDMScheduler (diffusers 0.31) with skip_prk_steps: the pseudo linear multistep (PLMS)
// sampler. Its warm-up evaluates the model twice at the first step, so timesteps() lists
// the second timestep twice (N+1 step calls): the second call redoes the first step with
// the average of both outputs. Later steps extrapolate the model output from up to four
// previous ones (Adams-Bashforth). Draws no noise. Only the default schedule: the
// multistep formula assumes equal steps.
#include <cmath>
#include <deque>

#include "core/error.h"
#include "sampling/alpha_scheduler.h"
#include "sampling/latent_math.h"
#include "sampling/numpy_compat.h"
#include "sampling/schedulers.h"

namespace sd::sampling {

namespace {

class Pndm : public AlphaScheduler {
 public:
  Pndm(const SchedulerConfig& config, Schedule schedule)
      : AlphaScheduler(config, schedule, {.name = "pndm", .set_alpha_to_one = false}) {
    if (schedule != Schedule::Default) throw Error("pndm supports only the default schedule");
    if (!config.skip_prk_steps.value_or(false))
      throw Error("pndm: only skip_prk_steps = true (PLMS) is supported");
    if (config.prediction_type == "sample")
      throw Error("pndm: prediction_type 'sample' is not supported (as in diffusers)");
  }

 protected:
  void plan(int steps) override {
    std::vector<double> desc = spaced_timesteps(spacing_, config_.num_train_timesteps, steps, config_.steps_offset);
    // [t0, t1, t1, t2, ..., t_{N-1}] descending: the second timestep repeated.
    for (size_t i = 0; i < desc.size(); ++i) {
      const float t = float(np::round(desc[i]));
      timesteps_.push_back(t);
      if (i == 1) timesteps_.push_back(t);
    }
    check_timesteps();
    stride_ = config_.num_train_timesteps / steps;
    outputs_.clear();
    counter_ = 0;
  }

  StepResult advance(const Tensor& model_output, int index, const Tensor& sample, NoiseGenerator&) override {
    int64_t t = int64_t(timesteps_[size_t(index)]);
    int64_t prev_t = t - stride_;
    Tensor eps_out = model_output, from = sample;
    if (counter_ == 1) {  // the warm-up's second call: redo the first step
      prev_t = t;
      t = t + stride_;
      eps_out = lincomb({{0.5, model_output}, {0.5, outputs_.front()}});
      from = first_sample_;
    } else {
      outputs_.push_front(model_output.clone());
      if (outputs_.size() > 4) outputs_.pop_back();
      const auto& e = outputs_;
      if (counter_ == 0) {
        first_sample_ = sample.clone();
      } else if (e.size() == 2) {
        eps_out = lincomb({{1.5, e[0]}, {-0.5, e[1]}});
      } else if (e.size() == 3) {
        eps_out = lincomb({{23.0 / 12, e[0]}, {-16.0 / 12, e[1]}, {5.0 / 12, e[2]}});
      } else if (e.size() == 4) {
        eps_out = lincomb({{55.0 / 24, e[0]}, {-59.0 / 24, e[1]}, {37.0 / 24, e[2]}, {-9.0 / 24, e[3]}});
      }
    }
    ++counter_;
    return {previous(from, eps_out, t, prev_t), denoised(model_output, sample, int64_t(timesteps_[size_t(index)]))};
  }

 private:
  // Formula (9) of the PNDM paper: from t to prev_t along the combined model output.
  Tensor previous(const Tensor& sample, const Tensor& model_output, int64_t t, int64_t prev_t) const {
    const double a = alpha_cumprod(t), a_prev = alpha_cumprod(prev_t);
    const double b = 1 - a, b_prev = 1 - a_prev;
    Tensor eps = model_output;
    if (config_.prediction_type == "v_prediction")
      eps = lincomb({{std::sqrt(a), model_output}, {std::sqrt(b), sample}});
    const double sample_coeff = std::sqrt(a_prev / a);
    const double denom = a * std::sqrt(b_prev) + std::sqrt(a * b * a_prev);
    return lincomb({{sample_coeff, sample}, {-(a_prev - a) / denom, eps}});
  }

  // The clean-latent estimate of this call's own model output, for previews.
  Tensor denoised(const Tensor& model_output, const Tensor& sample, int64_t t) const {
    Tensor x0, eps;
    split(model_output, sample, t, x0, eps);
    return x0;
  }

  int stride_ = 0;
  int counter_ = 0;
  std::deque<Tensor> outputs_;  // model outputs, newest first
  Tensor first_sample_;
};

}  // namespace

std::unique_ptr<Scheduler> make_pndm(const SchedulerConfig& config, Schedule schedule) {
  return std::make_unique<Pndm>(config, schedule);
}

}  // namespace sd::sampling
