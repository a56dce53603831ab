#pragma once
// Counts the arithmetic of the matrix ops (convolutions, linear layers, attention) as
// they run, 2 FLOP per multiply-add, so a benchmark can relate measured time to the
// machine's matmul rate. Element-wise ops and norms are not counted.
#include <cstdint>

namespace sd::ops {

void count_flops(double flops);
double flops_counted();
void reset_flop_count();

}  // namespace sd::ops
