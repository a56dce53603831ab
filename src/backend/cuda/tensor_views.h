#pragma once
// Between core Tensors on a GPU and the raw-pointer kernels of this folder: a tensor's
// shape and strides as the strided kernels' Extent and View, and dense copies in the
// dtype and layout a kernel needs (made only when the tensor is not so already).
#include "backend/cuda/context.h"
#include "backend/cuda/strided.h"
#include "core/tensor.h"

namespace sd::cuda {

Extent extent_of(const Shape& shape);
// t's strides, as they are.
View view_of(const Tensor& t);
// t broadcast to `shape` the numpy way (trailing axes aligned, size-1 axes repeated with
// stride 0); throws sd::Error naming `op` when the shapes do not broadcast.
View broadcast_view(const Tensor& t, const Shape& shape, const char* op);

// x as a dense tensor of `dt` in `fmt` on x's device: x itself when it already is one,
// else a copy (integer dtypes go through the host: only small index tensors have them).
Tensor dense(Context& ctx, const Tensor& x, DType dt, MemoryFormat fmt);
// x in `dt`, keeping its layout when it is contiguous or channels-last, else contiguous.
Tensor dense_keep_layout(Context& ctx, const Tensor& x, DType dt);
// The memory format of x when dense (channels-last before contiguous for 4-D tensors
// whose strides say both, e.g. C = 1), Contiguous otherwise.
MemoryFormat layout_of(const Tensor& x);

}  // namespace sd::cuda
