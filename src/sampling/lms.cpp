// LMSDiscreteScheduler (diffusers 0.31): linear multistep of order up to 4 on the ODE slope
// in sigma space. Each coefficient integrates a Lagrange basis polynomial through the last
// sigmas over [sigma_i, sigma_{i+1}]; diffusers asks scipy's quad, and a 4-point
// Gauss-Legendre rule is exact for these cubics.
#include <algorithm>
#include <deque>

#include "sampling/latent_math.h"
#include "sampling/schedulers.h"
#include "sampling/sigma_scheduler.h"

namespace sd::sampling {

namespace {

constexpr int kMaxOrder = 4;

class Lms : public SigmaScheduler {
 public:
  Lms(const SchedulerConfig& config, Schedule schedule)
      : SigmaScheduler(config, schedule, {.name = "lms"}) {}

 protected:
  void plan(int steps) override {
    SigmaScheduler::plan(steps);
    slopes_.clear();
  }

  StepResult advance(const Tensor& model_output, int index, const Tensor& sample, NoiseGenerator&) override {
    const float sigma = sigmas_[size_t(index)];
    Tensor x0 = predict_x0(model_output, sample, sigma);
    slopes_.push_front(lincomb({{1.0 / sigma, sample}, {-1.0 / sigma, x0}}));
    if (int(slopes_.size()) > kMaxOrder) slopes_.pop_back();
    // As diffusers: the order follows the step index, and only the coefficients of slopes
    // actually held are used (an img2img run starting mid-way has fewer).
    const int order = std::min(index + 1, kMaxOrder);
    std::vector<Term> terms{{1.0, sample}};
    for (int k = 0; k < order && k < int(slopes_.size()); ++k)
      terms.push_back({coefficient(order, index, k), slopes_[size_t(k)]});
    return {lincomb(terms), x0};
  }

 private:
  // Integral over [sigma_t, sigma_{t+1}] of the Lagrange basis polynomial that is 1 at
  // sigma_{t-k} and 0 at the other sigma_{t-j}, j < order.
  double coefficient(int order, int t, int k) const {
    auto basis = [&](double tau) {
      double prod = 1.0;
      for (int j = 0; j < order; ++j) {
        if (j == k) continue;
        const double sj = sigmas_[size_t(t - j)];
        prod *= (tau - sj) / (double(sigmas_[size_t(t - k)]) - sj);
      }
      return prod;
    };
    static constexpr double nodes[4] = {-0.8611363115940526, -0.3399810435848563, 0.3399810435848563,
                                        0.8611363115940526};
    static constexpr double weights[4] = {0.3478548451374538, 0.6521451548625461, 0.6521451548625461,
                                          0.3478548451374538};
    const double a = sigmas_[size_t(t)], b = sigmas_[size_t(t) + 1];
    const double half = (b - a) / 2, mid = (a + b) / 2;
    double sum = 0;
    for (int q = 0; q < 4; ++q) sum += weights[q] * basis(mid + half * nodes[q]);
    return sum * half;
  }

  std::deque<Tensor> slopes_;  // newest first
};

}  // namespace

std::unique_ptr<Scheduler> make_lms(const SchedulerConfig& config, Schedule schedule) {
  return std::make_unique<Lms>(config, schedule);
}

}  // namespace sd::sampling
