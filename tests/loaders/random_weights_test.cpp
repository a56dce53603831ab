// Seeded random weights: reproducible per tensor name, scaled by role, and good enough to
// run a model end to end.
#include "loaders/random_weights.h"

#include <gtest/gtest.h>

#include <cmath>

#include "models/unet_2d_condition.h"
#include "models/reference.h"

namespace sd::models {
namespace {

double mean_of(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += x;
  return s / double(v.size());
}

double std_of(const std::vector<float>& v) {
  const double m = mean_of(v);
  double s = 0;
  for (float x : v) s += (x - m) * (x - m);
  return std::sqrt(s / double(v.size()));
}

TEST(RandomWeights, SameSeedAndNameGiveTheSameTensorInAnyOrder) {
  const RandomWeights a(7), b(7), c(8);
  const Tensor x = a.get("down.conv.weight", Shape{64, 32, 3, 3}, DType::F32);
  b.get("other.weight", Shape{16, 16}, DType::F32);
  EXPECT_TRUE(test::tensors_close(b.get("down.conv.weight", Shape{64, 32, 3, 3}, DType::F32), x, 0.0));
  EXPECT_GT(test::max_abs_diff(c.get("down.conv.weight", Shape{64, 32, 3, 3}, DType::F32), x), 0.1);
  EXPECT_GT(test::max_abs_diff(a.get("down.conv2.weight", Shape{64, 32, 3, 3}, DType::F32), x), 0.1);
}

TEST(RandomWeights, ScalesFollowTheRoleOfTheTensor) {
  const RandomWeights w(1);
  const auto conv = w.get("conv.weight", Shape{128, 64, 3, 3}, DType::F32).to_floats();
  EXPECT_NEAR(mean_of(conv), 0.0, 0.01);
  EXPECT_NEAR(std_of(conv), 1.0 / std::sqrt(64.0 * 9.0), 0.002);
  const auto gamma = w.get("norm1.weight", Shape{4096}, DType::F32).to_floats();
  EXPECT_NEAR(mean_of(gamma), 1.0, 0.01);
  EXPECT_NEAR(std_of(gamma), 0.05, 0.005);
  const auto bias = w.get("conv.bias", Shape{4096}, DType::F32).to_floats();
  EXPECT_NEAR(mean_of(bias), 0.0, 0.002);
  EXPECT_NEAR(std_of(bias), 0.02, 0.002);
}

TEST(RandomWeights, Bf16IsTheRoundedF32) {
  const RandomWeights w(3);
  const Tensor f = w.get("x.weight", Shape{33, 17}, DType::F32);
  const Tensor b = w.get("x.weight", Shape{33, 17}, DType::BF16);
  EXPECT_EQ(b.dtype(), DType::BF16);
  EXPECT_TRUE(test::tensors_close(b, f.to(DType::BF16), 0.0));
}

TEST(RandomWeights, BuildAndRunAUNetFromItsConfig) {
  const UNetConfig config = UNetConfig::load(test::fixture_path("tiny-sdxl/unet/config.json"));
  const UNet2DConditionModel unet(config, RandomWeights(42));
  const Tensor sample = RandomWeights(1).get("sample", Shape{1, 4, 16, 16}, DType::F32);
  const Tensor context = RandomWeights(2).get("context", Shape{1, 77, 96}, DType::F32);
  const UNetAddedCond added{RandomWeights(3).get("text", Shape{1, 64}, DType::F32),
                            Tensor::from_floats({64, 64, 0, 0, 64, 64}, Shape{1, 6})};
  const Tensor out = unet.forward(sample, {500.f}, context, &added);
  ASSERT_EQ(out.shape(), (Shape{1, 4, 16, 16}));
  const auto v = out.to_floats();
  for (float x : v) ASSERT_TRUE(std::isfinite(x));
  EXPECT_GT(std_of(v), 0.01);
  EXPECT_LT(std_of(v), 100.0);
}

}  // namespace
}  // namespace sd::models
