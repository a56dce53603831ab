#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <utility>

#include "backend/cpu/convolution.h"
#include "ops/ops.h"
#include "ops/reference.h"

namespace sd {
namespace {

using ops::Activation;
using ops::Conv2d;
using ops::Conv2dOptions;
using test::random_tensor;

struct ConvCase {
  int64_t n, ci, h, w, co, k;
  Conv2dOptions opt;
  bool bias;
};

// Runs one conv against the reference; `cl` feeds the input channels-last.
void check_conv(const ConvCase& c, bool cl, uint32_t seed) {
  Tensor x = random_tensor({c.n, c.ci, c.h, c.w}, seed);
  Tensor w = random_tensor({c.co, c.ci, c.k, c.k}, seed + 1, -0.5f, 0.5f);
  Tensor b = c.bias ? random_tensor({c.co}, seed + 2) : Tensor();
  Conv2d conv(w, b, c.opt);
  Tensor in = cl ? x.contiguous(MemoryFormat::ChannelsLast) : x;
  Tensor y = conv.forward(in);
  int64_t ho, wo;
  auto ref = test::ref_conv2d(x.to_floats(), c.n, c.ci, c.h, c.w, w.to_floats(), c.co, c.k, c.k,
                              c.bias ? b.to_floats() : std::vector<float>{}, c.opt.stride,
                              c.opt.pad_top, c.opt.pad_left, c.opt.pad_bottom, c.opt.pad_right,
                              &ho, &wo);
  Tensor expect = Tensor::from_floats(ref, {c.n, c.co, ho, wo});
  EXPECT_TRUE(y.is_channels_last());
  EXPECT_EQ(y.dtype(), DType::F32);
  EXPECT_TRUE(test::tensors_close(y, expect, test::f32_tol(expect)));
}

TEST(Conv2d, Same3x3MatchesReference) {
  check_conv({2, 5, 6, 9, 7, 3, Conv2dOptions::same(1), true}, false, 1);
  check_conv({2, 5, 6, 9, 7, 3, Conv2dOptions::same(1), true}, true, 2);
}

TEST(Conv2d, OddChannelCountsMatchReference) {
  check_conv({1, 19, 5, 4, 35, 3, Conv2dOptions::same(1), true}, true, 3);
  check_conv({2, 33, 7, 3, 17, 3, Conv2dOptions::same(1), false}, false, 4);
}

TEST(Conv2d, AsymmetricPaddingStride2AsVaeDownsample) {
  // diffusers Downsample2D with padding=0 pads (0,1,0,1) then convs 3x3 with stride 2.
  Conv2dOptions opt;
  opt.stride = 2;
  opt.pad_bottom = 1;
  opt.pad_right = 1;
  check_conv({2, 6, 8, 10, 6, 3, opt, true}, true, 5);
  check_conv({1, 3, 7, 9, 19, 3, opt, true}, false, 6);  // odd sizes
}

TEST(Conv2d, PointwiseMatchesReference) {
  check_conv({2, 20, 5, 7, 12, 1, Conv2dOptions{}, true}, true, 7);
  check_conv({1, 4, 3, 3, 3, 1, Conv2dOptions{}, false}, false, 8);
}

TEST(Conv2d, FusesActivationThenResidual) {
  Tensor x = random_tensor({2, 6, 5, 4}, 10);
  Tensor w = random_tensor({9, 6, 3, 3}, 11);
  Tensor b = random_tensor({9}, 12);
  Tensor r = random_tensor({2, 9, 5, 4}, 13);  // NCHW residual: the op must handle it
  Conv2d conv(w, b, Conv2dOptions::same(1));
  int64_t ho, wo;
  auto base = test::ref_conv2d(x.to_floats(), 2, 6, 5, 4, w.to_floats(), 9, 3, 3, b.to_floats(),
                               1, 1, 1, 1, 1, &ho, &wo);
  auto rv = r.to_floats();
  for (int act = 0; act <= 5; ++act) {
    std::vector<float> ref(base.size());
    for (size_t i = 0; i < ref.size(); ++i) ref[i] = float(test::ref_act(base[i], act) + rv[i]);
    Tensor expect = Tensor::from_floats(ref, {2, 9, 5, 4});
    Tensor y = conv.forward(x, &r, Activation(act));
    EXPECT_TRUE(test::tensors_close(y, expect, test::f32_tol(expect))) << "activation " << act;
  }
  // Activation without residual, residual already channels-last.
  Tensor rcl = r.contiguous(MemoryFormat::ChannelsLast);
  Tensor y = conv.forward(x, &rcl);
  std::vector<float> ref(base.size());
  for (size_t i = 0; i < ref.size(); ++i) ref[i] = base[i] + rv[i];
  EXPECT_TRUE(test::tensors_close(y, Tensor::from_floats(ref, {2, 9, 5, 4}), 1e-4));
  y = conv.forward(x, nullptr, Activation::SiLU);
  for (size_t i = 0; i < ref.size(); ++i) ref[i] = float(test::ref_act(base[i], 1));
  EXPECT_TRUE(test::tensors_close(y, Tensor::from_floats(ref, {2, 9, 5, 4}), 1e-4));
}

TEST(Conv2d, ServesSeveralShapesAndKeepsWeightReadable) {
  Tensor w = random_tensor({8, 3, 3, 3}, 20);
  Tensor b = random_tensor({8}, 21);
  Conv2d conv(w, b, Conv2dOptions::same(1));
  EXPECT_EQ(conv.out_channels(), 8);
  EXPECT_EQ(conv.in_channels(), 3);
  EXPECT_EQ(conv.weight_shape(), w.shape());
  for (int64_t hw : {4, 6, 4}) {
    Tensor x = random_tensor({1, 3, hw, hw + 1}, 22 + uint32_t(hw));
    int64_t ho, wo;
    auto ref = test::ref_conv2d(x.to_floats(), 1, 3, hw, hw + 1, w.to_floats(), 8, 3, 3,
                                b.to_floats(), 1, 1, 1, 1, 1, &ho, &wo);
    Tensor expect = Tensor::from_floats(ref, {1, 8, ho, wo});
    EXPECT_TRUE(test::tensors_close(conv.forward(x), expect, test::f32_tol(expect)));
  }
  // After forward the backend holds the weight in its own layout; weight() rebuilds it.
  EXPECT_EQ(test::max_abs_diff(conv.weight(), w), 0.0);
  // set_weight (as a LoRA merge does) changes the result.
  Tensor w2 = random_tensor({8, 3, 3, 3}, 30);
  conv.set_weight(w2);
  Tensor x = random_tensor({1, 3, 4, 5}, 31);
  int64_t ho, wo;
  auto ref = test::ref_conv2d(x.to_floats(), 1, 3, 4, 5, w2.to_floats(), 8, 3, 3, b.to_floats(),
                              1, 1, 1, 1, 1, &ho, &wo);
  Tensor expect = Tensor::from_floats(ref, {1, 8, ho, wo});
  EXPECT_TRUE(test::tensors_close(conv.forward(x), expect, test::f32_tol(expect)));
  EXPECT_EQ(test::max_abs_diff(conv.weight(), w2), 0.0);
}

TEST(Conv2d, WinogradSizedConvKeepsFloat32Accuracy) {
  // 256 -> 128 channels at 128x128 and up takes the Winograd path in float32. The
  // reference is computed at a sample of outputs: all of them would take seconds.
  const int64_t ci = 256, co = 128, h = 128, w = 129;
  ASSERT_TRUE(cpu::winograd_pays(ci, co, h, w));
  Tensor x = random_tensor({1, ci, h, w}, 40);
  Tensor wt = random_tensor({co, ci, 3, 3}, 41, -0.02f, 0.02f), b = random_tensor({co}, 42);
  Tensor r = random_tensor({1, co, h, w}, 43);
  Conv2d conv(wt, b, Conv2dOptions::same(1));
  const auto xv = x.to_floats(), wv = wt.to_floats(), bv = b.to_floats(), rv = r.to_floats();
  auto conv_at = [&](int64_t o, int64_t y, int64_t xx) {
    double acc = bv[size_t(o)];
    for (int64_t i = 0; i < ci; ++i)
      for (int64_t ky = 0; ky < 3; ++ky)
        for (int64_t kx = 0; kx < 3; ++kx) {
          const int64_t iy = y + ky - 1, ix = xx + kx - 1;
          if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
          acc += double(xv[size_t((i * h + iy) * w + ix)]) * wv[size_t(((o * ci + i) * 3 + ky) * 3 + kx)];
        }
    return acc;
  };
  for (int act : {0, 1}) {
    const auto y = conv.forward(x, &r, Activation(act)).to_floats();
    double worst = 0, peak = 1;
    for (int64_t o = 0; o < co; o += 9)
      for (int64_t yy = 0; yy < h; yy += 11)
        for (int64_t xx : {int64_t(0), int64_t(5), int64_t(64), w - 1}) {
          const size_t at = size_t((o * h + yy) * w + xx);
          const double ref = test::ref_act(conv_at(o, yy, xx), act) + rv[at];
          worst = std::max(worst, std::fabs(y[at] - ref));
          peak = std::max(peak, std::fabs(ref));
        }
    EXPECT_LE(worst, 2e-5 * peak) << "activation " << act;
  }
  EXPECT_EQ(test::max_abs_diff(conv.weight(), wt), 0.0);
}

TEST(Conv2d, RejectsMismatchedInput) {
  Conv2d conv(random_tensor({4, 3, 3, 3}, 1), Tensor(), Conv2dOptions::same(1));
  EXPECT_THROW(conv.forward(random_tensor({1, 5, 4, 4}, 2)), Error);
  EXPECT_THROW(Conv2d(random_tensor({4, 3, 3}, 1), Tensor(), {}), Error);
  EXPECT_THROW(Conv2d(random_tensor({4, 3, 3, 3}, 1), random_tensor({5}, 1), {}), Error);
  EXPECT_THROW(conv.set_weight(random_tensor({4, 3, 1, 1}, 1)), Error);
  Conv2d empty;
  EXPECT_FALSE(empty.defined());
  EXPECT_THROW(empty.forward(random_tensor({1, 3, 4, 4}, 2)), Error);
}

}  // namespace
}  // namespace sd

