#pragma once
// Normalisations (group, layer, softmax) with float32 statistics on raw device memory;
// outputs may alias inputs.
#include <cstdint>

#include "backend/cuda/context.h"
#include "core/dtype.h"

namespace sd::cuda {

// x channels-last [N, P, C] (P = H*W pixels), C divisible by `groups`; gamma/beta: C
// float32 device values or null. y = (x - mean) / sqrt(var + eps) * gamma + beta per
// (image, group), then SiLU when `silu`.
void group_norm(Context& ctx, const void* x, void* y, int64_t n, int64_t pixels, int64_t channels, int groups,
                const float* gamma, const float* beta, float eps, bool silu, DType dt);

// Over the last dimension of x [rows, C]; gamma/beta: C float32 device values or null.
void layer_norm(Context& ctx, const void* x, void* y, int64_t rows, int64_t channels, const float* gamma,
                const float* beta, float eps, DType dt);

// Softmax over the last dimension of x [rows, C].
void softmax(Context& ctx, const void* x, void* y, int64_t rows, int64_t channels, DType dt);

}  // namespace sd::cuda
