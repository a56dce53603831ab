#include "backend/cpu/convolution.h"

#include <cstdlib>
#include <functional>
#include <string>

#include "backend/cpu/eltwise.h"
#include "backend/cpu/layout.h"
#include "backend/cpu/post_ops.h"
#include "backend/cpu/runtime.h"
#include "backend/cpu/simd.h"

namespace sd::cpu {

using tag = dnnl::memory::format_tag;

struct Convolution::Prim {
  dnnl::convolution_forward prim;
  dnnl::memory::desc src, weights, dst, res;  // as the primitive reads and writes them
  int64_t ho = 0, wo = 0;
  // Winograd: src/dst in oneDNN's blocked layout, reordered from and to channels-last
  // around the primitive; the residual arrives as a sum post-op into the prefilled dst,
  // and an activation it cannot fuse runs afterwards.
  bool blocked = false;
  Act act_after = Act::None;
  // Direct convolutions larger than 1x1 add the residual in a pass after the primitive,
  // and a 1x1 fuses it (oneDNN 2.6's brgemm kernels have no full-tensor binary post-op, so
  // a 1x1 with one runs an older kernel). On AMX either way gave SD1.5's UNet step the
  // same time, alternated: 3x3s fused 0.997 of it, 1x1s in a pass 0.999.
  bool add_after = false;
  std::string implementation;
};

namespace {

DType compute_dtype(DType t) { return t == DType::BF16 ? DType::BF16 : DType::F32; }

void check_geometry(const ConvGeometry& g) {
  SD_CHECK(g.stride >= 1 && g.pad_top >= 0 && g.pad_left >= 0 && g.pad_bottom >= 0 && g.pad_right >= 0,
           "conv stride must be >= 1 and padding >= 0");
}

enum class Algo { Auto, Direct, Winograd };

Algo algo_override() {
  static const Algo a = [] {
    const char* e = std::getenv("SD_CONV_ALGO");
    if (!e) return Algo::Auto;
    const std::string s = e;
    return s == "direct" ? Algo::Direct : s == "winograd" ? Algo::Winograd : Algo::Auto;
  }();
  return a;
}

bool is_amx(const dnnl::convolution_forward::primitive_desc& pd) {
  return std::string(pd.impl_info_str()).find("amx") != std::string::npos;
}

// oneDNN 2.6's older AMX kernel ("jit:avx512_core_amx_bf16"), not its brgemm one.
bool is_jit_amx(const dnnl::convolution_forward::primitive_desc& pd) {
  const std::string impl = pd.impl_info_str();
  return impl.rfind("jit:", 0) == 0 && impl.find("amx") != std::string::npos;
}

// The implementation a convolution of an h x w input runs, of those oneDNN offers for it
// (`make` builds the primitive descriptor afresh: next_impl moves the one it is called on).
// - For a 3x3 kernel the older AMX kernel ("jit:avx512_core_amx_bf16") where there is one,
//   at every input size, instead of the brgemm one oneDNN prefers. Alternated with it in
//   one process (bf16, 2-core Sapphire Rapids), it ran SD's 3x3 shapes in 0.68-0.98 of the
//   time at 640-2560 input channels and in the VAE's 128-512, 1.03-1.05 at 320 and 1.13 for
//   1280 channels at 8x8: SD1.5's UNet step at 512 px in 0.94 and its VAE decode in 0.90.
//   Below 8x8 it replaces a non-AMX kernel: SD1.5's step at 256 px in 0.94 of the time, at
//   128 px in 0.89, and a weight keeps one layout at every image size.
// - Otherwise, on inputs below 8x8 none of oneDNN 2.6's AMX kernels: they reached outside
//   their buffers there (found with every buffer between inaccessible pages; the worker
//   crashed at 64, 96 and 384 px images). The older 3x3 kernel stayed inside its buffers
//   on every input of fewer than 64 pixels, every square up to 72x72 and one row of up to
//   64 columns.
// - With stride 2 never the brgemm AMX kernel: it reached outside its buffers on 1280
//   channels at some widths (SD1.5's last downsampler at 320 and 1600 px).
dnnl::convolution_forward::primitive_desc choose_implementation(
    const std::function<dnnl::convolution_forward::primitive_desc()>& make, int64_t kh, int64_t kw,
    int stride, int64_t h, int64_t w) {
  dnnl::convolution_forward::primitive_desc pd = make();
  if (kh == 3 && kw == 3 && is_amx(pd)) {
    dnnl::convolution_forward::primitive_desc jit = make();
    while (!is_jit_amx(jit) && jit.next_impl()) {
    }
    if (is_jit_amx(jit)) return jit;
  }
  if (h * w < 64 || stride > 1)
    while (is_amx(pd) && (h * w < 64 || !is_jit_amx(pd)) && pd.next_impl()) {
    }
  return pd;
}

// One reorder between two memories (oneDNN caches the primitive).
void reorder(dnnl::memory src, dnnl::memory dst) {
  dnnl::reorder(src, dst).execute(stream(), src, dst);
}

}  // namespace

// Measured with bench_ops on the SD1.5 shapes (2-core AVX-512 machine, CPU time of one
// thread, ratios to a 2048^3 f32 matmul). With cached transformed weights Winograd F(4,3)
// ran 1.6-3x faster than direct for >= 256 channels at 16x16 and above, but its weights
// are 4x the plain ones. Transforming them per call instead (oneDNN's weight transform is
// slow) keeps the win only at large images: 512 channels 1.6x at 128x128 and 2-2.5x at
// 256x256, 256->128 channels 1.6x at 512x512; 128->128 broke even, and at 64x64 and below
// it lost (0.35-0.7x of direct). Its error stayed below twice direct's (4e-6 relative).
bool winograd_pays(int64_t in_channels, int64_t out_channels, int64_t h, int64_t w) {
  const int64_t lo = in_channels < out_channels ? in_channels : out_channels;
  const int64_t hi = in_channels < out_channels ? out_channels : in_channels;
  return lo >= 128 && hi >= 256 && h * w >= 128 * 128;
}

bool Convolution::use_winograd(int64_t h, int64_t w) const {
  if (dtype_ != DType::F32 || wshape_[2] != 3 || wshape_[3] != 3 || g_.stride != 1) return false;
  switch (algo_override()) {
    case Algo::Direct: return false;
    case Algo::Winograd: return true;
    case Algo::Auto: break;
  }
  return winograd_pays(wshape_[1], wshape_[0], h, w);
}

Convolution::Convolution(const Tensor& weight, const Tensor& bias, ConvGeometry g)
    : wshape_(weight.shape()), dtype_(compute_dtype(weight.dtype())), g_(g) {
  SD_CHECK(weight.ndim() == 4, "conv weight must be [O, I, kh, kw], got " + weight.desc());
  check_geometry(g);
  set_bias(bias);
  Tensor w = weight.to(dtype_).contiguous();
  weights_ = WeightStore(w, desc_of(w));
  if (const auto want = kernel_weights_desc()) weights_.get(*want);
}

Convolution::Convolution(const WeightRows& weight, const Tensor& bias, ConvGeometry g)
    : wshape_(weight.shape), dtype_(compute_dtype(weight.dtype)), g_(g) {
  SD_CHECK(wshape_.size() == 4, "conv weight must be [O, I, kh, kw], got " + wshape_.str());
  check_geometry(g);
  if (weight.dtype != dtype_) {  // read whole and converted (F16 computes as F32)
    *this = Convolution(weight.read_all(), bias, g);
    return;
  }
  set_bias(bias);
  weights_ = WeightStore(weight, desc_of(wshape_, contiguous_strides(wshape_), dtype_), 0, kernel_weights_desc());
}

bool Convolution::replace_weight(const Tensor& weight) {
  if (weight.shape() != wshape_ || weight.dtype() != dtype_ || !weight.device().is_cpu()) return false;
  weights_.replace(weight);
  return true;
}

void Convolution::set_bias(const Tensor& bias) {
  if (bias.defined()) {
    SD_CHECK(bias.numel() == wshape_[0], "conv bias " + bias.desc() + " does not match weight " + wshape_.str());
    bias_ = bias.to(DType::F32).contiguous().reshape({wshape_[0]});
  }
}

// The weight is reordered when the layer is prepared (at load for the UNet), not in the
// first step, into the layout oneDNN picks for a 64x64 input. On SD's convolutions that is
// the layout of every input size from 8x8 to 512x512, and of every size for a 3x3 on AMX,
// except some 1x1s (a residual changes their kernel, and inputs below 8x8 leave AMX): those
// reorder again at their first use, and so do those that take the Winograd path
// (forward_blocked).
std::optional<dnnl::memory::desc> Convolution::kernel_weights_desc() const {
  try {
    return direct_weights_desc(64, 64);
  } catch (const dnnl::error&) {
    return std::nullopt;  // no direct kernel for a 64x64 input: the first forward() picks the layout
  }
}

dnnl::memory::desc Convolution::direct_weights_desc(int64_t h, int64_t w) const {
  const int64_t o = wshape_[0], i = wshape_[1], kh = wshape_[2], kw = wshape_[3];
  const int64_t ho = (h + g_.pad_top + g_.pad_bottom - kh) / g_.stride + 1;
  const int64_t wo = (w + g_.pad_left + g_.pad_right - kw) / g_.stride + 1;
  const auto dt = dnnl_type(dtype_);
  dnnl::memory::desc bmd;
  if (bias_.defined()) bmd = dnnl::memory::desc({o}, dnnl::memory::data_type::f32, tag::a);
  const dnnl::convolution_forward::desc cd(
      dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
      dnnl::memory::desc({1, i, h, w}, dt, tag::nhwc), dnnl::memory::desc({o, i, kh, kw}, dt, tag::any),
      bmd, dnnl::memory::desc({1, o, ho, wo}, dt, tag::nhwc), {g_.stride, g_.stride},
      {g_.pad_top, g_.pad_left}, {g_.pad_bottom, g_.pad_right});
  return choose_implementation([&] { return dnnl::convolution_forward::primitive_desc(cd, engine()); }, kh, kw,
                               g_.stride, h, w)
      .weights_desc();
}

const Convolution::Prim& Convolution::prim_for(const Key& key) {
  auto it = prims_.find(key);
  if (it != prims_.end()) return *it->second;
  const auto [n, h, w, act, res_dt] = key;
  const int64_t o = wshape_[0], i = wshape_[1], kh = wshape_[2], kw = wshape_[3];
  auto p = std::make_shared<Prim>();
  p->ho = (h + g_.pad_top + g_.pad_bottom - kh) / g_.stride + 1;
  p->wo = (w + g_.pad_left + g_.pad_right - kw) / g_.stride + 1;
  SD_CHECK(p->ho > 0 && p->wo > 0, "conv kernel " + wshape_.str() + " does not fit input " +
                                       std::to_string(h) + "x" + std::to_string(w));
  const auto dt = dnnl_type(dtype_);
  p->src = dnnl::memory::desc({n, i, h, w}, dt, tag::nhwc);
  p->dst = dnnl::memory::desc({n, o, p->ho, p->wo}, dt, tag::nhwc);
  dnnl::memory::desc wmd({o, i, kh, kw}, dt, tag::any);
  dnnl::memory::desc bmd;
  if (bias_.defined()) bmd = dnnl::memory::desc({o}, dnnl::memory::data_type::f32, tag::a);
  const dnnl::memory::desc* res = nullptr;
  if (res_dt >= 0) {
    p->res = dnnl::memory::desc({n, o, p->ho, p->wo}, dnnl_type(DType(res_dt)), tag::nhwc);
    res = &p->res;
  }
  const dnnl::memory::dims strides{g_.stride, g_.stride}, pad_l{g_.pad_top, g_.pad_left},
      pad_r{g_.pad_bottom, g_.pad_right};
  if (use_winograd(h, w)) {
    try {
      dnnl::memory::desc any_src({n, i, h, w}, dt, tag::any), any_dst({n, o, p->ho, p->wo}, dt, tag::any);
      dnnl::convolution_forward::desc cd(dnnl::prop_kind::forward_inference,
                                         dnnl::algorithm::convolution_winograd, any_src, wmd, bmd,
                                         any_dst, strides, pad_l, pad_r);
      // The residual joins as a sum into the prefilled output when no activation has
      // to come between; otherwise it is added after the activation.
      dnnl::post_ops po;
      if (res_dt >= 0 && Act(act) == Act::None) po.append_sum(1.f);
      dnnl::primitive_attr attr;
      attr.set_post_ops(po);
      dnnl::convolution_forward::primitive_desc pd(cd, attr, engine());
      p->src = pd.src_desc();
      p->dst = pd.dst_desc();
      p->weights = pd.weights_desc();
      p->prim = dnnl::convolution_forward(pd);
      p->blocked = true;
      p->act_after = Act(act);
      p->implementation = pd.impl_info_str();
      return *prims_.emplace(key, std::move(p)).first->second;
    } catch (const dnnl::error&) {
      // This shape has no Winograd implementation: fall through to direct.
    }
  }
  dnnl::convolution_forward::desc cd(dnnl::prop_kind::forward_inference,
                                     dnnl::algorithm::convolution_direct, p->src, wmd, bmd, p->dst,
                                     strides, pad_l, pad_r);
  p->add_after = res && kh * kw > 1;
  const dnnl::primitive_attr attr = post_ops_attr(Act(act), p->add_after ? nullptr : res);
  dnnl::convolution_forward::primitive_desc pd;
  try {
    pd = choose_implementation([&] { return dnnl::convolution_forward::primitive_desc(cd, attr, engine()); }, kh, kw,
                               g_.stride, h, w);
  } catch (const dnnl::error& e) {
    throw Error("oneDNN has no convolution for weight " + wshape_.str() + " on input [" +
                std::to_string(n) + "," + std::to_string(i) + "," + std::to_string(h) + "," +
                std::to_string(w) + "]: " + e.what());
  }
  p->weights = pd.weights_desc();
  p->prim = dnnl::convolution_forward(pd);
  p->implementation = pd.impl_info_str();
  return *prims_.emplace(key, std::move(p)).first->second;
}

std::string Convolution::implementation(int64_t n, int64_t h, int64_t w) {
  return prim_for(Key{n, h, w, int(Act::None), -1}).implementation;
}

Tensor Convolution::forward(const Tensor& x, const Tensor* residual, Act act) {
  SD_CHECK(x.ndim() == 4 && x.size(1) == wshape_[1],
           "conv with weight " + wshape_.str() + " got input " + x.desc());
  Tensor xs = to_format(x, dtype_, MemoryFormat::ChannelsLast);
  Tensor res;
  if (residual) {
    const DType rdt = dnnl_supports(residual->dtype()) ? residual->dtype() : dtype_;
    res = to_format(*residual, rdt, MemoryFormat::ChannelsLast);
  }
  const Key key{x.size(0), x.size(2), x.size(3), int(act), residual ? int(res.dtype()) : -1};
  const Prim& p = prim_for(key);
  const Shape oshape{x.size(0), wshape_[0], p.ho, p.wo};
  if (residual)
    SD_CHECK(res.shape() == oshape,
             "conv residual " + residual->desc() + " does not match output " + oshape.str());
  Tensor out = Tensor::empty(oshape, dtype_, MemoryFormat::ChannelsLast);
  if (p.blocked) return forward_blocked(p, xs, residual ? &res : nullptr, out);
  std::unordered_map<int, dnnl::memory> args{
      {DNNL_ARG_SRC, memory_of(p.src, xs)},
      {DNNL_ARG_WEIGHTS, weights_.get(p.weights)},
      {DNNL_ARG_DST, memory_of(p.dst, out)},
  };
  if (bias_.defined()) args.emplace(DNNL_ARG_BIAS, memory_of(bias_));
  if (residual && !p.add_after) args.emplace(residual_arg(act), memory_of(p.res, res));
  sync_threads();
  p.prim.execute(stream(), args);
  stream().wait();
  if (residual && p.add_after) binary_(out, res, BinaryOp::Add);
  return out;
}

Tensor Convolution::forward_blocked(const Prim& p, const Tensor& x, const Tensor* residual,
                                   Tensor& out) {
  Tensor xb = Tensor::empty({int64_t(p.src.get_size())}, DType::U8);
  Tensor yb = Tensor::empty({int64_t(p.dst.get_size())}, DType::U8);
  dnnl::memory src(p.src, engine(), xb.raw_data()), dst(p.dst, engine(), yb.raw_data());
  sync_threads();
  reorder(memory_of(x), src);
  const bool sum_residual = residual && p.act_after == Act::None;
  if (sum_residual) reorder(memory_of(*residual), dst);
  // Winograd weights are 4x the plain ones: transform them per call (a few percent of the
  // convolution at the sizes that use it) from the plain ones, which oneDNN can reorder
  // from, rather than keep a second, larger copy.
  weights_.keep_plain();
  Tensor wbytes;
  std::unordered_map<int, dnnl::memory> args{
      {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights_.transient(p.weights, &wbytes)}, {DNNL_ARG_DST, dst}};
  if (bias_.defined()) args.emplace(DNNL_ARG_BIAS, memory_of(bias_));
  p.prim.execute(stream(), args);
  reorder(dst, memory_of(out));
  stream().wait();
  if (p.act_after != Act::None) {
    float* y = out.data<float>();
    const int64_t n = out.numel(), chunk = 1 << 14;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i += chunk) kernels().activation(y + i, std::min(chunk, n - i), p.act_after);
    if (residual) binary_(out, *residual, BinaryOp::Add);
  }
  return out;
}

}  // namespace sd::cpu
