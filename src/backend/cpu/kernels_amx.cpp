// The bf16 attention's two products on the AMX tile unit, and the softmax step between
// them on AVX-512. Every function here runs only after the checks in amx_kernels().
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <utility>

#pragma GCC diagnostic ignored "-Wuninitialized"  // GCC bug 105593, as in kernels_avx512.cpp
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "backend/cpu/simd.h"
#include "backend/cpu/vec_avx512.h"

#define SD_AMX __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512dq,avx512vl,avx512bf16")))

namespace sd::cpu::amx {
namespace {

// The tile registers, all 16 rows of 64 bytes: four 16x16 f32 accumulators shared by both
// products; two A operands (16 query rows x 16 head-dim pairs, or 16 rows x 32 keys of
// probabilities) and two B operands (16 pairs x 16 keys, or 16 key pairs x 16 output
// columns), each pair used in turn. Tile registers are not renamed, so a load into the
// register the previous product reads waits for that product; alternating two removes
// that wait (on the machine measured, the attention ran no faster for it: the products
// are not what bounds it, see attention.cpp).
constexpr int kA0 = 4, kA1 = 5, kB0 = 6;

// The register number goes into the instruction text ("i" with the c modifier), so it is
// a template parameter rather than a macro pasted into GCC's intrinsics. Plain inline
// assembly needs no target attribute, so these inline into the lambdas below.
template <int T>
[[gnu::always_inline]] inline void tile_load(const void* base, int64_t stride) {
  __asm__ volatile("tileloadd (%0,%1,1), %%tmm%c2" : : "r"(base), "r"(stride), "i"(T) : "memory");
}

template <int T>
[[gnu::always_inline]] inline void tile_store(void* base, int64_t stride) {
  __asm__ volatile("tilestored %%tmm%c2, (%0,%1,1)" : : "r"(base), "r"(stride), "i"(T) : "memory");
}

template <int T>
[[gnu::always_inline]] inline void tile_zero() {
  __asm__ volatile("tilezero %%tmm%c0" : : "i"(T));
}

// C += A B, in bf16 pairs with f32 sums.
template <int C, int A, int B>
[[gnu::always_inline]] inline void tile_dot() {
  __asm__ volatile("tdpbf16ps %%tmm%c2, %%tmm%c1, %%tmm%c0" : : "i"(C), "i"(A), "i"(B));
}

struct TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};
static_assert(sizeof(TileConfig) == 64, "the tile configuration is 64 bytes");

SD_AMX void configure() {
  TileConfig cfg;
  for (int t = 0; t < 8; ++t) {
    cfg.rows[t] = 16;
    cfg.colsb[t] = 64;
  }
  // GCC 12's _tile_loadconfig tells the compiler it reads 8 bytes of the 64, which lets it
  // drop the stores to the rest: the barrier keeps them.
  __asm__ __volatile__("" : : "r"(&cfg) : "memory");
  _tile_loadconfig(&cfg);
}

SD_AMX void release() { _tile_release(); }

// Accumulators 0..NC-1 += A (already loaded into register A) times NC B blocks, b(i) the
// address of the i-th; the B registers alternate from kB0 + Parity.
template <int NC, int A, int Parity, class BlockAt>
[[gnu::always_inline]] inline void products(BlockAt b, int64_t ldb) {
  [&]<int... I>(std::integer_sequence<int, I...>) {
    ((tile_load<kB0 + (I + Parity) % 2>(b(I), ldb), tile_dot<I, A, kB0 + (I + Parity) % 2>()), ...);
  }(std::make_integer_sequence<int, NC>{});
}

template <int NC>
[[gnu::always_inline]] inline void zero_accumulators() {
  [&]<int... I>(std::integer_sequence<int, I...>) { (tile_zero<I>(), ...); }(std::make_integer_sequence<int, NC>{});
}

// Accumulator i <-> the 16 f32 columns at base + 16 i (rows ld floats apart).
template <int NC, bool Store>
[[gnu::always_inline]] inline void move_accumulators(float* base, int64_t ld) {
  [&]<int... I>(std::integer_sequence<int, I...>) {
    if constexpr (Store)
      (tile_store<I>(base + 16 * I, ld * 4), ...);
    else
      (tile_load<I>(base + 16 * I, ld * 4), ...);
  }(std::make_integer_sequence<int, NC>{});
}

// Scores of NC x 16 keys from key j, over the head dim in chunks of 16 pairs, the Q chunks
// taking the two A registers in turn.
template <int NC>
SD_AMX void score_block(int64_t n, int64_t k2, const uint16_t* q, int64_t ldq, const uint16_t* kt, int64_t j,
                        float* s, int64_t lds) {
  zero_accumulators<NC>();
  const auto chunk = [&]<int A>(int64_t c) {
    tile_load<A>(q + 2 * c, ldq * 2);
    products<NC, A, 0>([&](int i) { return kt + (c * n + j + 16 * i) * 2; }, n * 4);
  };
  for (int64_t c = 0; c < k2; c += 32) {
    chunk.template operator()<kA0>(c);
    if (c + 16 < k2) chunk.template operator()<kA1>(c + 16);
  }
  move_accumulators<NC, true>(s + j, lds);
}

SD_AMX void scores(int64_t n, int64_t k2, const uint16_t* q, int64_t ldq, const uint16_t* kt, float* s,
                   int64_t lds) {
  int64_t j = 0;
  for (; j + 64 <= n; j += 64) score_block<4>(n, k2, q, ldq, kt, j, s, lds);
  if (j < n) score_block<2>(n, k2, q, ldq, kt, j, s, lds);  // n is a multiple of 32
}

// Output columns col .. col + 16 NC over the keys, 32 at a time, the P blocks taking the two
// A registers in turn (and the B registers' turn carrying over between them when NC is odd).
template <int NC>
SD_AMX void value_block(int64_t n, int64_t dp, const uint16_t* p, int64_t ldp, const uint16_t* vt, int64_t col,
                        float* o, int64_t ldo) {
  move_accumulators<NC, false>(o + col, ldo);
  const auto keys = [&]<int A, int Parity>(int64_t k) {
    tile_load<A>(p + k, ldp * 2);
    products<NC, A, Parity>([&](int i) { return vt + (k / 2 * dp + col + 16 * i) * 2; }, dp * 4);
  };
  for (int64_t k = 0; k < n; k += 64) {
    keys.template operator()<kA0, 0>(k);
    if (k + 32 < n) keys.template operator()<kA1, NC % 2>(k + 32);
  }
  move_accumulators<NC, true>(o + col, ldo);
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

// Lanes of a 16-column group that are among a row's first `left` keys.
SD_AVX512 inline __mmask16 keys_left(int64_t left) {
  return left <= 0 ? __mmask16(0) : left >= 16 ? __mmask16(0xffff) : avx512::V::tail_mask(left);
}

// bf16 probabilities of a row's 32 scores from column j into p, their sum added to `sum`;
// Masked: only the first `lim` keys count, the rest are written as zeros.
template <bool Masked>
SD_AVX512 inline __m512 probabilities(const float* si, int64_t j, int64_t lim, __m512 cv, __m512 rv, uint16_t* pi,
                                      __m512 sum) {
  __m512 e0 = avx512::exp2_for_bf16(_mm512_fmsub_ps(_mm512_loadu_ps(si + j), cv, rv));
  __m512 e1 = avx512::exp2_for_bf16(_mm512_fmsub_ps(_mm512_loadu_ps(si + j + 16), cv, rv));
  if constexpr (Masked) {
    e0 = _mm512_maskz_mov_ps(keys_left(lim - j), e0);
    e1 = _mm512_maskz_mov_ps(keys_left(lim - j - 16), e1);
  }
  const __m512bh two = _mm512_cvtne2ps_pbh(e1, e0);
  _mm512_storeu_si512(pi + j, reinterpret_cast<const __m512i&>(two));
  return _mm512_add_ps(sum, _mm512_add_ps(e0, e1));
}

// The whole tile's scores are at hand, so a row's maximum is taken first and its reference
// moves at most once per tile (by the slack rule of attention_block), before any
// probability of the tile is written. The columns before a row's last key need no mask.
SD_AVX512 void softmax(int64_t m, int64_t n, const float* s, int64_t lds, int64_t valid, float c, bool causal,
                       int64_t diag, float* mx, float* lsum, float* o, int64_t ldo, int64_t d, uint16_t* p,
                       int64_t ldp) {
  const __m512 cv = _mm512_set1_ps(c), neg_inf = _mm512_set1_ps(-__builtin_inff());
  for (int64_t i = 0; i < m; ++i) {
    int64_t lim = valid;
    if (causal) lim = std::min(lim, std::max<int64_t>(0, diag + i + 1));
    const float* si = s + i * lds;
    __m512 top = neg_inf;
    int64_t j = 0;
    for (; j + 16 <= lim; j += 16) top = _mm512_max_ps(top, _mm512_mul_ps(_mm512_loadu_ps(si + j), cv));
    if (j < lim) top = _mm512_max_ps(top, _mm512_mask_mul_ps(neg_inf, keys_left(lim - j), _mm512_loadu_ps(si + j), cv));
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
    for (j = 0; j + 32 <= lim; j += 32) sum = probabilities<false>(si, j, lim, cv, rv, pi, sum);
    for (; j < n; j += 32) sum = probabilities<true>(si, j, lim, cv, rv, pi, sum);
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
