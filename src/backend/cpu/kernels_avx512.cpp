// The AVX-512 kernels (with AVX512_BF16 dot products). Every function here carries the
// AVX-512 target attribute and runs only after the CPU check in avx512_kernels().
#include <algorithm>
#include <cstring>

// GCC 12 flags the deliberately undefined registers inside its own AVX-512 intrinsics once
// they are inlined into target-attributed code (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "backend/cpu/simd.h"
#include "backend/cpu/vec_avx512.h"
#include "core/half.h"

#define SD_KERNEL SD_AVX512
namespace sd::cpu::avx512 {
#include "backend/cpu/row_kernels.inc"

namespace {

// bf16 lanes (masked) as float32.
SD_AVX512 inline __m512 load_bf16(const uint16_t* at, __mmask16 m) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, at)), 16));
}

SD_AVX512 void bf16_to_f32(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, load_bf16(src + i, 0xffff));
  if (i < n) {
    const __mmask16 m = V::tail_mask(n - i);
    _mm512_mask_storeu_ps(dst + i, m, load_bf16(src + i, m));
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

// e^x and 1/x to about 1e-4 relative, below the rounding of the bf16 the results are
// stored in: 2^(x log2 e) through exp2_for_bf16 and a 14-bit reciprocal (the SiLU then
// takes a third of FullPrecision's instructions). A far-negative SiLU input makes e^-x
// infinite and its output -0.
struct Bf16Precision {
  SD_AVX512 static __m512 exp(__m512 x) {
    return exp2_for_bf16(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)));
  }
  SD_AVX512 static __m512 rcp(__m512 x) { return _mm512_rcp14_ps(x); }
};

SD_AVX512 inline __m256bh gelu_mul_lanes(const uint16_t* a, const uint16_t* g, __mmask16 m) {
  return _mm512_cvtneps_pbh(_mm512_mul_ps(load_bf16(a, m), vgelu<V, Bf16Precision>(load_bf16(g, m))));
}

SD_AVX512 void gelu_mul_bf16(const uint16_t* a, const uint16_t* g, uint16_t* out, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256bh v = gelu_mul_lanes(a + i, g + i, 0xffff);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), reinterpret_cast<const __m256i&>(v));
  }
  if (i < n) {
    const __mmask16 m = V::tail_mask(n - i);
    const __m256bh v = gelu_mul_lanes(a + i, g + i, m);
    _mm256_mask_storeu_epi16(out + i, m, reinterpret_cast<const __m256i&>(v));
  }
}

template <bool Centred>
SD_AVX512 void column_sums_rows(const uint16_t* x, int64_t rows, int64_t n, const float* mu, float* out) {
  const __mmask16 tail = V::tail_mask(n % 16);
  for (int64_t r = 0; r < rows; ++r, x += n)
    for (int64_t j = 0; j < n; j += 16) {
      const __mmask16 m = n - j >= 16 ? __mmask16(0xffff) : tail;
      __m512 v = load_bf16(x + j, m);
      if constexpr (Centred) {
        v = _mm512_sub_ps(v, _mm512_maskz_loadu_ps(m, mu + j));
        v = _mm512_mul_ps(v, v);
      }
      _mm512_mask_storeu_ps(out + j, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, out + j), v));
    }
}

SD_AVX512 void column_sums_bf16(const uint16_t* x, int64_t rows, int64_t n, const float* mu, float* out) {
  if (mu)
    column_sums_rows<true>(x, rows, n, mu, out);
  else
    column_sums_rows<false>(x, rows, n, nullptr, out);
}

template <bool Silu>
SD_AVX512 inline __m256bh affine_bf16_lanes(const uint16_t* x, const float* a, const float* b, __mmask16 m) {
  __m512 v = _mm512_fmadd_ps(load_bf16(x, m), _mm512_maskz_loadu_ps(m, a), _mm512_maskz_loadu_ps(m, b));
  if constexpr (Silu) v = vsigmoid_mul<V, Bf16Precision>(v, _mm512_set1_ps(1.f));
  return _mm512_cvtneps_pbh(v);
}

