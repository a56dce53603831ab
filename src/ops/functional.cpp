// The functional ops: argument checks here, kernels in the backend of the inputs' device.
#include "backend/cpu/runtime.h"
#include "ops/act_map.h"
#include "ops/dispatch.h"
#include "ops/flop_count.h"
#include "ops/ops.h"

#include <cmath>

namespace sd::ops {

void set_num_threads(int n) { cpu::set_num_threads(n); }
int num_threads() { return cpu::num_threads(); }

namespace {
void check_float(const Tensor& t, const char* op) {
  SD_CHECK(t.defined(), std::string(op) + " got an undefined tensor");
  SD_CHECK(is_floating(t.dtype()), std::string(op) + " needs a float tensor, got " + t.desc());
}
}  // namespace

Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, int heads, bool causal,
                 float scale) {
  check_float(q, "attention");
  check_float(k, "attention");
  check_float(v, "attention");
  // q k^T and p v: 2 FLOP per multiply-add each, over every (query, key, channel).
  count_flops(4.0 * double(q.size(0)) * double(q.size(1)) * double(k.size(1)) * double(q.size(2)),
              q.dtype() == DType::BF16 && k.dtype() == DType::BF16 && v.dtype() == DType::BF16 ? DType::BF16
                                                                                                  : DType::F32);
  // The default scale is resolved here, once, so every backend gets the real one.
  if (scale == 0.f && heads > 0) scale = 1.f / std::sqrt(float(q.size(2) / heads));
  return backend_of("attention", {&q, &k, &v}).attention(q, k, v, heads, causal, scale);
}

Tensor softmax(const Tensor& x) {
  check_float(x, "softmax");
  return backend_of(x).softmax(x);
}

Tensor activation(const Tensor& x, Activation act) {
  check_float(x, "activation");
  if (act == Activation::None) return x;
  return backend_of(x).activation(x, to_backend(act));
}

Tensor geglu(const Tensor& x) {
  check_float(x, "geglu");
  return backend_of(x).geglu(x);
}

Tensor add(const Tensor& a, const Tensor& b) {
  check_float(a, "add");
  check_float(b, "add");
  return backend_of("add", {&a, &b}).binary(a, b, backend::BinaryOp::Add);
}

Tensor mul(const Tensor& a, const Tensor& b) {
  check_float(a, "mul");
  check_float(b, "mul");
  return backend_of("mul", {&a, &b}).binary(a, b, backend::BinaryOp::Mul);
}

Tensor scale(const Tensor& a, float s) {
  check_float(a, "scale");
  return backend_of(a).scale(a, s);
}

Tensor axpby(const Tensor& a, float sa, const Tensor& b, float sb) {
  check_float(a, "axpby");
  check_float(b, "axpby");
  return backend_of("axpby", {&a, &b}).axpby(a, sa, b, sb);
}

void add_(Tensor& a, const Tensor& b) {
  check_float(a, "add_");
  check_float(b, "add_");
  backend_of("add_", {&a, &b}).binary_(a, b, backend::BinaryOp::Add);
}

void copy(const Tensor& src, Tensor& dst) {
  SD_CHECK(src.defined() && dst.defined(), "copy got an undefined tensor");
  SD_CHECK(src.shape() == dst.shape(), "copy from " + src.desc() + " into " + dst.desc());
  backend_of("copy", {&src, &dst}).copy(src, dst);
}

void fill(Tensor& t, float value) {
  SD_CHECK(t.defined(), "fill got an undefined tensor");
  backend_of(t).fill(t, value);
}

Tensor upsample_nearest2x(const Tensor& x) {
  SD_CHECK(x.defined(), "upsample_nearest2x got an undefined tensor");
  return backend_of(x).upsample_nearest2x(x);
}

Tensor concat(const std::vector<Tensor>& xs, int dim) {
  SD_CHECK(!xs.empty(), "concat of no tensors");
  for (const Tensor& t : xs) {
    SD_CHECK(t.defined(), "concat got an undefined tensor");
    SD_CHECK(t.device() == xs[0].device(),
             "concat: inputs on " + xs[0].device().str() + " and " + t.device().str());
  }
  return backend_of(xs[0]).concat(xs, dim);
}

Tensor to_layout(const Tensor& x, MemoryFormat fmt) {
  SD_CHECK(x.defined(), "to_layout got an undefined tensor");
  return backend_of(x).to_format(x, x.dtype(), fmt);
}

Tensor to_dtype(const Tensor& x, DType dtype) {
  SD_CHECK(x.defined(), "to_dtype got an undefined tensor");
  const bool cl = x.ndim() == 4 && x.is_channels_last() && !x.is_contiguous();
  return backend_of(x).to_format(x, dtype, cl ? MemoryFormat::ChannelsLast : MemoryFormat::Contiguous);
}

Tensor as_tokens(const Tensor& x) {
  SD_CHECK(x.ndim() == 4, "as_tokens needs [B,C,H,W], got " + x.desc());
  Tensor cl = backend_of(x).to_format(x, x.dtype(), MemoryFormat::ChannelsLast);
  // NHWC memory is [B, H, W, C] contiguous.
  return cl.permute({0, 2, 3, 1}).reshape({x.size(0), x.size(2) * x.size(3), x.size(1)});
}

Tensor from_tokens(const Tensor& t, int64_t height, int64_t width) {
  SD_CHECK(t.ndim() == 3 && t.size(1) == height * width,
           "from_tokens: " + t.desc() + " is not [B, " + std::to_string(height) + "*" +
               std::to_string(width) + ", C]");
  Tensor c = backend_of(t).to_format(t, t.dtype(), MemoryFormat::Contiguous);
  return c.reshape({t.size(0), height, width, t.size(2)}).permute({0, 3, 1, 2});
}

}  // namespace sd::ops
