// cuDNN convolutions against a double reference on channels-last data: SD's geometries
// (3x3 same, the VAE's stride-2 (0,1,0,1) padding, 1x1 shortcuts, 4-channel latents in,
// 3-channel images out), fused bias/activation/residual, in-place residuals, and torch's
// OIHW filters converted on the device.
#include <gtest/gtest.h>

#include "backend/cuda/conv2d.h"
#include "cuda/cuda_test_util.h"
#include "cuda/reference.h"

namespace sd::test {
namespace {

struct Case {
  int64_t n, h, w, in, out;
  int k;
  cuda::ConvGeometry g;
  bool bias;
  cuda::Act act;
  enum { kNone, kSeparate, kInPlace } residual;
};

void check(cuda::Context& ctx, const Case& c, DType dt) {
  const int64_t oh = (c.h + c.g.pad_top + c.g.pad_bottom - c.k) / c.g.stride + 1;
  const int64_t ow = (c.w + c.g.pad_left + c.g.pad_right - c.k) / c.g.stride + 1;
  const std::vector<float> x = rounded(random_floats(size_t(c.n * c.h * c.w * c.in), 50), dt);
  const std::vector<float> w_oihw = rounded(random_floats(size_t(c.out * c.in * c.k * c.k), 51, -0.2f, 0.2f), dt);
  const std::vector<float> b = rounded(random_floats(size_t(c.out), 52), dt);
  const std::vector<float> r = rounded(random_floats(size_t(c.n * oh * ow * c.out), 53), dt);
  DeviceArray dx(ctx, x, dt), dw_oihw(ctx, w_oihw, dt), dw(ctx, w_oihw.size(), dt), db(ctx, b, dt), dr(ctx, r, dt),
      dy(ctx, r.size(), dt);
  cuda::ohwi_from_oihw(ctx, dw_oihw.get(), dw.get(), c.out, c.in, c.k, c.k, dt);
  cuda::Conv2d conv(dw.get(), c.bias ? db.get() : nullptr, c.out, c.in, c.k, c.k, c.g, dt);
  ASSERT_EQ(conv.out_height(c.h), oh);
  ASSERT_EQ(conv.out_width(c.w), ow);
  void* y = c.residual == Case::kInPlace ? dr.get() : dy.get();
  const void* residual = c.residual == Case::kNone ? nullptr : dr.get();
  conv.forward(ctx, dx.get(), c.n, c.h, c.w, y, residual, c.act);

  std::vector<double> want(r.size());
  for (int64_t n = 0; n < c.n; ++n)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox)
        for (int64_t o = 0; o < c.out; ++o) {
          double acc = c.bias ? b[size_t(o)] : 0.0;
          for (int ky = 0; ky < c.k; ++ky)
            for (int kx = 0; kx < c.k; ++kx) {
              const int64_t iy = oy * c.g.stride - c.g.pad_top + ky, ix = ox * c.g.stride - c.g.pad_left + kx;
              if (iy < 0 || iy >= c.h || ix < 0 || ix >= c.w) continue;
              for (int64_t i = 0; i < c.in; ++i)
                acc += double(x[size_t(((n * c.h + iy) * c.w + ix) * c.in + i)]) *
                       w_oihw[size_t(((o * c.in + i) * c.k + ky) * c.k + kx)];
            }
          const size_t at = size_t(((n * oh + oy) * ow + ox) * c.out + o);
          acc = ref_act(acc, c.act);
          if (c.residual != Case::kNone) acc += r[at];
          want[at] = acc;
        }
  const std::vector<float> got = c.residual == Case::kInPlace ? dr.download() : dy.download();
  // cuDNN may run float32 convolutions on TF32 tensor cores (10-bit mantissa, like f16).
  EXPECT_TRUE(close_to(got, want, dt == DType::F32 ? DType::F16 : dt))
      << dtype_name(dt) << " " << c.n << "x" << c.h << "x" << c.w << "x" << c.in << " -> " << c.out << " k" << c.k
      << " s" << c.g.stride << " act " << int(c.act) << " residual " << int(c.residual);
}

const cuda::ConvGeometry kSame3{1, 1, 1, 1, 1};

TEST(CudaConv2d, SdGeometries) {
  SD_CUDA_CONTEXT_OR_SKIP(ctx);
  for (DType dt : kFloatTypes) {
    check(ctx, {2, 9, 7, 16, 24, 3, kSame3, true, cuda::Act::None, Case::kNone}, dt);
    check(ctx, {1, 10, 10, 8, 8, 3, {2, 0, 0, 1, 1}, true, cuda::Act::None, Case::kNone}, dt);  // VAE downsample
    check(ctx, {2, 5, 6, 32, 16, 1, {}, true, cuda::Act::None, Case::kNone}, dt);               // 1x1 shortcut
    check(ctx, {2, 8, 8, 4, 32, 3, kSame3, true, cuda::Act::None, Case::kNone}, dt);            // conv_in
    check(ctx, {1, 8, 8, 32, 3, 3, kSame3, true, cuda::Act::None, Case::kNone}, dt);            // VAE conv_out
    check(ctx, {1, 6, 6, 16, 16, 3, {2, 1, 1, 1, 1}, true, cuda::Act::None, Case::kNone}, dt);  // UNet downsample
  }
}

TEST(CudaConv2d, FusedBiasActivationResidual) {
  SD_CUDA_CONTEXT_OR_SKIP(ctx);
  for (DType dt : kFloatTypes) {
    check(ctx, {2, 9, 7, 16, 24, 3, kSame3, true, cuda::Act::None, Case::kSeparate}, dt);  // resnet conv2 + shortcut
    check(ctx, {2, 9, 7, 16, 24, 3, kSame3, true, cuda::Act::SiLU, Case::kNone}, dt);
    check(ctx, {1, 5, 5, 16, 16, 3, kSame3, true, cuda::Act::GELU, Case::kSeparate}, dt);
    check(ctx, {1, 5, 5, 16, 16, 3, kSame3, false, cuda::Act::None, Case::kSeparate}, dt);
    check(ctx, {1, 5, 5, 16, 16, 3, kSame3, false, cuda::Act::None, Case::kNone}, dt);
  }
}

TEST(CudaConv2d, ResidualInPlace) {
  SD_CUDA_CONTEXT_OR_SKIP(ctx);
  for (DType dt : kFloatTypes) {
    check(ctx, {2, 6, 6, 16, 16, 3, kSame3, true, cuda::Act::None, Case::kInPlace}, dt);
    check(ctx, {2, 6, 6, 16, 16, 1, {}, true, cuda::Act::SiLU, Case::kInPlace}, dt);
  }
}

TEST(CudaConv2d, RepeatedShapesReuseThePlan) {
  SD_CUDA_CONTEXT_OR_SKIP(ctx);
  const std::vector<float> w = random_floats(16 * 16 * 9, 54);
  DeviceArray dw(ctx, w, DType::F16), dx(ctx, random_floats(2 * 8 * 8 * 16, 55), DType::F16),
      dy(ctx, 2 * 8 * 8 * 16, DType::F16);
  cuda::Conv2d conv(dw.get(), nullptr, 16, 16, 3, 3, kSame3, DType::F16);
  conv.forward(ctx, dx.get(), 2, 8, 8, dy.get(), nullptr, cuda::Act::None);
  const std::vector<float> first = dy.download();
  const size_t reserved = ctx.pool().usage().reserved;
  for (int i = 0; i < 10; ++i) conv.forward(ctx, dx.get(), 2, 8, 8, dy.get(), nullptr, cuda::Act::None);
  ctx.synchronize();
  EXPECT_EQ(dy.download(), first);
  EXPECT_EQ(ctx.pool().usage().reserved, reserved);
}

}  // namespace
}  // namespace sd::test
