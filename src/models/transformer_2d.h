#pragma once
// diffusers models/transformers/transformer_2d.py Transformer2DModel for continuous input:
// GroupNorm, proj_in (1x1 conv, or Linear on tokens with use_linear_projection),
// BasicTransformerBlocks, proj_out, residual.
#include <string>
#include <vector>

#include "models/attention.h"
#include "models/module_registry.h"
#include "models/weight_source.h"
#include "ops/ops.h"

namespace sd::models {

class Transformer2DModel {
 public:
  Transformer2DModel(const WeightSource& w, const std::string& prefix, int channels, int heads, int head_dim,
                     int num_layers, int cross_attention_dim, int norm_groups, bool use_linear_projection,
                     DType dtype);
  // x [B,C,H,W]; context [B, L, cross_attention_dim] in the compute dtype.
  Tensor forward(const Tensor& x, const Tensor& context) const;
  void register_modules(ModuleRegistry& r, const std::string& prefix);

 private:
  bool use_linear_projection_;
  ops::GroupNorm norm_;
  ops::Conv2d proj_in_conv_, proj_out_conv_;
  ops::Linear proj_in_linear_, proj_out_linear_;
  std::vector<BasicTransformerBlock> transformer_blocks_;
};

}  // namespace sd::models
