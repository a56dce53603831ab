#include "models/layers.h"

#include <optional>

#include "core/error.h"

namespace sd::models {

std::string join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

namespace {
// The weight in bands of rows, when the source prepares its layers as it reads them.
std::optional<WeightRows> weight_rows(const WeightSource& w, const std::string& name, const Shape& shape,
                                      DType dtype) {
  return w.layers_device() ? w.rows(name, shape, dtype) : std::nullopt;
}
}  // namespace

ops::Linear load_linear(const WeightSource& w, const std::string& prefix, int in, int out, bool bias,
                        DType dtype) {
  const Shape shape{out, in};
  const auto rows = weight_rows(w, join(prefix, "weight"), shape, dtype);
  Tensor weight = rows ? Tensor() : w.get(join(prefix, "weight"), shape, dtype);
  Tensor b = bias ? w.get(join(prefix, "bias"), Shape{out}, DType::F32) : Tensor();
  if (rows) return ops::Linear(*rows, std::move(b), *w.layers_device());
  ops::Linear layer(std::move(weight), std::move(b));
  if (w.layers_device()) layer.to(*w.layers_device());
  return layer;
}

ops::Conv2d load_conv2d(const WeightSource& w, const std::string& prefix, int in, int out, int kernel,
                        ops::Conv2dOptions opt, DType dtype) {
  const Shape shape{out, in, kernel, kernel};
  const auto rows = weight_rows(w, join(prefix, "weight"), shape, dtype);
  Tensor weight = rows ? Tensor() : w.get(join(prefix, "weight"), shape, dtype);
  Tensor bias = w.get(join(prefix, "bias"), Shape{out}, DType::F32);
  if (rows) return ops::Conv2d(*rows, std::move(bias), opt, *w.layers_device());
  ops::Conv2d layer(std::move(weight), std::move(bias), opt);
  if (w.layers_device()) layer.to(*w.layers_device());
  return layer;
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
