// DPMSolverMultistepScheduler (diffusers 0.31), solver order 2, as the A1111 samplers
// "DPM++ 2M" (algorithm_type dpmsolver++) and "DPM++ 2M SDE" (sde-dpmsolver++). The first
// step has no history and is first order; so is the last one when it ends at sigma 0
// (final_sigmas_type "zero"), with euler_at_final, or under lower_order_final for fewer
// than 15 steps. The SDE variant draws one randn per step, including the last, from the
// generator (diffusers 0.31 uses plain randn_tensor noise here, not a Brownian tree).
#include <cmath>

#include "core/error.h"
#include "sampling/latent_math.h"
#include "sampling/multistep_scheduler.h"
#include "sampling/schedulers.h"

namespace sd::sampling {

namespace {

class DpmSolverMultistep : public MultistepScheduler {
 public:
  DpmSolverMultistep(const SchedulerConfig& config, Schedule schedule, bool sde)
      : MultistepScheduler(config, schedule, sde ? "dpmpp_2m_sde" : "dpmpp_2m"), sde_(sde) {
    // Another class's solver_type (UniPC's bh1/bh2, DEIS' logrho) maps to midpoint, as in diffusers.
    const std::string type = config.solver_type.value_or("midpoint");
    if (type == "heun") {
      heun_ = true;
    } else if (type != "midpoint" && type != "bh1" && type != "bh2" && type != "logrho") {
      throw Error(std::string(name_) + ": solver_type '" + type + "' is not supported (midpoint, heun)");
    }
  }

 protected:
  void plan(int steps) override {
    // lambda_min_clipped drops the tail of timesteps whose lambda lies below it.
    int clipped = 0;
    for (float acp : alphas_cumprod_) {
      const double lambda = std::log(std::sqrt(double(acp))) - std::log(std::sqrt(1.0 - acp));
      if (lambda < config_.lambda_min_clipped) ++clipped;
    }
    plan_sigmas(steps, config_.num_train_timesteps - clipped);
    previous_x0_ = Tensor();
    history_ = 0;
  }

  StepResult advance(const Tensor& model_output, int index, const Tensor& sample,
                     NoiseGenerator& noise) override {
    const int n = num_steps();
    const bool last = index == n - 1;
    const bool lower_order_final =
        last && (config_.euler_at_final || (config_.lower_order_final && n < 15) ||
                 config_.final_sigmas_type == "zero");
    Tensor x0 = data_prediction(model_output, sample, index);
    Tensor z;
    if (sde_) z = noise.randn(model_output.shape());

    const AlphaSigma t = at(index + 1), s0 = at(index);
    const double h = t.lambda - s0.lambda;
    const bool second_order = history_ >= 1 && !lower_order_final;
    std::vector<Term> terms;
    if (!sde_) {
      const double em1 = std::expm1(-h);  // exp(-h) - 1
      terms = {{t.sigma / s0.sigma, sample}, {-t.alpha * em1, x0}};
      if (second_order) add_d1(terms, x0, index, h, heun_ ? t.alpha * (em1 / h + 1.0) : -0.5 * t.alpha * em1);
    } else {
      const double one_minus = -std::expm1(-2.0 * h);  // 1 - exp(-2h)
      terms = {{t.sigma / s0.sigma * std::exp(-h), sample}, {t.alpha * one_minus, x0}, {t.sigma * std::sqrt(one_minus), z}};
      if (second_order)
        add_d1(terms, x0, index, h, heun_ ? t.alpha * (one_minus / (-2.0 * h) + 1.0) : 0.5 * t.alpha * one_minus);
    }
    Tensor prev = lincomb(terms);
    previous_x0_ = x0.clone();
    if (history_ < 2) ++history_;
    return {prev, x0};
  }

 private:
  // Adds coeff * D1, where D1 = (x0 - previous x0) / r0 is the divided difference of the
  // data predictions, r0 = h_prev / h.
  void add_d1(std::vector<Term>& terms, const Tensor& x0, int index, double h, double coeff) const {
    const double h_prev = at(index).lambda - at(index - 1).lambda;
    const double c = coeff * h / h_prev;
    terms.push_back({c, x0});
    terms.push_back({-c, previous_x0_});
  }

  bool sde_;
  bool heun_ = false;
  Tensor previous_x0_;
  int history_ = 0;  // data predictions held (diffusers' lower_order_nums)
};

}  // namespace

std::unique_ptr<Scheduler> make_dpmpp_2m(const SchedulerConfig& config, Schedule schedule, bool sde) {
  return std::make_unique<DpmSolverMultistep>(config, schedule, sde);
}

}  // namespace sd::sampling
