// cuBLASLt linear layers against a double reference: epilogues fused by the library
// (bias, ReLU, tanh-GELU, residual as C) and those finished by a kernel (erf GELU, SiLU,
// residual after an activation), odd sizes, strided input rows, in-place residuals.
#include <gtest/gtest.h>

#include "backend/cuda/linear.h"
#include "cuda/cuda_test_util.h"
#include "cuda/reference.h"

namespace sd::test {
namespace {

struct Case {
  int64_t rows, in, out, x_row;
  bool bias;
  cuda::Act act;
  enum { kNone, kSeparate, kInPlace } residual;
};

void check(cuda::Context& ctx, const Case& c, DType dt) {
  const std::vector<float> x = rounded(random_floats(size_t(c.rows * c.x_row), 40), dt);
  const std::vector<float> w = rounded(random_floats(size_t(c.out * c.in), 41, -0.1f, 0.1f), dt);
  const std::vector<float> b = rounded(random_floats(size_t(c.out), 42), dt);
  const std::vector<float> r = rounded(random_floats(size_t(c.rows * c.out), 43), dt);
  DeviceArray dx(ctx, x, dt), dw(ctx, w, dt), db(ctx, b, dt), dr(ctx, r, dt), dy(ctx, r.size(), dt);
  cuda::Linear linear(dw.get(), c.bias ? db.get() : nullptr, c.out, c.in, dt);
  void* y = c.residual == Case::kInPlace ? dr.get() : dy.get();
  const void* residual = c.residual == Case::kNone ? nullptr : dr.get();
  // Twice: the second call reuses the cached plan.
  for (int run = 0; run < 2; ++run) {
    if (run == 1 && c.residual == Case::kInPlace) break;
    linear.forward(ctx, dx.get(), c.x_row, c.rows, y, c.out, residual, c.act);
  }
  std::vector<double> want(r.size());
  for (int64_t m = 0; m < c.rows; ++m)
    for (int64_t n = 0; n < c.out; ++n) {
      double acc = c.bias ? b[size_t(n)] : 0.0;
      for (int64_t k = 0; k < c.in; ++k) acc += double(x[size_t(m * c.x_row + k)]) * w[size_t(n * c.in + k)];
      acc = ref_act(acc, c.act);
      if (c.residual != Case::kNone) acc += r[size_t(m * c.out + n)];
      want[size_t(m * c.out + n)] = acc;
    }
  const std::vector<float> got = c.residual == Case::kInPlace ? dr.download() : dy.download();
  EXPECT_TRUE(close_to(got, want, dt)) << dtype_name(dt) << " " << c.rows << "x" << c.in << "->" << c.out << " act "
                                       << int(c.act) << " residual " << int(c.residual);
}

TEST(CudaLinear, FusedEpilogues) {
  SD_CUDA_CONTEXT_OR_SKIP(ctx);
  for (DType dt : kFloatTypes) {
    check(ctx, {130, 320, 640, 320, true, cuda::Act::None, Case::kNone}, dt);
    check(ctx, {77, 768, 320, 768, true, cuda::Act::None, Case::kSeparate}, dt);
    check(ctx, {64, 320, 1280, 320, true, cuda::Act::GELUTanh, Case::kNone}, dt);
    check(ctx, {33, 64, 96, 64, true, cuda::Act::ReLU, Case::kNone}, dt);
    check(ctx, {50, 128, 64, 128, false, cuda::Act::None, Case::kNone}, dt);
  }
}

TEST(CudaLinear, ActivationsAndResidualsTheLibraryCannotFuse) {
  SD_CUDA_CONTEXT_OR_SKIP(ctx);
  for (DType dt : kFloatTypes) {
    check(ctx, {77, 320, 640, 320, true, cuda::Act::GELU, Case::kNone}, dt);
    check(ctx, {77, 320, 640, 320, true, cuda::Act::SiLU, Case::kSeparate}, dt);
    check(ctx, {31, 96, 48, 96, true, cuda::Act::GELUTanh, Case::kSeparate}, dt);
    check(ctx, {45, 128, 64, 128, true, cuda::Act::None, Case::kInPlace}, dt);
  }
}

TEST(CudaLinear, OddSizesAndStridedRows) {
  SD_CUDA_CONTEXT_OR_SKIP(ctx);
  for (DType dt : kFloatTypes) {
    check(ctx, {1, 320, 1280, 320, true, cuda::Act::SiLU, Case::kNone}, dt);  // the time embedding: one row
    check(ctx, {13, 77, 45, 77, true, cuda::Act::None, Case::kNone}, dt);
    check(ctx, {20, 64, 64, 3 * 64, true, cuda::Act::None, Case::kNone}, dt);  // rows of a packed buffer
  }
}

TEST(CudaLinear, RefusesIntegerWeightsAndShortStrides) {
  SD_CUDA_CONTEXT_OR_SKIP(ctx);
  DeviceArray w(ctx, 64, DType::F16), x(ctx, 64, DType::F16);
  EXPECT_THROW(cuda::Linear(w.get(), nullptr, 8, 8, DType::I32), Error);
  cuda::Linear linear(w.get(), nullptr, 8, 8, DType::F16);
  EXPECT_THROW(linear.forward(ctx, x.get(), 4, 2, x.get(), 8, nullptr, cuda::Act::None), Error);
}

}  // namespace
}  // namespace sd::test
