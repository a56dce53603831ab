#pragma once
// Element-wise ops over tensors of any layout. Results keep the layout of the main
// input when it is contiguous or channels-last, and its dtype; math is float32.
#include "backend/cpu/act.h"
#include "core/tensor.h"

namespace sd::cpu {

// An empty tensor of `shape` laid out like `like` (channels-last stays channels-last).
Tensor empty_like_layout(const Tensor& like, const Shape& shape, DType dtype);

Tensor activation(const Tensor& x, Act act);
// x [..., 2F] -> x[..., :F] * gelu(x[..., F:]).
Tensor geglu(const Tensor& x);

using BinaryOp = backend::BinaryOp;
// a op b with b broadcast to a's shape; the result has a's dtype and layout.
Tensor binary(const Tensor& a, const Tensor& b, BinaryOp op);
void binary_(Tensor& a, const Tensor& b, BinaryOp op);  // in place into a
// a * s.
Tensor scale(const Tensor& a, float s);
// a * sa + b * sb (same shapes).
Tensor axpby(const Tensor& a, float sa, const Tensor& b, float sb);

// Element-wise copy with dtype conversion; shapes must match, layouts are free.
void copy(const Tensor& src, Tensor& dst);

}  // namespace sd::cpu
