#include "backend/cpu/convolution.h"

#include "backend/cpu/layout.h"
#include "backend/cpu/post_ops.h"
#include "backend/cpu/runtime.h"

namespace sd::cpu {

using tag = dnnl::memory::format_tag;

struct Convolution::Prim {
  dnnl::convolution_forward prim;
  dnnl::memory::desc src, weights, dst, res;
  int64_t ho = 0, wo = 0;
};

namespace {
DType compute_dtype(DType t) { return t == DType::BF16 ? DType::BF16 : DType::F32; }
}  // namespace

Convolution::Convolution(const Tensor& weight, const Tensor& bias, ConvGeometry g)
    : wshape_(weight.shape()), dtype_(compute_dtype(weight.dtype())), g_(g) {
  SD_CHECK(weight.ndim() == 4, "conv weight must be [O, I, kh, kw], got " + weight.desc());
  SD_CHECK(g.stride >= 1 && g.pad_top >= 0 && g.pad_left >= 0 && g.pad_bottom >= 0 &&
               g.pad_right >= 0,
           "conv stride must be >= 1 and padding >= 0");
  Tensor w = weight.to(dtype_).contiguous();
  weights_ = WeightStore(w, desc_of(w));
  if (bias.defined()) {
    SD_CHECK(bias.numel() == weight.size(0),
             "conv bias " + bias.desc() + " does not match weight " + weight.desc());
    bias_ = bias.to(DType::F32).contiguous().reshape({weight.size(0)});
  }
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
  dnnl::convolution_forward::desc cd(
      dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, p->src, wmd, bmd,
      p->dst, {g_.stride, g_.stride}, {g_.pad_top, g_.pad_left}, {g_.pad_bottom, g_.pad_right});
  dnnl::convolution_forward::primitive_desc pd(cd, post_ops_attr(Act(act), res), engine());
  p->weights = pd.weights_desc();
  p->prim = dnnl::convolution_forward(pd);
  return *prims_.emplace(key, std::move(p)).first->second;
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
  std::unordered_map<int, dnnl::memory> args{
      {DNNL_ARG_SRC, memory_of(p.src, xs)},
      {DNNL_ARG_WEIGHTS, weights_.get(p.weights)},
      {DNNL_ARG_DST, memory_of(p.dst, out)},
  };
  if (bias_.defined()) args.emplace(DNNL_ARG_BIAS, memory_of(bias_));
  if (residual) args.emplace(residual_arg(act), memory_of(p.res, res));
  sync_threads();
  p.prim.execute(stream(), args);
  stream().wait();
  return out;
}

}  // namespace sd::cpu
