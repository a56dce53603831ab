#pragma once
// 16-lane float vector for AVX-512, in the interface of row_kernels.inc. Every function
// here is compiled for AVX-512 only (target attribute); callers must check the CPU first.
#include <immintrin.h>

#include <cstdint>

#define SD_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,fma,avx2,f16c")))

namespace sd::cpu::avx512 {

struct V {
  using reg = __m512;
  static constexpr int W = 16;
  static constexpr int kMr = 6, kNr = 4;  // gemm register block: 32 zmm registers

  SD_AVX512 static reg load(const float* p) { return _mm512_loadu_ps(p); }
  SD_AVX512 static void store(float* p, reg v) { _mm512_storeu_ps(p, v); }
  SD_AVX512 static __mmask16 tail_mask(int64_t n) { return __mmask16((1u << n) - 1u); }
  SD_AVX512 static reg load_n(const float* p, int64_t n) { return _mm512_maskz_loadu_ps(tail_mask(n), p); }
  SD_AVX512 static void store_n(float* p, reg v, int64_t n) { _mm512_mask_storeu_ps(p, tail_mask(n), v); }
  SD_AVX512 static reg keep_n(reg v, int64_t n) { return _mm512_maskz_mov_ps(tail_mask(n), v); }
  SD_AVX512 static reg set1(float x) { return _mm512_set1_ps(x); }
  SD_AVX512 static reg zero() { return _mm512_setzero_ps(); }
  SD_AVX512 static reg add(reg a, reg b) { return _mm512_add_ps(a, b); }
  SD_AVX512 static reg sub(reg a, reg b) { return _mm512_sub_ps(a, b); }
  SD_AVX512 static reg mul(reg a, reg b) { return _mm512_mul_ps(a, b); }
  SD_AVX512 static reg fmadd(reg a, reg b, reg c) { return _mm512_fmadd_ps(a, b, c); }
  SD_AVX512 static reg fnmadd(reg a, reg b, reg c) { return _mm512_fnmadd_ps(a, b, c); }
  SD_AVX512 static reg max(reg a, reg b) { return _mm512_max_ps(a, b); }
  SD_AVX512 static reg min(reg a, reg b) { return _mm512_min_ps(a, b); }
  SD_AVX512 static reg abs(reg a) { return _mm512_abs_ps(a); }
  SD_AVX512 static reg neg(reg a) {
    return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(a), _mm512_set1_epi32(int(0x80000000u))));
  }
  SD_AVX512 static reg copysign(reg mag, reg sign) {
    const __m512i m = _mm512_set1_epi32(0x7fffffff);
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_and_si512(_mm512_castps_si512(mag), m),
                                               _mm512_andnot_si512(m, _mm512_castps_si512(sign))));
  }
  SD_AVX512 static reg round(reg a) {
    return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  SD_AVX512 static reg pow2i(reg n) {
    const __m512i e = _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127));
    return _mm512_castsi512_ps(_mm512_slli_epi32(e, 23));
  }
  SD_AVX512 static reg ldexp(reg v, reg n) { return _mm512_scalef_ps(v, n); }
  SD_AVX512 static reg zero_below(reg v, reg x, float lim) {
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(lim), _CMP_GE_OQ), v);
  }
  SD_AVX512 static reg rcp(reg x) {
    const reg r = _mm512_rcp14_ps(x);
    return _mm512_mul_ps(r, _mm512_fnmadd_ps(x, r, _mm512_set1_ps(2.f)));
  }
  SD_AVX512 static float hsum(reg v) { return _mm512_reduce_add_ps(v); }
  SD_AVX512 static float hmax(reg v) { return _mm512_reduce_max_ps(v); }
};

// The bf16 attention kernels move a row's exponent reference only when a score passes it
// by more than this (log2 units): probabilities stay below 2^8, exact in float32 and bf16.
constexpr float kAttentionSlack = 8.f;

// 2^x to 9e-5 relative: far below the 2^-9 of the bf16 it is stored in. x = floor(x) + f
// with f in [0, 1) by vreduceps, a degree-3 fit of 2^f (relative minimax, p(0) = 1), and
// vscalefps for 2^floor(x), which flushes a far-negative x to 0 and takes a large one to
// infinity by itself.
SD_AVX512 inline __m512 exp2_for_bf16(__m512 x) {
  const __m512 f = _mm512_reduce_ps(x, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  __m512 p = _mm512_set1_ps(0.0770644692f);
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.227647796f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.695116156f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.f));
  return _mm512_scalef_ps(p, x);
}

}  // namespace sd::cpu::avx512
