#include "sampling/torch_cpu_generator.h"

#include <immintrin.h>

#include <cmath>
#include <numbers>

#include "sampling/cephes_avx2.h"

namespace sd::sampling {

namespace {

// torch's uniform_real_distribution<float>: the low 24 bits of one 32-bit draw.
float uniform_float(std::mt19937& mt) { return float(mt() & 0xFFFFFFu) * 0x1p-24f; }

// torch's uniform_real_distribution<double>: the low 53 bits of a 64-bit draw made from two
// 32-bit draws, the first one high.
double uniform_double(std::mt19937& mt) {
  const uint64_t hi = mt();
  const uint64_t lo = mt();
  return double(((hi << 32) | lo) & ((uint64_t(1) << 53) - 1)) * 0x1p-53;
}

// Box-Muller on 16 uniforms in place, exactly as torch's normal_fill_16_AVX2: values 0..7
// give the radius (from 1-u), values 8..15 the angle.
void box_muller_16(float* d) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 minus_two = _mm256_set1_ps(-2.0f);
  const __m256 two_pi = _mm256_set1_ps(float(2.0 * std::numbers::pi));
  const __m256 u1 = _mm256_sub_ps(one, _mm256_loadu_ps(d));
  const __m256 u2 = _mm256_loadu_ps(d + 8);
  const __m256 radius = _mm256_sqrt_ps(_mm256_mul_ps(minus_two, cephes_log_avx2(u1)));
  const __m256 theta = _mm256_mul_ps(two_pi, u2);
  __m256 sin_theta, cos_theta;
  cephes_sincos_avx2(theta, &sin_theta, &cos_theta);
  _mm256_storeu_ps(d, _mm256_mul_ps(radius, cos_theta));
  _mm256_storeu_ps(d + 8, _mm256_mul_ps(radius, sin_theta));
}

}  // namespace

TorchCpuGenerator::TorchCpuGenerator(uint64_t seed) { manual_seed(seed); }

void TorchCpuGenerator::manual_seed(uint64_t seed) {
  engine_.seed(uint32_t(seed & 0xFFFFFFFFu));
  cached_normal_.reset();
}

void TorchCpuGenerator::fill_vectorised(float* data, int64_t n) {
  for (int64_t i = 0; i < n; ++i) data[i] = uniform_float(engine_);
  for (int64_t i = 0; i + 16 <= n; i += 16) box_muller_16(data + i);
  if (n % 16 != 0) {
    float* tail = data + n - 16;
    for (int i = 0; i < 16; ++i) tail[i] = uniform_float(engine_);
    box_muller_16(tail);
  }
}

float TorchCpuGenerator::next_double_normal() {
  if (cached_normal_) {
    const double v = *cached_normal_;
    cached_normal_.reset();
    return float(v);
  }
  const double u1 = uniform_double(engine_);
  const double u2 = uniform_double(engine_);
  const double r = std::sqrt(-2.0 * std::log(1.0 - u2));
  const double theta = 2.0 * std::numbers::pi * u1;
  cached_normal_ = r * std::sin(theta);
  return float(r * std::cos(theta));
}

Tensor TorchCpuGenerator::randn(const Shape& shape) {
  Tensor t = Tensor::empty(shape, DType::F32);
  float* d = t.data<float>();
  const int64_t n = t.numel();
  if (n >= 16) {
    fill_vectorised(d, n);
  } else {
    for (int64_t i = 0; i < n; ++i) d[i] = next_double_normal();
  }
  return t;
}

}  // namespace sd::sampling
