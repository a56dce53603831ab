#pragma once
// The 8-wide float log and sincos that torch's AVX2 normal kernel calls (log256_ps and
// sincos256_ps of ATen's avx_mathfun.h: Cephes polynomials). torch.randn's bits depend on
// them, including the fused multiply-adds GCC forms when it compiles torch, so the
// contractions are written out here as explicit FMA instructions. Needs AVX2 and FMA.
#include <immintrin.h>

namespace sd::sampling {

// Natural log for x in (0, 1]; the only inputs Box-Muller gives it.
__m256 cephes_log_avx2(__m256 x);
// Sine and cosine for x >= 0 of moderate size (Box-Muller angles lie in [0, 2*pi)).
void cephes_sincos_avx2(__m256 x, __m256* sin_out, __m256* cos_out);

}  // namespace sd::sampling