namespace sd {
namespace {

bool cpu_has_amx() { return __builtin_cpu_supports("amx-tile") && __builtin_cpu_supports("amx-bf16"); }

// oneDNN 2.6's AMX convolutions reach outside their buffers on inputs below 8x8 (the
// worker crashed at 64, 96 and 384 px images), except its older 3x3 kernel: the others
// take a non-AMX implementation there, larger inputs keep AMX where the CPU has it.
TEST(Conv2d, InputsBelow8x8RunOnlyTheOlderAmx3x3Kernel) {
  const Tensor w3 = random_tensor({640, 640, 3, 3}, 50).to(DType::BF16);
  const Tensor w1 = random_tensor({640, 640, 1, 1}, 51).to(DType::BF16);
  cpu::Convolution same(w3, Tensor(), cpu::ConvGeometry{1, 1, 1, 1, 1});
  cpu::Convolution down(w3, Tensor(), cpu::ConvGeometry{2, 1, 1, 1, 1});
  cpu::Convolution pointwise(w1, Tensor(), cpu::ConvGeometry{1, 0, 0, 0, 0});
  for (const auto& [h, w] : {std::pair<int64_t, int64_t>{1, 1}, {2, 2}, {3, 3}, {6, 6}, {7, 7}, {1, 40}, {7, 9}}) {
    EXPECT_EQ(pointwise.implementation(2, h, w).find("amx"), std::string::npos) << h << "x" << w;
    for (cpu::Convolution* conv : {&same, &down}) {
      const std::string impl = conv->implementation(2, h, w);
      if (cpu_has_amx())
        EXPECT_EQ(impl, "jit:avx512_core_amx_bf16") << h << "x" << w;
      else
        EXPECT_EQ(impl.find("amx"), std::string::npos) << h << "x" << w;
    }
  }
  if (cpu_has_amx()) {
    EXPECT_NE(pointwise.implementation(2, 16, 16).find("amx"), std::string::npos);
    EXPECT_NE(same.implementation(2, 16, 16).find("amx"), std::string::npos);
    EXPECT_NE(down.implementation(2, 16, 16).find("amx"), std::string::npos);
  }
}

// A 1x1 weight moves between its AMX layout (8x8 inputs and above) and another one (below)
// each time the input size crosses 8x8, as when a worker alternates image sizes; it must
// come back with its values each time. (oneDNN's direct reorder between the two took
// 0.12-0.25 s per SD weight, the way through the plain layout milliseconds.)
TEST(Conv2d, PointwiseWeightKeepsItsValuesAcrossLayoutSwitches) {
  const int64_t ci = 1280, co = 640;
  const Tensor w = random_tensor({co, ci, 1, 1}, 70, -0.05f, 0.05f).to(DType::BF16);
  cpu::Convolution conv(w, Tensor(), cpu::ConvGeometry{1, 0, 0, 0, 0});
  if (cpu_has_amx()) {
    EXPECT_NE(conv.implementation(1, 8, 8), conv.implementation(1, 4, 4));
  }
  for (int64_t side : {8, 4, 8, 4}) {
    const Tensor x = random_tensor({1, ci, side, side}, 71 + side).to(DType::BF16);
    int64_t ho, wo;
    const auto ref =
        test::ref_conv2d(x.to_floats(), 1, ci, side, side, w.to_floats(), co, 1, 1, {}, 1, 0, 0, 0, 0, &ho, &wo);
    const Tensor expect = Tensor::from_floats(ref, {1, co, ho, wo});
    EXPECT_TRUE(test::tensors_close(conv.forward(x, nullptr, cpu::Act::None).to(DType::F32), expect,
                                    test::max_abs(expect) / 256))
        << side;
  }
  EXPECT_EQ(test::max_abs_diff(conv.weight(), w), 0.0);
}

// 3x3 convolutions take oneDNN 2.6's older AMX kernel, not its brgemm one: it ran SD's
// shapes faster, and the brgemm kernel with stride 2 reached outside its buffers on 1280
// channels at some widths (10x10 and 50x50 inputs: SD1.5's last downsampler at 320 and
// 1600 px). Both strides must match the reference.
TEST(Conv2d, Kernels3x3RunOneDnnsOlderAmxKernel) {
  const bool amx = cpu_has_amx();
  for (const auto& [c, stride, side] : {std::tuple<int64_t, int, int64_t>{256, 1, 12}, {1280, 2, 10}}) {
    const Tensor w = random_tensor({c, c, 3, 3}, 60, -0.05f, 0.05f).to(DType::BF16);
    const Tensor x = random_tensor({1, c, side, side}, 61).to(DType::BF16);
    cpu::Convolution conv(w, Tensor(), cpu::ConvGeometry{stride, 1, 1, 1, 1});
    for (int64_t s : {side, int64_t(16), int64_t(50)}) {
      const std::string impl = conv.implementation(1, s, s);
      EXPECT_FALSE(impl.rfind("brgconv", 0) == 0 && impl.find("amx") != std::string::npos) << s << ": " << impl;
      if (amx) {
        EXPECT_EQ(impl, "jit:avx512_core_amx_bf16") << s;
      }
    }
    int64_t ho, wo;
    const auto ref =
        test::ref_conv2d(x.to_floats(), 1, c, side, side, w.to_floats(), c, 3, 3, {}, stride, 1, 1, 1, 1, &ho, &wo);
    const Tensor expect = Tensor::from_floats(ref, {1, c, ho, wo});
    // bf16 output: 2^-8 of the largest value.
    EXPECT_TRUE(test::tensors_close(conv.forward(x, nullptr, cpu::Act::None).to(DType::F32), expect,
                                    test::max_abs(expect) / 256))
        << "stride " << stride;
  }
}

}  // namespace
}  // namespace sd
