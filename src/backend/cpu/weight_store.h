#pragma once
// One weight tensor in whatever layouts oneDNN primitives ask for, keeping a single copy:
// the plain tensor is released once a reordered copy exists, and rebuilt on request.
#include <oneapi/dnnl/dnnl.hpp>

#include <vector>

#include "core/tensor.h"

namespace sd::cpu {

class WeightStore {
 public:
  WeightStore() = default;
  // plain: the weight in the dtype it computes in; plain_md: how a primitive sees it
  // (may reorder the dims, e.g. a [O,I] matrix as an I x O "ba" matrix).
  WeightStore(Tensor plain, dnnl::memory::desc plain_md);

  // The weight laid out as `want`, reordered (once) if needed.
  dnnl::memory get(const dnnl::memory::desc& want);
  // The weight as a plain tensor of its original shape: shared when still held, else a
  // fresh copy reordered back.
  Tensor plain() const;
  // Bytes this store holds.
  size_t bytes() const;

 private:
  Tensor plain_;  // defined until some primitive needs another layout
  Shape shape_;
  DType dtype_ = DType::F32;
  dnnl::memory::desc plain_md_;
  std::vector<dnnl::memory> reordered_;
};

}  // namespace sd::cpu
