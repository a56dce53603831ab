#pragma once
// Normalisations with float32 statistics: group norm (optionally fused with SiLU),
// layer norm over the last dimension, and softmax over the last dimension.
#include "core/tensor.h"

namespace sd::cpu {

// x [N, C, ...]; gamma/beta: C floats or nullptr (no affine). The output keeps x's layout
// (contiguous or channels-last) and dtype.
Tensor group_norm(const Tensor& x, int groups, const float* gamma, const float* beta, float eps,
                  bool silu);

// group_norm overwriting x with the result (x's value is gone afterwards).
void group_norm_(Tensor& x, int groups, const float* gamma, const float* beta, float eps, bool silu);

// Over the last dimension C; gamma/beta: C floats or nullptr. Output contiguous, x's dtype.
Tensor layer_norm(const Tensor& x, const float* gamma, const float* beta, float eps);

// Over the last dimension; output contiguous, x's dtype.
Tensor softmax(const Tensor& x);

}  // namespace sd::cpu
