#pragma once
// Bulk conversions to bf16 with AVX-512, sixteen values a step: loading a float32 or fp16
// folder in bf16 converts gigabytes, and the loops the compiler makes for the portable
// build (AVX2) run at an eighth of this rate. Bit for bit what f32_to_bf16 (half.h) gives:
// rounded to nearest even, NaNs kept with their payload and made quiet.
#include <cstddef>
#include <cstdint>

namespace sd::detail {

// How many leading values were converted: all but the last n % 16, or none when the CPU
// lacks AVX-512 (F and BW); the caller converts the rest.
size_t f32_to_bf16_avx512(const float* in, uint16_t* out, size_t n);
size_t f16_to_bf16_avx512(const uint16_t* in, uint16_t* out, size_t n);

}  // namespace sd::detail
