// The baseline kernels, built for the project's x86-64-v3 (AVX2+FMA) target.
#include <cstdlib>
#include <cstring>
#include <string>

#include "backend/cpu/simd.h"
#include "backend/cpu/vec_avx2.h"
#include "core/half.h"

#define SD_KERNEL
namespace sd::cpu::avx2 {
#include "backend/cpu/row_kernels.inc"

namespace {

void bf16_to_f32(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i)));
    _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(v, 16)));
  }
  for (; i < n; ++i) dst[i] = sd::bf16_to_f32(src[i]);
}

void f32_to_bf16(const float* src, uint16_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = sd::f32_to_bf16(src[i]);
}

}  // namespace

const Kernels table{"avx2",
                    bf16_to_f32,
                    f32_to_bf16,
                    activation_row<V>,
                    gelu_mul_row<V>,
                    nullptr,
                    exp_shift_sum_row<V>,
                    max_row<V>,
                    moments_row<V>,
                    affine_row<V>,
                    nullptr,
                    nullptr,
                    gemm_f32<V>,
                    nullptr,
                    softmax_tile<V>,
                    nullptr};

}  // namespace sd::cpu::avx2
#undef SD_KERNEL

namespace sd::cpu {

const Kernels& baseline_kernels() { return avx2::table; }

const Kernels& kernels() {
  static const Kernels* k = [] {
    const char* force = std::getenv("SD_CPU_ISA");
    if (force && std::string(force) == "avx2") return &baseline_kernels();
    const Kernels* a = avx512_kernels();
    return a ? a : &baseline_kernels();
  }();
  return *k;
}

}  // namespace sd::cpu
