// Element-wise kernels against double references, in every float dtype, on odd sizes.
#include <gtest/gtest.h>

#include "backend/cuda/eltwise.h"
#include "cuda/cuda_test_util.h"
#include "cuda/reference.h"

namespace sd::test {
namespace {

constexpr int64_t kOdd = 4099;  // not a multiple of any block or vector width

TEST(CudaEltwise, ActivationsMatchInEveryDtype) {
  SD_CUDA_CONTEXT_OR_SKIP(ctx);
  for (DType dt : kFloatTypes)
    for (cuda::Act act : kActs) {
      const std::vector<float> x = rounded(random_floats(kOdd, 1, -6.f, 6.f), dt);
      DeviceArray dx(ctx, x, dt), dy(ctx, x.size(), dt);
      cuda::activation(ctx, dx.get(), dy.get(), kOdd, dt, act);
      std::vector<double> want(x.size());
      for (size_t i = 0; i < x.size(); ++i) want[i] = ref_act(x[i], act);
      EXPECT_TRUE(close_to(dy.download(), want, dt)) << "act " << int(act);
      cuda::activation(ctx, dx.get(), dx.get(), kOdd, dt, act);  // in place
      EXPECT_TRUE(close_to(dx.download(), want, dt)) << "in place, act " << int(act);
    }
}

TEST(CudaEltwise, BinaryBroadcastsOverTheMiddleDimension) {
  SD_CUDA_CONTEXT_OR_SKIP(ctx);
  const int64_t outer = 3, mid = 37, inner = 41;  // e.g. [N, H*W, C] plus a [N, C] embedding
  for (DType dt : kFloatTypes)
    for (cuda::BinaryOp op : {cuda::BinaryOp::Add, cuda::BinaryOp::Mul}) {
      const std::vector<float> a = rounded(random_floats(outer * mid * inner, 2), dt);
      const std::vector<float> b = rounded(random_floats(outer * inner, 3), dt);
      DeviceArray da(ctx, a, dt), db(ctx, b, dt), dy(ctx, a.size(), dt);
      cuda::binary(ctx, da.get(), db.get(), dy.get(), outer, mid, inner, dt, op);
      std::vector<double> want(a.size());
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t m = 0; m < mid; ++m)
          for (int64_t i = 0; i < inner; ++i) {
            const size_t at = size_t((o * mid + m) * inner + i);
            const double bv = b[size_t(o * inner + i)];
            want[at] = op == cuda::BinaryOp::Add ? a[at] + bv : a[at] * bv;
          }
      EXPECT_TRUE(close_to(dy.download(), want, dt)) << dtype_name(dt);
    }
}

TEST(CudaEltwise, AxpbyAndScale) {
  SD_CUDA_CONTEXT_OR_SKIP(ctx);
  for (DType dt : kFloatTypes) {
    const std::vector<float> a = rounded(random_floats(kOdd, 4), dt), b = rounded(random_floats(kOdd, 5), dt);
    DeviceArray da(ctx, a, dt), db(ctx, b, dt), dy(ctx, a.size(), dt);
    cuda::axpby(ctx, da.get(), 1.5f, db.get(), -7.5f, dy.get(), kOdd, dt);
    std::vector<double> want(a.size()), scaled(a.size());
    for (size_t i = 0; i < a.size(); ++i) want[i] = 1.5 * a[i] - 7.5 * b[i], scaled[i] = 0.18215 * a[i];
    EXPECT_TRUE(close_to(dy.download(), want, dt));
    cuda::axpby(ctx, da.get(), 0.18215f, nullptr, 0.f, dy.get(), kOdd, dt);
    EXPECT_TRUE(close_to(dy.download(), scaled, dt));
  }
}

TEST(CudaEltwise, BiasActivationResidualEpilogue) {
  SD_CUDA_CONTEXT_OR_SKIP(ctx);
  const int64_t rows = 67, channels = 61;
  for (DType dt : kFloatTypes)
    for (cuda::Act act : kActs) {
      const std::vector<float> x = rounded(random_floats(rows * channels, 6, -3.f, 3.f), dt);
      const std::vector<float> bias = rounded(random_floats(channels, 7), dt);
      const std::vector<float> res = rounded(random_floats(rows * channels, 8), dt);
      DeviceArray dx(ctx, x, dt), db(ctx, bias, dt), dr(ctx, res, dt), dy(ctx, x.size(), dt);
      cuda::bias_act_residual(ctx, dx.get(), db.get(), dr.get(), dy.get(), rows, channels, dt, act);
      std::vector<double> want(x.size());
      for (size_t i = 0; i < x.size(); ++i) want[i] = ref_act(double(x[i]) + bias[i % channels], act) + res[i];
      EXPECT_TRUE(close_to(dy.download(), want, dt)) << dtype_name(dt) << " act " << int(act);
    }
}

TEST(CudaEltwise, GegluGatesTheFirstHalfWithGeluOfTheSecond) {
  SD_CUDA_CONTEXT_OR_SKIP(ctx);
  const int64_t rows = 77, features = 53;
  for (DType dt : kFloatTypes) {
    const std::vector<float> x = rounded(random_floats(rows * 2 * features, 9, -3.f, 3.f), dt);
    DeviceArray dx(ctx, x, dt), dy(ctx, size_t(rows * features), dt);
    cuda::geglu(ctx, dx.get(), dy.get(), rows, features, dt);
    std::vector<double> want(size_t(rows * features));
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t f = 0; f < features; ++f)
        want[size_t(r * features + f)] =
            x[size_t(r * 2 * features + f)] * ref_act(x[size_t(r * 2 * features + features + f)], cuda::Act::GELU);
    EXPECT_TRUE(close_to(dy.download(), want, dt)) << dtype_name(dt);
  }
}

TEST(CudaEltwise, ConversionsRoundLikeTheHost) {
  SD_CUDA_CONTEXT_OR_SKIP(ctx);
  std::vector<float> x = random_floats(kOdd, 10, -70000.f, 70000.f);
  x[0] = 65520.f;  // rounds to f16 infinity
  x[1] = 1e-8f;    // an f16 subnormal
  x[2] = -0.f;
  for (DType to : {DType::F16, DType::BF16}) {
    DeviceArray src(ctx, x, DType::F32), mid(ctx, x.size(), to), back(ctx, x.size(), DType::F32);
    cuda::convert(ctx, src.get(), DType::F32, mid.get(), to, kOdd);
    cuda::convert(ctx, mid.get(), to, back.get(), DType::F32, kOdd);
    const std::vector<float> got = back.download();
    for (size_t i = 0; i < x.size(); ++i)
      ASSERT_EQ(got[i], round_to(x[i], to)) << dtype_name(to) << " at " << i << " from " << x[i];
  }
}

}  // namespace
}  // namespace sd::test
