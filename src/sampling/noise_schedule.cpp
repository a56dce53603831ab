#include "sampling/noise_schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/error.h"
#include "sampling/numpy_compat.h"

namespace sd::sampling {

std::vector<float> torch_linspace_f32(float start, float end, int64_t steps) {
  SD_CHECK(steps >= 1, "linspace needs at least one step");
  std::vector<float> out(static_cast<size_t>(steps));
  if (steps == 1) {
    out[0] = start;
    return out;
  }
  // torch's kernel fills the first half from `start` and the second from `end`, in AVX2
  // vectors of 8 (two per loop, each vector's base from the formula, the rest as
  // base + k*step), and the elements left over one by one. GCC fuses its multiply-adds.
  const float step = (end - start) / float(steps - 1);
  const int64_t halfway = steps / 2;
  auto at = [&](int64_t i) {
    return i < halfway ? std::fma(step, float(i), start) : std::fma(-step, float(steps - i - 1), end);
  };
  int64_t i = 0;
  for (; i + 16 <= steps; i += 16) {
    for (int64_t base_index : {i, i + 8}) {
      const float base = at(base_index);
      out[size_t(base_index)] = base;
      for (int k = 1; k < 8; ++k) out[size_t(base_index + k)] = std::fma(float(k), step, base);
    }
  }
  for (; i < steps; ++i) out[size_t(i)] = at(i);
  return out;
}

namespace {

// Glide's cosine schedule (betas_for_alpha_bar), computed in double like Python.
std::vector<float> cosine_betas(int n) {
  auto alpha_bar = [](double t) {
    const double c = std::cos((t + 0.008) / 1.008 * std::numbers::pi / 2);
    return c * c;
  };
  std::vector<float> betas(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    const double t1 = double(i) / n, t2 = double(i + 1) / n;
    betas[size_t(i)] = float(std::min(1 - alpha_bar(t2) / alpha_bar(t1), 0.999));
  }
  return betas;
}

// Lin et al. (2023), Algorithm 1: shift and scale sqrt(acp) so the last one is zero.
std::vector<float> rescale_zero_terminal_snr(const std::vector<float>& betas) {
  std::vector<float> acp = make_alphas_cumprod(betas);
  std::vector<float> root(acp.size());
  for (size_t i = 0; i < acp.size(); ++i) root[i] = std::sqrt(acp[i]);
  const float first = root.front(), last = root.back();
  const float scale = first / (first - last);
  for (float& r : root) r = (r - last) * scale;
  std::vector<float> out(betas.size());
  float prev = 0;
  for (size_t i = 0; i < root.size(); ++i) {
    const float bar = root[i] * root[i];
    out[i] = 1.0f - (i == 0 ? bar : bar / prev);
    prev = bar;
  }
  return out;
}

}  // namespace

std::vector<float> make_betas(const SchedulerConfig& config, const BetaDefaults& defaults) {
  const int n = config.num_train_timesteps;
  std::vector<float> betas;
  if (!config.trained_betas.empty()) {
    SD_CHECK(int(config.trained_betas.size()) == n,
             "scheduler config: trained_betas has " + std::to_string(config.trained_betas.size()) +
                 " entries for num_train_timesteps " + std::to_string(n));
    betas.assign(config.trained_betas.begin(), config.trained_betas.end());
  } else {
    const double start = config.beta_start.value_or(defaults.beta_start);
    const double end = config.beta_end.value_or(defaults.beta_end);
    const std::string schedule = config.beta_schedule.value_or(defaults.beta_schedule);
    if (schedule == "linear") {
      betas = torch_linspace_f32(float(start), float(end), n);
    } else if (schedule == "scaled_linear") {
      betas = torch_linspace_f32(float(std::sqrt(start)), float(std::sqrt(end)), n);
      for (float& b : betas) b = b * b;
    } else if (schedule == "squaredcos_cap_v2") {
      betas = cosine_betas(n);
    } else {
      throw Error("scheduler config: beta_schedule '" + schedule +
                  "' is not supported (linear, scaled_linear, squaredcos_cap_v2)");
    }
  }
  if (config.rescale_betas_zero_snr) betas = rescale_zero_terminal_snr(betas);
  return betas;
}

std::vector<float> make_alphas_cumprod(const std::vector<float>& betas) {
  std::vector<float> acp(betas.size());
  double running = 1.0;
  for (size_t i = 0; i < betas.size(); ++i) {
    running *= double(1.0f - betas[i]);
    acp[i] = float(running);
  }
  return acp;
}

std::vector<float> train_sigmas(const std::vector<float>& alphas_cumprod) {
  std::vector<float> s(alphas_cumprod.size());
  for (size_t i = 0; i < s.size(); ++i)
    s[i] = std::sqrt((1.0f - alphas_cumprod[i]) / alphas_cumprod[i]);
  return s;
}

Spacing resolve_spacing(const SchedulerConfig& config, Spacing class_default) {
  if (!config.timestep_spacing) return class_default;
  const std::string& s = *config.timestep_spacing;
  if (s == "linspace") return Spacing::Linspace;
  if (s == "leading") return Spacing::Leading;
  if (s == "trailing") return Spacing::Trailing;
  throw Error("scheduler config: timestep_spacing '" + s +
              "' is not supported (linspace, leading, trailing)");
}

namespace {
void check_steps(int train_steps, int steps) {
  if (steps < 1 || steps > train_steps)
    throw Error("steps must be between 1 and num_train_timesteps (" + std::to_string(train_steps) +
                "), got " + std::to_string(steps));
}

std::vector<double> trailing(double from, int train_steps, int steps) {
  std::vector<double> t = np::arange(from, 0, -double(train_steps) / steps);
  for (double& v : t) v = np::round(v) - 1;
  return t;
}
}  // namespace

std::vector<double> spaced_timesteps(Spacing spacing, int train_steps, int steps, int steps_offset) {
  check_steps(train_steps, steps);
  std::vector<double> t;
  switch (spacing) {
    case Spacing::Linspace:
      t = np::linspace(0, train_steps - 1, steps);
      std::reverse(t.begin(), t.end());
      break;
    case Spacing::Leading: {
      const int ratio = train_steps / steps;
      for (int i = steps - 1; i >= 0; --i) t.push_back(double(i * ratio + steps_offset));
      break;
    }
    case Spacing::Trailing:
      t = trailing(train_steps, train_steps, steps);
      break;
  }
  return t;
}

std::vector<int64_t> multistep_timesteps(Spacing spacing, int last_timestep, int train_steps,
                                         int steps, int steps_offset) {
  check_steps(train_steps, steps);
  std::vector<int64_t> t;
  switch (spacing) {
    case Spacing::Linspace: {
      std::vector<double> v = np::linspace(0, last_timestep - 1, steps + 1);
      for (int i = steps; i >= 1; --i) t.push_back(int64_t(np::round(v[size_t(i)])));
      break;
    }
    case Spacing::Leading: {
      const int ratio = last_timestep / (steps + 1);
      for (int i = steps; i >= 1; --i) t.push_back(int64_t(i) * ratio + steps_offset);
      break;
    }
    case Spacing::Trailing:
      for (double v : trailing(last_timestep, train_steps, steps)) t.push_back(int64_t(v));
      break;
  }
  return t;
}

double sigma_to_t(double sigma, const std::vector<float>& train_sigmas) {
  const size_t n = train_sigmas.size();
  SD_CHECK(n >= 2, "training sigma table too short");
  std::vector<float> log_sigmas(n);
  for (size_t i = 0; i < n; ++i) log_sigmas[i] = float(std::log(double(train_sigmas[i])));
  // numpy compares in float32 here (a float64 scalar against a float32 array).
  const double log_sigma = std::log(std::max(sigma, 1e-10));
  const float log_sigma_f = float(log_sigma);
  size_t low = 0;
  for (size_t i = 0; i < n; ++i)
    if (log_sigma_f - log_sigmas[i] >= 0) low = i;  // last index at or below log sigma
  low = std::min(low, n - 2);
  const double lo = log_sigmas[low], hi = log_sigmas[low + 1];
  const double w = std::clamp((lo - log_sigma) / (lo - hi), 0.0, 1.0);
  return (1 - w) * double(low) + w * double(low + 1);
}

std::vector<double> karras_sigmas(double sigma_min, double sigma_max, int steps) {
  const double rho = 7.0;
  const double min_inv_rho = std::pow(sigma_min, 1 / rho);
  const double max_inv_rho = std::pow(sigma_max, 1 / rho);
  std::vector<double> s = np::linspace(0, 1, steps);
  for (double& r : s) r = std::pow(max_inv_rho + r * (min_inv_rho - max_inv_rho), rho);
  return s;
}

std::vector<double> exponential_sigmas(double sigma_min, double sigma_max, int steps) {
  std::vector<double> s = np::linspace(std::log(sigma_max), std::log(sigma_min), steps);
  for (double& v : s) v = std::exp(v);
  return s;
}

}  // namespace sd::sampling
