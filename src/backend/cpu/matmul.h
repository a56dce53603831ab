#pragma once
// Linear layers on the oneDNN matmul: y = act(x W^T + bias) + residual over the last
// dimension, weights reordered once, one primitive per row count.
#include <map>
#include <memory>
#include <optional>
#include <tuple>

#include "backend/cpu/act.h"
#include "backend/cpu/weight_store.h"
#include "core/tensor.h"

namespace sd::cpu {

class Matmul {
 public:
  // weight [O, I] in F32 or BF16 (the compute dtype; F16 computes as F32); bias [O] or
  // undefined.
  Matmul(const Tensor& weight, const Tensor& bias);
  // The same, the weight laid out band by band as it is read (no plain copy).
  Matmul(const WeightRows& weight, const Tensor& bias);

  // x [..., I] -> contiguous [..., O] in the compute dtype; residual [..., O] or null.
  Tensor forward(const Tensor& x, const Tensor* residual, Act act);

  Tensor weight() const { return weights_.plain(); }
  DType dtype() const { return dtype_; }
  size_t weight_bytes() const { return weights_.bytes(); }
  // As backend::PreparedConv::replace_weight: false unless `weight` has this layer's
  // shape and compute dtype.
  bool replace_weight(const Tensor& weight);

 private:
  struct Prim;
  // (rows, src row stride, act, residual dtype or -1, residual row stride)
  using Key = std::tuple<int64_t, int64_t, int, int, int64_t>;
  const Prim& prim_for(const Key& key);
  void set_shape(const Shape& weight, const Tensor& bias);
  dnnl::memory::desc plain_weights_desc() const;
  std::optional<dnnl::memory::desc> kernel_weights_desc() const;

  int64_t out_ = 0, in_ = 0;
  DType dtype_;
  WeightStore weights_;
  Tensor bias_;  // float32 [1, O]
  std::map<Key, std::shared_ptr<Prim>> prims_;
};

}  // namespace sd::cpu
