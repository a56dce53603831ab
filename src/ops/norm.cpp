// GroupNorm and LayerNorm modules: parameters kept in float32, kernels in the backend.
#include "ops/dispatch.h"
#include "ops/ops.h"

namespace sd::ops {

namespace {
Tensor affine_param(const Tensor& t, const char* what) {
  if (!t.defined()) return t;
  SD_CHECK(t.ndim() == 1, std::string(what) + " must be 1-D, got " + t.desc());
  return t.to(DType::F32).contiguous();
}
// The parameters on x's device, moved there (once) when the module is used on another.
void follow_device(const Tensor& x, Tensor& gamma, Tensor& beta) {
  gamma = gamma.to(x.device());
  beta = beta.to(x.device());
}
}  // namespace

GroupNorm::GroupNorm(int groups, Tensor gamma, Tensor beta, float eps)
    : groups_(groups),
      gamma_(affine_param(gamma, "GroupNorm weight")),
      beta_(affine_param(beta, "GroupNorm bias")),
      eps_(eps) {
  SD_CHECK(groups > 0, "GroupNorm needs a positive group count");
  SD_CHECK(!gamma_.defined() || !beta_.defined() || gamma_.numel() == beta_.numel(),
           "GroupNorm weight " + gamma_.desc() + " and bias " + beta_.desc() + " differ");
  if (gamma_.defined())
    SD_CHECK(gamma_.numel() % groups == 0, "GroupNorm: " + std::to_string(gamma_.numel()) +
                                               " channels do not split into " +
                                               std::to_string(groups) + " groups");
}

void GroupNorm::check_input(const Tensor& x) const {
  SD_CHECK(groups_ > 0, "GroupNorm used before it was configured");
  SD_CHECK(x.ndim() >= 2, "GroupNorm needs [N, C, ...], got " + x.desc());
  const int64_t c = gamma_.defined() ? gamma_.numel() : beta_.defined() ? beta_.numel() : x.size(1);
  SD_CHECK(x.size(1) == c, "GroupNorm over " + std::to_string(c) + " channels got " + x.desc());
}

Tensor GroupNorm::forward(const Tensor& x, bool silu) const {
  check_input(x);
  follow_device(x, gamma_, beta_);
  return backend_of(x).group_norm(x, groups_, gamma_, beta_, eps_, silu);
}

void GroupNorm::forward_(Tensor& x, bool silu) const {
  check_input(x);
  follow_device(x, gamma_, beta_);
  backend::Backend& b = backend_of(x);
  if (x.is_sole_owner())
    b.group_norm_(x, groups_, gamma_, beta_, eps_, silu);
  else
    x = b.group_norm(x, groups_, gamma_, beta_, eps_, silu);
}

LayerNorm::LayerNorm(Tensor gamma, Tensor beta, float eps)
    : gamma_(affine_param(gamma, "LayerNorm weight")),
      beta_(affine_param(beta, "LayerNorm bias")),
      eps_(eps) {
  SD_CHECK(!gamma_.defined() || !beta_.defined() || gamma_.numel() == beta_.numel(),
           "LayerNorm weight " + gamma_.desc() + " and bias " + beta_.desc() + " differ");
}

Tensor LayerNorm::forward(const Tensor& x) const {
  SD_CHECK(x.ndim() >= 1, "LayerNorm of a scalar");
  const Tensor& p = gamma_.defined() ? gamma_ : beta_;
  if (p.defined())
    SD_CHECK(x.size(-1) == p.numel(),
             "LayerNorm over " + std::to_string(p.numel()) + " features got " + x.desc());
  follow_device(x, gamma_, beta_);
  return backend_of(x).layer_norm(x, gamma_, beta_, eps_);
}

}  // namespace sd::ops
