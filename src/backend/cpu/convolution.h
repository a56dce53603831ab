#pragma once
// 2-D convolution on oneDNN: channels-last activations, weights reordered once into the
// primitive's preferred layout, bias/activation/residual fused, one primitive per shape.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>

#include "backend/cpu/act.h"
#include "backend/cpu/weight_store.h"
#include "core/tensor.h"

namespace sd::cpu {

using ConvGeometry = backend::ConvGeometry;

// Whether float32 Winograd (with its reorders) beats direct convolution for a 3x3
// stride-1 convolution of this size; see convolution.cpp for the measurements.
// SD_CONV_ALGO=direct|winograd overrides the choice (for comparisons).
bool winograd_pays(int64_t in_channels, int64_t out_channels, int64_t h, int64_t w);

class Convolution {
 public:
  // weight [O, I, kh, kw] in F32 or BF16 (the compute dtype; F16 computes as F32);
  // bias [O] or undefined.
  Convolution(const Tensor& weight, const Tensor& bias, ConvGeometry g);
  // The same, the weight laid out band by band as it is read (no plain copy).
  Convolution(const WeightRows& weight, const Tensor& bias, ConvGeometry g);

  // y = act(conv(x) + bias) + residual, channels-last in the compute dtype.
  Tensor forward(const Tensor& x, const Tensor* residual, Act act);
  // The oneDNN implementation that convolves n images of h x w (no activation, no
  // residual), e.g. "jit:avx512_core_amx_bf16".
  std::string implementation(int64_t n, int64_t h, int64_t w);

  Tensor weight() const { return weights_.plain(); }
  DType dtype() const { return dtype_; }
  size_t weight_bytes() const { return weights_.bytes(); }
  // As backend::PreparedConv::replace_weight: false unless `weight` has this layer's
  // shape and compute dtype.
  bool replace_weight(const Tensor& weight);

 private:
  struct Prim;
  // (N, H, W, act, residual dtype or -1)
  using Key = std::tuple<int64_t, int64_t, int64_t, int, int>;
  const Prim& prim_for(const Key& key);
  void set_bias(const Tensor& bias);
  std::optional<dnnl::memory::desc> kernel_weights_desc() const;
  bool use_winograd(int64_t h, int64_t w) const;
  // The weight layout of a direct convolution of one h x w image without post-ops.
  dnnl::memory::desc direct_weights_desc(int64_t h, int64_t w) const;
  Tensor forward_blocked(const Prim& p, const Tensor& x, const Tensor* residual, Tensor& out);

  Shape wshape_;
  DType dtype_;
  ConvGeometry g_;
  WeightStore weights_;
  Tensor bias_;  // float32
  std::map<Key, std::shared_ptr<Prim>> prims_;
};

}  // namespace sd::cpu
