#include "backend/cuda/prepared_layers.h"

#include "backend/cuda/conv2d.h"
#include "backend/cuda/layout.h"
#include "backend/cuda/linear.h"
#include "backend/cuda/tensor_views.h"
#include "core/error.h"

namespace sd::cuda {

Act kernel_act(backend::Act act) {
  switch (act) {
    case backend::Act::None: return Act::None;
    case backend::Act::SiLU: return Act::SiLU;
    case backend::Act::GELU: return Act::GELU;
    case backend::Act::QuickGELU: return Act::QuickGELU;
    case backend::Act::ReLU: return Act::ReLU;
    case backend::Act::Tanh: return Act::Tanh;
  }
  throw Error("unknown activation");
}

namespace {

// A weight of a float dtype the GPU computes in, on the device, contiguous.
Tensor upload_weight(Context& ctx, const Tensor& w, const Device& device, const char* what) {
  SD_CHECK(is_floating(w.dtype()), std::string(what) + " weight must be a float tensor, got " + w.desc());
  const Tensor on_device = w.device() == device ? w : w.contiguous().to(device);
  return dense(ctx, on_device, w.dtype(), MemoryFormat::Contiguous);
}

// The bias in the compute dtype on the device, or undefined.
Tensor upload_bias(Context& ctx, const Tensor& b, int64_t out, DType dt, const Device& device, const char* what) {
  if (!b.defined()) return {};
  SD_CHECK(b.numel() == out, std::string(what) + " bias " + b.desc() + " does not match " + std::to_string(out) +
                                 " outputs");
  const Tensor on_device = b.device() == device ? b : b.contiguous().to(device);
  return dense(ctx, on_device.reshape({out}), dt, MemoryFormat::Contiguous);
}

const void* ptr_or_null(const Tensor& t) { return t.defined() ? t.device_data() : nullptr; }

class CudaConv final : public backend::PreparedConv {
 public:
  CudaConv(Context& ctx, const Tensor& weight, const Tensor& bias, backend::ConvGeometry g)
      : ctx_(ctx), device_(Device::cuda(ctx.device())) {
    SD_CHECK(weight.ndim() == 4, "convolution weight must be [O, I, kh, kw], got " + weight.desc());
    out_ = weight.size(0), in_ = weight.size(1), kh_ = int(weight.size(2)), kw_ = int(weight.size(3));
    dt_ = weight.dtype();
    const Tensor oihw = upload_weight(ctx, weight, device_, "convolution");
    ohwi_ = Tensor::empty({out_, kh_, kw_, in_}, dt_, MemoryFormat::Contiguous, device_);
    ohwi_from_oihw(ctx, oihw.device_data(), ohwi_.device_data(), out_, in_, kh_, kw_, dt_);
    bias_ = upload_bias(ctx, bias, out_, dt_, device_, "convolution");
    conv_ = std::make_unique<Conv2d>(ohwi_.device_data(), ptr_or_null(bias_), out_, in_, kh_, kw_,
                                     ConvGeometry{g.stride, g.pad_top, g.pad_left, g.pad_bottom, g.pad_right}, dt_);
  }

  Tensor forward(const Tensor& x, const Tensor* residual, backend::Act act) override {
    SD_CHECK(x.ndim() == 4 && x.size(1) == in_,
             "convolution of " + std::to_string(in_) + " channels applied to " + x.desc());
    const Tensor xin = dense(ctx_, x, dt_, MemoryFormat::ChannelsLast);
    const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
    Tensor y = Tensor::empty({n, out_, conv_->out_height(h), conv_->out_width(w)}, dt_, MemoryFormat::ChannelsLast,
                             device_);
    Tensor res;
    if (residual) {
      SD_CHECK(residual->shape() == y.shape(), "convolution residual " + residual->desc() + " is not shaped like " +
                                                   y.desc());
      res = dense(ctx_, *residual, dt_, MemoryFormat::ChannelsLast);
    }
    conv_->forward(ctx_, xin.device_data(), n, h, w, y.device_data(), ptr_or_null(res), kernel_act(act));
    return y;
  }

  Tensor weight() const override {
    Tensor oihw = Tensor::empty({out_, in_, kh_, kw_}, dt_, MemoryFormat::Contiguous, device_);
    // OHWI is [O, P, I] with P = kh*kw: back to [O, I, P].
    nhwc_to_nchw(ctx_, ohwi_.device_data(), oihw.device_data(), out_, in_, int64_t(kh_) * kw_, dt_);
    return oihw;
  }
  DType dtype() const override { return dt_; }
  size_t weight_bytes() const override { return ohwi_.nbytes() + (bias_.defined() ? bias_.nbytes() : 0); }

