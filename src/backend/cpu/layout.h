#pragma once
// Layout and dtype changes, nearest upsampling and concatenation.
#include <vector>

#include "core/tensor.h"

namespace sd::cpu {

// x in `fmt` (Contiguous or ChannelsLast) and `dtype`; returns x itself when it already is.
Tensor to_format(const Tensor& x, DType dtype, MemoryFormat fmt);

// [N,C,H,W] of any layout -> channels-last [N,C,2H,2W].
Tensor upsample_nearest2x(const Tensor& x);

// Writes `phase` [N,C,H,W] into channels-last `out` [N,C,2H,2W] at rows 2y+dy and
// columns 2x+dx (same dtype): the inverse of taking one pixel phase of `out`.
void write_phase(const Tensor& phase, Tensor& out, int dy, int dx);

// Concatenation along `dim`; dtype and layout follow the first input.
Tensor concat(const std::vector<Tensor>& xs, int dim);

}  // namespace sd::cpu
