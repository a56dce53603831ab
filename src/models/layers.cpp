#include "models/layers.h"

#include "core/error.h"

namespace sd::models {

std::string join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

ops::Linear load_linear(const WeightSource& w, const std::string& prefix, int in, int out, bool bias,
                        DType dtype) {
  Tensor weight = w.get(join(prefix, "weight"), Shape{out, in}, dtype);
  Tensor b = bias ? w.get(join(prefix, "bias"), Shape{out}, DType::F32) : Tensor();
  return ops::Linear(std::move(weight), std::move(b));
}

ops::Conv2d load_conv2d(const WeightSource& w, const std::string& prefix, int in, int out, int kernel,
                        ops::Conv2dOptions opt, DType dtype) {
  Tensor weight = w.get(join(prefix, "weight"), Shape{out, in, kernel, kernel}, dtype);
  Tensor bias = w.get(join(prefix, "bias"), Shape{out}, DType::F32);
  return ops::Conv2d(std::move(weight), std::move(bias), opt);
}

ops::GroupNorm load_group_norm(const WeightSource& w, const std::string& prefix, int groups, int channels,
                               float eps) {
  return ops::GroupNorm(groups, w.get(join(prefix, "weight"), Shape{channels}, DType::F32),
                        w.get(join(prefix, "bias"), Shape{channels}, DType::F32), eps);
}

ops::LayerNorm load_layer_norm(const WeightSource& w, const std::string& prefix, int dim, float eps) {
  return ops::LayerNorm(w.get(join(prefix, "weight"), Shape{dim}, DType::F32),
                        w.get(join(prefix, "bias"), Shape{dim}, DType::F32), eps);
}

void check_compute_dtype(DType dtype) {
  if (dtype != DType::F32 && dtype != DType::BF16 && dtype != DType::F16)
    throw Error("models compute in f32, bf16 or f16, not " + std::string(dtype_name(dtype)));
}

Tensor image_tokens(const Tensor& x) {
  return ops::as_tokens(x.is_channels_last() ? x : ops::to_layout(x, MemoryFormat::ChannelsLast));
}

}  // namespace sd::models
