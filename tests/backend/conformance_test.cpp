// One conformance suite for every backend (in the spirit of llama.cpp's test-backend-ops):
// every op of the op API, its fused variants, every float dtype, odd shapes, SD's
// attention head dims, strided views and channels-last inputs, run on each backend this
// process has and compared with the CPU float32 path on contiguous inputs.
//
// A case runs on (device, dtype): inputs are made on the host in float32, converted to
// the dtype and layout under test, moved to the device, and the result is brought back.
// The CPU float32 case with contiguous inputs is the reference itself, so it is left out;
// the CPU's float32 strided and channels-last variants still take other code paths and
// are compared. A new backend joins by being listed in backend::available_devices().
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "ops/ops.h"
#include "support/test_support.h"

namespace sd {
namespace {

// How an input reaches the op.
enum class Layout { Contiguous, ChannelsLast, Strided };

struct Case {
  Device device;
  DType dtype;
  Layout layout;
};

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  const Case& c = info.param;
  std::string d = c.device.is_cpu() ? "cpu" : "cuda" + std::to_string(c.device.index);
  const char* l = c.layout == Layout::Contiguous     ? "contiguous"
                  : c.layout == Layout::ChannelsLast ? "channels_last"
                                                     : "strided";
  return d + "_" + std::string(dtype_name(c.dtype)) + "_" + l;
}

std::vector<Case> all_cases() {
  std::vector<Case> out;
  for (Device d : backend::available_devices())
    for (DType t : {DType::F32, DType::F16, DType::BF16}) {
      if (!backend::backend_for(d).computes_in(t)) continue;
      for (Layout l : {Layout::Contiguous, Layout::ChannelsLast, Layout::Strided}) {
        if (d.is_cpu() && t == DType::F32 && l == Layout::Contiguous) continue;  // the reference
        out.push_back({d, t, l});
      }
    }
  return out;
}

// Uniform values in [-scale, scale], seeded by the test so every run sees the same data.
Tensor random(const Shape& shape, uint32_t seed, float scale = 1.f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(size_t(shape.product()));
  for (float& x : v) x = dist(gen);
  return Tensor::from_floats(v, shape);
}

// Tolerance on max|got - want| relative to max|want| (at least 1): float32 differs only
// by summation order; f16/bf16 by their storage rounding of inputs, weights and output.
double tolerance(DType t) {
  switch (t) {
    case DType::F16: return 1e-2;
    case DType::BF16: return 4e-2;
    default: return 1e-4;
  }
}

class Conformance : public ::testing::TestWithParam<Case> {
 protected:
  const Case& c() const { return GetParam(); }

  // The host float32 tensor `x` as the case's input: its dtype, its layout, its device.
  // A strided input is a view into a wider buffer (every other element of the last
  // dimension's neighbours: a slice of a channel range, as a fused projection gives).
  Tensor input(const Tensor& x, bool keep_f32 = false) const {
    const DType t = keep_f32 ? DType::F32 : c().dtype;
    if (c().layout == Layout::ChannelsLast && x.ndim() == 4)
      return ops::to_dtype(x, t).contiguous(MemoryFormat::ChannelsLast).to(c().device);
    if (c().layout == Layout::Strided && x.ndim() >= 2) {
      Shape wide = x.shape();
      wide[x.ndim() - 1] += 3;
      Tensor buf = Tensor::zeros(wide, t);
      Tensor view = buf.narrow(x.ndim() - 1, 1, x.size(-1));
      view.copy_from(x);
      return buf.to(c().device).narrow(x.ndim() - 1, 1, x.size(-1));
    }
    return ops::to_dtype(x, t).to(c().device);
  }
  // A weight in the case's dtype on the host (layers upload it themselves).
  Tensor weight(const Tensor& w) const { return ops::to_dtype(w, c().dtype); }

