// The AVX-512 kernels (with AVX512_BF16 dot products). Every function here carries the
// AVX-512 target attribute and runs only after the CPU check in avx512_kernels().
#include <cstring>

// GCC 12 flags the deliberately undefined registers inside its own AVX-512 intrinsics once
// they are inlined into target-attributed code (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "backend/cpu/simd.h"
#include "backend/cpu/vec_avx512.h"

#define SD_KERNEL SD_AVX512
namespace sd::cpu::avx512 {
#include "backend/cpu/row_kernels.inc"

namespace {

SD_AVX512 void bf16_to_f32(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i)));
    _mm512_storeu_ps(dst + i, _mm512_castsi512_ps(_mm512_slli_epi32(v, 16)));
  }
  if (i < n) {
    const __mmask16 m = V::tail_mask(n - i);
    const __m512i v = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, src + i));
    _mm512_mask_storeu_ps(dst + i, m, _mm512_castsi512_ps(_mm512_slli_epi32(v, 16)));
  }
}

// Round to nearest even, as the scalar f32_to_bf16 does.
SD_AVX512 void f32_to_bf16(const float* src, uint16_t* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + i + 16), _mm512_loadu_ps(src + i));
    _mm512_storeu_si512(dst + i, reinterpret_cast<const __m512i&>(v));
  }
  for (; i < n; i += 16) {
    const int64_t k = n - i < 16 ? n - i : 16;
    const __mmask16 m = V::tail_mask(k);
    const __m256bh v = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, src + i));
    _mm256_mask_storeu_epi16(dst + i, m, reinterpret_cast<const __m256i&>(v));
  }
}

template <int MR, int NR>
SD_AVX512 void gemm_bf16_block(int64_t k2, const uint16_t* a, int64_t lda, const uint16_t* b,
                               int64_t n, float* c, int64_t ldc, bool acc) {
  __m512 r[MR][NR];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) r[i][j] = acc ? _mm512_loadu_ps(c + i * ldc + j * 16) : _mm512_setzero_ps();
  for (int64_t p = 0; p < k2; ++p) {
    __m512i bv[NR];
    for (int j = 0; j < NR; ++j) bv[j] = _mm512_loadu_si512(b + (p * n + j * 16) * 2);
    for (int i = 0; i < MR; ++i) {
      int32_t pair;
      std::memcpy(&pair, a + i * lda + 2 * p, 4);
      const __m512i av = _mm512_set1_epi32(pair);
      for (int j = 0; j < NR; ++j)
        r[i][j] = _mm512_dpbf16_ps(r[i][j], reinterpret_cast<const __m512bh&>(av),
                                   reinterpret_cast<const __m512bh&>(bv[j]));
    }
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) _mm512_storeu_ps(c + i * ldc + j * 16, r[i][j]);
}

template <int MR>
SD_AVX512 void gemm_bf16_rows(int64_t n, int64_t k2, const uint16_t* a, int64_t lda,
                              const uint16_t* b, float* c, int64_t ldc, bool acc) {
  for (int64_t j = 0; j < n;) {
    const int nr = column_block<4>((n - j) / 16);
    switch (nr) {
      case 4: gemm_bf16_block<MR, 4>(k2, a, lda, b + 2 * j, n, c + j, ldc, acc); break;
      case 3: gemm_bf16_block<MR, 3>(k2, a, lda, b + 2 * j, n, c + j, ldc, acc); break;
      case 2: gemm_bf16_block<MR, 2>(k2, a, lda, b + 2 * j, n, c + j, ldc, acc); break;
      default: gemm_bf16_block<MR, 1>(k2, a, lda, b + 2 * j, n, c + j, ldc, acc); break;
    }
    j += int64_t(nr) * 16;
  }
}

SD_AVX512 void gemm_bf16(int64_t m, int64_t n, int64_t k2, const uint16_t* a, int64_t lda,
                         const uint16_t* b, float* c, int64_t ldc, bool acc) {
  int64_t i = 0;
  for (; i + 6 <= m; i += 6) gemm_bf16_rows<6>(n, k2, a + i * lda, lda, b, c + i * ldc, ldc, acc);
  if (m - i >= 4) {
    gemm_bf16_rows<4>(n, k2, a + i * lda, lda, b, c + i * ldc, ldc, acc);
    i += 4;
  }
  if (m - i >= 2) {
    gemm_bf16_rows<2>(n, k2, a + i * lda, lda, b, c + i * ldc, ldc, acc);
    i += 2;
  }
  if (i < m) gemm_bf16_rows<1>(n, k2, a + i * lda, lda, b, c + i * ldc, ldc, acc);
}

}  // namespace

const Kernels table{"avx512_bf16",
                    bf16_to_f32,
                    f32_to_bf16,
                    activation_row<V>,
                    gelu_mul_row<V>,
                    exp_shift_sum_row<V>,
                    max_row<V>,
                    moments_row<V>,
                    affine_row<V>,
                    gemm_f32<V>,
                    gemm_bf16,
                    softmax_tile<V>};

}  // namespace sd::cpu::avx512
#undef SD_KERNEL

namespace sd::cpu {

const Kernels* avx512_kernels() {
  static const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
                         __builtin_cpu_supports("avx512bf16");
  return ok ? &avx512::table : nullptr;
}

}  // namespace sd::cpu
