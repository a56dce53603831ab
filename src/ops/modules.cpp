// Conv2d and Linear: argument checks here, computation in the backend of the device the
// layer is prepared on.
#include "ops/act_map.h"
#include "ops/dispatch.h"
#include "ops/flop_count.h"
#include "ops/ops.h"

namespace sd::ops {

namespace {
void check_weight_dtype(DType t, const char* what) {
  SD_CHECK(is_floating(t), std::string(what) + " weight must be a float tensor, got " + std::string(dtype_name(t)));
}

// What the FLOP count attributes the op to: BF16 when weights, input and output all were
// (a model's first op, fed float32 latents, counts as float32).
DType compute_dtype(DType weights, const Tensor& x, const Tensor& y) {
  const bool bf16 = weights == DType::BF16 && x.dtype() == DType::BF16 && y.dtype() == DType::BF16;
  return bf16 ? DType::BF16 : DType::F32;
}
}  // namespace

struct Conv2d::Cache {
  Device device;
  std::unique_ptr<backend::PreparedConv> conv;
};

Conv2d::Conv2d(Tensor weight, Tensor bias, Conv2dOptions opt)
    : weight_(std::move(weight)), bias_(std::move(bias)), wshape_(weight_.shape()), opt_(opt) {
  check_arguments(weight_.dtype());
}

Conv2d::Conv2d(const WeightRows& weight, Tensor bias, Conv2dOptions opt, Device device)
    : bias_(std::move(bias)), wshape_(weight.shape), opt_(opt) {
  check_arguments(weight.dtype);
  const backend::ConvGeometry g{opt_.stride, opt_.pad_top, opt_.pad_left, opt_.pad_bottom, opt_.pad_right};
  cache_.reset(new Cache{device, backend::backend_for(device).prepare_conv_rows(
                                     weight, bias_.defined() ? bias_.to(device) : bias_, g)});
}

void Conv2d::check_arguments(DType weight_dtype) const {
  SD_CHECK(wshape_.size() == 4, "Conv2d weight must be [O, I, kh, kw], got " + wshape_.str());
  check_weight_dtype(weight_dtype, "Conv2d");
  SD_CHECK(!bias_.defined() || bias_.numel() == wshape_[0],
           "Conv2d bias " + bias_.desc() + " does not match weight " + wshape_.str());
  SD_CHECK(opt_.stride >= 1 && opt_.pad_top >= 0 && opt_.pad_left >= 0 && opt_.pad_bottom >= 0 &&
               opt_.pad_right >= 0,
           "Conv2d needs stride >= 1 and non-negative padding");
}

Conv2d::Conv2d() = default;
Conv2d::~Conv2d() = default;
Conv2d::Conv2d(Conv2d&&) noexcept = default;
Conv2d& Conv2d::operator=(Conv2d&&) noexcept = default;

Tensor Conv2d::forward(const Tensor& x, const Tensor* residual, Activation act) const {
  SD_CHECK(defined(), "Conv2d used before it was given weights");
  if (!cache_) to(x.device());
  SD_CHECK(x.device() == cache_->device, "Conv2d on " + cache_->device.str() + " got " + x.desc());
  if (residual)
    SD_CHECK(residual->device() == cache_->device, "Conv2d residual " + residual->desc());
  Tensor y = cache_->conv->forward(x, residual, to_backend(act));
  weight_ = Tensor();  // the backend keeps the one copy
  count_flops(2.0 * double(y.numel()) * double(wshape_[1] * wshape_[2] * wshape_[3]),
              compute_dtype(cache_->conv->dtype(), x, y));
  return y;
}

void Conv2d::to(Device device) const {
  SD_CHECK(defined(), "Conv2d used before it was given weights");
  if (cache_ && cache_->device == device) return;
  const Tensor w = weight();
  backend::Backend& b = backend::backend_for(device);
  const backend::ConvGeometry g{opt_.stride, opt_.pad_top, opt_.pad_left, opt_.pad_bottom,
                                opt_.pad_right};
  cache_.reset(new Cache{device, b.prepare_conv(w, bias_.defined() ? bias_.to(device) : bias_, g)});
  weight_ = Tensor();  // the backend keeps the one copy
}

const Tensor& Conv2d::weight() const {
  if (!weight_.defined() && cache_) weight_ = cache_->conv->weight();
  return weight_;
}

void Conv2d::set_weight(Tensor weight) {
  SD_CHECK(weight.shape() == wshape_,
           "Conv2d::set_weight: " + weight.desc() + " does not match " + wshape_.str());
  check_weight_dtype(weight.dtype(), "Conv2d");
  weight_ = Tensor();
  // A prepared layer keeps the memory its weight is laid out in (a LoRA merge would
  // otherwise leave the model's weight memory with holes) where its backend can.
  if (cache_ && weight.device() == cache_->device && cache_->conv->replace_weight(weight)) return;
  weight_ = std::move(weight);
  cache_.reset();
}

struct Linear::Cache {
  Device device;
  std::unique_ptr<backend::PreparedMatmul> mm;
};

Linear::Linear(Tensor weight, Tensor bias)
    : weight_(std::move(weight)), bias_(std::move(bias)), wshape_(weight_.shape()) {
  check_arguments(weight_.dtype());
}

Linear::Linear(const WeightRows& weight, Tensor bias, Device device) : bias_(std::move(bias)), wshape_(weight.shape) {
  check_arguments(weight.dtype);
  cache_.reset(new Cache{device, backend::backend_for(device).prepare_matmul_rows(
                                     weight, bias_.defined() ? bias_.to(device) : bias_)});
}

void Linear::check_arguments(DType weight_dtype) const {
  SD_CHECK(wshape_.size() == 2, "Linear weight must be [O, I], got " + wshape_.str());
  check_weight_dtype(weight_dtype, "Linear");
  SD_CHECK(!bias_.defined() || bias_.numel() == wshape_[0],
           "Linear bias " + bias_.desc() + " does not match weight " + wshape_.str());
}

Linear::Linear() = default;
Linear::~Linear() = default;
Linear::Linear(Linear&&) noexcept = default;
Linear& Linear::operator=(Linear&&) noexcept = default;

Tensor Linear::forward(const Tensor& x, const Tensor* residual, Activation act) const {
  SD_CHECK(defined(), "Linear used before it was given weights");
  if (!cache_) to(x.device());
  SD_CHECK(x.device() == cache_->device, "Linear on " + cache_->device.str() + " got " + x.desc());
  if (residual)
    SD_CHECK(residual->device() == cache_->device, "Linear residual " + residual->desc());
  Tensor y = cache_->mm->forward(x, residual, to_backend(act));
  weight_ = Tensor();
  count_flops(2.0 * double(y.numel()) * double(wshape_[1]), compute_dtype(cache_->mm->dtype(), x, y));
  return y;
}

void Linear::to(Device device) const {
  SD_CHECK(defined(), "Linear used before it was given weights");
  if (cache_ && cache_->device == device) return;
  const Tensor w = weight();
  cache_.reset(new Cache{device, backend::backend_for(device).prepare_matmul(
                                     w, bias_.defined() ? bias_.to(device) : bias_)});
  weight_ = Tensor();
}

Device Linear::device() const { return cache_ ? cache_->device : Device::cpu(); }

const Tensor& Linear::weight() const {
  if (!weight_.defined() && cache_) weight_ = cache_->mm->weight();
  return weight_;
}

void Linear::set_weight(Tensor weight) {
  SD_CHECK(weight.shape() == wshape_,
           "Linear::set_weight: " + weight.desc() + " does not match " + wshape_.str());
  check_weight_dtype(weight.dtype(), "Linear");
  weight_ = Tensor();
  if (cache_ && weight.device() == cache_->device && cache_->mm->replace_weight(weight)) return;  // as Conv2d's
  weight_ = std::move(weight);
  cache_.reset();
}

}  // namespace sd::ops
