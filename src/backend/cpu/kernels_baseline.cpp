// The baseline row kernels, built for the project's x86-64-v3 (AVX2) target.
#include <cmath>
#include <cstring>

#include "backend/cpu/simd.h"
#include "core/half.h"

namespace sd::cpu {

namespace {

void bf16_to_f32(const uint16_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    uint32_t u = uint32_t(src[i]) << 16;
    std::memcpy(dst + i, &u, 4);
  }
}

void f32_to_bf16(const float* src, uint16_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = sd::f32_to_bf16(src[i]);
}

float gelu(float x) { return 0.5f * x * (1.f + std::erf(x * float(M_SQRT1_2))); }

void activation(float* x, int64_t n, Act act) {
  switch (act) {
    case Act::None: return;
    case Act::SiLU:
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] / (1.f + std::exp(-x[i]));
      return;
    case Act::GELU:
      for (int64_t i = 0; i < n; ++i) x[i] = gelu(x[i]);
      return;
    case Act::QuickGELU:
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] / (1.f + std::exp(-1.702f * x[i]));
      return;
    case Act::ReLU:
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] > 0.f ? x[i] : 0.f;
      return;
    case Act::Tanh:
      for (int64_t i = 0; i < n; ++i) x[i] = std::tanh(x[i]);
      return;
  }
}

void gelu_mul(const float* a, const float* gate, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] * gelu(gate[i]);
}

float exp_shift_sum(float* x, int64_t n, float shift) {
  float sum = 0.f;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - shift);
    sum += x[i];
  }
  return sum;
}

}  // namespace

const Kernels& baseline_kernels() {
  static const Kernels k{"avx2", bf16_to_f32, f32_to_bf16, activation, gelu_mul, exp_shift_sum};
  return k;
}

const Kernels& kernels() { return baseline_kernels(); }

}  // namespace sd::cpu
