#pragma once
// Element-wise work over arbitrary strided views (slices of a fused projection, a tile of
// an image, a channel range, broadcasts as zero strides): copies with dtype conversion,
// fills and binary ops. The dense kernels elsewhere assume contiguous memory; these make
// any layout the core's Tensor can describe reachable on the GPU.
#include <cstdint>

#include "backend/cuda/context.h"
#include "backend/cuda/eltwise.h"
#include "core/dtype.h"

namespace sd::cuda {

constexpr int kMaxDims = 6;

// The logical shape iterated over (row-major order), at most kMaxDims dimensions.
struct Extent {
  int ndim = 0;
  int64_t size[kMaxDims] = {};
  int64_t count() const;
};

// Device memory of `dt` with one stride (in elements, may be 0 or negative) per dimension
// of the Extent it is used with.
struct View {
  const void* ptr = nullptr;
  DType dt = DType::F32;
  int64_t stride[kMaxDims] = {};
};

// dst[i] = src[i] converted to dst's dtype, for every index i of `extent`.
void copy_strided(Context& ctx, const Extent& extent, const View& src, const View& dst);

// dst[i] = value.
void fill_strided(Context& ctx, const Extent& extent, const View& dst, float value);

// y[i] = a[i] op b[i]; a, b and y may have different float dtypes; b broadcasts where its
// stride is 0; y may be a (in place).
void binary_strided(Context& ctx, const Extent& extent, const View& a, const View& b, const View& y, BinaryOp op);

}  // namespace sd::cuda
