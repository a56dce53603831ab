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

// C[MR x (16 NR + 8 Half)] over k2 bf16 pairs; the half block (8 columns, a ymm) serves
// widths such as attention's head dim 40 without padding it to 48.
template <int MR, int NR, int Half = 0>
SD_AVX512 void gemm_bf16_block(int64_t k2, const uint16_t* a, int64_t lda, const uint16_t* b,
                               int64_t n, float* c, int64_t ldc, bool acc) {
  __m512 r[MR][NR > 0 ? NR : 1];
  __m256 h[MR];
  for (int i = 0; i < MR; ++i) {
    for (int j = 0; j < NR; ++j) r[i][j] = acc ? _mm512_loadu_ps(c + i * ldc + j * 16) : _mm512_setzero_ps();
    if (Half) h[i] = acc ? _mm256_loadu_ps(c + i * ldc + NR * 16) : _mm256_setzero_ps();
  }
  for (int64_t p = 0; p < k2; ++p) {
    __m512i bv[NR > 0 ? NR : 1];
    __m256i bh = _mm256_setzero_si256();
    for (int j = 0; j < NR; ++j) bv[j] = _mm512_loadu_si512(b + (p * n + j * 16) * 2);
    if (Half) bh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + (p * n + NR * 16) * 2));
    for (int i = 0; i < MR; ++i) {
      int32_t pair;
      std::memcpy(&pair, a + i * lda + 2 * p, 4);
      const __m512i av = _mm512_set1_epi32(pair);
      for (int j = 0; j < NR; ++j)
        r[i][j] = _mm512_dpbf16_ps(r[i][j], reinterpret_cast<const __m512bh&>(av),
                                   reinterpret_cast<const __m512bh&>(bv[j]));
      if (Half) {
        const __m256i ah = _mm512_castsi512_si256(av);
        h[i] = _mm256_dpbf16_ps(h[i], reinterpret_cast<const __m256bh&>(ah),
                                reinterpret_cast<const __m256bh&>(bh));
      }
    }
  }
  for (int i = 0; i < MR; ++i) {
    for (int j = 0; j < NR; ++j) _mm512_storeu_ps(c + i * ldc + j * 16, r[i][j]);
    if (Half) _mm256_storeu_ps(c + i * ldc + NR * 16, h[i]);
  }
}

template <int MR>
SD_AVX512 void gemm_bf16_rows(int64_t n, int64_t k2, const uint16_t* a, int64_t lda,
                              const uint16_t* b, float* c, int64_t ldc, bool acc) {
  int64_t j = 0;
  for (; j + 16 <= n;) {
    const int64_t vectors = (n - j) / 16;
    // The last 8 columns ride in the final block when it has room (at most 3 zmm + 1 ymm).
    const bool half = (n - j) % 16 != 0 && vectors <= 3;
    if (half) {
      switch (vectors) {
        case 3: gemm_bf16_block<MR, 3, 1>(k2, a, lda, b + 2 * j, n, c + j, ldc, acc); break;
        case 2: gemm_bf16_block<MR, 2, 1>(k2, a, lda, b + 2 * j, n, c + j, ldc, acc); break;
        default: gemm_bf16_block<MR, 1, 1>(k2, a, lda, b + 2 * j, n, c + j, ldc, acc); break;
      }
      return;
    }
    const int nr = column_block<4>(vectors);
    switch (nr) {
      case 4: gemm_bf16_block<MR, 4>(k2, a, lda, b + 2 * j, n, c + j, ldc, acc); break;
      case 3: gemm_bf16_block<MR, 3>(k2, a, lda, b + 2 * j, n, c + j, ldc, acc); break;
      case 2: gemm_bf16_block<MR, 2>(k2, a, lda, b + 2 * j, n, c + j, ldc, acc); break;
      default: gemm_bf16_block<MR, 1>(k2, a, lda, b + 2 * j, n, c + j, ldc, acc); break;
    }
    j += int64_t(nr) * 16;
  }
  if (j < n) gemm_bf16_block<MR, 0, 1>(k2, a, lda, b + 2 * j, n, c + j, ldc, acc);
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

// 2^x for x <= 0, to 9e-5 relative: far below the 2^-9 of the bf16 it is stored in.
// x = floor(x) + f with f in [0, 1) by vreduceps, a degree-3 fit of 2^f (relative minimax,
// p(0) = 1), and vscalefps for 2^floor(x), which flushes a far-negative x to 0 by itself.
SD_AVX512 inline __m512 exp2_for_bf16(__m512 x) {
  const __m512 f = _mm512_reduce_ps(x, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  __m512 p = _mm512_set1_ps(0.0770644692f);
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.227647796f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.695116156f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.f));
  return _mm512_scalef_ps(p, x);
}

