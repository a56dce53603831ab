#include <gtest/gtest.h>

#include "ops/flop_count.h"
#include "ops/ops.h"
#include "ops/reference.h"

namespace sd {
namespace {

using test::random_tensor;

// The fused module against the two steps it replaces: upsample, then a padded 3x3 conv.
Tensor upsample_then_conv(const Tensor& x, const Tensor& w, const Tensor& b) {
  ops::Conv2d conv(w, b, ops::Conv2dOptions::same(1));
  return conv.forward(ops::upsample_nearest2x(x));
}

TEST(UpsampleConv2d, MatchesUpsampleThenConvInFloat32) {
  for (const Shape& shape : {Shape{1, 3, 4, 4}, Shape{2, 5, 3, 7}, Shape{1, 17, 1, 1}}) {
    const int64_t co = shape[1] + 2;
    Tensor x = random_tensor(shape, 11);
    Tensor w = random_tensor({co, shape[1], 3, 3}, 12, -0.5f, 0.5f);
    Tensor b = random_tensor({co}, 13);
    Tensor expect = upsample_then_conv(x, w, b);
    ops::UpsampleConv2d fused(w, b, DType::F32);
    Tensor y = fused.forward(x);
    EXPECT_EQ(y.shape(), expect.shape()) << shape.str();
    EXPECT_TRUE(y.is_channels_last());
    EXPECT_TRUE(test::tensors_close(y, expect, test::f32_tol(expect))) << shape.str();
  }
}

TEST(UpsampleConv2d, MatchesUpsampleThenConvInBf16) {
  Tensor x = random_tensor({2, 32, 6, 5}, 21);
  Tensor w = random_tensor({16, 32, 3, 3}, 22, -0.2f, 0.2f);
  Tensor b = random_tensor({16}, 23);
  Tensor expect = upsample_then_conv(x, w, b);
  ops::UpsampleConv2d fused(w, b, DType::BF16);
  Tensor y = fused.forward(ops::to_dtype(x, DType::BF16));
  EXPECT_EQ(y.dtype(), DType::BF16);
  // bf16 keeps 8 bits of mantissa: a few parts in a thousand of the output's range.
  EXPECT_TRUE(test::tensors_close(ops::to_dtype(y, DType::F32), expect, 0.02 * test::max_abs(expect)));
}

TEST(UpsampleConv2d, CountsTheArithmeticOfTheConvItReplaces) {
  Tensor x = random_tensor({1, 8, 4, 4}, 31);
  Tensor w = random_tensor({8, 8, 3, 3}, 32);
  Tensor b = random_tensor({8}, 33);
  ops::UpsampleConv2d fused(w, b, DType::F32);
  ops::reset_flop_count();
  fused.forward(x);
  EXPECT_DOUBLE_EQ(ops::flops_counted(), 2.0 * (8 * 8 * 8) * 8 * 9);
}

TEST(UpsampleConv2d, RejectsAKernelThatIsNot3x3) {
  EXPECT_THROW(ops::UpsampleConv2d(random_tensor({4, 4, 1, 1}, 41), random_tensor({4}, 42), DType::F32),
               Error);
}

}  // namespace
}  // namespace sd
