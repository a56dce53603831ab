#include <gtest/gtest.h>

#include "core/half.h"
#include "ops/ops.h"
#include "ops/reference.h"

namespace sd {
namespace {

using test::random_tensor;

TEST(Layout, RoundTripsBetweenLayoutsAndDtypes) {
  Tensor x = random_tensor({2, 19, 7, 9}, 1);
  Tensor cl = ops::to_layout(x, MemoryFormat::ChannelsLast);
  EXPECT_TRUE(cl.is_channels_last());
  EXPECT_TRUE(test::tensors_close(cl, x, 0));
  Tensor back = ops::to_layout(cl, MemoryFormat::Contiguous);
  EXPECT_TRUE(back.is_contiguous());
  EXPECT_EQ(back.to_floats(), x.to_floats());
  EXPECT_TRUE(ops::to_layout(cl, MemoryFormat::ChannelsLast).shares_storage(cl));

  Tensor b = ops::to_dtype(cl, DType::BF16);
  EXPECT_EQ(b.dtype(), DType::BF16);
  EXPECT_TRUE(b.is_channels_last());
  auto xv = x.to_floats(), bv = b.to_floats();
  for (size_t i = 0; i < xv.size(); ++i) ASSERT_EQ(bv[i], bf16_to_f32(f32_to_bf16(xv[i])));
  // Layout and dtype at once, both directions.
  Tensor bn = ops::to_layout(b, MemoryFormat::Contiguous);
  EXPECT_TRUE(bn.is_contiguous());
  EXPECT_EQ(bn.to_floats(), bv);
  Tensor f = ops::to_dtype(bn, DType::F32);
  EXPECT_EQ(f.to_floats(), bv);
  // A strided view converts too.
  Tensor view = x.narrow(1, 3, 5);
  EXPECT_TRUE(test::tensors_close(ops::to_layout(view, MemoryFormat::ChannelsLast),
                                  view.contiguous(), 0));
}

TEST(Layout, TokensAreViews) {
  Tensor x = ops::to_layout(random_tensor({2, 6, 3, 5}, 2), MemoryFormat::ChannelsLast);
  Tensor t = ops::as_tokens(x);
  ASSERT_EQ(t.shape(), Shape({2, 15, 6}));
  EXPECT_TRUE(t.shares_storage(x));
  EXPECT_TRUE(t.is_contiguous());
  auto xv = x.to_floats(), tv = t.to_floats();
  // token (b, y*W+x, c) = x[b, c, y, x]
  EXPECT_EQ(tv[((1 * 15) + 2 * 5 + 4) * 6 + 3], xv[((1 * 6 + 3) * 3 + 2) * 5 + 4]);
  Tensor back = ops::from_tokens(t, 3, 5);
  EXPECT_TRUE(back.shares_storage(x));
  EXPECT_TRUE(back.is_channels_last());
  EXPECT_EQ(back.to_floats(), xv);
  EXPECT_THROW(ops::from_tokens(t, 4, 4), Error);
}

TEST(Upsample, Nearest2xInEitherLayout) {
  Tensor x = random_tensor({2, 3, 4, 5}, 3);
  auto xv = x.to_floats();
  std::vector<float> ref(static_cast<size_t>(2 * 3 * 8 * 10));
  for (int64_t nc = 0; nc < 6; ++nc)
    for (int64_t y = 0; y < 8; ++y)
      for (int64_t xx = 0; xx < 10; ++xx)
        ref[size_t((nc * 8 + y) * 10 + xx)] = xv[size_t((nc * 4 + y / 2) * 5 + xx / 2)];
  Tensor expect = Tensor::from_floats(ref, {2, 3, 8, 10});
  Tensor y = ops::upsample_nearest2x(x);
  EXPECT_TRUE(y.is_channels_last());
  EXPECT_TRUE(test::tensors_close(y, expect, 0));
  EXPECT_TRUE(test::tensors_close(
      ops::upsample_nearest2x(x.contiguous(MemoryFormat::ChannelsLast).to(DType::BF16)),
      expect, 1e-2));
}

TEST(Concat, AlongChannelsAndOtherAxes) {
  Tensor a = ops::to_layout(random_tensor({2, 3, 4, 5}, 4), MemoryFormat::ChannelsLast);
  Tensor b = random_tensor({2, 7, 4, 5}, 5);  // NCHW: converted on the way
  Tensor c = ops::concat({a, b}, 1);
  ASSERT_EQ(c.shape(), Shape({2, 10, 4, 5}));
  EXPECT_TRUE(c.is_channels_last());
  EXPECT_TRUE(test::tensors_close(c.narrow(1, 0, 3), a, 0));
  EXPECT_TRUE(test::tensors_close(c.narrow(1, 3, 7), b, 0));
  Tensor d = ops::concat({b, b.narrow(0, 1, 1)}, 0);
  ASSERT_EQ(d.shape(), Shape({3, 7, 4, 5}));
  EXPECT_TRUE(test::tensors_close(d.narrow(0, 2, 1), b.narrow(0, 1, 1), 0));
  Tensor t1 = random_tensor({2, 3, 6}, 6), t2 = random_tensor({2, 4, 6}, 7);
  Tensor e = ops::concat({t1, t2}, -2);
  EXPECT_TRUE(test::tensors_close(e.narrow(1, 3, 4), t2, 0));
  EXPECT_THROW(ops::concat({t1, random_tensor({2, 3, 5}, 1)}, 1), Error);
  EXPECT_THROW(ops::concat({}, 0), Error);
}

}  // namespace
}  // namespace sd
