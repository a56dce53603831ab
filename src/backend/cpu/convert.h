#pragma once
// Bulk element conversions between the tensor dtypes and contiguous float32, the form
// every element-wise kernel computes in.
#include <cstdint>

#include "core/dtype.h"

namespace sd::cpu {

// dst[i] = float(src[i * step]) for i < n.
void load_f32(const void* src, DType t, int64_t step, float* dst, int64_t n);
// dst[i * step] = src[i] converted (rounded to nearest even) to t.
void store_f32(const float* src, void* dst, DType t, int64_t step, int64_t n);

}  // namespace sd::cpu
