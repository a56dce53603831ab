// GroupNorm(+SiLU) and LayerNorm against double references, in every float dtype, on
// odd shapes and on a group large enough to be split across blocks.
#include <gtest/gtest.h>

#include "backend/cuda/norm.h"
#include "cuda/cuda_test_util.h"
#include "cuda/reference.h"

namespace sd::test {
namespace {

struct GroupNormCase {
  int64_t n, pixels, channels;
  int groups;
};

TEST(CudaNorm, GroupNormMatchesWithAndWithoutSilu) {
  SD_CUDA_CONTEXT_OR_SKIP(ctx);
  // SD's 32 groups on odd image sizes; a 96x96 latent (split reductions); few channels.
  const GroupNormCase cases[] = {{2, 37, 96, 32}, {1, 96 * 96, 64, 32}, {3, 5, 4, 2}, {1, 1, 32, 32}};
  for (const auto& c : cases)
    for (DType dt : kFloatTypes)
      for (bool silu : {false, true}) {
        // An offset mean stresses the variance computation (E[x^2] - E[x]^2 would cancel).
        const std::vector<float> x = rounded(random_floats(size_t(c.n * c.pixels * c.channels), 11, 9.f, 11.f), dt);
        const std::vector<float> gamma = random_floats(size_t(c.channels), 12, 0.5f, 1.5f);
        const std::vector<float> beta = random_floats(size_t(c.channels), 13);
        DeviceArray dx(ctx, x, dt), dy(ctx, x.size(), dt);
        DeviceArray dg(ctx, gamma, DType::F32), db(ctx, beta, DType::F32);
        cuda::group_norm(ctx, dx.get(), dy.get(), c.n, c.pixels, c.channels, c.groups, static_cast<float*>(dg.get()),
                         static_cast<float*>(db.get()), 1e-5f, silu, dt);
        const auto want = ref_group_norm(x, c.n, c.pixels, c.channels, c.groups, gamma, beta, 1e-5, silu);
        EXPECT_TRUE(close_to(dy.download(), want, dt, dt == DType::F32 ? 10.0 : 1.0))
            << c.n << "x" << c.pixels << "x" << c.channels << "/" << c.groups << " silu " << silu;
        cuda::group_norm(ctx, dx.get(), dx.get(), c.n, c.pixels, c.channels, c.groups, static_cast<float*>(dg.get()),
                         static_cast<float*>(db.get()), 1e-5f, silu, dt);
        EXPECT_TRUE(close_to(dx.download(), want, dt, dt == DType::F32 ? 10.0 : 1.0)) << "in place";
      }
}

TEST(CudaNorm, GroupNormRefusesChannelsThatDoNotDivide) {
  SD_CUDA_CONTEXT_OR_SKIP(ctx);
  DeviceArray dx(ctx, 30, DType::F32);
  EXPECT_THROW(cuda::group_norm(ctx, dx.get(), dx.get(), 1, 1, 30, 32, nullptr, nullptr, 1e-5f, false, DType::F32),
               Error);
}

TEST(CudaNorm, LayerNormMatchesOverTheLastDimension) {
  SD_CUDA_CONTEXT_OR_SKIP(ctx);
  const std::pair<int64_t, int64_t> shapes[] = {{77, 768}, {130, 1280}, {5, 1}, {3, 2049}};
  for (auto [rows, channels] : shapes)
    for (DType dt : kFloatTypes)
      for (bool affine : {false, true}) {
        const std::vector<float> x = rounded(random_floats(size_t(rows * channels), 14, -2.f, 4.f), dt);
        const std::vector<float> gamma = random_floats(size_t(channels), 15, 0.5f, 1.5f);
        const std::vector<float> beta = random_floats(size_t(channels), 16);
        DeviceArray dx(ctx, x, dt), dy(ctx, x.size(), dt);
        DeviceArray dg(ctx, gamma, DType::F32), db(ctx, beta, DType::F32);
        cuda::layer_norm(ctx, dx.get(), dy.get(), rows, channels, affine ? static_cast<float*>(dg.get()) : nullptr,
                         affine ? static_cast<float*>(db.get()) : nullptr, 1e-5f, dt);
        std::vector<double> want(x.size());
        for (int64_t r = 0; r < rows; ++r) {
          double mean = 0, var = 0;
          for (int64_t c = 0; c < channels; ++c) mean += x[size_t(r * channels + c)];
          mean /= double(channels);
          for (int64_t c = 0; c < channels; ++c) var += std::pow(x[size_t(r * channels + c)] - mean, 2);
          const double rstd = 1 / std::sqrt(var / double(channels) + 1e-5);
          for (int64_t c = 0; c < channels; ++c) {
            double v = (x[size_t(r * channels + c)] - mean) * rstd;
            if (affine) v = v * gamma[size_t(c)] + beta[size_t(c)];
            want[size_t(r * channels + c)] = v;
          }
        }
        EXPECT_TRUE(close_to(dy.download(), want, dt, dt == DType::F32 ? 10.0 : 1.0))
            << rows << "x" << channels << " affine " << affine;
      }
}

TEST(CudaNorm, SoftmaxOverTheLastDimension) {
  SD_CUDA_CONTEXT_OR_SKIP(ctx);
  const std::pair<int64_t, int64_t> shapes[] = {{77, 77}, {3, 4097}, {4, 1}};
  for (auto [rows, channels] : shapes)
    for (DType dt : kFloatTypes) {
      const std::vector<float> x = rounded(random_floats(size_t(rows * channels), 17, -20.f, 20.f), dt);
      DeviceArray dx(ctx, x, dt), dy(ctx, x.size(), dt);
      cuda::softmax(ctx, dx.get(), dy.get(), rows, channels, dt);
      std::vector<double> want(x.size());
      for (int64_t r = 0; r < rows; ++r) {
        double mx = -INFINITY, sum = 0;
        for (int64_t c = 0; c < channels; ++c) mx = std::max(mx, double(x[size_t(r * channels + c)]));
        for (int64_t c = 0; c < channels; ++c) sum += std::exp(x[size_t(r * channels + c)] - mx);
        for (int64_t c = 0; c < channels; ++c) want[size_t(r * channels + c)] = std::exp(x[size_t(r * channels + c)] - mx) / sum;
      }
      EXPECT_TRUE(close_to(dy.download(), want, dt)) << rows << "x" << channels;
    }
}

}  // namespace
}  // namespace sd::test
