// The backend keeps one copy of each weight: the plain tensor is let go once the
// primitive's own layout exists, and rebuilt exactly on request.
#include <gtest/gtest.h>

#include "backend/cpu/convolution.h"
#include "backend/cpu/matmul.h"
#include "ops/reference.h"

namespace sd {
namespace {

using test::random_tensor;

TEST(WeightStore, ConvolutionKeepsOneCopy) {
  for (DType dt : {DType::F32, DType::BF16}) {
    Tensor w = random_tensor({64, 32, 3, 3}, 1).to(dt);
    cpu::Convolution conv(w, Tensor(), cpu::ConvGeometry{1, 1, 1, 1, 1});
    conv.forward(random_tensor({1, 32, 8, 8}, 2), nullptr, cpu::Act::None);
    // One reordered copy: about the plain size (blocked layouts may pad), never two.
    EXPECT_GE(conv.weight_bytes(), w.nbytes());
    EXPECT_LT(conv.weight_bytes(), 2 * w.nbytes());
    Tensor back = conv.weight();
    EXPECT_FALSE(back.shares_storage(w));
    EXPECT_EQ(test::max_abs_diff(back, w), 0.0);
  }
}

TEST(WeightStore, MatmulKeepsOneCopy) {
  Tensor w = random_tensor({96, 64}, 3).to(DType::BF16);
  cpu::Matmul mm(w, Tensor());
  mm.forward(random_tensor({40, 64}, 4).to(DType::BF16), nullptr, cpu::Act::None);
  EXPECT_LT(mm.weight_bytes(), 2 * w.nbytes());
  EXPECT_EQ(test::max_abs_diff(mm.weight(), w), 0.0);
}

// The weights take the kernels' layout when the layer is built (at load), not in the
// first forward(): the plain tensor is let go at once and rebuilt exactly on request.
TEST(WeightStore, LayersTakeTheKernelsLayoutWhenBuilt) {
  for (DType dt : {DType::F32, DType::BF16}) {
    Tensor wm = random_tensor({96, 64}, 5).to(dt);
    cpu::Matmul mm(wm, Tensor());
    Tensor back = mm.weight();
    EXPECT_FALSE(back.shares_storage(wm)) << dtype_name(dt);
    EXPECT_EQ(test::max_abs_diff(back, wm), 0.0);

    Tensor wc = random_tensor({64, 32, 3, 3}, 6).to(dt);
    cpu::Convolution conv(wc, Tensor(), cpu::ConvGeometry{1, 1, 1, 1, 1});
    back = conv.weight();
    EXPECT_FALSE(back.shares_storage(wc)) << dtype_name(dt);
    EXPECT_EQ(test::max_abs_diff(back, wc), 0.0);
  }
}

// A float32 convolution that takes the Winograd path goes back to its plain weight once,
// which the per-call transform reads, instead of rebuilding it on every call.
TEST(WeightStore, WinogradConvolutionKeepsThePlainWeight) {
  const int64_t ci = 128, co = 256, hw = 128;
  ASSERT_TRUE(cpu::winograd_pays(ci, co, hw, hw));
  Tensor w = random_tensor({co, ci, 3, 3}, 7, -0.05f, 0.05f);
  cpu::Convolution conv(w, Tensor(), cpu::ConvGeometry{1, 1, 1, 1, 1});
  EXPECT_FALSE(conv.weight().shares_storage(conv.weight()));  // blocked: rebuilt per call
  conv.forward(random_tensor({1, ci, hw, hw}, 8), nullptr, cpu::Act::None);
  const Tensor held = conv.weight();
  EXPECT_TRUE(held.shares_storage(conv.weight()));
  EXPECT_EQ(test::max_abs_diff(held, w), 0.0);
  EXPECT_LT(conv.weight_bytes(), 2 * w.nbytes());
}

}  // namespace
}  // namespace sd
