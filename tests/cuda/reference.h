#pragma once
// Double-precision CPU references for the CUDA kernel tests, on channels-last data.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "backend/cuda/act.h"

namespace sd::test {

inline double ref_act(double x, cuda::Act act) {
  switch (act) {
    case cuda::Act::None: return x;
    case cuda::Act::SiLU: return x / (1 + std::exp(-x));
    case cuda::Act::GELU: return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
    case cuda::Act::GELUTanh: return 0.5 * x * (1 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
    case cuda::Act::QuickGELU: return x / (1 + std::exp(-1.702 * x));
    case cuda::Act::ReLU: return x > 0 ? x : 0;
    case cuda::Act::Tanh: return std::tanh(x);
  }
  return x;
}

inline const cuda::Act kActs[] = {cuda::Act::None,      cuda::Act::SiLU, cuda::Act::GELU, cuda::Act::GELUTanh,
                                  cuda::Act::QuickGELU, cuda::Act::ReLU, cuda::Act::Tanh};

// Group norm over x [n, pixels, c] (channels-last).
inline std::vector<double> ref_group_norm(const std::vector<float>& x, int64_t n, int64_t pixels, int64_t c,
                                          int groups, const std::vector<float>& gamma,
                                          const std::vector<float>& beta, double eps, bool silu) {
  std::vector<double> y(x.size());
  const int64_t cpg = c / groups;
  for (int64_t b = 0; b < n; ++b)
    for (int g = 0; g < groups; ++g) {
      double sum = 0, sq = 0;
      for (int64_t p = 0; p < pixels; ++p)
        for (int64_t k = 0; k < cpg; ++k) sum += x[size_t((b * pixels + p) * c + g * cpg + k)];
      const double count = double(pixels * cpg), mean = sum / count;
      for (int64_t p = 0; p < pixels; ++p)
        for (int64_t k = 0; k < cpg; ++k) {
          const double d = x[size_t((b * pixels + p) * c + g * cpg + k)] - mean;
          sq += d * d;
        }
      const double rstd = 1 / std::sqrt(sq / count + eps);
      for (int64_t p = 0; p < pixels; ++p)
        for (int64_t k = 0; k < cpg; ++k) {
          const size_t i = size_t((b * pixels + p) * c + g * cpg + k), ch = size_t(g * cpg + k);
          double v = (x[i] - mean) * rstd * gamma[ch] + beta[ch];
          if (silu) v = v / (1 + std::exp(-v));
          y[i] = v;
        }
    }
  return y;
}

// softmax(q k^T * scale) v per batch and head over [b, l, heads * d] rows with the given
// row strides (elements); output contiguous [b, lq, heads * d].
inline std::vector<double> ref_attention(const std::vector<float>& q, const std::vector<float>& k,
                                         const std::vector<float>& v, int64_t row_q, int64_t row_kv, int64_t b,
                                         int64_t lq, int64_t lk, int heads, int d, bool causal, double scale) {
  std::vector<double> out(size_t(b * lq * heads * d));
  std::vector<double> s(static_cast<size_t>(lk));
  for (int64_t n = 0; n < b; ++n)
    for (int h = 0; h < heads; ++h)
      for (int64_t i = 0; i < lq; ++i) {
        double mx = -INFINITY;
        for (int64_t j = 0; j < lk; ++j) {
          double acc = 0;
          for (int e = 0; e < d; ++e)
            acc += double(q[size_t((n * lq + i) * row_q + h * d + e)]) * k[size_t((n * lk + j) * row_kv + h * d + e)];
          s[size_t(j)] = (causal && j > i) ? -INFINITY : acc * scale;
          mx = std::max(mx, s[size_t(j)]);
        }
        double sum = 0;
        for (int64_t j = 0; j < lk; ++j) sum += s[size_t(j)] = std::exp(s[size_t(j)] - mx);
        for (int e = 0; e < d; ++e) {
          double acc = 0;
          for (int64_t j = 0; j < lk; ++j) acc += s[size_t(j)] * v[size_t((n * lk + j) * row_kv + h * d + e)];
          out[size_t(((n * lq + i) * heads + h) * d + e)] = acc / sum;
        }
      }
  return out;
}

}  // namespace sd::test
