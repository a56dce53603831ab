// UniPCMultistepScheduler (diffusers 0.31): the unified predictor-corrector of Zhao et al.
// (2023), B(h) variant bh2 by default, order solver_order (2 by default). Each step first
// corrects the latent the previous step predicted, using the new model output (UniC), then
// predicts the next latent from the model-output history (UniP). The order warms up from 1
// and, with lower_order_final, drops back toward the end. Draws no noise.
// Karras/exponential schedules end at final_sigmas_type (zero by default), as for the
// default schedule, so the last step removes all noise.
#include <cmath>
#include <deque>

#include "core/error.h"
#include "sampling/latent_math.h"
#include "sampling/multistep_scheduler.h"
#include "sampling/schedulers.h"

namespace sd::sampling {

namespace {

// Solves the n x n system a x = b (n <= 3) by Gaussian elimination with partial pivoting.
std::vector<double> solve(std::vector<std::vector<double>> a, std::vector<double> b) {
  const size_t n = b.size();
  for (size_t col = 0; col < n; ++col) {
    size_t pivot = col;
    for (size_t r = col + 1; r < n; ++r)
      if (std::fabs(a[r][col]) > std::fabs(a[pivot][col])) pivot = r;
    std::swap(a[col], a[pivot]);
    std::swap(b[col], b[pivot]);
    SD_CHECK(a[col][col] != 0, "unipc: singular system (repeated noise levels)");
    for (size_t r = col + 1; r < n; ++r) {
      const double f = a[r][col] / a[col][col];
      for (size_t c = col; c < n; ++c) a[r][c] -= f * a[col][c];
      b[r] -= f * b[col];
    }
  }
  std::vector<double> x(n);
  for (size_t i = n; i-- > 0;) {
    double v = b[i];
    for (size_t c = i + 1; c < n; ++c) v -= a[i][c] * x[c];
    x[i] = v / a[i][i];
  }
  return x;
}

class UniPc : public MultistepScheduler {
 public:
  UniPc(const SchedulerConfig& config, Schedule schedule) : MultistepScheduler(config, schedule, "unipc") {
    // DPM-Solver's and DEIS' solver types map to bh2, as in diffusers.
    const std::string type = config.solver_type.value_or("bh2");
    if (type == "bh1") {
      bh1_ = true;
    } else if (type != "bh2" && type != "midpoint" && type != "heun" && type != "logrho") {
      throw Error("unipc: solver_type '" + type + "' is not supported (bh1, bh2)");
    }
  }

 protected:
  void plan(int steps) override {
    plan_sigmas(steps, config_.num_train_timesteps);
    outputs_.clear();
    last_sample_ = Tensor();
    history_ = 0;
    this_order_ = 0;
  }

  StepResult advance(const Tensor& model_output, int index, const Tensor& sample, NoiseGenerator&) override {
    Tensor converted = convert(model_output, sample, index);
    Tensor x = sample;
    if (index > 0 && last_sample_.defined()) x = correct(converted, index);

    outputs_.push_front(converted.clone());
    if (int(outputs_.size()) > config_.solver_order) outputs_.pop_back();
    int order = config_.solver_order;
    if (config_.lower_order_final) order = std::min(order, num_steps() - index);
    this_order_ = std::min(order, history_ + 1);
    last_sample_ = x.clone();
    Tensor prev = predict(x, index, this_order_);
    if (history_ < config_.solver_order) ++history_;
    Tensor denoised = config_.predict_x0 ? converted : data_prediction(model_output, sample, index);
    return {prev, denoised};
  }

 private:
  // The model output in the form the solver integrates: x0 (predict_x0) or epsilon.
  Tensor convert(const Tensor& model_output, const Tensor& sample, int index) const {
    if (config_.predict_x0) return data_prediction(model_output, sample, index);
    const AlphaSigma a = at(index);
    if (config_.prediction_type == "epsilon") return model_output;
    if (config_.prediction_type == "v_prediction") return lincomb({{a.alpha, model_output}, {a.sigma, sample}});
    return lincomb({{1 / a.sigma, sample}, {-a.alpha / a.sigma, model_output}});  // "sample"
  }

