#include "backend/cuda/cuda_backend.h"

#include <map>
#include <mutex>

#include "backend/cuda/attention.h"
#include "backend/cuda/cuda_memory.h"
#include "backend/cuda/eltwise.h"
#include "backend/cuda/layout.h"
#include "backend/cuda/norm.h"
#include "backend/cuda/prepared_layers.h"
#include "backend/cuda/runtime.h"
#include "backend/cuda/tensor_views.h"
#include "core/error.h"

namespace sd::backend {

namespace {

using cuda::dense;
using cuda::dense_keep_layout;

// The memories of the GPUs started in this process, for the core's lookup. Never
// destroyed: tensors in static storage may be freed after main returns.
std::mutex g_memories_mu;
std::map<int, cuda::CudaMemory*>& memories() {
  static auto* m = new std::map<int, cuda::CudaMemory*>;
  return *m;
}

DeviceMemory& memory_of(int index) {
  std::lock_guard<std::mutex> lock(g_memories_mu);
  const auto it = memories().find(index);
  if (it == memories().end()) throw Error("device cuda:" + std::to_string(index) + " was not started");
  return *it->second;
}

cuda::BinaryOp kernel_op(BinaryOp op) { return op == BinaryOp::Add ? cuda::BinaryOp::Add : cuda::BinaryOp::Mul; }

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int index) : ctx_(index), memory_(ctx_), device_(Device::cuda(index)) {
    {
      std::lock_guard<std::mutex> lock(g_memories_mu);
      memories()[index] = &memory_;
    }
    register_device_memory(DeviceType::CUDA, &memory_of);
  }
  ~CudaBackend() override {
    std::lock_guard<std::mutex> lock(g_memories_mu);
    memories().erase(device_.index);
  }

  Device device() const override { return device_; }
  std::string name() const override { return ctx_.info().name; }
  size_t total_memory() const override { return ctx_.info().total_bytes; }
  size_t free_memory() const override { return cuda::free_memory(ctx_.device()); }
  size_t peak_memory_used() const override { return ctx_.pool().usage().peak_used; }
  bool computes_in(DType t) const override { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }
  void synchronize() override { ctx_.synchronize(); }

