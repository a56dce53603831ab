// Every op in bf16 against the same op in float32: bf16 keeps 8 bits of mantissa, so
// results agree to about 1e-2 relative to the output's magnitude.
#include <gtest/gtest.h>

#include <cmath>

#include "ops/ops.h"
#include "ops/reference.h"

namespace sd {
namespace {

using test::random_tensor;

Tensor bf16(const Tensor& t) { return ops::to_dtype(t, DType::BF16); }

::testing::AssertionResult close_rel(const Tensor& got, const Tensor& ref, double rel = 1e-2) {
  if (got.dtype() != DType::BF16) return ::testing::AssertionFailure() << "result is " << got.desc();
  return test::tensors_close(got, ref, rel * std::max(1.0, test::max_abs(ref)));
}

TEST(Bf16, ConvAndLinearComputeInBf16) {
  Tensor x = random_tensor({2, 24, 9, 7}, 1);
  Tensor w = random_tensor({19, 24, 3, 3}, 2, -0.2f, 0.2f), b = random_tensor({19}, 3);
  Tensor r = random_tensor({2, 19, 4, 3}, 4);
  ops::Conv2dOptions opt;
  opt.stride = 2;
  opt.pad_bottom = opt.pad_right = 1;
  ops::Conv2d c32(w, b, opt), c16(bf16(w), b, opt);
  Tensor ref = c32.forward(x, &r, ops::Activation::SiLU);
  // f32 input into a bf16 conv is converted; the result is bf16.
  EXPECT_TRUE(close_rel(c16.forward(x, &r, ops::Activation::SiLU), ref));
  EXPECT_TRUE(close_rel(c16.forward(bf16(x), &r, ops::Activation::SiLU), ref));
  EXPECT_EQ(c16.weight().dtype(), DType::BF16);

  Tensor t = random_tensor({2, 11, 40}, 5);
  Tensor lw = random_tensor({33, 40}, 6, -0.3f, 0.3f), lb = random_tensor({33}, 7);
  ops::Linear l32(lw, lb), l16(bf16(lw), lb);
  EXPECT_TRUE(close_rel(l16.forward(bf16(t), nullptr, ops::Activation::GELU),
                        l32.forward(t, nullptr, ops::Activation::GELU)));
}

TEST(Bf16, AttentionForSdHeadDims) {
  struct Case { int64_t b, lq, lk, heads, d; bool causal; };
  for (const Case& c : {Case{2, 100, 100, 2, 40, false}, Case{1, 70, 77, 3, 64, false},
                        Case{2, 50, 50, 2, 80, false}, Case{1, 33, 77, 2, 160, false},
                        Case{1, 77, 77, 3, 64, true}, Case{1, 300, 300, 1, 5, false},
                        Case{1, 300, 300, 2, 40, true},
                        Case{1, 20, 20, 1, 512, false},
                        // Several key tiles (at most 512 keys each), causal ones skipped past
                        // the diagonal; head dims 72, 24 and 8 end in a half (8-wide) block.
                        Case{1, 30, 1100, 1, 40, false}, Case{1, 700, 700, 1, 72, true},
                        Case{1, 40, 600, 2, 24, false}, Case{1, 20, 530, 1, 8, false},
                        // Head dims of whole 16-pair chunks run 32 query rows at once past
                        // a row's first key tile; 45 rows end in a partial group of 16.
                        Case{1, 45, 1100, 2, 64, false}, Case{1, 600, 600, 1, 64, true},
                        Case{1, 40, 700, 1, 160, false},
                        // Work items of several query-row steps sharing each key tile.
                        Case{2, 700, 700, 3, 64, true}, Case{2, 650, 650, 3, 40, false}}) {
    const int64_t hd = c.heads * c.d;
    Tensor qkv = random_tensor({c.b, c.lq, 3 * hd}, 8, -2.f, 2.f);
    Tensor q = qkv.narrow(2, 0, hd);
    Tensor k = c.lq == c.lk ? qkv.narrow(2, hd, hd) : random_tensor({c.b, c.lk, hd}, 9, -2.f, 2.f);
    Tensor v = c.lq == c.lk ? qkv.narrow(2, 2 * hd, hd) : random_tensor({c.b, c.lk, hd}, 10);
    Tensor ref = ops::attention(q, k, v, int(c.heads), c.causal);
    EXPECT_TRUE(close_rel(ops::attention(bf16(q), bf16(k), bf16(v), int(c.heads), c.causal), ref))
        << "d=" << c.d << " lq=" << c.lq << " lk=" << c.lk;
  }
}

// bf16 [1, rows, d] queries, row i the same ramp over the head dim times row_scale[i].
Tensor ramped_queries(const std::vector<float>& row_scale, int64_t d) {
  std::vector<float> v;
  for (float scale : row_scale)
    for (int64_t c = 0; c < d; ++c) v.push_back(scale * (1.f + 0.01f * float(c)));
  return bf16(Tensor::from_floats(v, {1, int64_t(row_scale.size()), d}));
}

// bf16 [1, lk, d] keys that climb from 0 to 6 along the keys.
Tensor climbing_keys(int64_t lk, int64_t d) {
  std::vector<float> v;
  for (int64_t j = 0; j < lk; ++j)
    for (int64_t c = 0; c < d; ++c) v.push_back(6.f * float(j) / float(lk) - 0.02f * float(c % 3));
  return bf16(Tensor::from_floats(v, {1, lk, d}));
}

// The bf16 attention against a float32 one on the same bf16-rounded inputs, so only the
// probabilities' rounding differs.
::testing::AssertionResult matches_float32(const Tensor& q, const Tensor& k, const Tensor& v, bool causal) {
  const auto f32 = [](const Tensor& t) { return ops::to_dtype(t, DType::F32); };
  return close_rel(ops::attention(q, k, v, 1, causal), ops::attention(f32(q), f32(k), f32(v), 1, causal), 4e-3);
}

// The bf16 kernel moves a row's exponent reference only when a score passes it by a
// factor of 2^8, and then rescales what the row already holds. Scores that climb (or fall)
// steeply along the keys move it inside key tiles and across them; row 4's scores climb by
// more than 2^128 from the first key tile to the last, so a reference left behind overflows.
TEST(Bf16, AttentionWhoseScoresClimbAlongTheKeys) {
  const int64_t lk = 1100, d = 40;
  const Tensor q = ramped_queries({1.f, 0.5f, -1.f, 0.25f, 5.f, -0.5f, 1.5f, 0.1f}, d);
  const Tensor k = climbing_keys(lk, d);
  const Tensor v = bf16(random_tensor({1, lk, d}, 12));
  for (bool causal : {false, true}) EXPECT_TRUE(matches_float32(q, k, v, causal)) << "causal " << causal;
}

// Past a row's first key tile, head dims of whole 16-pair chunks (64 here) take 32 query
// rows at once. Rows whose scores fall along the keys keep their reference while rows
// whose scores climb must move theirs: first in the first group of 16, then in the second.
TEST(Bf16, AttentionWhereOneGroupOfSixteenRowsMovesItsReference) {
  const int64_t lk = 1100, d = 64;
  const std::vector<float> climb = {1.f, 0.5f, 5.f, 1.5f, 2.f, 0.25f, 3.f, 0.75f};
  const std::vector<float> fall = {-1.f, -0.5f, -2.f, -0.25f, -3.f, -1.5f, -0.1f, -0.75f};
  const Tensor k = climbing_keys(lk, d);
  const Tensor v = bf16(random_tensor({1, lk, d}, 14));
  for (bool climb_first : {true, false}) {
    std::vector<float> rows;
    for (const auto* part : climb_first ? std::vector{&climb, &climb, &fall} : std::vector{&fall, &fall, &climb})
      rows.insert(rows.end(), part->begin(), part->end());
    EXPECT_TRUE(matches_float32(ramped_queries(rows, d), k, v, false)) << "climbing rows first " << climb_first;
  }
}

// Square and causal: each row sees the keys up to its own, and every key it does not see
// scores far higher (row 0's one key about 2^-170 of its tile's largest). A row's
// reference must come from its visible keys alone, or its probabilities underflow.
TEST(Bf16, CausalAttentionWhoseHiddenKeysScoreHigher) {
  const int64_t l = 600, d = 40;
  const Tensor v = bf16(random_tensor({1, l, d}, 13));
  EXPECT_TRUE(matches_float32(ramped_queries(std::vector<float>(l, 5.f), d), climbing_keys(l, d), v, true));
}

// A bf16 channels-last group norm reads the pixels where they lie and has its own SiLU
// (1e-4 relative). Against float32 on the same bf16 values, each element must agree to
// within bf16's rounding, at channel counts that end in a partial vector (40, 24), over
// several statistics chunks, with a large mean, and where the SiLU's input is far
// negative (gain 100: e^-x overflows to infinity, the output must be -0, not NaN).
TEST(Bf16, ChannelsLastGroupNormMatchesFloat32ElementByElement) {
  struct Case { int64_t c, groups; float lo, hi, gain; };
  for (const Case& k :
       {Case{40, 8, 99.f, 101.f, 1.f}, Case{24, 3, -3.f, 4.f, 100.f}, Case{128, 32, -2.f, 2.f, 1.f}}) {
    const Tensor x = bf16(random_tensor({2, k.c, 37, 29}, 20, k.lo, k.hi)).contiguous(MemoryFormat::ChannelsLast);
    const Tensor g = random_tensor({k.c}, 21, 0.5f * k.gain, 1.5f * k.gain), b = random_tensor({k.c}, 22);
    ops::GroupNorm gn(int(k.groups), g, b, 1e-6f);
    for (bool silu : {false, true}) {
      const std::vector<float> ref = gn.forward(ops::to_dtype(x, DType::F32), silu).to_floats();
      const Tensor got = gn.forward(x, silu);
      ASSERT_EQ(got.dtype(), DType::BF16);
      const std::vector<float> y = got.to_floats();
      ASSERT_EQ(y.size(), ref.size());
      size_t bad = 0;
      for (size_t i = 0; i < y.size(); ++i)
        if (!(std::fabs(y[i] - ref[i]) <= 4e-3 * std::fabs(ref[i]) + 1e-3)) ++bad;
      EXPECT_EQ(bad, 0u) << "c " << k.c << " silu " << silu;
      Tensor in_place = x.clone(MemoryFormat::ChannelsLast);
      gn.forward_(in_place, silu);
      EXPECT_TRUE(test::tensors_close(in_place, got, 0.0)) << "c " << k.c << " silu " << silu;
    }
  }
}

// bf16 GEGLU rows are read where they lie, with a GELU accurate to 1e-4: against float32
// on the same bf16 values, each element must agree to within bf16's rounding, with a
// partial vector at the end of each row (24 = 16 + 8) and on a strided view, which goes
// through float32 instead.
TEST(Bf16, GegluMatchesFloat32ElementByElement) {
  const Tensor wide = bf16(random_tensor({3, 7, 60}, 23, -6.f, 6.f));
  for (const Tensor& t : {wide.narrow(2, 0, 48).contiguous(), wide.narrow(2, 6, 48)}) {
    const std::vector<float> ref = ops::geglu(ops::to_dtype(t, DType::F32)).to_floats();
    const std::vector<float> y = ops::geglu(t).to_floats();
    ASSERT_EQ(y.size(), ref.size());
    size_t bad = 0;
    for (size_t i = 0; i < y.size(); ++i)
      if (!(std::fabs(y[i] - ref[i]) <= 4e-3 * std::fabs(ref[i]) + 1e-3)) ++bad;
    EXPECT_EQ(bad, 0u) << (t.is_contiguous() ? "contiguous" : "strided");
  }
}

TEST(Bf16, NormsSoftmaxAndActivations) {
  Tensor x = random_tensor({2, 64, 6, 5}, 11, -3.f, 4.f).contiguous(MemoryFormat::ChannelsLast);
  Tensor g = random_tensor({64}, 12), b = random_tensor({64}, 13);
  ops::GroupNorm gn(32, g, b, 1e-6f);
  EXPECT_TRUE(close_rel(gn.forward(bf16(x), true), gn.forward(x, true), 2e-2));
  Tensor t = random_tensor({3, 7, 48}, 14, -3.f, 3.f);
  ops::LayerNorm ln(random_tensor({48}, 15), random_tensor({48}, 16), 1e-5f);
  EXPECT_TRUE(close_rel(ln.forward(bf16(t)), ln.forward(t), 2e-2));
  EXPECT_TRUE(close_rel(ops::softmax(bf16(t)), ops::softmax(t)));
  EXPECT_TRUE(close_rel(ops::geglu(bf16(t)), ops::geglu(t)));
  for (int a = 1; a <= 5; ++a)
    EXPECT_TRUE(close_rel(ops::activation(bf16(x), ops::Activation(a)),
                          ops::activation(x, ops::Activation(a))));
  EXPECT_TRUE(close_rel(ops::upsample_nearest2x(bf16(x)), ops::upsample_nearest2x(x)));
  EXPECT_TRUE(close_rel(ops::axpby(bf16(t), 0.5f, bf16(t), 2.f), ops::axpby(t, 0.5f, t, 2.f)));
}

}  // namespace
}  // namespace sd
