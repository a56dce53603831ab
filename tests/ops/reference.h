#pragma once
// Naive reference loops for the op tests, in double precision over logical (row-major
// NCHW) float vectors, plus seeded random inputs.
#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "core/tensor.h"
#include "support/test_support.h"

namespace sd::test {

inline Tensor random_tensor(const Shape& shape, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(shape.product()));
  for (float& x : v) x = dist(rng);
  return Tensor::from_floats(v, shape);
}

// Tolerance for float32 results: relative to the reference's magnitude.
inline double f32_tol(const Tensor& ref, double rel = 1e-5) {
  return rel * std::max(1.0, max_abs(ref));
}

inline double ref_act(double x, int act) {  // act: sd::ops::Activation as int
  switch (act) {
    case 1: return x / (1 + std::exp(-x));
    case 2: return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
    case 3: return x / (1 + std::exp(-1.702 * x));
    case 4: return x > 0 ? x : 0;
    case 5: return std::tanh(x);
    default: return x;
  }
}

// conv2d over NCHW vectors; weight [O,I,kh,kw]; bias may be empty.
inline std::vector<float> ref_conv2d(const std::vector<float>& x, int64_t n, int64_t ci, int64_t h,
                                     int64_t w, const std::vector<float>& wt, int64_t co,
                                     int64_t kh, int64_t kw, const std::vector<float>& bias,
                                     int stride, int pt, int pl, int pb, int pr, int64_t* ho_out,
                                     int64_t* wo_out) {
  const int64_t ho = (h + pt + pb - kh) / stride + 1, wo = (w + pl + pr - kw) / stride + 1;
  std::vector<float> y(static_cast<size_t>(n * co * ho * wo));
  for (int64_t b = 0; b < n; ++b)
    for (int64_t o = 0; o < co; ++o)
      for (int64_t oy = 0; oy < ho; ++oy)
        for (int64_t ox = 0; ox < wo; ++ox) {
          double acc = bias.empty() ? 0.0 : bias[size_t(o)];
          for (int64_t i = 0; i < ci; ++i)
            for (int64_t ky = 0; ky < kh; ++ky)
              for (int64_t kx = 0; kx < kw; ++kx) {
                const int64_t iy = oy * stride - pt + ky, ix = ox * stride - pl + kx;
                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                acc += double(x[size_t(((b * ci + i) * h + iy) * w + ix)]) *
                       wt[size_t(((o * ci + i) * kh + ky) * kw + kx)];
              }
          y[size_t(((b * co + o) * ho + oy) * wo + ox)] = float(acc);
        }
  *ho_out = ho;
  *wo_out = wo;
  return y;
}

// y[m][o] = sum_i x[m][i] w[o][i] + b[o]
inline std::vector<float> ref_linear(const std::vector<float>& x, int64_t m, int64_t in,
                                     const std::vector<float>& wt, int64_t out,
                                     const std::vector<float>& bias) {
  std::vector<float> y(static_cast<size_t>(m * out));
  for (int64_t r = 0; r < m; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double acc = bias.empty() ? 0.0 : bias[size_t(o)];
      for (int64_t i = 0; i < in; ++i) acc += double(x[size_t(r * in + i)]) * wt[size_t(o * in + i)];
      y[size_t(r * out + o)] = float(acc);
    }
  return y;
}

// Multi-head attention over [B, L, H*D] row-major vectors.
inline std::vector<float> ref_attention(const std::vector<float>& q, const std::vector<float>& k,
                                        const std::vector<float>& v, int64_t b, int64_t lq,
                                        int64_t lk, int64_t heads, int64_t d, bool causal,
                                        double scale) {
  const int64_t hd = heads * d;
  std::vector<float> out(static_cast<size_t>(b * lq * hd));
  std::vector<double> s(static_cast<size_t>(lk));
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < lq; ++i) {
        double mx = -INFINITY;
        for (int64_t j = 0; j < lk; ++j) {
          double acc = 0;
          for (int64_t c = 0; c < d; ++c)
            acc += double(q[size_t((bi * lq + i) * hd + h * d + c)]) *
                   k[size_t((bi * lk + j) * hd + h * d + c)];
          s[size_t(j)] = (causal && j > i + (lk - lq)) ? -INFINITY : acc * scale;
          mx = std::max(mx, s[size_t(j)]);
        }
        double sum = 0;
        for (int64_t j = 0; j < lk; ++j) sum += (s[size_t(j)] = std::exp(s[size_t(j)] - mx));
        for (int64_t c = 0; c < d; ++c) {
          double acc = 0;
          for (int64_t j = 0; j < lk; ++j)
            acc += s[size_t(j)] * v[size_t((bi * lk + j) * hd + h * d + c)];
          out[size_t((bi * lq + i) * hd + h * d + c)] = float(acc / sum);
        }
      }
  return out;
}

}  // namespace sd::test