  std::unique_ptr<PreparedConv> prepare_conv(const Tensor& weight, const Tensor& bias, ConvGeometry g) override {
    return cuda::prepare_conv(ctx_, weight, bias, g);
  }
  std::unique_ptr<PreparedMatmul> prepare_matmul(const Tensor& weight, const Tensor& bias) override {
    return cuda::prepare_matmul(ctx_, weight, bias);
  }

  Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, int heads, bool causal,
                   float scale) override {
    SD_CHECK(q.ndim() == 3 && k.ndim() == 3 && v.ndim() == 3 && heads > 0 && q.size(2) % heads == 0 &&
                 k.size(2) == q.size(2) && v.size(2) == q.size(2) && k.size(1) == v.size(1) &&
                 k.size(0) == q.size(0) && v.size(0) == q.size(0),
             "attention of q " + q.desc() + ", k " + k.desc() + ", v " + v.desc() + " with " +
                 std::to_string(heads) + " heads");
    const DType dt = q.dtype();
    auto operand = [&](const Tensor& t, Tensor& keep) {
      keep = t.dtype() == dt && t.stride(2) == 1 ? t : dense(ctx_, t, dt, MemoryFormat::Contiguous);
      return cuda::AttentionOperand{keep.device_data(), keep.stride(0), keep.stride(1)};
    };
    Tensor qk, kk, vk;
    const auto qo = operand(q, qk), ko = operand(k, kk), vo = operand(v, vk);
    const int64_t b = q.size(0), lq = q.size(1), ch = q.size(2);
    Tensor out = Tensor::empty({b, lq, ch}, dt, MemoryFormat::Contiguous, device_);
    const cuda::AttentionShape shape{b, lq, k.size(1), heads, int(ch / heads)};
    cuda::attention(ctx_, qo, ko, vo, out.device_data(), lq * ch, ch, shape, causal, scale, dt);
    return out;
  }

  Tensor group_norm(const Tensor& x, int groups, const Tensor& gamma, const Tensor& beta, float eps,
                    bool silu) override {
    const bool channels_last = x.ndim() == 4 && x.is_channels_last() && !x.is_contiguous();
    Tensor nhwc = to_channels_last_rows(x);
    Tensor y = Tensor::empty(nhwc.shape(), x.dtype(), nhwc.ndim() == 4 ? MemoryFormat::ChannelsLast
                                                                        : MemoryFormat::Contiguous, device_);
    norm_rows(nhwc, y, groups, gamma, beta, eps, silu);
    return channels_last ? y : from_channels_last_rows(y, x.shape());
  }

  void group_norm_(Tensor& x, int groups, const Tensor& gamma, const Tensor& beta, float eps,
                   bool silu) override {
    if (x.ndim() == 4 && x.is_channels_last()) {
      norm_rows(x, x, groups, gamma, beta, eps, silu);
      return;
    }
    SD_CHECK(x.is_contiguous(), "group_norm_ needs a contiguous or channels-last tensor, got " + x.desc());
    Tensor y = group_norm(x, groups, gamma, beta, eps, silu);
    cuda::copy_on_device(ctx_, x.device_data(), y.device_data(), x.nbytes());
  }

  Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps) override {
    const Tensor xin = dense(ctx_, x, x.dtype(), MemoryFormat::Contiguous);
    Tensor y = Tensor::empty(x.shape(), x.dtype(), MemoryFormat::Contiguous, device_);
    const int64_t c = x.size(-1);
    cuda::layer_norm(ctx_, xin.device_data(), y.device_data(), x.numel() / c, c, floats(gamma, c),
                     floats(beta, c), eps, x.dtype());
    return y;
  }

  Tensor softmax(const Tensor& x) override {
    const Tensor xin = dense(ctx_, x, x.dtype(), MemoryFormat::Contiguous);
    Tensor y = Tensor::empty(x.shape(), x.dtype(), MemoryFormat::Contiguous, device_);
    const int64_t c = x.size(-1);
    cuda::softmax(ctx_, xin.device_data(), y.device_data(), x.numel() / c, c, x.dtype());
    return y;
  }

  Tensor activation(const Tensor& x, Act act) override {
    const Tensor xin = dense_keep_layout(ctx_, x, x.dtype());
    Tensor y = result_like(xin);
    cuda::activation(ctx_, xin.device_data(), y.device_data(), x.numel(), x.dtype(), cuda::kernel_act(act));
    return y;
  }

  Tensor geglu(const Tensor& x) override {
    SD_CHECK(x.size(-1) % 2 == 0, "geglu needs an even last dimension, got " + x.desc());
    const Tensor xin = dense(ctx_, x, x.dtype(), MemoryFormat::Contiguous);
    Shape ys = x.shape();
    const int64_t f = x.size(-1) / 2;
    ys[x.ndim() - 1] = f;
    Tensor y = Tensor::empty(ys, x.dtype(), MemoryFormat::Contiguous, device_);
    cuda::geglu(ctx_, xin.device_data(), y.device_data(), x.numel() / (2 * f), f, x.dtype());
    return y;
  }

  Tensor binary(const Tensor& a, const Tensor& b, BinaryOp op) override {
    Tensor y = result_like(a);
    cuda::binary_strided(ctx_, cuda::extent_of(a.shape()), cuda::view_of(a), cuda::broadcast_view(b, a.shape(), "binary"),
                         cuda::view_of(y), kernel_op(op));
    return y;
  }

  void binary_(Tensor& a, const Tensor& b, BinaryOp op) override {
    cuda::binary_strided(ctx_, cuda::extent_of(a.shape()), cuda::view_of(a), cuda::broadcast_view(b, a.shape(), "binary_"),
                         cuda::view_of(a), kernel_op(op));
  }

  Tensor scale(const Tensor& a, float s) override {
    const Tensor ain = dense_keep_layout(ctx_, a, a.dtype());
    Tensor y = result_like(ain);
    cuda::axpby(ctx_, ain.device_data(), s, nullptr, 0.f, y.device_data(), a.numel(), a.dtype());
    return y;
  }

  Tensor axpby(const Tensor& a, float sa, const Tensor& b, float sb) override {
    SD_CHECK(a.shape() == b.shape(), "axpby of " + a.desc() + " and " + b.desc());
    const Tensor ain = dense_keep_layout(ctx_, a, a.dtype());
    // b in a's dtype and a's layout, so both are read element for element.
    const Tensor bin = dense(ctx_, b, a.dtype(), ain.is_contiguous() ? MemoryFormat::Contiguous
                                                                     : MemoryFormat::ChannelsLast);
    Tensor y = result_like(ain);
    cuda::axpby(ctx_, ain.device_data(), sa, bin.device_data(), sb, y.device_data(), a.numel(), a.dtype());
    return y;
  }

  Tensor to_format(const Tensor& x, DType dtype, MemoryFormat fmt) override { return dense(ctx_, x, dtype, fmt); }

  void copy(const Tensor& src, Tensor& dst) override {
    SD_CHECK(src.shape() == dst.shape(), "copy of " + src.desc() + " into " + dst.desc());
    if (!is_floating(src.dtype()) || !is_floating(dst.dtype())) {
      // The kernels convert float types only; integer tensors (indices) are small and dense.
      SD_CHECK(dst.is_contiguous(), "CUDA copy of " + src.desc() + " into the strided " + dst.desc());
      const Tensor host = src.to(Device::cpu()).contiguous().to(dst.dtype());
      cuda::copy_to_device(ctx_, dst.device_data(), host.raw_data(), host.nbytes());
      ctx_.synchronize();  // before `host` is freed
      return;
    }
    cuda::copy_strided(ctx_, cuda::extent_of(src.shape()), cuda::view_of(src), cuda::view_of(dst));
  }

  void fill(Tensor& t, float value) override {
    cuda::fill_strided(ctx_, cuda::extent_of(t.shape()), cuda::view_of(t), value);
  }

  Tensor upsample_nearest2x(const Tensor& x) override {
    SD_CHECK(x.ndim() == 4, "upsample_nearest2x needs [N, C, H, W], got " + x.desc());
    const Tensor xin = dense(ctx_, x, x.dtype(), MemoryFormat::ChannelsLast);
    const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
    Tensor y = Tensor::empty({n, c, 2 * h, 2 * w}, x.dtype(), MemoryFormat::ChannelsLast, device_);
    cuda::upsample_nearest(ctx_, xin.device_data(), y.device_data(), n, h, w, c, 2, x.dtype());
    return y;
  }

  void write_phase(const Tensor& phase, Tensor& out, int dy, int dx) override {
    SD_CHECK(phase.ndim() == 4 && out.ndim() == 4 && out.is_channels_last() && out.dtype() == phase.dtype() &&
                 out.size(0) == phase.size(0) && out.size(1) == phase.size(1) &&
                 out.size(2) == 2 * phase.size(2) && out.size(3) == 2 * phase.size(3),
             "write_phase of " + phase.desc() + " into " + out.desc());
    const Tensor p = dense(ctx_, phase, phase.dtype(), MemoryFormat::ChannelsLast);
    cuda::write_phase(ctx_, p.device_data(), out.device_data(), p.size(0), p.size(2), p.size(3), p.size(1), dy, dx,
                      p.dtype());
  }

  Tensor concat(const std::vector<Tensor>& xs, int dim) override {
    SD_CHECK(!xs.empty(), "concat of nothing");
    const Tensor& first = xs.front();
    const int nd = first.ndim();
    if (dim < 0) dim += nd;
    SD_CHECK(dim >= 0 && dim < nd, "concat along dimension " + std::to_string(dim) + " of " + first.desc());
    Shape shape = first.shape();
    shape[dim] = 0;
    for (const Tensor& x : xs) {
      SD_CHECK(x.ndim() == nd && x.dtype() == first.dtype(), "concat of " + first.desc() + " and " + x.desc());
      for (int d = 0; d < nd; ++d)
        SD_CHECK(d == dim || x.size(d) == first.size(d), "concat of " + first.desc() + " and " + x.desc());
      shape[dim] += x.size(dim);
    }
    Tensor y = Tensor::empty(shape, first.dtype(), nd == 4 && first.is_channels_last() && !first.is_contiguous()
                                                        ? MemoryFormat::ChannelsLast
                                                        : MemoryFormat::Contiguous, device_);
    int64_t at = 0;
    for (const Tensor& x : xs) {
      Tensor part = y.narrow(dim, at, x.size(dim));
      cuda::copy_strided(ctx_, cuda::extent_of(x.shape()), cuda::view_of(x), cuda::view_of(part));
      at += x.size(dim);
    }
    return y;
  }

 private:
  // An element-wise result for x: its shape and dtype, its layout when it is channels-last,
  // else contiguous.
  Tensor result_like(const Tensor& x) const {
    const bool channels_last = !x.is_contiguous() && x.ndim() == 4 && x.is_channels_last();
    return Tensor::empty(x.shape(), x.dtype(), channels_last ? MemoryFormat::ChannelsLast : MemoryFormat::Contiguous,
                         device_);
  }

  // A float32 [c] parameter on this device, or null when undefined.
  const float* floats(const Tensor& p, int64_t c) {
    if (!p.defined()) return nullptr;
    SD_CHECK(p.dtype() == DType::F32 && p.numel() == c && p.is_contiguous() && p.device() == device_,
             "normalisation parameter " + p.desc() + " must be float32 [" + std::to_string(c) + "] on " +
                 device_.str());
    return static_cast<const float*>(p.device_data());
  }

  // x [N, C, ...] as channels-last rows [N, P, C]: a 4-D channels-last tensor as it is, any
  // other layout transposed.
  Tensor to_channels_last_rows(const Tensor& x) {
    SD_CHECK(x.ndim() >= 2, "group_norm needs [N, C, ...], got " + x.desc());
    if (x.ndim() == 4 && x.is_channels_last()) return x;
    const Tensor c = dense(ctx_, x, x.dtype(), MemoryFormat::Contiguous);
    const int64_t n = x.size(0), ch = x.size(1), p = x.numel() / (n * ch);
    Tensor y = x.ndim() == 4 ? Tensor::empty(x.shape(), x.dtype(), MemoryFormat::ChannelsLast, device_)
                             : Tensor::empty({n, p, ch}, x.dtype(), MemoryFormat::Contiguous, device_);
    cuda::nchw_to_nhwc(ctx_, c.device_data(), y.device_data(), n, ch, p, x.dtype());
    return y;
  }

  Tensor from_channels_last_rows(const Tensor& y, const Shape& shape) {
    Tensor out = Tensor::empty(shape, y.dtype(), MemoryFormat::Contiguous, device_);
    const int64_t n = shape[0], ch = shape[1], p = out.numel() / (n * ch);
    cuda::nhwc_to_nchw(ctx_, y.device_data(), out.device_data(), n, ch, p, y.dtype());
    return out;
  }

  void norm_rows(const Tensor& x, Tensor& y, int groups, const Tensor& gamma, const Tensor& beta, float eps,
                 bool silu) {
    const int64_t n = x.size(0), ch = x.ndim() == 4 ? x.size(1) : x.size(2), p = x.numel() / (n * ch);
    cuda::group_norm(ctx_, x.device_data(), y.device_data(), n, p, ch, groups, floats(gamma, ch), floats(beta, ch),
                     eps, silu, x.dtype());
  }

  cuda::Context ctx_;
  cuda::CudaMemory memory_;
  Device device_;
};

}  // namespace

int cuda_device_count() { return cuda::device_count(); }

std::unique_ptr<Backend> make_cuda_backend(int index) { return std::make_unique<CudaBackend>(index); }

}  // namespace sd::backend
