#pragma once
// Row kernels chosen once at start-up for the machine's instruction set: AVX-512 (with
// BF16 when present) or the AVX2 build baseline. Callers split work across threads and
// hand each kernel one contiguous row.
#include <cstdint>

#include "backend/cpu/act.h"

namespace sd::cpu {

struct Kernels {
  const char* isa;
  void (*bf16_to_f32)(const uint16_t* src, float* dst, int64_t n);
  void (*f32_to_bf16)(const float* src, uint16_t* dst, int64_t n);
  // x[i] = act(x[i]).
  void (*activation)(float* x, int64_t n, Act act);
  // out[i] = a[i] * gelu(gate[i]) (exact erf GELU).
  void (*gelu_mul)(const float* a, const float* gate, float* out, int64_t n);
  // x[i] = exp(x[i] - shift); returns the sum of the results.
  float (*exp_shift_sum)(float* x, int64_t n, float shift);
};

const Kernels& kernels();

// The baseline table (AVX2), for tests that compare the ISA paths.
const Kernels& baseline_kernels();

}  // namespace sd::cpu
