#pragma once
// Helpers for the CUDA backend's tests: a shared context (every test skips with one line
// when no GPU can be used), device arrays filled from host floats in any dtype, and
// per-dtype tolerances for comparing with float32/double references on the CPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backend/cuda/context.h"
#include "core/error.h"
#include "core/half.h"
#include "support/test_support.h"

namespace sd::test {

// The context for device 0, or null with `reason` set when there is no usable GPU. It
// lives as long as the process and is never destroyed: at exit the CUDA libraries may
// already have torn themselves down.
inline cuda::Context* gpu(std::string* reason) {
  static std::string why;
  static cuda::Context* const ctx = []() -> cuda::Context* {
    try {
      return new cuda::Context(0);
    } catch (const Error& e) {
      why = e.what();
      return nullptr;
    }
  }();
  *reason = why;
  return ctx;
}

#define SD_CUDA_CONTEXT_OR_SKIP(ctx)                       \
  std::string sd_skip_reason_;                             \
  ::sd::cuda::Context* ctx_ptr_ = ::sd::test::gpu(&sd_skip_reason_); \
  if (!ctx_ptr_) GTEST_SKIP() << sd_skip_reason_;    \
  ::sd::cuda::Context& ctx = *ctx_ptr_

inline std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

inline float round_to(float v, DType dt) {
  switch (dt) {
    case DType::F16: return f16_to_f32(f32_to_f16(v));
    case DType::BF16: return bf16_to_f32(f32_to_bf16(v));
    default: return v;
  }
}

// The values as `dt` would store them, so references see exactly the kernel's inputs.
inline std::vector<float> rounded(std::vector<float> v, DType dt) {
  for (float& x : v) x = round_to(x, dt);
  return v;
}

// Device memory holding values of `dt`.
class DeviceArray {
 public:
  DeviceArray(cuda::Context& ctx, const std::vector<float>& values, DType dt)
      : ctx_(&ctx), dt_(dt), n_(values.size()), buf_(ctx.buffer(std::max<size_t>(1, n_) * dtype_size(dt))) {
    std::vector<uint8_t> bytes(n_ * dtype_size(dt));
    for (size_t i = 0; i < n_; ++i) {
      if (dt == DType::F32) {
        std::memcpy(bytes.data() + 4 * i, &values[i], 4);
      } else {
        const uint16_t h = dt == DType::F16 ? f32_to_f16(values[i]) : f32_to_bf16(values[i]);
        std::memcpy(bytes.data() + 2 * i, &h, 2);
      }
    }
    cuda::copy_to_device(ctx, buf_.get(), bytes.data(), bytes.size());
    ctx.synchronize();
  }
  DeviceArray(cuda::Context& ctx, size_t n, DType dt) : DeviceArray(ctx, std::vector<float>(n, 0.f), dt) {}

  void* get() const { return buf_.get(); }
  size_t size() const { return n_; }

  std::vector<float> download() const {
    std::vector<uint8_t> bytes(n_ * dtype_size(dt_));
    cuda::copy_to_host(*ctx_, bytes.data(), buf_.get(), bytes.size());
    ctx_->synchronize();
    std::vector<float> v(n_);
    for (size_t i = 0; i < n_; ++i) {
      if (dt_ == DType::F32) {
        std::memcpy(&v[i], bytes.data() + 4 * i, 4);
      } else {
        uint16_t h;
        std::memcpy(&h, bytes.data() + 2 * i, 2);
        v[i] = dt_ == DType::F16 ? f16_to_f32(h) : bf16_to_f32(h);
      }
    }
    return v;
  }

 private:
  cuda::Context* ctx_;
  DType dt_;
  size_t n_;
  cuda::DeviceBuffer buf_;
};

// Allowed max error relative to the reference's largest magnitude: float32 arithmetic
// differs from the double reference by rounding only; 16-bit outputs carry their own
// rounding (2^-11 for f16, 2^-8 for bf16) plus that of 16-bit intermediates.
inline double tolerance(DType dt) {
  switch (dt) {
    case DType::F16: return 4e-3;
    case DType::BF16: return 2.5e-2;
    default: return 2e-5;
  }
}

inline ::testing::AssertionResult close_to(const std::vector<float>& got, const std::vector<double>& want, DType dt,
                                           double scale_tol = 1.0) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << "size " << got.size() << " != " << want.size();
  double mag = 1e-6;
  for (double w : want) mag = std::max(mag, std::abs(w));
  const double tol = tolerance(dt) * scale_tol * std::max(1.0, mag);
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double e = std::isfinite(got[i]) ? std::abs(got[i] - want[i]) : INFINITY;
    if (!(e <= worst)) worst = e, at = i;
  }
  if (worst <= tol) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "max error " << worst << " at " << at << " (got " << got[at] << ", want "
                                       << want[at] << "), tolerance " << tol << " for " << dtype_name(dt);
}

inline const DType kFloatTypes[] = {DType::F32, DType::F16, DType::BF16};

}  // namespace sd::test
