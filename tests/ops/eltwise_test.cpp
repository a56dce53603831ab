#include <gtest/gtest.h>

#include "core/half.h"
#include "ops/ops.h"
#include "ops/reference.h"

namespace sd {
namespace {

using ops::Activation;
using test::random_tensor;

TEST(Activation, EachMatchesItsFormula) {
  Tensor x = random_tensor({2, 3, 4, 5}, 1, -6.f, 6.f).contiguous(MemoryFormat::ChannelsLast);
  auto xv = x.to_floats();
  for (int act = 1; act <= 5; ++act) {
    Tensor y = ops::activation(x, Activation(act));
    EXPECT_TRUE(y.is_channels_last()) << "activation " << act;
    std::vector<float> ref(xv.size());
    for (size_t i = 0; i < ref.size(); ++i) ref[i] = float(test::ref_act(xv[i], act));
    EXPECT_TRUE(test::tensors_close(y, Tensor::from_floats(ref, x.shape()), 2e-6))
        << "activation " << act;
  }
  EXPECT_TRUE(test::tensors_close(ops::activation(x, Activation::None), x, 0));
}

TEST(Activation, GeluIsExactErfNotTanh) {
  // At x = 1 the erf form gives 0.841345, the tanh approximation 0.841192.
  Tensor y = ops::gelu(Tensor::from_floats({1.f, -3.f, 0.5f}, {3}));
  auto v = y.to_floats();
  EXPECT_NEAR(v[0], 0.8413447f, 1e-6);
  EXPECT_NEAR(v[1], -0.0040496f, 1e-6);
  EXPECT_NEAR(v[2], 0.3457312f, 1e-6);
}

TEST(Geglu, HalvesTheLastDimension) {
  Tensor x = random_tensor({2, 3, 10}, 2, -4.f, 4.f);
  Tensor y = ops::geglu(x);
  ASSERT_EQ(y.shape(), Shape({2, 3, 5}));
  auto v = x.to_floats();
  std::vector<float> ref(30);
  for (size_t r = 0; r < 6; ++r)
    for (size_t j = 0; j < 5; ++j)
      ref[r * 5 + j] = float(v[r * 10 + j] * test::ref_act(v[r * 10 + 5 + j], 2));
  EXPECT_TRUE(test::tensors_close(y, Tensor::from_floats(ref, {2, 3, 5}), 2e-6));
  EXPECT_THROW(ops::geglu(random_tensor({2, 3}, 1)), Error);
}

TEST(Binary, AddAndMulBroadcastOverChannelsLast) {
  Tensor a = random_tensor({2, 5, 3, 4}, 3).contiguous(MemoryFormat::ChannelsLast);
  Tensor b = random_tensor({2, 5, 1, 1}, 4);  // a time embedding per channel
  auto av = a.to_floats(), bv = b.to_floats();
  std::vector<float> sum(av.size()), prod(av.size());
  for (size_t i = 0; i < av.size(); ++i) {
    const size_t nc = i / 12;
    sum[i] = av[i] + bv[nc];
    prod[i] = av[i] * bv[nc];
  }
  Tensor s = ops::add(a, b);
  EXPECT_TRUE(s.is_channels_last());
  EXPECT_TRUE(test::tensors_close(s, Tensor::from_floats(sum, a.shape()), 0));
  EXPECT_TRUE(test::tensors_close(ops::mul(a, b), Tensor::from_floats(prod, a.shape()), 0));
  // A bias over the last dimension of tokens.
  Tensor t = random_tensor({2, 7, 6}, 5), bias = random_tensor({6}, 6);
  auto tv = t.to_floats(), cv = bias.to_floats();
  std::vector<float> ref(tv.size());
  for (size_t i = 0; i < tv.size(); ++i) ref[i] = tv[i] + cv[i % 6];
  EXPECT_TRUE(test::tensors_close(ops::add(t, bias), Tensor::from_floats(ref, t.shape()), 0));
  ops::add_(t, bias);
  EXPECT_TRUE(test::tensors_close(t, Tensor::from_floats(ref, t.shape()), 0));
  EXPECT_THROW(ops::add(t, random_tensor({5}, 1)), Error);
}

TEST(Binary, MixedLayoutsAndDtypes) {
  Tensor a = random_tensor({1, 4, 3, 5}, 7);
  Tensor b = random_tensor({1, 4, 3, 5}, 8).contiguous(MemoryFormat::ChannelsLast).to(DType::BF16);
  auto av = a.to_floats(), bv = b.to_floats();
  std::vector<float> ref(av.size());
  for (size_t i = 0; i < av.size(); ++i) ref[i] = av[i] + bv[i];
  Tensor s = ops::add(a, b);
  EXPECT_EQ(s.dtype(), DType::F32);
  EXPECT_TRUE(s.is_contiguous());
  EXPECT_TRUE(test::tensors_close(s, Tensor::from_floats(ref, a.shape()), 0));
  Tensor sb = ops::add(b, a);  // bf16 result, rounded once
  EXPECT_EQ(sb.dtype(), DType::BF16);
  EXPECT_TRUE(test::tensors_close(sb, Tensor::from_floats(ref, a.shape()), 1e-2));
}

TEST(Axpby, ScaleAndCombine) {
  Tensor a = random_tensor({3, 4, 5, 6}, 9), b = random_tensor({3, 4, 5, 6}, 10);
  auto av = a.to_floats(), bv = b.to_floats();
  std::vector<float> ref(av.size()), sc(av.size());
  for (size_t i = 0; i < av.size(); ++i) {
    ref[i] = av[i] * 0.7f + bv[i] * -1.3f;
    sc[i] = av[i] * 2.5f;
  }
  EXPECT_TRUE(test::tensors_close(ops::axpby(a, 0.7f, b, -1.3f), Tensor::from_floats(ref, a.shape()), 1e-6));
  EXPECT_TRUE(test::tensors_close(ops::scale(a, 2.5f), Tensor::from_floats(sc, a.shape()), 0));
  EXPECT_THROW(ops::axpby(a, 1.f, random_tensor({3, 4}, 1), 1.f), Error);
}

}  // namespace
}  // namespace sd
