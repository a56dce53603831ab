#include <gtest/gtest.h>

#include <cmath>

#include "ops/ops.h"
#include "ops/reference.h"

namespace sd {
namespace {

using test::random_tensor;

void check_attention(int64_t b, int64_t lq, int64_t lk, int64_t heads, int64_t d, bool causal,
                     float scale, uint32_t seed) {
  const int64_t hd = heads * d;
  Tensor q = random_tensor({b, lq, hd}, seed, -2.f, 2.f);
  Tensor k = random_tensor({b, lk, hd}, seed + 1, -2.f, 2.f);
  Tensor v = random_tensor({b, lk, hd}, seed + 2);
  Tensor out = ops::attention(q, k, v, int(heads), causal, scale);
  ASSERT_EQ(out.shape(), Shape({b, lq, hd}));
  EXPECT_TRUE(out.is_contiguous());
  const double s = scale == 0.f ? 1.0 / std::sqrt(double(d)) : scale;
  Tensor expect = Tensor::from_floats(
      test::ref_attention(q.to_floats(), k.to_floats(), v.to_floats(), b, lq, lk, heads, d, causal, s),
      {b, lq, hd});
  EXPECT_TRUE(test::tensors_close(out, expect, 2e-5))
      << "b=" << b << " lq=" << lq << " lk=" << lk << " heads=" << heads << " d=" << d;
}

TEST(Attention, SelfAttentionMatchesReference) {
  check_attention(2, 70, 70, 3, 5, false, 0.f, 1);
  check_attention(1, 33, 33, 1, 40, false, 0.f, 2);
  check_attention(2, 64, 64, 2, 64, false, 0.f, 3);
}

TEST(Attention, CrossAttentionWithOddLengths) {
  check_attention(2, 45, 77, 4, 8, false, 0.f, 4);
  check_attention(1, 5, 3, 2, 80, false, 0.3f, 5);
  check_attention(2, 17, 9, 1, 160, false, 0.f, 6);
}

TEST(Attention, CausalAsClip) {
  check_attention(1, 77, 77, 4, 16, true, 0.f, 7);
  check_attention(2, 37, 37, 3, 5, true, 0.f, 8);
}

TEST(Attention, ManyKeyTilesWithPartialLastTile) {
  // Key tiles hold at most 512 keys: these make two and three, the last ones partial.
  check_attention(1, 600, 600, 2, 24, false, 0.f, 11);
  check_attention(1, 600, 600, 2, 24, true, 0.f, 12);  // skips tiles past the diagonal
  check_attention(1, 50, 1100, 1, 40, false, 0.f, 13);
  // Work items of several 48-row query blocks sharing each key tile, the last item shorter;
  // causal rows of one item reach different numbers of tiles.
  check_attention(2, 700, 700, 3, 16, true, 0.f, 14);
}

TEST(Attention, StridedViewsOfFusedProjection) {
  // q, k, v as slices of one [B, L, 3*H*D] projection output, as a fused qkv linear gives.
  const int64_t b = 2, l = 41, heads = 2, d = 24, hd = heads * d;
  Tensor qkv = random_tensor({b, l, 3 * hd}, 9, -2.f, 2.f);
  Tensor q = qkv.narrow(2, 0, hd), k = qkv.narrow(2, hd, hd), v = qkv.narrow(2, 2 * hd, hd);
  Tensor out = ops::attention(q, k, v, int(heads));
  Tensor expect = Tensor::from_floats(
      test::ref_attention(q.contiguous().to_floats(), k.contiguous().to_floats(),
                          v.contiguous().to_floats(), b, l, l, heads, d, false,
                          1.0 / std::sqrt(double(d))),
      {b, l, hd});
  EXPECT_TRUE(test::tensors_close(out, expect, 2e-5));
}

TEST(Attention, RejectsBadShapes) {
  Tensor q = random_tensor({1, 4, 12}, 1);
  EXPECT_THROW(ops::attention(q, random_tensor({1, 5, 10}, 2), random_tensor({1, 5, 10}, 3), 2),
               Error);
  EXPECT_THROW(ops::attention(q, q, q, 5), Error);
  EXPECT_THROW(ops::attention(q, q, random_tensor({1, 3, 12}, 3), 2), Error);
}

}  // namespace
}  // namespace sd
