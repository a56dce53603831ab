#include "sampling/cephes_avx2.h"

namespace sd::sampling {

namespace {
inline __m256 splat(float v) { return _mm256_set1_ps(v); }
inline __m256 bits(int v) { return _mm256_castsi256_ps(_mm256_set1_epi32(v)); }
}  // namespace

__m256 cephes_log_avx2(__m256 x) {
  const __m256 one = splat(1.0f);
  // Split x = m * 2^e with m in [0.5, 1).
  x = _mm256_max_ps(x, bits(0x00800000));  // smallest normal float
  __m256i exponent = _mm256_srli_epi32(_mm256_castps_si256(x), 23);
  x = _mm256_or_ps(_mm256_and_ps(x, bits(~0x7f800000)), splat(0.5f));
  exponent = _mm256_sub_epi32(exponent, _mm256_set1_epi32(0x7f));
  __m256 e = _mm256_add_ps(_mm256_cvtepi32_ps(exponent), one);
  // For m < sqrt(1/2) use 2m - 1 and e - 1, otherwise m - 1.
  const __m256 small = _mm256_cmp_ps(x, splat(0.707106781186547524f), _CMP_LT_OS);
  const __m256 extra = _mm256_and_ps(x, small);
  x = _mm256_sub_ps(x, one);
  e = _mm256_sub_ps(e, _mm256_and_ps(one, small));
  x = _mm256_add_ps(x, extra);

  const __m256 z = _mm256_mul_ps(x, x);
  __m256 y = splat(7.0376836292e-2f);
  y = _mm256_fmadd_ps(y, x, splat(-1.1514610310e-1f));
  y = _mm256_fmadd_ps(y, x, splat(1.1676998740e-1f));
  y = _mm256_fmadd_ps(y, x, splat(-1.2420140846e-1f));
  y = _mm256_fmadd_ps(y, x, splat(1.4249322787e-1f));
  y = _mm256_fmadd_ps(y, x, splat(-1.6668057665e-1f));
  y = _mm256_fmadd_ps(y, x, splat(2.0000714765e-1f));
  y = _mm256_fmadd_ps(y, x, splat(-2.4999993993e-1f));
  y = _mm256_fmadd_ps(y, x, splat(3.3333331174e-1f));
  y = _mm256_mul_ps(y, x);
  y = _mm256_fmadd_ps(y, z, _mm256_mul_ps(e, splat(-2.12194440e-4f)));
  y = _mm256_fnmadd_ps(z, splat(0.5f), y);
  x = _mm256_add_ps(x, y);
  return _mm256_fmadd_ps(e, splat(0.693359375f), x);
}

void cephes_sincos_avx2(__m256 x, __m256* sin_out, __m256* cos_out) {
  __m256 sign_sin = _mm256_and_ps(x, bits(int(0x80000000u)));
  x = _mm256_and_ps(x, bits(0x7fffffff));

  // Octant j = (int(x * 4/pi) + 1) & ~1, and x reduced by j * pi/4 in three parts.
  __m256i j = _mm256_cvttps_epi32(_mm256_mul_ps(x, splat(1.27323954473516f)));
  j = _mm256_and_si256(_mm256_add_epi32(j, _mm256_set1_epi32(1)), _mm256_set1_epi32(~1));
  const __m256 jf = _mm256_cvtepi32_ps(j);
  const __m256 swap_sign_sin =
      _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_and_si256(j, _mm256_set1_epi32(4)), 29));
  const __m256 use_cos_poly_for_cos = _mm256_castsi256_ps(
      _mm256_cmpeq_epi32(_mm256_and_si256(j, _mm256_set1_epi32(2)), _mm256_setzero_si256()));
  x = _mm256_fmadd_ps(jf, splat(-0.78515625f), x);
  x = _mm256_fmadd_ps(jf, splat(-2.4187564849853515625e-4f), x);
  x = _mm256_fmadd_ps(jf, splat(-3.77489497744594108e-8f), x);
  const __m256 sign_cos = _mm256_castsi256_ps(_mm256_slli_epi32(
      _mm256_andnot_si256(_mm256_sub_epi32(j, _mm256_set1_epi32(2)), _mm256_set1_epi32(4)), 29));
  sign_sin = _mm256_xor_ps(sign_sin, swap_sign_sin);

  const __m256 z = _mm256_mul_ps(x, x);
  // cos polynomial on [0, pi/4]
  __m256 c = _mm256_fmadd_ps(splat(2.443315711809948e-5f), z, splat(-1.388731625493765e-3f));
  c = _mm256_fmadd_ps(c, z, splat(4.166664568298827e-2f));
  c = _mm256_mul_ps(c, z);
  c = _mm256_fmsub_ps(c, z, _mm256_mul_ps(z, splat(0.5f)));
  c = _mm256_add_ps(c, splat(1.0f));
  // sin polynomial on [0, pi/4]
  __m256 s = _mm256_fmadd_ps(splat(-1.9515295891e-4f), z, splat(8.3321608736e-3f));
  s = _mm256_fmadd_ps(s, z, splat(-1.6666654611e-1f));
  s = _mm256_mul_ps(s, z);
  s = _mm256_fmadd_ps(s, x, x);

  *sin_out = _mm256_xor_ps(_mm256_blendv_ps(c, s, use_cos_poly_for_cos), sign_sin);
  *cos_out = _mm256_xor_ps(_mm256_blendv_ps(s, c, use_cos_poly_for_cos), sign_cos);
}

}  // namespace sd::sampling
