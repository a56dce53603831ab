// The tests' PSNR helpers (support/test_support.h) refuse to score results of another size,
// which would otherwise compare a prefix or read past the end.
#include <gtest/gtest.h>

#include <cmath>

#include "support/test_support.h"

namespace sd::test {
namespace {

TEST(PsnrHelpers, RefuseDifferentSizes) {
  const Tensor a = Tensor::from_floats({0.f, 1.f, 2.f, 3.f}, Shape{1, 4});
  EXPECT_THROW(psnr(a, Tensor::from_floats({0.f, 1.f}, Shape{1, 2}), 1.0), Error);
  EXPECT_THROW(psnr(a, Tensor::from_floats({0.f, 1.f, 2.f, 3.f}, Shape{2, 2}), 1.0), Error);
  const io::Image img{2, 2, 3, std::vector<uint8_t>(12, 7)};
  EXPECT_THROW(psnr(img, io::Image{2, 1, 3, std::vector<uint8_t>(6, 7)}), Error);
  EXPECT_THROW(psnr(img, io::Image{1, 4, 3, std::vector<uint8_t>(12, 7)}), Error) << "same bytes, other shape";
  EXPECT_THROW(psnr(img, io::Image{2, 2, 1, std::vector<uint8_t>(4, 7)}), Error);
}

TEST(PsnrHelpers, ScoreEqualSizes) {
  const Tensor a = Tensor::from_floats({0.f, 0.f, 0.f, 0.f}, Shape{1, 4});
  EXPECT_TRUE(std::isinf(psnr(a, a, 1.0)));
  // mse 0.01 over peak 1: 20 dB
  EXPECT_NEAR(psnr(Tensor::from_floats({0.1f, 0.1f, 0.1f, 0.1f}, Shape{1, 4}), a, 1.0), 20.0, 1e-5);
  const io::Image x{1, 1, 3, {0, 0, 0}}, y{1, 1, 3, {255, 255, 255}};
  EXPECT_NEAR(psnr(x, y), 0.0, 1e-12);
}

}  // namespace
}  // namespace sd::test
