#include "models/attention.h"

#include "models/layers.h"

namespace sd::models {

Attention::Attention(const WeightSource& w, const std::string& prefix, int query_dim, int cross_attention_dim,
                     int heads, int head_dim, bool qkv_bias, DType dtype, int norm_groups, float norm_eps)
    : heads_(heads) {
  const int inner = heads * head_dim;
  const int kv_dim = cross_attention_dim > 0 ? cross_attention_dim : query_dim;
  if (norm_groups > 0) group_norm_ = load_group_norm(w, join(prefix, "group_norm"), norm_groups, query_dim, norm_eps);
  to_q_ = load_linear(w, join(prefix, "to_q"), query_dim, inner, qkv_bias, dtype);
  to_k_ = load_linear(w, join(prefix, "to_k"), kv_dim, inner, qkv_bias, dtype);
  to_v_ = load_linear(w, join(prefix, "to_v"), kv_dim, inner, qkv_bias, dtype);
  to_out_ = load_linear(w, join(prefix, "to_out.0"), inner, query_dim, true, dtype);
}

Tensor Attention::forward(const Tensor& x, const Tensor* context, const Tensor* residual) const {
  const Tensor& ctx = context ? *context : x;
  Tensor q = to_q_.forward(x);
  Tensor k = to_k_.forward(ctx);
  Tensor v = to_v_.forward(ctx);
  return to_out_.forward(ops::attention(q, k, v, heads_), residual);
}

Tensor Attention::forward_image(const Tensor& x) const {
  const Tensor residual = image_tokens(x);
  const Tensor h = image_tokens(group_norm_.forward(x));
  return ops::from_tokens(forward(h, nullptr, &residual), x.size(2), x.size(3));
}

void Attention::register_modules(ModuleRegistry& r, const std::string& prefix) {
  r.add(join(prefix, "to_q"), to_q_);
  r.add(join(prefix, "to_k"), to_k_);
  r.add(join(prefix, "to_v"), to_v_);
  r.add(join(prefix, "to_out.0"), to_out_);
}

FeedForward::FeedForward(const WeightSource& w, const std::string& prefix, int dim, int inner_dim, DType dtype)
    : proj_(load_linear(w, join(prefix, "net.0.proj"), dim, 2 * inner_dim, true, dtype)),
      out_(load_linear(w, join(prefix, "net.2"), inner_dim, dim, true, dtype)) {}

Tensor FeedForward::forward(const Tensor& x, const Tensor* residual) const {
  return out_.forward(ops::geglu(proj_.forward(x)), residual);
}

void FeedForward::register_modules(ModuleRegistry& r, const std::string& prefix) {
  r.add(join(prefix, "net.0.proj"), proj_);
  r.add(join(prefix, "net.2"), out_);
}

BasicTransformerBlock::BasicTransformerBlock(const WeightSource& w, const std::string& prefix, int dim, int heads,
                                             int head_dim, int cross_attention_dim, DType dtype)
    : norm1_(load_layer_norm(w, join(prefix, "norm1"), dim, 1e-5f)),
      attn1_(w, join(prefix, "attn1"), dim, 0, heads, head_dim, false, dtype),
      norm2_(load_layer_norm(w, join(prefix, "norm2"), dim, 1e-5f)),
      attn2_(w, join(prefix, "attn2"), dim, cross_attention_dim, heads, head_dim, false, dtype),
      norm3_(load_layer_norm(w, join(prefix, "norm3"), dim, 1e-5f)),
      ff_(w, join(prefix, "ff"), dim, 4 * dim, dtype) {}

Tensor BasicTransformerBlock::forward(const Tensor& x, const Tensor& context) const {
  Tensor h = attn1_.forward(norm1_.forward(x), nullptr, &x);
  h = attn2_.forward(norm2_.forward(h), &context, &h);
  return ff_.forward(norm3_.forward(h), &h);
}

void BasicTransformerBlock::register_modules(ModuleRegistry& r, const std::string& prefix) {
  attn1_.register_modules(r, join(prefix, "attn1"));
  attn2_.register_modules(r, join(prefix, "attn2"));
  ff_.register_modules(r, join(prefix, "ff"));
}

}  // namespace sd::models
