#include "backend/cpu/matmul.h"

#include "backend/cpu/layout.h"
#include "backend/cpu/post_ops.h"
#include "backend/cpu/rows.h"
#include "backend/cpu/runtime.h"

namespace sd::cpu {

using tag = dnnl::memory::format_tag;

struct Matmul::Prim {
  dnnl::matmul prim;
  dnnl::memory::desc src, weights, dst, res;
};

namespace {
DType compute_dtype(DType t) { return t == DType::BF16 ? DType::BF16 : DType::F32; }
}  // namespace

Matmul::Matmul(const Tensor& weight, const Tensor& bias)
    : dtype_(compute_dtype(weight.dtype())) {
  SD_CHECK(weight.ndim() == 2, "linear weight must be [O, I], got " + weight.desc());
  set_shape(weight.shape(), bias);
  weights_ = WeightStore(weight.to(dtype_).contiguous(), plain_weights_desc());
  if (const auto want = kernel_weights_desc()) weights_.get(*want);
}

Matmul::Matmul(const WeightRows& weight, const Tensor& bias) : dtype_(compute_dtype(weight.dtype)) {
  SD_CHECK(weight.shape.size() == 2, "linear weight must be [O, I], got " + weight.shape.str());
  if (weight.dtype != dtype_) {  // read whole and converted (F16 computes as F32)
    *this = Matmul(weight.read_all(), bias);
    return;
  }
  set_shape(weight.shape, bias);
  weights_ = WeightStore(weight, plain_weights_desc(), 1, kernel_weights_desc());
}

bool Matmul::replace_weight(const Tensor& weight) {
  if (weight.shape() != Shape{out_, in_} || weight.dtype() != dtype_ || !weight.device().is_cpu()) return false;
  weights_.replace(weight);
  return true;
}

void Matmul::set_shape(const Shape& weight, const Tensor& bias) {
  out_ = weight[0];
  in_ = weight[1];
  if (bias.defined()) {
    SD_CHECK(bias.numel() == out_, "linear bias " + bias.desc() + " does not match weight " + weight.str());
    bias_ = bias.to(DType::F32).contiguous().reshape({1, out_});
  }
}

// The primitive computes x [M,I] times an I x O matrix: W [O,I] read transposed ("ba").
dnnl::memory::desc Matmul::plain_weights_desc() const {
  return dnnl::memory::desc({in_, out_}, dnnl_type(dtype_), tag::ba);
}

// The layout oneDNN picks for the weights does not depend on the row count (checked on
// SD's layers for 1 to 4096 rows), so they are reordered when the layer is prepared (at
// load for the UNet and the text encoders), not in the first step.
std::optional<dnnl::memory::desc> Matmul::kernel_weights_desc() const {
  const auto dt = dnnl_type(dtype_);
  const int64_t rows = 64;
  dnnl::memory::desc bmd;
  if (bias_.defined()) bmd = dnnl::memory::desc({1, out_}, dnnl::memory::data_type::f32, tag::ab);
  const dnnl::matmul::desc md(dnnl::memory::desc({rows, in_}, dt, tag::ab),
                              dnnl::memory::desc({in_, out_}, dt, tag::any), bmd,
                              dnnl::memory::desc({rows, out_}, dt, tag::ab));
  try {
    return dnnl::matmul::primitive_desc(md, engine()).weights_desc();
  } catch (const dnnl::error&) {
    return std::nullopt;  // no kernel for this shape: forward() says so with the shapes
  }
}

const Matmul::Prim& Matmul::prim_for(const Key& key) {
  auto it = prims_.find(key);
  if (it != prims_.end()) return *it->second;
  const auto [m, src_stride, act, res_dt, res_stride] = key;
  auto p = std::make_shared<Prim>();
  const auto dt = dnnl_type(dtype_);
  p->src = dnnl::memory::desc({m, in_}, dt, {src_stride, 1});
  p->dst = dnnl::memory::desc({m, out_}, dt, tag::ab);
  dnnl::memory::desc wmd({in_, out_}, dt, tag::any);
  dnnl::memory::desc bmd;
  if (bias_.defined()) bmd = dnnl::memory::desc({1, out_}, dnnl::memory::data_type::f32, tag::ab);
  const dnnl::memory::desc* res = nullptr;
  if (res_dt >= 0) {
    p->res = dnnl::memory::desc({m, out_}, dnnl_type(DType(res_dt)), {res_stride, 1});
    res = &p->res;
  }
  dnnl::matmul::desc md(p->src, wmd, bmd, p->dst);
  dnnl::matmul::primitive_desc pd;
  try {
    pd = dnnl::matmul::primitive_desc(md, post_ops_attr(Act(act), res), engine());
  } catch (const dnnl::error& e) {
    throw Error("oneDNN has no matmul for [" + std::to_string(m) + "," + std::to_string(in_) +
                "] x [" + std::to_string(in_) + "," + std::to_string(out_) + "]: " + e.what());
  }
  p->weights = pd.weights_desc();
  p->prim = dnnl::matmul(pd);
  return *prims_.emplace(key, std::move(p)).first->second;
}

Tensor Matmul::forward(const Tensor& x, const Tensor* residual, Act act) {
  SD_CHECK(x.ndim() >= 1 && x.size(-1) == in_,
           "linear [" + std::to_string(out_) + ", " + std::to_string(in_) + "] got input " +
               x.desc());
  Rows xr = as_rows(x.dtype() == dtype_ ? x : to_format(x, dtype_, MemoryFormat::Contiguous));
  Shape oshape = x.shape();
  oshape[oshape.size() - 1] = out_;
  Rows rr;
  if (residual) {
    SD_CHECK(residual->shape() == oshape,
             "linear residual " + residual->desc() + " does not match output " + oshape.str());
    const DType rdt = dnnl_supports(residual->dtype()) ? residual->dtype() : dtype_;
    rr = as_rows(residual->dtype() == rdt ? *residual
                                          : to_format(*residual, rdt, MemoryFormat::Contiguous));
  }
  Tensor out = Tensor::empty(oshape, dtype_);
  if (xr.m == 0) return out;
  const Key key{xr.m, xr.row_stride, int(act), residual ? int(rr.t.dtype()) : -1,
                residual ? rr.row_stride : 0};
  const Prim& p = prim_for(key);
  std::unordered_map<int, dnnl::memory> args{
      {DNNL_ARG_SRC, dnnl::memory(p.src, engine(), const_cast<char*>(xr.row(0)))},
      {DNNL_ARG_WEIGHTS, weights_.get(p.weights)},
      {DNNL_ARG_DST, memory_of(p.dst, out)},
  };
  if (bias_.defined()) args.emplace(DNNL_ARG_BIAS, memory_of(bias_));
  if (residual)
    args.emplace(residual_arg(act), dnnl::memory(p.res, engine(), const_cast<char*>(rr.row(0))));
  sync_threads();
  p.prim.execute(stream(), args);
  stream().wait();
  return out;
}

}  // namespace sd::cpu
