#include "core/convert_avx512.h"

// GCC 12 flags the deliberately undefined registers inside its own AVX-512 intrinsics once
// they are inlined into target-attributed code (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <immintrin.h>

#define SD_CONVERT_AVX512 __attribute__((target("avx512f,avx512bw")))

namespace sd::detail {

namespace {

bool has_avx512() {
  static const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
  return ok;
}

// f32_to_bf16 on sixteen float32 bit patterns.
SD_CONVERT_AVX512 __m256i round_to_bf16(__m512i u) {
  const __m512i rounding = _mm512_add_epi32(_mm512_set1_epi32(0x7fff),
                                            _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1)));
  const __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(u, rounding), 16);
  const __mmask16 nan =
      _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)), _mm512_set1_epi32(0x7f800000));
  const __m512i quiet_nan = _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
  return _mm512_cvtepi32_epi16(_mm512_mask_mov_epi32(rounded, nan, quiet_nan));
}

SD_CONVERT_AVX512 size_t f32_to_bf16_loop(const float* in, uint16_t* out, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), round_to_bf16(_mm512_loadu_si512(in + i)));
  return i;
}

// vcvtph2ps is exact for every half, and its quieting of a signalling NaN sets the bit
// f32_to_bf16 sets anyway.
SD_CONVERT_AVX512 size_t f16_to_bf16_loop(const uint16_t* in, uint16_t* out, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 f = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(in + i)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), round_to_bf16(_mm512_castps_si512(f)));
  }
  return i;
}

}  // namespace

size_t f32_to_bf16_avx512(const float* in, uint16_t* out, size_t n) {
  return has_avx512() ? f32_to_bf16_loop(in, out, n) : 0;
}

size_t f16_to_bf16_avx512(const uint16_t* in, uint16_t* out, size_t n) {
  return has_avx512() ? f16_to_bf16_loop(in, out, n) : 0;
}

}  // namespace sd::detail
