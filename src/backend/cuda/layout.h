#pragma once
// Data movement on raw device memory of `dt`: channels-last concatenation, nearest
// upsampling, phase interleaving, and the NCHW <-> NHWC transposes at the edges of a model.
#include <cstdint>

#include "backend/cuda/context.h"
#include "core/dtype.h"

namespace sd::cuda {

// a [P, Ca] and b [P, Cb] (P = N*H*W pixels, channels-last) -> y [P, Ca + Cb].
void concat_channels(Context& ctx, const void* a, int64_t ca, const void* b, int64_t cb, void* y, int64_t pixels,
                     DType dt);

// x [N, H, W, C] -> y [N, H*factor, W*factor, C], each pixel repeated factor x factor times.
void upsample_nearest(Context& ctx, const void* x, void* y, int64_t n, int64_t h, int64_t w, int64_t c, int factor,
                      DType dt);

// phase [N, H, W, C] into out [N, 2H, 2W, C] at rows 2y+dy and columns 2x+dx (the four
// 2x2 phase convolutions of an upsample-then-convolve write their results this way).
void write_phase(Context& ctx, const void* phase, void* out, int64_t n, int64_t h, int64_t w, int64_t c, int dy,
                 int dx, DType dt);

// [N, C, P] <-> [N, P, C] (P = H*W).
void nchw_to_nhwc(Context& ctx, const void* x, void* y, int64_t n, int64_t c, int64_t pixels, DType dt);
void nhwc_to_nchw(Context& ctx, const void* x, void* y, int64_t n, int64_t c, int64_t pixels, DType dt);

}  // namespace sd::cuda
