// The bf16 attention's two products on the AMX tile unit, and the softmax step between
// them on AVX-512. Every function here runs only after the checks in amx_kernels().
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#pragma GCC diagnostic ignored "-Wuninitialized"  // GCC bug 105593, as in kernels_avx512.cpp
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "backend/cpu/simd.h"
#include "backend/cpu/vec_avx512.h"

#define SD_AMX __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512dq,avx512vl,avx512bf16")))

namespace sd::cpu::amx {
namespace {

// The tile registers: four 16x16 f32 accumulators shared by both products; the scores' A
// (16 query rows x kc pairs) and B (kc pairs x 16 keys); the values' A (16 rows x 32 keys)
// and B (16 key pairs x 16 output columns). Macros, not constants: the intrinsics paste
// the register number into their assembly text.
#define TILE_C0 0
#define TILE_C1 1
#define TILE_C2 2
#define TILE_C3 3
#define TILE_Q 4
#define TILE_K 5
#define TILE_P 6
#define TILE_V 7

struct TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};
static_assert(sizeof(TileConfig) == 64, "the tile configuration is 64 bytes");

SD_AMX void configure(int kc) {
  TileConfig cfg;
  const auto set = [&](int t, int rows, int bytes) {
    cfg.rows[t] = uint8_t(rows);
    cfg.colsb[t] = uint16_t(bytes);
  };
  for (int t : {TILE_C0, TILE_C1, TILE_C2, TILE_C3, TILE_P, TILE_V}) set(t, 16, 64);
  set(TILE_Q, 16, kc * 4);
  set(TILE_K, kc, 64);
  // GCC 12's _tile_loadconfig tells the compiler it reads 8 bytes of the 64, which lets it
  // drop the stores to the rest: the barrier keeps them.
  __asm__ __volatile__("" : : "r"(&cfg) : "memory");
  _tile_loadconfig(&cfg);
}

SD_AMX void release() { _tile_release(); }

// NC accumulators (NC x 16 keys from column j) over the head dim, each Q chunk loaded once.
template <int NC>
SD_AMX void score_block(int64_t n, int64_t k2, int kc, const uint16_t* q, int64_t ldq, const uint16_t* kt,
                        int64_t j, float* s, int64_t lds) {
  _tile_zero(TILE_C0);
  if constexpr (NC > 1) _tile_zero(TILE_C1);
  if constexpr (NC > 2) _tile_zero(TILE_C2);
  if constexpr (NC > 3) _tile_zero(TILE_C3);
  for (int64_t c = 0; c < k2; c += kc) {
    _tile_loadd(TILE_Q, q + 2 * c, ldq * 2);
    const uint16_t* k = kt + (c * n + j) * 2;
    _tile_loadd(TILE_K, k, n * 4);
    _tile_dpbf16ps(TILE_C0, TILE_Q, TILE_K);
    if constexpr (NC > 1) {
      _tile_loadd(TILE_K, k + 32, n * 4);
      _tile_dpbf16ps(TILE_C1, TILE_Q, TILE_K);
    }
    if constexpr (NC > 2) {
      _tile_loadd(TILE_K, k + 64, n * 4);
      _tile_dpbf16ps(TILE_C2, TILE_Q, TILE_K);
    }
    if constexpr (NC > 3) {
      _tile_loadd(TILE_K, k + 96, n * 4);
      _tile_dpbf16ps(TILE_C3, TILE_Q, TILE_K);
    }
  }
  _tile_stored(TILE_C0, s + j, lds * 4);
  if constexpr (NC > 1) _tile_stored(TILE_C1, s + j + 16, lds * 4);
  if constexpr (NC > 2) _tile_stored(TILE_C2, s + j + 32, lds * 4);
  if constexpr (NC > 3) _tile_stored(TILE_C3, s + j + 48, lds * 4);
}

SD_AMX void scores(int64_t n, int64_t k2, int kc, const uint16_t* q, int64_t ldq, const uint16_t* kt, float* s,
                   int64_t lds) {
  int64_t j = 0;
  for (; j + 64 <= n; j += 64) score_block<4>(n, k2, kc, q, ldq, kt, j, s, lds);
  if (j < n) score_block<2>(n, k2, kc, q, ldq, kt, j, s, lds);  // n is a multiple of 32
}

// NC accumulators (output columns col.. col + 16 NC) over the keys, each P block loaded once.
template <int NC>
SD_AMX void value_block(int64_t n, int64_t dp, const uint16_t* p, int64_t ldp, const uint16_t* vt, int64_t col,
                        float* o, int64_t ldo) {
  _tile_loadd(TILE_C0, o + col, ldo * 4);
  if constexpr (NC > 1) _tile_loadd(TILE_C1, o + col + 16, ldo * 4);
  if constexpr (NC > 2) _tile_loadd(TILE_C2, o + col + 32, ldo * 4);
  if constexpr (NC > 3) _tile_loadd(TILE_C3, o + col + 48, ldo * 4);
  for (int64_t k = 0; k < n; k += 32) {
    _tile_loadd(TILE_P, p + k, ldp * 2);
    const uint16_t* v = vt + (k / 2 * dp + col) * 2;
    _tile_loadd(TILE_V, v, dp * 4);
    _tile_dpbf16ps(TILE_C0, TILE_P, TILE_V);
    if constexpr (NC > 1) {
      _tile_loadd(TILE_V, v + 32, dp * 4);
      _tile_dpbf16ps(TILE_C1, TILE_P, TILE_V);
    }
    if constexpr (NC > 2) {
      _tile_loadd(TILE_V, v + 64, dp * 4);
      _tile_dpbf16ps(TILE_C2, TILE_P, TILE_V);
    }
    if constexpr (NC > 3) {
      _tile_loadd(TILE_V, v + 96, dp * 4);
      _tile_dpbf16ps(TILE_C3, TILE_P, TILE_V);
    }
  }
  _tile_stored(TILE_C0, o + col, ldo * 4);
  if constexpr (NC > 1) _tile_stored(TILE_C1, o + col + 16, ldo * 4);
  if constexpr (NC > 2) _tile_stored(TILE_C2, o + col + 32, ldo * 4);
  if constexpr (NC > 3) _tile_stored(TILE_C3, o + col + 48, ldo * 4);
}

SD_AMX void accumulate(int64_t n, int64_t dp, const uint16_t* p, int64_t ldp, const uint16_t* vt, float* o,
                       int64_t ldo) {
  int64_t col = 0;
  for (; col + 64 <= dp; col += 64) value_block<4>(n, dp, p, ldp, vt, col, o, ldo);
  switch ((dp - col) / 16) {
    case 3: value_block<3>(n, dp, p, ldp, vt, col, o, ldo); break;
    case 2: value_block<2>(n, dp, p, ldp, vt, col, o, ldo); break;
    case 1: value_block<1>(n, dp, p, ldp, vt, col, o, ldo); break;
    default: break;
  }
}

// The whole tile's scores are at hand, so a row's maximum is taken first and its reference
// moves at most once per tile (by the slack rule of attention_block), before any
// probability of the tile is written.
SD_AVX512 void softmax(int64_t m, int64_t n, const float* s, int64_t lds, int64_t valid, float c, bool causal,
                       int64_t diag, float* mx, float* lsum, float* o, int64_t ldo, int64_t d, uint16_t* p,
                       int64_t ldp) {
  using avx512::V;
  const __m512 cv = _mm512_set1_ps(c), neg_inf = _mm512_set1_ps(-__builtin_inff());
  for (int64_t i = 0; i < m; ++i) {
    int64_t lim = valid;
    if (causal) lim = std::min(lim, std::max<int64_t>(0, diag + i + 1));
    const float* si = s + i * lds;
    const auto keep = [&](int64_t j) {
      const int64_t left = lim - j;
      return left <= 0 ? __mmask16(0) : left >= 16 ? __mmask16(0xffff) : V::tail_mask(left);
    };
    __m512 top = neg_inf;
    for (int64_t j = 0; j < lim; j += 16)
      top = _mm512_max_ps(top, _mm512_mask_mul_ps(neg_inf, keep(j), _mm512_loadu_ps(si + j), cv));
    float ref = mx[i];
    float* li = lsum + i * 16;
    const float row_max = _mm512_reduce_max_ps(top);
    if (row_max > ref + avx512::kAttentionSlack) {
      const float alpha = ref == -__builtin_inff() ? 0.f : __builtin_exp2f(ref - row_max);
      const __m512 av = _mm512_set1_ps(alpha);
      _mm512_storeu_ps(li, _mm512_mul_ps(_mm512_loadu_ps(li), av));
      float* oi = o + i * ldo;
      for (int64_t t = 0; t < d; ++t) oi[t] *= alpha;
      mx[i] = ref = row_max;
    }
    const __m512 rv = _mm512_set1_ps(ref);
    __m512 sum = _mm512_loadu_ps(li);
    uint16_t* pi = p + i * ldp;
    for (int64_t j = 0; j < n; j += 32) {
      const __m512 x0 = _mm512_fmsub_ps(_mm512_loadu_ps(si + j), cv, rv);
      const __m512 x1 = _mm512_fmsub_ps(_mm512_loadu_ps(si + j + 16), cv, rv);
      const __m512 e0 = _mm512_maskz_mov_ps(keep(j), avx512::exp2_for_bf16(x0));
      const __m512 e1 = _mm512_maskz_mov_ps(keep(j + 16), avx512::exp2_for_bf16(x1));
      sum = _mm512_add_ps(sum, _mm512_add_ps(e0, e1));
      const __m512bh two = _mm512_cvtne2ps_pbh(e1, e0);
      _mm512_storeu_si512(pi + j, reinterpret_cast<const __m512i&>(two));
    }
    _mm512_storeu_ps(li, sum);
  }
}

const AmxKernels table{configure, release, scores, softmax, accumulate};

bool cpu_has_amx_bf16() { return __builtin_cpu_supports("amx-tile") && __builtin_cpu_supports("amx-bf16"); }

// Linux hands a process the tile registers' state only when asked (arch_prctl).
bool os_grants_tiles() {
  constexpr int kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
}

}  // namespace
}  // namespace sd::cpu::amx

namespace sd::cpu {

const AmxKernels* amx_kernels() {
  static const AmxKernels* k = []() -> const AmxKernels* {
    const char* force = std::getenv("SD_CPU_ISA");
    if (force && *force) return nullptr;
    if (&kernels() != avx512_kernels() || !amx::cpu_has_amx_bf16() || !amx::os_grants_tiles()) return nullptr;
    return &amx::table;
  }();
  return k;
}

}  // namespace sd::cpu
