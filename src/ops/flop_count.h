#pragma once
// Counts the arithmetic of the matrix ops (convolutions, linear layers, attention) as
// they run, 2 FLOP per multiply-add, so a benchmark can relate measured time to the
// machine's matmul rate. Element-wise ops and norms are not counted. The share that ran
// in bf16 (bf16 weights and bf16 activations) is counted apart, so tests can show that
// a bf16 model computes in bf16 rather than silently in float32.
#include <cstdint>

#include "core/dtype.h"

namespace sd::ops {

// `dtype`: what the op computed in (BF16 only when weights, inputs and output are bf16).
void count_flops(double flops, DType dtype);
double flops_counted();
double bf16_flops_counted();
void reset_flop_count();

}  // namespace sd::ops