// softmax_tile for the bf16 path: the same online step, but the probabilities go to p as
// bf16 (rows ldp apart, zero from the row's last valid column to n_pad, a multiple of 16)
// and S is left as it was: one pass instead of an f32 store and a conversion pass.
SD_AVX512 void softmax_tile_bf16(const float* s, int64_t lds, int64_t m, int64_t n, int64_t n_pad,
                                 float c, bool causal, int64_t diag, float* mx, float* l, float* o,
                                 int64_t ldo, int64_t d, uint16_t* p, int64_t ldp) {
  for (int64_t i = 0; i < m; ++i) {
    const float* si = s + i * lds;
    uint16_t* pi = p + i * ldp;
    int64_t valid = n;
    if (causal) {
      valid = diag + i + 1;
      valid = valid < 0 ? 0 : valid > n ? n : valid;
    }
    const float tile_max = valid > 0 ? max_row<V>(si, valid) * c : -__builtin_inff();
    const float m_new = tile_max > mx[i] ? tile_max : mx[i];
    if (m_new == -__builtin_inff()) {  // nothing seen yet on this row
      std::memset(pi, 0, size_t(n_pad) * sizeof(uint16_t));
      continue;
    }
    const __m512 cv = _mm512_set1_ps(c), mv = _mm512_set1_ps(-m_new);
    __m512 acc = _mm512_setzero_ps();
    int64_t j = 0;
    for (; j + 32 <= valid; j += 32) {
      const __m512 lo = exp2_for_bf16(_mm512_fmadd_ps(_mm512_loadu_ps(si + j), cv, mv));
      const __m512 hi = exp2_for_bf16(_mm512_fmadd_ps(_mm512_loadu_ps(si + j + 16), cv, mv));
      acc = _mm512_add_ps(acc, _mm512_add_ps(lo, hi));
      const __m512bh pair = _mm512_cvtne2ps_pbh(hi, lo);
      _mm512_storeu_si512(pi + j, reinterpret_cast<const __m512i&>(pair));
    }
    for (; j < n_pad; j += 16) {
      const int64_t left = valid - j;
      const __mmask16 k = left <= 0 ? __mmask16(0) : V::tail_mask(left < 16 ? left : 16);
      const __m512 e = _mm512_maskz_mov_ps(
          k, exp2_for_bf16(_mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, si + j), cv, mv)));
      acc = _mm512_add_ps(acc, e);
      const __m256bh h = _mm512_cvtneps_pbh(e);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(pi + j), reinterpret_cast<const __m256i&>(h));
    }
    // Past the first tiles the row's max rarely moves: then nothing needs rescaling.
    const float shift = mx[i] - m_new;  // -inf on the row's first keys
    const float alpha = shift == 0.f ? 1.f : shift < -64.f ? 0.f : __builtin_exp2f(shift);
    l[i] = l[i] * alpha + _mm512_reduce_add_ps(acc);
    mx[i] = m_new;
    if (alpha != 1.f) {
      float* oi = o + i * ldo;
      const __m512 av = _mm512_set1_ps(alpha);
      int64_t t = 0;
      for (; t + 16 <= d; t += 16) _mm512_storeu_ps(oi + t, _mm512_mul_ps(_mm512_loadu_ps(oi + t), av));
      for (; t < d; ++t) oi[t] *= alpha;
    }
  }
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
                    softmax_tile<V>,
                    softmax_tile_bf16};

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
