#include "sampling/latent_math.h"

#include <algorithm>
#include <vector>

#include "core/error.h"

namespace sd::sampling {

namespace {
Tensor contiguous_f32(const Tensor& x) {
  SD_CHECK(x.defined(), "undefined latent");
  SD_CHECK(x.dtype() == DType::F32, "latents must be f32, got " + x.desc());
  return x.contiguous();
}
}  // namespace

Tensor lincomb(std::span<const Term> terms) {
  SD_CHECK(!terms.empty(), "no terms");
  std::vector<Tensor> xs;
  std::vector<double> cs;
  for (const Term& t : terms) {
    xs.push_back(contiguous_f32(*t.x));
    cs.push_back(t.coeff);
    SD_CHECK(xs.back().shape() == xs.front().shape(),
             "shape " + xs.back().shape().str() + " vs " + xs.front().shape().str());
  }
  Tensor out = Tensor::empty(xs.front().shape(), DType::F32);
  float* o = out.data<float>();
  const int64_t n = out.numel();
  std::vector<const float*> ps;
  for (const Tensor& x : xs) ps.push_back(x.data<float>());
  for (int64_t i = 0; i < n; ++i) {
    double acc = 0;
    for (size_t k = 0; k < ps.size(); ++k) acc += cs[k] * double(ps[k][i]);
    o[i] = float(acc);
  }
  return out;
}

Tensor divide(const Tensor& x, float divisor) {
  Tensor in = contiguous_f32(x);
  Tensor out = Tensor::empty(in.shape(), DType::F32);
  const float* p = in.data<float>();
  float* o = out.data<float>();
  for (int64_t i = 0; i < in.numel(); ++i) o[i] = p[i] / divisor;
  return out;
}

Tensor clamp(const Tensor& x, double limit) {
  Tensor in = contiguous_f32(x);
  Tensor out = Tensor::empty(in.shape(), DType::F32);
  const float* p = in.data<float>();
  float* o = out.data<float>();
  const float hi = float(limit);
  for (int64_t i = 0; i < in.numel(); ++i) o[i] = std::clamp(p[i], -hi, hi);
  return out;
}

}  // namespace sd::sampling