 private:
  Context& ctx_;
  Device device_;
  int64_t out_ = 0, in_ = 0;
  int kh_ = 0, kw_ = 0;
  DType dt_ = DType::F32;
  Tensor ohwi_, bias_;
  std::unique_ptr<Conv2d> conv_;
};

class CudaMatmul final : public backend::PreparedMatmul {
 public:
  CudaMatmul(Context& ctx, const Tensor& weight, const Tensor& bias)
      : ctx_(ctx), device_(Device::cuda(ctx.device())) {
    SD_CHECK(weight.ndim() == 2, "linear weight must be [O, I], got " + weight.desc());
    weight_ = upload_weight(ctx, weight, device_, "linear");
    const int64_t out = weight.size(0), in = weight.size(1);
    bias_ = upload_bias(ctx, bias, out, weight.dtype(), device_, "linear");
    linear_ = std::make_unique<Linear>(weight_.device_data(), ptr_or_null(bias_), out, in, weight.dtype());
  }

  Tensor forward(const Tensor& x, const Tensor* residual, backend::Act act) override {
    const int64_t in = linear_->in_features(), out = linear_->out_features();
    const DType dt = linear_->dtype();
    SD_CHECK(x.ndim() >= 1 && x.size(-1) == in,
             "linear layer of " + std::to_string(in) + " inputs applied to " + x.desc());
    // Rows must lie at one stride (a row-strided slice of a fused projection does).
    Tensor xin = x.dtype() == dt ? x : dense(ctx_, x, dt, MemoryFormat::Contiguous);
    const int64_t rows = x.numel() / in;
    if (!rows_evenly_strided(xin)) xin = dense(ctx_, xin, dt, MemoryFormat::Contiguous);
    Shape ys = x.shape();
    ys[x.ndim() - 1] = out;
    Tensor y = Tensor::empty(ys, dt, MemoryFormat::Contiguous, device_);
    Tensor res;
    if (residual) {
      SD_CHECK(residual->shape() == ys, "linear residual " + residual->desc() + " is not shaped like " + y.desc());
      res = dense(ctx_, *residual, dt, MemoryFormat::Contiguous);
    }
    const int64_t x_row = rows > 1 ? xin.stride(-2) : in;
    linear_->forward(ctx_, xin.device_data(), x_row, rows, y.device_data(), out, ptr_or_null(res), kernel_act(act));
    return y;
  }

  Tensor weight() const override {
    Tensor copy = Tensor::empty(weight_.shape(), weight_.dtype(), MemoryFormat::Contiguous, device_);
    copy_on_device(ctx_, copy.device_data(), weight_.device_data(), weight_.nbytes());
    return copy;
  }
  DType dtype() const override { return linear_->dtype(); }
  size_t weight_bytes() const override { return weight_.nbytes() + (bias_.defined() ? bias_.nbytes() : 0); }

 private:
  // Every row at stride(-2) (at least a row's length) from the previous one, the last
  // dimension contiguous.
  static bool rows_evenly_strided(const Tensor& x) {
    if (x.stride(-1) != 1) return false;
    if (x.ndim() == 1 || x.numel() == x.size(-1)) return true;
    if (x.stride(-2) < x.size(-1)) return false;
    int64_t expect = x.stride(-2) * x.size(-2);
    for (int d = x.ndim() - 3; d >= 0; --d) {
      if (x.size(d) != 1 && x.stride(d) != expect) return false;
      expect *= x.size(d);
    }
    return true;
  }

  Context& ctx_;
  Device device_;
  Tensor weight_, bias_;
  std::unique_ptr<Linear> linear_;
};

}  // namespace

std::unique_ptr<backend::PreparedConv> prepare_conv(Context& ctx, const Tensor& weight, const Tensor& bias,
                                                    backend::ConvGeometry g) {
  return std::make_unique<CudaConv>(ctx, weight, bias, g);
}

std::unique_ptr<backend::PreparedMatmul> prepare_matmul(Context& ctx, const Tensor& weight, const Tensor& bias) {
  return std::make_unique<CudaMatmul>(ctx, weight, bias);
}

}  // namespace sd::cuda
