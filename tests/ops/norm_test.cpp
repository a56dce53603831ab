#include <gtest/gtest.h>

#include "ops/ops.h"
#include "ops/reference.h"

namespace sd {
namespace {

using test::random_tensor;

std::vector<float> ref_group_norm(const std::vector<float>& x, int64_t n, int64_t c, int64_t s,
                                  int64_t groups, const std::vector<float>& g,
                                  const std::vector<float>& b, double eps, bool silu) {
  std::vector<float> y(x.size());
  const int64_t cg = c / groups;
  for (int64_t bi = 0; bi < n; ++bi)
    for (int64_t gi = 0; gi < groups; ++gi) {
      const size_t base = size_t((bi * c + gi * cg) * s);
      const size_t cnt = size_t(cg * s);
      double mean = 0, var = 0;
      for (size_t i = 0; i < cnt; ++i) mean += x[base + i];
      mean /= double(cnt);
      for (size_t i = 0; i < cnt; ++i) var += (x[base + i] - mean) * (x[base + i] - mean);
      var /= double(cnt);
      for (size_t i = 0; i < cnt; ++i) {
        const int64_t ch = gi * cg + int64_t(i) / s;
        double v = (x[base + i] - mean) / std::sqrt(var + eps) * g[size_t(ch)] + b[size_t(ch)];
        y[base + i] = float(silu ? test::ref_act(v, 1) : v);
      }
    }
  return y;
}

TEST(GroupNorm, MatchesReferenceInBothLayouts) {
  const int64_t n = 2, c = 12, h = 3, w = 5;
  Tensor x = random_tensor({n, c, h, w}, 1, -2.f, 3.f);
  Tensor g = random_tensor({c}, 2, 0.5f, 1.5f), b = random_tensor({c}, 3);
  ops::GroupNorm gn(4, g, b, 1e-5f);
  for (bool silu : {false, true}) {
    Tensor expect = Tensor::from_floats(
        ref_group_norm(x.to_floats(), n, c, h * w, 4, g.to_floats(), b.to_floats(), 1e-5, silu),
        {n, c, h, w});
    Tensor y = gn.forward(x, silu);
    EXPECT_TRUE(y.is_contiguous());
    EXPECT_TRUE(test::tensors_close(y, expect, 2e-5)) << "planar, silu " << silu;
    Tensor ycl = gn.forward(x.contiguous(MemoryFormat::ChannelsLast), silu);
    EXPECT_TRUE(ycl.is_channels_last());
    EXPECT_TRUE(test::tensors_close(ycl, expect, 2e-5)) << "channels-last, silu " << silu;
  }
}

TEST(GroupNorm, InPlaceOverwritesASoleOwnerAndSparesSharedMemory) {
  Tensor g = random_tensor({12}, 11, 0.5f, 1.5f), b = random_tensor({12}, 12);
  ops::GroupNorm gn(4, g, b, 1e-5f);
  for (MemoryFormat fmt : {MemoryFormat::Contiguous, MemoryFormat::ChannelsLast}) {
    const Tensor x = random_tensor({2, 12, 3, 5}, 13).contiguous(fmt);
    const Tensor expect = gn.forward(x, true);

    Tensor sole = x.clone(fmt);
    const void* memory = sole.raw_data();
    gn.forward_(sole, true);
    EXPECT_EQ(sole.raw_data(), memory) << "a sole owner is normalised where it lies";
    EXPECT_TRUE(test::tensors_close(sole, expect, 0.0));

    Tensor shared = x;  // x still refers to the memory: it must keep its value
    gn.forward_(shared, true);
    EXPECT_FALSE(shared.shares_storage(x));
    EXPECT_TRUE(test::tensors_close(shared, expect, 0.0));
    EXPECT_TRUE(test::tensors_close(x, random_tensor({2, 12, 3, 5}, 13), 0.0));
  }
}

TEST(GroupNorm, StableWithLargeMeanAndManyPixels) {
  // A large offset relative to the spread defeats the E[x^2]-E[x]^2 shortcut.
  const int64_t n = 1, c = 40, h = 37, w = 29;  // several statistic chunks per group
  Tensor x = random_tensor({n, c, h, w}, 4, 99.f, 101.f);
  Tensor g = random_tensor({c}, 5, 0.5f, 1.5f), b = random_tensor({c}, 6);
  ops::GroupNorm gn(8, g, b, 1e-6f);
  Tensor expect = Tensor::from_floats(
      ref_group_norm(x.to_floats(), n, c, h * w, 8, g.to_floats(), b.to_floats(), 1e-6, false),
      {n, c, h, w});
  EXPECT_TRUE(test::tensors_close(gn.forward(x), expect, 2e-3));
  EXPECT_TRUE(test::tensors_close(gn.forward(x.contiguous(MemoryFormat::ChannelsLast)), expect, 2e-3));
}

TEST(GroupNorm, HandlesStridedInputAndThreeDims) {
  Tensor big = random_tensor({2, 8, 4, 6}, 7);
  Tensor x = big.narrow(3, 1, 4);  // neither contiguous nor channels-last
  Tensor g = random_tensor({8}, 8), b = random_tensor({8}, 9);
  ops::GroupNorm gn(2, g, b, 1e-5f);
  Tensor expect = Tensor::from_floats(ref_group_norm(x.contiguous().to_floats(), 2, 8, 16, 2,
                                                     g.to_floats(), b.to_floats(), 1e-5, true),
                                      {2, 8, 4, 4});
  EXPECT_TRUE(test::tensors_close(gn.forward(x, true), expect, 2e-5));
  Tensor x3 = random_tensor({2, 8, 10}, 10);
  Tensor e3 = Tensor::from_floats(ref_group_norm(x3.to_floats(), 2, 8, 10, 2, g.to_floats(),
                                                 b.to_floats(), 1e-5, false),
                                  {2, 8, 10});
  EXPECT_TRUE(test::tensors_close(gn.forward(x3), e3, 2e-5));
  EXPECT_THROW(gn.forward(random_tensor({2, 6, 4, 4}, 1)), Error);
  EXPECT_THROW(ops::GroupNorm(3, g, b, 1e-5f), Error);
}

std::vector<float> ref_layer_norm(const std::vector<float>& x, int64_t m, int64_t c,
                                  const std::vector<float>& g, const std::vector<float>& b,
                                  double eps) {
  std::vector<float> y(x.size());
  for (int64_t r = 0; r < m; ++r) {
    double mean = 0, var = 0;
    for (int64_t j = 0; j < c; ++j) mean += x[size_t(r * c + j)];
    mean /= double(c);
    for (int64_t j = 0; j < c; ++j) var += std::pow(x[size_t(r * c + j)] - mean, 2);
    var /= double(c);
    for (int64_t j = 0; j < c; ++j)
      y[size_t(r * c + j)] =
          float((x[size_t(r * c + j)] - mean) / std::sqrt(var + eps) * g[size_t(j)] + b[size_t(j)]);
  }
  return y;
}

TEST(LayerNorm, MatchesReferenceOnContiguousAndStridedRows) {
  Tensor x = random_tensor({2, 7, 37}, 11, -3.f, 5.f);
  Tensor g = random_tensor({37}, 12), b = random_tensor({37}, 13);
  ops::LayerNorm ln(g, b, 1e-5f);
  Tensor expect = Tensor::from_floats(
      ref_layer_norm(x.to_floats(), 14, 37, g.to_floats(), b.to_floats(), 1e-5), {2, 7, 37});
  EXPECT_TRUE(test::tensors_close(ln.forward(x), expect, 2e-5));
  Tensor fused = random_tensor({2, 5, 80}, 14);
  Tensor xs = fused.narrow(2, 40, 37);
  Tensor es = Tensor::from_floats(
      ref_layer_norm(xs.contiguous().to_floats(), 10, 37, g.to_floats(), b.to_floats(), 1e-5),
      {2, 5, 37});
  EXPECT_TRUE(test::tensors_close(ln.forward(xs), es, 2e-5));
  EXPECT_THROW(ln.forward(random_tensor({2, 36}, 1)), Error);
}

TEST(Softmax, MatchesReferenceWithLargeValues) {
  Tensor x = random_tensor({3, 5, 29}, 15, -50.f, 80.f);
  auto v = x.to_floats();
  std::vector<float> ref(v.size());
  for (size_t r = 0; r < v.size() / 29; ++r) {
    double mx = -INFINITY, sum = 0;
    for (size_t j = 0; j < 29; ++j) mx = std::max(mx, double(v[r * 29 + j]));
    for (size_t j = 0; j < 29; ++j) sum += std::exp(v[r * 29 + j] - mx);
    for (size_t j = 0; j < 29; ++j) ref[r * 29 + j] = float(std::exp(v[r * 29 + j] - mx) / sum);
  }
  EXPECT_TRUE(test::tensors_close(ops::softmax(x), Tensor::from_floats(ref, {3, 5, 29}), 1e-6));
}

}  // namespace
}  // namespace sd
