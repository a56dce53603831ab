#include "backend/cpu/eltwise.h"

#include <cstring>

#include "backend/cpu/convert.h"
#include "backend/cpu/simd.h"
#include "backend/cpu/strided_loop.h"

namespace sd::cpu {

namespace {

constexpr int64_t kChunk = 1024;  // floats per operand in a kernel's scratch

// Runs fn(float* out, const float* in..., int64_t n) over chunks of every run, with the
// inputs loaded into float32 scratch and the output stored back in its dtype.
// `direct(run)` may take a run in its own dtypes instead, returning true when it did.
template <int NIn, class Fn, class Direct = bool (*)(const Run&)>
void map_f32(Tensor& out, const LoopOperand* in, Fn fn, Direct direct = [](const Run&) { return false; }) {
  LoopOperand ops[1 + NIn];
  ops[0] = operand_of(out);
  for (int i = 0; i < NIn; ++i) ops[1 + i] = in[i];
  LoopPlan plan(out.shape(), ops, 1 + NIn);
  const DType od = out.dtype();
  plan.run([&](const Run& r) {
    if (direct(r)) return;
    alignas(64) float buf[1 + NIn][kChunk];
    for (int64_t s = 0; s < r.n; s += kChunk) {
      const int64_t m = r.n - s < kChunk ? r.n - s : kChunk;
      for (int i = 0; i < NIn; ++i) {
        const size_t es = dtype_size(ops[1 + i].dtype);
        load_f32(r.ptr[1 + i] + s * r.step[1 + i] * int64_t(es), ops[1 + i].dtype, r.step[1 + i],
                 buf[1 + i], m);
      }
      if constexpr (NIn == 1) fn(buf[0], buf[1], m);
      if constexpr (NIn == 2) fn(buf[0], buf[1], buf[2], m);
      store_f32(buf[0], r.ptr[0] + s * r.step[0] * int64_t(dtype_size(od)), od, r.step[0], m);
    }
  });
}

}  // namespace

Tensor empty_like_layout(const Tensor& like, const Shape& shape, DType dtype) {
  const bool cl = shape.size() == 4 && like.ndim() == 4 && like.is_channels_last() &&
                  !like.is_contiguous();
  return Tensor::empty(shape, dtype, cl ? MemoryFormat::ChannelsLast : MemoryFormat::Contiguous);
}

Tensor activation(const Tensor& x, Act act) {
  Tensor out = empty_like_layout(x, x.shape(), x.dtype());
  LoopOperand in = operand_of(x);
  const auto& k = kernels();
  map_f32<1>(out, &in, [&](float* o, const float* a, int64_t n) {
    if (o != a)
      for (int64_t i = 0; i < n; ++i) o[i] = a[i];
    k.activation(o, n, act);
  });
  return out;
}

Tensor geglu(const Tensor& x) {
  SD_CHECK(x.ndim() >= 1 && x.size(-1) % 2 == 0,
           "geglu needs an even last dimension, got " + x.desc());
  const int64_t f = x.size(-1) / 2;
  Shape shape = x.shape();
  shape[shape.size() - 1] = f;
  Tensor out = Tensor::empty(shape, x.dtype());
  LoopOperand in[2] = {operand_of(x.narrow(-1, 0, f)), operand_of(x.narrow(-1, f, f))};
  const auto& k = kernels();
  // bf16 rows are read and written where they lie.
  const bool bf16 = x.dtype() == DType::BF16 && k.gelu_mul_bf16;
  const auto direct = [&](const Run& r) {
    if (!bf16 || r.step[0] != 1 || r.step[1] != 1 || r.step[2] != 1) return false;
    k.gelu_mul_bf16(reinterpret_cast<const uint16_t*>(r.ptr[1]), reinterpret_cast<const uint16_t*>(r.ptr[2]),
                    reinterpret_cast<uint16_t*>(r.ptr[0]), r.n);
    return true;
  };
  map_f32<2>(
      out, in, [&](float* o, const float* a, const float* g, int64_t n) { k.gelu_mul(a, g, o, n); }, direct);
  return out;
}

Tensor binary(const Tensor& a, const Tensor& b, BinaryOp op) {
  Tensor out = empty_like_layout(a, a.shape(), a.dtype());
  LoopOperand in[2] = {operand_of(a), broadcast_operand(b, a.shape())};
  if (op == BinaryOp::Add)
    map_f32<2>(out, in, [](float* o, const float* x, const float* y, int64_t n) {
      for (int64_t i = 0; i < n; ++i) o[i] = x[i] + y[i];
    });
  else
    map_f32<2>(out, in, [](float* o, const float* x, const float* y, int64_t n) {
      for (int64_t i = 0; i < n; ++i) o[i] = x[i] * y[i];
    });
  return out;
}

void binary_(Tensor& a, const Tensor& b, BinaryOp op) {
  // In place is safe: each chunk is loaded before it is stored, and a is the output.
  LoopOperand in[2] = {operand_of(a), broadcast_operand(b, a.shape())};
  if (op == BinaryOp::Add)
    map_f32<2>(a, in, [](float* o, const float* x, const float* y, int64_t n) {
      for (int64_t i = 0; i < n; ++i) o[i] = x[i] + y[i];
    });
  else
    map_f32<2>(a, in, [](float* o, const float* x, const float* y, int64_t n) {
      for (int64_t i = 0; i < n; ++i) o[i] = x[i] * y[i];
    });
}

Tensor scale(const Tensor& a, float s) {
  Tensor out = empty_like_layout(a, a.shape(), a.dtype());
  LoopOperand in = operand_of(a);
  map_f32<1>(out, &in, [=](float* o, const float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) o[i] = x[i] * s;
  });
  return out;
}

Tensor axpby(const Tensor& a, float sa, const Tensor& b, float sb) {
  SD_CHECK(a.shape() == b.shape(), "axpby of " + a.desc() + " and " + b.desc());
  Tensor out = empty_like_layout(a, a.shape(), a.dtype());
  LoopOperand in[2] = {operand_of(a), operand_of(b)};
  map_f32<2>(out, in, [=](float* o, const float* x, const float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) o[i] = x[i] * sa + y[i] * sb;
  });
  return out;
}

void copy(const Tensor& src, Tensor& dst) {
  SD_CHECK(src.shape() == dst.shape(), "copy from " + src.desc() + " into " + dst.desc());
  if (src.dtype() == dst.dtype()) {  // bytes only: exact for every dtype
    LoopOperand ops[2] = {operand_of(dst), operand_of(src)};
    LoopPlan plan(dst.shape(), ops, 2);
    const size_t es = dst.element_size();
    plan.run([&](const Run& r) {
      if (r.step[0] == 1 && r.step[1] == 1) {
        std::memcpy(r.ptr[0], r.ptr[1], size_t(r.n) * es);
        return;
      }
      for (int64_t i = 0; i < r.n; ++i)
        std::memcpy(r.ptr[0] + i * r.step[0] * int64_t(es), r.ptr[1] + i * r.step[1] * int64_t(es), es);
    });
    return;
  }
  LoopOperand in = operand_of(src);
  map_f32<1>(dst, &in, [](float* o, const float* a, int64_t n) {
    for (int64_t i = 0; i < n; ++i) o[i] = a[i];
  });
}

}  // namespace sd::cpu