template <bool Silu>
SD_AVX512 void affine_bf16_rows(const uint16_t* x, const float* a, const float* b, uint16_t* y, int64_t rows,
                                int64_t n) {
  const __mmask16 all = 0xffff, tail = V::tail_mask(n % 16);
  for (int64_t r = 0; r < rows; ++r, x += n, y += n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
      const __m256bh v = affine_bf16_lanes<Silu>(x + i, a + i, b + i, all);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), reinterpret_cast<const __m256i&>(v));
    }
    if (i < n) {
      const __m256bh v = affine_bf16_lanes<Silu>(x + i, a + i, b + i, tail);
      _mm256_mask_storeu_epi16(y + i, tail, reinterpret_cast<const __m256i&>(v));
    }
  }
}

SD_AVX512 void affine_bf16(const uint16_t* x, const float* a, const float* b, uint16_t* y, int64_t rows, int64_t n,
                           bool silu) {
  (silu ? affine_bf16_rows<true> : affine_bf16_rows<false>)(x, a, b, y, rows, n);
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

// Scores of MR query rows against NR*16 keys of a tile (columns col0.. of the tile), kept
// in registers and folded straight into the online softmax: no score matrix is stored.
// Each row's exponent reference mx[i] (log2 units) moves only when a score exceeds it by
// more than kAttentionSlack, and the horizontal max is taken only then. When it moves, the
// row's output, its partial sums and the probabilities it already wrote in this tile are
// rescaled.
template <int MR, int NR>
SD_AVX512 void attention_block(int64_t k2, const uint16_t* q, int64_t ldq, const uint16_t* kt, int64_t n,
                               int64_t col0, const int64_t* lim, float c, float* mx, float* lsum,
                               float* o, int64_t ldo, int64_t d, uint16_t* p, int64_t ldp) {
  __m512 r[MR][NR];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) r[i][j] = _mm512_setzero_ps();
  for (int64_t k = 0; k < k2; ++k) {
    __m512i bv[NR];
    for (int j = 0; j < NR; ++j) bv[j] = _mm512_loadu_si512(kt + (k * n + col0 + j * 16) * 2);
    for (int i = 0; i < MR; ++i) {
      int32_t pair;
      std::memcpy(&pair, q + i * ldq + 2 * k, 4);
      const __m512i av = _mm512_set1_epi32(pair);
      for (int j = 0; j < NR; ++j)
        r[i][j] = _mm512_dpbf16_ps(r[i][j], reinterpret_cast<const __m512bh&>(av),
                                   reinterpret_cast<const __m512bh&>(bv[j]));
    }
  }
  const __m512 cv = _mm512_set1_ps(c), neg_inf = _mm512_set1_ps(-__builtin_inff());
  for (int i = 0; i < MR; ++i) {
    // Lanes past the row's last valid key (the tile's end, or the causal diagonal) drop out.
    __mmask16 keep[NR];
    __m512 top = neg_inf;
    for (int j = 0; j < NR; ++j) {
      const int64_t left = lim[i] - col0 - j * 16;
      keep[j] = left <= 0 ? __mmask16(0) : left >= 16 ? __mmask16(0xffff) : V::tail_mask(left);
      r[i][j] = _mm512_mask_mul_ps(neg_inf, keep[j], r[i][j], cv);
      top = _mm512_max_ps(top, r[i][j]);
    }
    float ref = mx[i];
    float* li = lsum + i * 16;
    if (_mm512_cmp_ps_mask(top, _mm512_set1_ps(ref + kAttentionSlack), _CMP_GT_OQ)) {
      const float m_new = _mm512_reduce_max_ps(top);
      const float alpha = ref == -__builtin_inff() ? 0.f : __builtin_exp2f(ref - m_new);
      const __m512 av = _mm512_set1_ps(alpha);
      _mm512_storeu_ps(li, _mm512_mul_ps(_mm512_loadu_ps(li), av));
      float* oi = o + i * ldo;
      for (int64_t t = 0; t < d; ++t) oi[t] *= alpha;
      uint16_t* pi = p + i * ldp;
      for (int64_t t = 0; t < col0; ++t) pi[t] = sd::f32_to_bf16(sd::bf16_to_f32(pi[t]) * alpha);
      mx[i] = ref = m_new;
    }
    const __m512 rv = _mm512_set1_ps(ref);
    __m512 sum = _mm512_loadu_ps(li);
    __m512 e[NR];
    for (int j = 0; j < NR; ++j) {
      e[j] = _mm512_maskz_mov_ps(keep[j], exp2_for_bf16(_mm512_sub_ps(r[i][j], rv)));
      sum = _mm512_add_ps(sum, e[j]);
    }
    _mm512_storeu_ps(li, sum);
    uint16_t* pi = p + i * ldp + col0;
    int j = 0;
    for (; j + 2 <= NR; j += 2) {
      const __m512bh two = _mm512_cvtne2ps_pbh(e[j + 1], e[j]);
      _mm512_storeu_si512(pi + j * 16, reinterpret_cast<const __m512i&>(two));
    }
    if (j < NR) {
      const __m256bh one = _mm512_cvtneps_pbh(e[j]);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(pi + j * 16), reinterpret_cast<const __m256i&>(one));
    }
  }
}