  // The pieces both updates share, for a step from sigma index `from` to `to`.
  struct Coefficients {
    double h_phi_1;           // expm1(hh), hh = -h (x0 form) or h
    double b_h;               // B(h): hh (bh1) or expm1(hh) (bh2)
    std::vector<double> b;    // right-hand side of the order conditions
    double scale_x;           // sigma_t / sigma_s0 (x0 form) or alpha_t / alpha_s0
    double scale_m;           // alpha_t (x0 form) or sigma_t
  };
  Coefficients coefficients(int from, int to, int order) const {
    const AlphaSigma t = at(to), s0 = at(from);
    const double h = t.lambda - s0.lambda;
    const double hh = config_.predict_x0 ? -h : h;
    Coefficients c;
    c.h_phi_1 = std::expm1(hh);
    c.b_h = bh1_ ? hh : std::expm1(hh);
    double h_phi_k = c.h_phi_1 / hh - 1;
    double factorial = 1;
    for (int i = 1; i <= order; ++i) {
      c.b.push_back(h_phi_k * factorial / c.b_h);
      factorial *= i + 1;
      h_phi_k = h_phi_k / hh - 1 / factorial;
    }
    c.scale_x = config_.predict_x0 ? t.sigma / s0.sigma : t.alpha / s0.alpha;
    c.scale_m = config_.predict_x0 ? t.alpha : t.sigma;
    return c;
  }

  // r_k = (lambda_{s_k} - lambda_{s0}) / h for the history entries the update uses.
  double ratio(int sigma_index, int from, int to) const {
    return (at(sigma_index).lambda - at(from).lambda) / (at(to).lambda - at(from).lambda);
  }

  // UniP: from x at step `index` to the next noise level, using `order` model outputs.
  Tensor predict(const Tensor& x, int index, int order) const {
    const Coefficients c = coefficients(index, index + 1, order);
    const Tensor& m0 = outputs_[0];
    std::vector<Term> terms{{c.scale_x, x}, {-c.scale_m * c.h_phi_1, m0}};
    if (order >= 2) {
      std::vector<double> rks;
      for (int k = 1; k < order; ++k) rks.push_back(ratio(index - k, index, index + 1));
      std::vector<double> rhos{0.5};
      if (order > 2) rhos = solve(powers(rks, order - 1), {c.b.begin(), c.b.begin() + (order - 1)});
      add_differences(terms, rks, rhos, -c.scale_m * c.b_h);
    }
    return lincomb(terms);
  }

  // UniC: redoes the previous step from `last_sample_` with the model output at the latent
  // it predicted (`model_t`) added to the history; the predicted latent itself drops out.
  Tensor correct(const Tensor& model_t, int index) const {
    const int order = this_order_;
    const Coefficients c = coefficients(index - 1, index, order);
    const Tensor& m0 = outputs_[0];
    std::vector<double> rks;
    for (int k = 1; k < order; ++k) rks.push_back(ratio(index - 1 - k, index - 1, index));
    std::vector<double> rhos{0.5};
    if (order > 1) {
      std::vector<double> all = rks;
      all.push_back(1.0);
      rhos = solve(powers(all, order), c.b);
    }
    std::vector<Term> terms{{c.scale_x, last_sample_}, {-c.scale_m * c.h_phi_1, m0}};
    add_differences(terms, rks, rhos, -c.scale_m * c.b_h);
    // rho_last * (model_t - m0)
    const double w = -c.scale_m * c.b_h * rhos.back();
    terms.push_back({w, model_t});
    terms.push_back({-w, m0});
    return lincomb(terms);
  }

  // Adds scale * sum_k rho_k * (m_k - m0) / r_k over the history entries m_k = outputs_[k].
  void add_differences(std::vector<Term>& terms, const std::vector<double>& rks,
                       const std::vector<double>& rhos, double scale) const {
    for (size_t k = 0; k < rks.size(); ++k) {
      const double w = scale * rhos[k] / rks[k];
      terms.push_back({w, outputs_[k + 1]});
      terms.push_back({-w, outputs_[0]});
    }
  }

  // The matrix R[i][j] = r_j^i, i < n.
  static std::vector<std::vector<double>> powers(const std::vector<double>& r, int n) {
    const size_t size = static_cast<size_t>(n);
    std::vector<std::vector<double>> m(size, std::vector<double>(size));
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) m[size_t(i)][size_t(j)] = std::pow(r[size_t(j)], i);
    return m;
  }

  bool bh1_ = false;
  std::deque<Tensor> outputs_;  // converted model outputs, newest first
  Tensor last_sample_;          // the latent the last prediction started from
  int history_ = 0;             // diffusers' lower_order_nums
  int this_order_ = 0;          // the order of the last prediction (the corrector reuses it)
};

}  // namespace

std::unique_ptr<Scheduler> make_unipc(const SchedulerConfig& config, Schedule schedule) {
  return std::make_unique<UniPc>(config, schedule);
}

}  // namespace sd::sampling
