#include "models/transformer_2d.h"

#include "core/cancellation.h"
#include "models/layers.h"

namespace sd::models {

Transformer2DModel::Transformer2DModel(const WeightSource& w, const std::string& prefix, int channels, int heads,
                                       int head_dim, int num_layers, int cross_attention_dim, int norm_groups,
                                       bool use_linear_projection, DType dtype)
    : use_linear_projection_(use_linear_projection) {
  const int inner = heads * head_dim;
  norm_ = load_group_norm(w, join(prefix, "norm"), norm_groups, channels, 1e-6f);
  if (use_linear_projection) {
    proj_in_linear_ = load_linear(w, join(prefix, "proj_in"), channels, inner, true, dtype);
  } else {
    proj_in_conv_ = load_conv2d(w, join(prefix, "proj_in"), channels, inner, 1, ops::Conv2dOptions::same(0), dtype);
  }
  for (int i = 0; i < num_layers; ++i)
    transformer_blocks_.emplace_back(w, join(prefix, "transformer_blocks." + std::to_string(i)), inner, heads,
                                     head_dim, cross_attention_dim, dtype);
  if (use_linear_projection) {
    proj_out_linear_ = load_linear(w, join(prefix, "proj_out"), inner, channels, true, dtype);
  } else {
    proj_out_conv_ = load_conv2d(w, join(prefix, "proj_out"), inner, channels, 1, ops::Conv2dOptions::same(0), dtype);
  }
}

Tensor Transformer2DModel::forward(const Tensor& x, const Tensor& context) const {
  const int64_t height = x.size(2), width = x.size(3);
  Tensor h = norm_.forward(x);
  h = use_linear_projection_ ? proj_in_linear_.forward(image_tokens(h)) : image_tokens(proj_in_conv_.forward(h));
  for (const auto& block : transformer_blocks_) {
    check_cancelled();
    h = block.forward(h, context);
  }
  if (use_linear_projection_) {
    const Tensor residual = image_tokens(x);
    return ops::from_tokens(proj_out_linear_.forward(h, &residual), height, width);
  }
  return proj_out_conv_.forward(ops::from_tokens(h, height, width), &x);
}

void Transformer2DModel::register_modules(ModuleRegistry& r, const std::string& prefix) {
  r.add(join(prefix, "proj_in"), proj_in_conv_);
  r.add(join(prefix, "proj_in"), proj_in_linear_);
  for (size_t i = 0; i < transformer_blocks_.size(); ++i)
    transformer_blocks_[i].register_modules(r, join(prefix, "transformer_blocks." + std::to_string(i)));
  r.add(join(prefix, "proj_out"), proj_out_conv_);
  r.add(join(prefix, "proj_out"), proj_out_linear_);
}

}  // namespace sd::models
