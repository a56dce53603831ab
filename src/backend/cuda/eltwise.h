#pragma once
// Element-wise kernels on raw device memory, queued on the context's stream. Pointers are
// device memory of `dt` (f32, f16 or bf16) unless named otherwise; float32 arithmetic;
// outputs may alias the main input (in-place use).
#include <cstdint>

#include "backend/cuda/act.h"
#include "backend/cuda/context.h"
#include "core/dtype.h"

namespace sd::cuda {

// y = act(x), n elements.
void activation(Context& ctx, const void* x, void* y, int64_t n, DType dt, Act act);

enum class BinaryOp { Add, Mul };
// a viewed as [outer, mid, inner], b as [outer, inner] broadcast over mid:
// y[o, m, i] = a[o, m, i] op b[o, i]. Same shapes: mid = 1. A per-channel bias on NHWC:
// outer = 1, mid = N*H*W, inner = C. A time embedding [N, C] on NHWC: outer = N,
// mid = H*W, inner = C.
void binary(Context& ctx, const void* a, const void* b, void* y, int64_t outer, int64_t mid, int64_t inner,
            DType dt, BinaryOp op);

// y = a * sa + b * sb (n elements; b may be null for y = a * sa).
void axpby(Context& ctx, const void* a, float sa, const void* b, float sb, void* y, int64_t n, DType dt);

// y = act(x + bias[c]) + residual over rows x C (bias: C values or null; residual: rows x C
// or null; both of `dt`): the epilogue of a convolution or matmul the library cannot fuse.
void bias_act_residual(Context& ctx, const void* x, const void* bias, const void* residual, void* y,
                       int64_t rows, int64_t channels, DType dt, Act act);

// x [rows, 2F] -> y [rows, F] = x[:, :F] * gelu(x[:, F:]) (diffusers' GEGLU, erf GELU).
void geglu(Context& ctx, const void* x, void* y, int64_t rows, int64_t features, DType dt);

// n elements from `src` of `src_dt` to `dst` of `dst_dt` (round to nearest even).
void convert(Context& ctx, const void* src, DType src_dt, void* dst, DType dst_dt, int64_t n);

}  // namespace sd::cuda
