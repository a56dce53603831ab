// Concatenation, nearest upsampling and layout transposes: exact data movement.
#include <gtest/gtest.h>

#include "backend/cuda/layout.h"
#include "cuda/cuda_test_util.h"

namespace sd::test {
namespace {

TEST(CudaLayout, ConcatChannelsInterleavesPerPixel) {
  SD_CUDA_CONTEXT_OR_SKIP(ctx);
  const int64_t pixels = 2 * 7 * 5, ca = 3, cb = 13;
  for (DType dt : kFloatTypes) {
    const std::vector<float> a = rounded(random_floats(size_t(pixels * ca), 20), dt);
    const std::vector<float> b = rounded(random_floats(size_t(pixels * cb), 21), dt);
    DeviceArray da(ctx, a, dt), db(ctx, b, dt), dy(ctx, size_t(pixels * (ca + cb)), dt);
    cuda::concat_channels(ctx, da.get(), ca, db.get(), cb, dy.get(), pixels, dt);
    std::vector<float> want;
    for (int64_t p = 0; p < pixels; ++p) {
      want.insert(want.end(), a.begin() + p * ca, a.begin() + (p + 1) * ca);
      want.insert(want.end(), b.begin() + p * cb, b.begin() + (p + 1) * cb);
    }
    EXPECT_EQ(dy.download(), want) << dtype_name(dt);
  }
}

TEST(CudaLayout, UpsampleNearestRepeatsPixels) {
  SD_CUDA_CONTEXT_OR_SKIP(ctx);
  const int64_t n = 2, h = 3, w = 5, c = 7;
  for (int factor : {1, 2, 3})
    for (DType dt : kFloatTypes) {
      const std::vector<float> x = rounded(random_floats(size_t(n * h * w * c), 22), dt);
      DeviceArray dx(ctx, x, dt), dy(ctx, size_t(n * h * w * c * factor * factor), dt);
      cuda::upsample_nearest(ctx, dx.get(), dy.get(), n, h, w, c, factor, dt);
      std::vector<float> want;
      for (int64_t b = 0; b < n; ++b)
        for (int64_t y = 0; y < h * factor; ++y)
          for (int64_t xx = 0; xx < w * factor; ++xx)
            for (int64_t ch = 0; ch < c; ++ch) want.push_back(x[size_t(((b * h + y / factor) * w + xx / factor) * c + ch)]);
      EXPECT_EQ(dy.download(), want) << "factor " << factor;
    }
}

TEST(CudaLayout, PhasesInterleaveIntoTheDoubledImage) {
  SD_CUDA_CONTEXT_OR_SKIP(ctx);
  const int64_t n = 2, h = 3, w = 4, c = 5;
  for (DType dt : kFloatTypes) {
    std::vector<std::vector<float>> phases;
    DeviceArray out(ctx, size_t(n * 4 * h * w * c), dt);
    for (int p = 0; p < 4; ++p) {
      phases.push_back(rounded(random_floats(size_t(n * h * w * c), 24 + p), dt));
      DeviceArray dp(ctx, phases.back(), dt);
      cuda::write_phase(ctx, dp.get(), out.get(), n, h, w, c, p / 2, p % 2, dt);
      ctx.synchronize();  // dp is freed at the end of this iteration
    }
    std::vector<float> want(out.size());
    for (int p = 0; p < 4; ++p)
      for (int64_t b = 0; b < n; ++b)
        for (int64_t y = 0; y < h; ++y)
          for (int64_t x = 0; x < w; ++x)
            for (int64_t ch = 0; ch < c; ++ch)
              want[size_t(((b * 2 * h + 2 * y + p / 2) * 2 * w + 2 * x + p % 2) * c + ch)] =
                  phases[size_t(p)][size_t(((b * h + y) * w + x) * c + ch)];
    EXPECT_EQ(out.download(), want) << dtype_name(dt);
  }
}

TEST(CudaLayout, TransposesRoundTrip) {
  SD_CUDA_CONTEXT_OR_SKIP(ctx);
  const int64_t n = 3, c = 37, pixels = 65;  // both dimensions cross 32-wide tiles unevenly
  for (DType dt : kFloatTypes) {
    const std::vector<float> x = rounded(random_floats(size_t(n * c * pixels), 23), dt);
    DeviceArray dx(ctx, x, dt), dy(ctx, x.size(), dt), dz(ctx, x.size(), dt);
    cuda::nchw_to_nhwc(ctx, dx.get(), dy.get(), n, c, pixels, dt);
    std::vector<float> want(x.size());
    for (int64_t b = 0; b < n; ++b)
      for (int64_t ch = 0; ch < c; ++ch)
        for (int64_t p = 0; p < pixels; ++p) want[size_t((b * pixels + p) * c + ch)] = x[size_t((b * c + ch) * pixels + p)];
    EXPECT_EQ(dy.download(), want);
    cuda::nhwc_to_nchw(ctx, dy.get(), dz.get(), n, c, pixels, dt);
    EXPECT_EQ(dz.download(), x);
  }
}

TEST(CudaLayout, TransposesMoreThan65535TilesOfPixels) {
  SD_CUDA_CONTEXT_OR_SKIP(ctx);
  // A 2048x2048 image's 4M pixels are 131072 tiles of 32: more than a grid's y extent.
  const int64_t n = 1, c = 3, pixels = 2048 * 2048 + 17;
  const std::vector<float> x = rounded(random_floats(size_t(n * c * pixels), 25), DType::F16);
  DeviceArray dx(ctx, x, DType::F16), dy(ctx, x.size(), DType::F16), dz(ctx, x.size(), DType::F16);
  cuda::nchw_to_nhwc(ctx, dx.get(), dy.get(), n, c, pixels, DType::F16);
  cuda::nhwc_to_nchw(ctx, dy.get(), dz.get(), n, c, pixels, DType::F16);
  const std::vector<float> y = dy.download();
  EXPECT_EQ(y[size_t((pixels - 1) * c + 2)], x[size_t(2 * pixels + pixels - 1)]);
  EXPECT_EQ(dz.download(), x);
}

}  // namespace
}  // namespace sd::test
