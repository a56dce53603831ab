#include <gtest/gtest.h>

#include "ops/ops.h"
#include "ops/reference.h"

namespace sd {
namespace {

using ops::Activation;
using ops::Linear;
using test::random_tensor;

TEST(Linear, MatchesReferenceOnTokens) {
  Tensor x = random_tensor({2, 5, 37}, 1);
  Tensor w = random_tensor({19, 37}, 2);
  Tensor b = random_tensor({19}, 3);
  Linear lin(w, b);
  Tensor y = lin.forward(x);
  ASSERT_EQ(y.shape(), Shape({2, 5, 19}));
  EXPECT_TRUE(y.is_contiguous());
  Tensor expect = Tensor::from_floats(
      test::ref_linear(x.to_floats(), 10, 37, w.to_floats(), 19, b.to_floats()), {2, 5, 19});
  EXPECT_TRUE(test::tensors_close(y, expect, test::f32_tol(expect)));
  EXPECT_EQ(test::max_abs_diff(lin.weight(), w), 0.0);
}

TEST(Linear, StridedInputResidualAndActivation) {
  // x is the middle third of a fused [2, 7, 3*24] projection: rows 72 elements apart.
  Tensor fused = random_tensor({2, 7, 72}, 4);
  Tensor x = fused.narrow(2, 24, 24);
  Tensor w = random_tensor({17, 24}, 5);
  Tensor r = random_tensor({2, 7, 17}, 6);
  Linear lin(w, Tensor());
  auto base = test::ref_linear(x.contiguous().to_floats(), 14, 24, w.to_floats(), 17, {});
  auto rv = r.to_floats();
  for (int act = 0; act <= 5; ++act) {
    std::vector<float> ref(base.size());
    for (size_t i = 0; i < ref.size(); ++i) ref[i] = float(test::ref_act(base[i], act) + rv[i]);
    Tensor expect = Tensor::from_floats(ref, {2, 7, 17});
    EXPECT_TRUE(test::tensors_close(lin.forward(x, &r, Activation(act)), expect,
                                    test::f32_tol(expect)))
        << "activation " << act;
  }
}

TEST(Linear, ServesSeveralRowCounts) {
  Tensor w = random_tensor({33, 16}, 7);
  Tensor b = random_tensor({33}, 8);
  Linear lin(w, b);
  for (int64_t m : {1, 77, 2, 77}) {
    Tensor x = random_tensor({m, 16}, 9 + uint32_t(m));
    Tensor expect = Tensor::from_floats(
        test::ref_linear(x.to_floats(), m, 16, w.to_floats(), 33, b.to_floats()), {m, 33});
    EXPECT_TRUE(test::tensors_close(lin.forward(x, nullptr, Activation::None), expect,
                                    test::f32_tol(expect)));
  }
  Tensor w2 = random_tensor({33, 16}, 70);
  lin.set_weight(w2);
  Tensor x = random_tensor({3, 16}, 71);
  Tensor expect = Tensor::from_floats(
      test::ref_linear(x.to_floats(), 3, 16, w2.to_floats(), 33, b.to_floats()), {3, 33});
  EXPECT_TRUE(test::tensors_close(lin.forward(x), expect, test::f32_tol(expect)));
}

TEST(Linear, RejectsMismatchedInput) {
  Linear lin(random_tensor({4, 8}, 1), Tensor());
  EXPECT_EQ(lin.in_features(), 8);
  EXPECT_EQ(lin.out_features(), 4);
  EXPECT_EQ(lin.weight_shape(), Shape({4, 8}));
  EXPECT_THROW(lin.forward(random_tensor({2, 7}, 2)), Error);
  Tensor r = random_tensor({2, 5}, 3);
  EXPECT_THROW(lin.forward(random_tensor({2, 8}, 2), &r), Error);
  EXPECT_THROW(Linear(random_tensor({4, 8, 1}, 1), Tensor()), Error);
}

}  // namespace
}  // namespace sd