  void expect_close(const Tensor& got, const Tensor& want, const std::string& what,
                    double extra = 1.0) const {
    expect_close_as(got, want, what, c().dtype, extra);
  }
  // With the tolerance of `tol_dtype` (a result converted to a coarser dtype).
  void expect_close_as(const Tensor& got, const Tensor& want, const std::string& what,
                       DType tol_dtype, double extra = 1.0) const {
    ASSERT_EQ(got.device(), c().device) << what << ": result left the device";
    ASSERT_EQ(got.shape(), want.shape()) << what;
    // A strided result (an in-place op on a view) is made dense on its device: only dense
    // tensors move between devices.
    const Tensor g = (got.is_contiguous() || got.is_channels_last() ? got : ops::to_layout(got, MemoryFormat::Contiguous))
                         .to(Device::cpu());
    const double err = test::max_abs_diff(ops::to_dtype(g, DType::F32), want);
    const double bound = tolerance(tol_dtype) * extra * std::max(1.0, test::max_abs(want));
    EXPECT_LE(err, bound) << what << ": max error " << err << " on " << got.desc();
  }
};

TEST_P(Conformance, Conv2dEveryGeometryAndFusion) {
  struct Geo {
    int64_t in, out, k, h, w;
    ops::Conv2dOptions opt;
  };
  const std::vector<Geo> geos = {
      {4, 8, 3, 9, 7, ops::Conv2dOptions::same(1)},         // odd sizes, SD's 3x3
      {32, 16, 1, 5, 6, {}},                                  // 1x1 projection
      {16, 16, 3, 11, 9, ops::Conv2dOptions{2, 0, 0, 1, 1}},  // downsample, asymmetric pad
      {320, 320, 3, 8, 8, ops::Conv2dOptions::same(1)},      // SD1.5 block width
  };
  uint32_t seed = 1;
  for (const Geo& g : geos)
    for (ops::Activation act : {ops::Activation::None, ops::Activation::SiLU})
      for (bool bias : {true, false})
        for (bool res : {false, true}) {
          // The wide layer once, with every fusion (each variant costs a new primitive).
          const bool wide = g.in >= 320;
          if (wide && !(bias && res && act == ops::Activation::SiLU)) continue;
          const Tensor w = random({g.out, g.in, g.k, g.k}, seed++, 1.f / std::sqrt(float(g.in * g.k * g.k)));
          const Tensor b = bias ? random({g.out}, seed++) : Tensor();
          const Tensor x = random({2, g.in, g.h, g.w}, seed++);
          const ops::Conv2d ref(w, b, g.opt);
          const Tensor want0 = ref.forward(x);
          const Tensor r = res ? random(want0.shape(), seed++) : Tensor();
          const Tensor want = ops::to_layout(ref.forward(x, res ? &r : nullptr, act), MemoryFormat::Contiguous);
          const ops::Conv2d layer(weight(w), b, g.opt);
          const Tensor rin = res ? input(r) : Tensor();
          const Tensor got = layer.forward(input(x), res ? &rin : nullptr, act);
          expect_close(got, want, "conv " + x.desc() + " k" + std::to_string(g.k) +
                                      (bias ? " bias" : "") + (res ? " residual" : ""),
                       g.in >= 320 ? 2.0 : 1.0);
        }
}

TEST_P(Conformance, UpsampleConv2d) {
  const Tensor w = random({8, 6, 3, 3}, 11, 0.3f), b = random({8}, 12);
  const Tensor x = random({1, 6, 5, 7}, 13);
  const Tensor want = ops::UpsampleConv2d(w, b, DType::F32).forward(x);
  const Tensor got = ops::UpsampleConv2d(w, b, c().dtype).forward(input(x));
  expect_close(got, want, "upsample_conv2d");
}

TEST_P(Conformance, LinearWithEpilogues) {
  const std::vector<std::pair<int64_t, int64_t>> sizes = {{7, 5}, {320, 1280}, {768, 320}};
  uint32_t seed = 21;
  for (auto [in, out] : sizes)
    for (ops::Activation act : {ops::Activation::None, ops::Activation::GELU,
                                ops::Activation::QuickGELU, ops::Activation::SiLU})
      for (bool res : {false, true}) {
        if (in >= 320 && res != (act == ops::Activation::GELU)) continue;  // as for the wide conv
        const Tensor w = random({out, in}, seed++, 1.f / std::sqrt(float(in)));
        const Tensor b = random({out}, seed++);
        const Tensor x = random({2, 77, in}, seed++);
        const Tensor r = res ? random({2, 77, out}, seed++) : Tensor();
        const Tensor want = ops::Linear(w, b).forward(x, res ? &r : nullptr, act);
        const Tensor rin = res ? input(r) : Tensor();
        const Tensor got = ops::Linear(weight(w), b).forward(input(x), res ? &rin : nullptr, act);
        expect_close(got, want, "linear " + std::to_string(in) + "->" + std::to_string(out));
      }
}

TEST_P(Conformance, AttentionHeadDimsOfSd) {
  struct Att {
    int64_t lq, lk, heads, dim;
    bool causal;
  };
  // SD1.5 (40, 80, 160 per head at 8 heads), SD2/SDXL (64), CLIP (causal 64), odd lengths.
  const std::vector<Att> atts = {{64, 77, 8, 40, false},  {33, 77, 8, 80, false},
                                 {17, 77, 8, 160, false}, {100, 100, 5, 64, false},
                                 {77, 77, 12, 64, true},  {1, 9, 1, 40, false}};
  uint32_t seed = 41;
  for (const Att& a : atts) {
    const int64_t ch = a.heads * a.dim;
    // q, k, v as slices of one fused projection [B, L, 3C], as the models make them.
    const Tensor qkv = random({2, a.lq, 3 * ch}, seed++);
    const Tensor kv = random({2, a.lk, 2 * ch}, seed++);
    const Tensor q = qkv.narrow(2, 0, ch), k = kv.narrow(2, 0, ch), v = kv.narrow(2, ch, ch);
    const Tensor want = ops::attention(q.contiguous(), k.contiguous(), v.contiguous(), int(a.heads), a.causal);
    Tensor qd, kd, vd;
    if (c().layout == Layout::Strided) {
      const Tensor qkv_d = ops::to_dtype(qkv, c().dtype).to(c().device);
      const Tensor kv_d = ops::to_dtype(kv, c().dtype).to(c().device);
      qd = qkv_d.narrow(2, 0, ch), kd = kv_d.narrow(2, 0, ch), vd = kv_d.narrow(2, ch, ch);
    } else {
      qd = input(q.contiguous()), kd = input(k.contiguous()), vd = input(v.contiguous());
    }
    const Tensor got = ops::attention(qd, kd, vd, int(a.heads), a.causal);
    expect_close(got, want, "attention head dim " + std::to_string(a.dim) +
                                (a.causal ? " causal" : "") + " lq " + std::to_string(a.lq));
  }
}

TEST_P(Conformance, GroupNormWithAndWithoutSilu) {
  const Tensor x = random({2, 64, 9, 7}, 51, 3.f);
  const Tensor gamma = random({64}, 52), beta = random({64}, 53);
  for (bool silu : {false, true}) {
    const ops::GroupNorm gn(32, gamma, beta, 1e-5f);
    const Tensor want = gn.forward(x, silu);
    expect_close(gn.forward(input(x), silu), want, silu ? "group_norm+silu" : "group_norm");
    // A dense input of its own, which forward_ overwrites.
    Tensor in_place = ops::to_layout(input(x), c().layout == Layout::ChannelsLast
                                                   ? MemoryFormat::ChannelsLast
                                                   : MemoryFormat::Contiguous);
    ASSERT_TRUE(in_place.is_sole_owner());
    gn.forward_(in_place, silu);
    expect_close(in_place, want, "group_norm_ in place");
  }
  const ops::GroupNorm plain(4, Tensor(), Tensor(), 1e-6f);
  expect_close(plain.forward(input(x)), plain.forward(x), "group_norm without affine");
}

TEST_P(Conformance, LayerNormAndSoftmax) {
  const Tensor x = random({2, 77, 320}, 61, 2.f);
  const ops::LayerNorm ln(random({320}, 62), random({320}, 63), 1e-5f);
  expect_close(ln.forward(input(x)), ln.forward(x), "layer_norm");
  const Tensor odd = random({3, 5, 33}, 64, 4.f);
  expect_close(ops::softmax(input(odd)), ops::softmax(odd), "softmax");
}

TEST_P(Conformance, ActivationsAndGeglu) {
  const Tensor x = random({2, 6, 5, 7}, 71, 4.f);
  for (ops::Activation act : {ops::Activation::SiLU, ops::Activation::GELU, ops::Activation::QuickGELU,
                              ops::Activation::ReLU, ops::Activation::Tanh})
    expect_close(ops::activation(input(x), act), ops::activation(x, act),
                 "activation " + std::to_string(int(act)));
  const Tensor g = random({2, 9, 2 * 37}, 72, 3.f);
  expect_close(ops::geglu(input(g)), ops::geglu(g), "geglu");
}

TEST_P(Conformance, BinaryBroadcastScaleAxpby) {
  const Tensor a = random({2, 8, 5, 3}, 81), b = random({2, 8, 5, 3}, 82);
  const Tensor row = random({3}, 83), chan = random({1, 8, 1, 1}, 84);
  expect_close(ops::add(input(a), input(b)), ops::add(a, b), "add");
  expect_close(ops::mul(input(a), input(b)), ops::mul(a, b), "mul");
  expect_close(ops::add(input(a), input(row, true)), ops::add(a, row), "add broadcast row (f32)");
  expect_close(ops::mul(input(a), ops::to_dtype(chan, c().dtype).to(c().device)), ops::mul(a, chan),
               "mul broadcast channel");
  expect_close(ops::scale(input(a), -0.37f), ops::scale(a, -0.37f), "scale");
  expect_close(ops::axpby(input(a), 0.8f, input(b, true), -1.3f), ops::axpby(a, 0.8f, b, -1.3f),
               "axpby");
  Tensor acc = input(a);
  ops::add_(acc, input(b));
  expect_close(acc, ops::add(a, b), "add_ in place");
}

TEST_P(Conformance, CopyFillLayoutDtype) {
  const Tensor x = random({2, 5, 4, 3}, 91);
  Tensor dst = Tensor::empty(x.shape(), DType::F32, MemoryFormat::ChannelsLast, c().device);
  ops::copy(input(x), dst);
  expect_close(dst, x, "copy into f32 channels-last");
  Tensor filled = Tensor::empty(x.shape(), c().dtype, MemoryFormat::Contiguous, c().device);
  ops::copy(input(x), filled);
  Tensor part = filled.narrow(1, 1, 3);
  ops::fill(part, 2.5f);
  Tensor want = x.clone();
  Tensor want_part = want.narrow(1, 1, 3);
  want_part.fill(2.5f);
  expect_close(filled, want, "fill of a channel range");
  if (!c().device.is_cpu()) {
    const std::string err = test::error_of([&] { (void)filled.raw_data(); });
    EXPECT_NE(err.find("not the host's"), std::string::npos) << err;
  }
  for (MemoryFormat f : {MemoryFormat::Contiguous, MemoryFormat::ChannelsLast}) {
    const Tensor y = ops::to_layout(input(x), f);
    EXPECT_TRUE(y.is_format(f)) << y.desc();
    expect_close(y, x, "to_layout");
  }
  for (DType t : {DType::F32, DType::F16, DType::BF16}) {
    const Tensor y = ops::to_dtype(input(x), t);
    EXPECT_EQ(y.dtype(), t);
    const DType coarser = tolerance(t) > tolerance(c().dtype) ? t : c().dtype;
    expect_close_as(y, x, "to_dtype " + std::string(dtype_name(t)), coarser);
  }
  const Tensor tok = ops::as_tokens(input(x));
  expect_close(ops::from_tokens(tok, 4, 3), x, "as_tokens / from_tokens");
}

TEST_P(Conformance, UpsampleAndConcat) {
  const Tensor x = random({2, 5, 3, 4}, 101), y = random({2, 3, 3, 4}, 102);
  expect_close(ops::upsample_nearest2x(input(x)), ops::upsample_nearest2x(x), "upsample_nearest2x");
  expect_close(ops::concat({input(x), input(y)}, 1), ops::concat({x, y}, 1), "concat channels");
  const Tensor t = random({2, 7, 9}, 103), u = random({2, 7, 4}, 104);
  expect_close(ops::concat({input(t), input(u)}, 2), ops::concat({t, u}, 2), "concat last dim");
  expect_close(ops::concat({input(t), input(t)}, 0), ops::concat({t, t}, 0), "concat batch");
}

INSTANTIATE_TEST_SUITE_P(Backends, Conformance, ::testing::ValuesIn(all_cases()), case_name);

// Says, in one line, when this process has no GPU backend to run the suite on.
TEST(Backends, CudaCasesRunOrSkip) {
  for (Device d : backend::available_devices())
    if (!d.is_cpu()) return;
  GTEST_SKIP() << "no CUDA device in this process (no CUDA backend built, or no GPU): CUDA "
                  "conformance cases skipped";
}

TEST(Backends, MixedDevicesAndHostAccessAreRefused) {
  const Tensor x = Tensor::full({2, 3}, 1.f);
  EXPECT_EQ(x.device(), Device::cpu());
  EXPECT_EQ(x.to(Device::cpu()).shares_storage(x), true);
  const std::string err = test::error_of([] { backend::backend_for(Device::cuda(7)); });
  for (Device d : backend::available_devices())
    if (d == Device::cuda(7)) GTEST_SKIP() << "a machine with 8 GPUs";
  EXPECT_NE(err.find("cuda:7"), std::string::npos) << err;
  EXPECT_NE(test::error_of([] { Device::parse("gpu0"); }).find("gpu0"), std::string::npos);
  EXPECT_EQ(Device::parse("cuda:3"), Device::cuda(3));
  EXPECT_EQ(Device::parse("cuda").str(), "cuda:0");
}

}  // namespace
}  // namespace sd