template <int MR>
SD_AVX512 void attention_rows(int64_t n, int64_t k2, const uint16_t* q, int64_t ldq, const uint16_t* kt,
                              const int64_t* lim, float c, float* mx, float* lsum, float* o, int64_t ldo,
                              int64_t d, uint16_t* p, int64_t ldp) {
  for (int64_t j = 0; j < n;) {
    const int nr = column_block<4>((n - j) / 16);
    switch (nr) {
      case 4: attention_block<MR, 4>(k2, q, ldq, kt, n, j, lim, c, mx, lsum, o, ldo, d, p, ldp); break;
      case 3: attention_block<MR, 3>(k2, q, ldq, kt, n, j, lim, c, mx, lsum, o, ldo, d, p, ldp); break;
      case 2: attention_block<MR, 2>(k2, q, ldq, kt, n, j, lim, c, mx, lsum, o, ldo, d, p, ldp); break;
      default: attention_block<MR, 1>(k2, q, ldq, kt, n, j, lim, c, mx, lsum, o, ldo, d, p, ldp); break;
    }
    j += int64_t(nr) * 16;
  }
}

SD_AVX512 void attention_tile_bf16(int64_t m, int64_t n, int64_t k2, const uint16_t* q, int64_t ldq,
                                   const uint16_t* kt, int64_t valid, float c, bool causal, int64_t diag,
                                   float* mx, float* lsum, float* o, int64_t ldo, int64_t d, uint16_t* p,
                                   int64_t ldp) {
  int64_t lim[6];
  auto rows = [&](int64_t i0, int rows_here) {
    for (int i = 0; i < rows_here; ++i) {
      int64_t v = valid;
      if (causal) v = std::min(v, std::max<int64_t>(0, diag + i0 + i + 1));
      lim[i] = v;
    }
  };
  int64_t i = 0;
  for (; i + 6 <= m; i += 6) {
    rows(i, 6);
    attention_rows<6>(n, k2, q + i * ldq, ldq, kt, lim, c, mx + i, lsum + i * 16, o + i * ldo, ldo, d, p + i * ldp, ldp);
  }
  for (; i < m; ++i) {
    rows(i, 1);
    attention_rows<1>(n, k2, q + i * ldq, ldq, kt, lim, c, mx + i, lsum + i * 16, o + i * ldo, ldo, d, p + i * ldp, ldp);
  }
}

}  // namespace

const Kernels table{"avx512_bf16",
                    bf16_to_f32,
                    f32_to_bf16,
                    activation_row<V>,
                    gelu_mul_row<V>,
                    gelu_mul_bf16,
                    exp_shift_sum_row<V>,
                    max_row<V>,
                    moments_row<V>,
                    affine_row<V>,
                    column_sums_bf16,
                    affine_bf16,
                    gemm_f32<V>,
                    gemm_bf16,
                    softmax_tile<V>,
                    attention_tile_bf16};

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
