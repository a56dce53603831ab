#pragma once
// diffusers models/attention_processor.py Attention and models/attention.py
// BasicTransformerBlock + FeedForward (GEGLU), on token tensors [B, L, C].
#include <string>

#include "models/module_registry.h"
#include "models/weight_source.h"
#include "ops/ops.h"

namespace sd::models {

class Attention {
 public:
  // cross_attention_dim 0: self-attention. qkv_bias: the VAE's attention has biases on
  // to_q/to_k/to_v, the UNet's does not. norm_groups > 0 adds the VAE's `group_norm`.
  Attention(const WeightSource& w, const std::string& prefix, int query_dim, int cross_attention_dim,
            int heads, int head_dim, bool qkv_bias, DType dtype, int norm_groups = 0, float norm_eps = 1e-6f);

  // to_out(attention(to_q(x), to_k(ctx), to_v(ctx))) + residual; ctx = x when null.
  Tensor forward(const Tensor& x, const Tensor* context, const Tensor* residual) const;
  // The VAE form on an image [B,C,H,W]: group_norm, single-head self-attention over the
  // pixels, residual connection.
  Tensor forward_image(const Tensor& x) const;
  // Adds to_q/to_k/to_v/to_out.0 under `prefix` (the path this block was loaded from).
  void register_modules(ModuleRegistry& r, const std::string& prefix);

 private:
  int heads_;
  ops::GroupNorm group_norm_;
  ops::Linear to_q_, to_k_, to_v_, to_out_;  // to_out = diffusers to_out.0
};

// FeedForward with activation_fn "geglu": net.0.proj (dim -> 2*inner), GEGLU, net.2.
class FeedForward {
 public:
  FeedForward(const WeightSource& w, const std::string& prefix, int dim, int inner_dim, DType dtype);
  Tensor forward(const Tensor& x, const Tensor* residual) const;
  void register_modules(ModuleRegistry& r, const std::string& prefix);

 private:
  ops::Linear proj_, out_;  // net.0.proj, net.2
};

// norm_type "layer_norm": self-attention, cross-attention, feed-forward, each pre-normed
// and residual.
class BasicTransformerBlock {
 public:
  BasicTransformerBlock(const WeightSource& w, const std::string& prefix, int dim, int heads, int head_dim,
                        int cross_attention_dim, DType dtype);
  Tensor forward(const Tensor& x, const Tensor& context) const;
  void register_modules(ModuleRegistry& r, const std::string& prefix);

 private:
  ops::LayerNorm norm1_;
  Attention attn1_;
  ops::LayerNorm norm2_;
  Attention attn2_;
  ops::LayerNorm norm3_;
  FeedForward ff_;
};

}  // namespace sd::models
