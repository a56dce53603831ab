// Copies, fills and binary ops over strided views: a channel range of a channels-last
// image, a transposed view, a broadcast (zero strides), mixed dtypes.
#include <gtest/gtest.h>

#include "backend/cuda/strided.h"
#include "cuda/cuda_test_util.h"

namespace sd::test {
namespace {

// Logical [2, 3, 4, 5] (N, C, H, W) stored channels-last inside a wider 7-channel image,
// at channel offset 2: strides in elements.
constexpr int64_t kN = 2, kC = 3, kH = 4, kW = 5, kWide = 7, kOffset = 2;

cuda::Extent nchw() { return {4, {kN, kC, kH, kW}}; }

int64_t wide_index(int64_t n, int64_t c, int64_t y, int64_t x) { return ((n * kH + y) * kW + x) * kWide + kOffset + c; }

TEST(CudaStrided, CopiesAChannelRangeOutOfAChannelsLastImageWithConversion) {
  SD_CUDA_CONTEXT_OR_SKIP(ctx);
  for (DType from : kFloatTypes)
    for (DType to : kFloatTypes) {
      const std::vector<float> wide = rounded(random_floats(size_t(kN * kH * kW * kWide), 60), from);
      DeviceArray src(ctx, wide, from), dst(ctx, size_t(kN * kC * kH * kW), to);
      const size_t esize = dtype_size(from);
      cuda::View s{static_cast<const char*>(src.get()) + kOffset * esize, from, {kH * kW * kWide, 1, kW * kWide, kWide}};
      cuda::View d{dst.get(), to, {kC * kH * kW, kH * kW, kW, 1}};
      cuda::copy_strided(ctx, nchw(), s, d);
      std::vector<float> want;
      for (int64_t n = 0; n < kN; ++n)
        for (int64_t c = 0; c < kC; ++c)
          for (int64_t y = 0; y < kH; ++y)
            for (int64_t x = 0; x < kW; ++x) want.push_back(round_to(wide[size_t(wide_index(n, c, y, x))], to));
      EXPECT_EQ(dst.download(), want) << dtype_name(from) << " -> " << dtype_name(to);
    }
}

TEST(CudaStrided, FillsOnlyTheView) {
  SD_CUDA_CONTEXT_OR_SKIP(ctx);
  for (DType dt : kFloatTypes) {
    const std::vector<float> wide = rounded(random_floats(size_t(kN * kH * kW * kWide), 61), dt);
    DeviceArray buf(ctx, wide, dt);
    cuda::View v{static_cast<const char*>(buf.get()) + kOffset * dtype_size(dt), dt, {kH * kW * kWide, 1, kW * kWide, kWide}};
    cuda::fill_strided(ctx, nchw(), v, -2.5f);
    std::vector<float> want = wide;
    for (int64_t n = 0; n < kN; ++n)
      for (int64_t c = 0; c < kC; ++c)
        for (int64_t y = 0; y < kH; ++y)
          for (int64_t x = 0; x < kW; ++x) want[size_t(wide_index(n, c, y, x))] = -2.5f;
    EXPECT_EQ(buf.download(), want) << dtype_name(dt);
  }
}

TEST(CudaStrided, BinaryBroadcastsZeroStridesAcrossDtypes) {
  SD_CUDA_CONTEXT_OR_SKIP(ctx);
  for (DType adt : kFloatTypes)
    for (DType bdt : kFloatTypes) {
      const std::vector<float> a = rounded(random_floats(size_t(kN * kC * kH * kW), 62), adt);
      const std::vector<float> b = rounded(random_floats(size_t(kN * kC), 63), bdt);  // [N, C, 1, 1]
      DeviceArray da(ctx, a, adt), db(ctx, b, bdt);
      cuda::View va{da.get(), adt, {kC * kH * kW, kH * kW, kW, 1}};
      cuda::View vb{db.get(), bdt, {kC, 1, 0, 0}};
      cuda::binary_strided(ctx, nchw(), va, vb, va, cuda::BinaryOp::Mul);  // in place
      std::vector<double> want(a.size());
      for (size_t i = 0; i < a.size(); ++i) want[i] = double(a[i]) * b[i / size_t(kH * kW)];
      EXPECT_TRUE(close_to(da.download(), want, adt)) << dtype_name(adt) << " * " << dtype_name(bdt);
    }
}

TEST(CudaStrided, RefusesTooManyDimensions) {
  SD_CUDA_CONTEXT_OR_SKIP(ctx);
  DeviceArray buf(ctx, 8, DType::F32);
  cuda::Extent e{7, {1, 1, 1, 1, 1, 1}};
  cuda::View v{buf.get(), DType::F32, {}};
  EXPECT_THROW(cuda::fill_strided(ctx, e, v, 0.f), Error);
}

}  // namespace
}  // namespace sd::test
