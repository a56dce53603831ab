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

// The tile registers: four 16x16 f32 accumulators shared by both products; A0 and B0, full
// 16-row, 64-byte operands (16 query rows x 16 head-dim pairs and 16 pairs x 16 keys, or 16
// rows x 32 keys of probabilities and 16 key pairs x 16 output columns); A1 and B1 shaped
// for the head dim's last chunk of fewer than 16 pairs (SD1.5's 40 and 80 have 4 and 8
// left), so no product reads zeros in place of a head dim padded to 16 pairs: that padding
// had the score step load 64 KiB key tiles of which 40 were data.
constexpr int kA0 = 4, kA1 = 5, kB0 = 6, kB1 = 7;

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

SD_AMX void configure(int64_t pairs) {
  TileConfig cfg;
  for (int t = 0; t < 8; ++t) {
    cfg.rows[t] = 16;
    cfg.colsb[t] = 64;
  }
  if (const int tail = int(pairs % 16)) {
    cfg.colsb[kA1] = uint16_t(4 * tail);
    cfg.rows[kB1] = uint8_t(tail);
  }
  // GCC 12's _tile_loadconfig tells the compiler it reads 8 bytes of the 64, which lets it
  // drop the stores to the rest: the barrier keeps them.
  __asm__ __volatile__("" : : "r"(&cfg) : "memory");
  _tile_loadconfig(&cfg);
}

SD_AMX void release() { _tile_release(); }

// Accumulators 0..NC-1 += A (already loaded into register A) times NC B blocks through
// register B, b(i) the address of the i-th, rows ldb bytes apart.
template <int NC, int A, int B, class BlockAt>
[[gnu::always_inline]] inline void products(BlockAt b, int64_t ldb) {
  [&]<int... I>(std::integer_sequence<int, I...>) {
    ((tile_load<B>(b(I), ldb), tile_dot<I, A, B>()), ...);
  }(std::make_integer_sequence<int, NC>{});
}

template <int NC>
[[gnu::always_inline]] inline void zero_accumulators() {
  [&]<int... I>(std::integer_sequence<int, I...>) { (tile_zero<I>(), ...); }(std::make_integer_sequence<int, NC>{});
}

// Scores of NC blocks of 16 keys from block jb on: the full 16-pair chunks of the head dim
// through A0 and B0, the last, shorter one through A1 and B1. Every operand and result is
// a contiguous 1 KiB block (or less), which measured twice as fast as the same products
// reading and writing rows 2 KiB apart.
// s: where block jb goes, the next blocks 1 KiB apart.
template <int NC>
SD_AMX void score_block(int64_t pairs, const uint16_t* q, int64_t ldq, const uint16_t* kt, int64_t jb, float* s) {
  zero_accumulators<NC>();
  const auto key_block = [&](int64_t c) {
    return [=](int i) { return kt + ((jb + i) * pairs + c) * 32; };
  };
  const int64_t full = pairs / 16 * 16;
  for (int64_t c = 0; c < full; c += 16) {
    tile_load<kA0>(q + 2 * c, ldq * 2);
    products<NC, kA0, kB0>(key_block(c), 64);
  }
  if (full < pairs) {
    tile_load<kA1>(q + 2 * full, ldq * 2);
    products<NC, kA1, kB1>(key_block(full), 64);
  }
  [&]<int... I>(std::integer_sequence<int, I...>) {
    (tile_store<I>(s + I * 256, 64), ...);
  }(std::make_integer_sequence<int, NC>{});
}

SD_AMX void scores(int64_t n, int64_t pairs, const uint16_t* q, int64_t ldq, const uint16_t* kt, float* s) {
  int64_t jb = 0;
  for (; jb + 4 <= n / 16; jb += 4) score_block<4>(pairs, q, ldq, kt, jb, s + jb * 256);
  if (jb < n / 16) score_block<2>(pairs, q, ldq, kt, jb, s + jb * 256);  // n is a multiple of 32
}

// Scores of 32 query rows (Q's two 16-row groups) against key blocks jb and jb + 1: four
// products per two key blocks loaded, where score_block loads one per product. Head dims
// of whole 16-pair chunks hold both groups' Q chunks in A0 and A1 and the key blocks in
// B0 and B1; others (whose A1 and B1 are shaped for the short last chunk) load each group's
// Q chunk again from the L1 cache for each key block. The first group's two blocks go to
// s0 and s0 + 256, the second's to s1 and s1 + 256.
SD_AMX void score_pair_block(int64_t pairs, const uint16_t* q, int64_t ldq, const uint16_t* kt, int64_t jb,
                             float* s0, float* s1) {
  zero_accumulators<4>();
  const uint16_t* q1 = q + 16 * ldq;
  const uint16_t* k0 = kt + jb * pairs * 32;
  const uint16_t* k1 = kt + (jb + 1) * pairs * 32;
  if (pairs % 16 == 0) {
    for (int64_t c = 0; c < pairs; c += 16) {
      tile_load<kA0>(q + 2 * c, ldq * 2);
      tile_load<kA1>(q1 + 2 * c, ldq * 2);
      tile_load<kB0>(k0 + c * 32, 64);
      tile_load<kB1>(k1 + c * 32, 64);
      tile_dot<0, kA0, kB0>();
      tile_dot<1, kA0, kB1>();
      tile_dot<2, kA1, kB0>();
      tile_dot<3, kA1, kB1>();
    }
  } else {
    const auto chunk = [&]<int A, int B>(int64_t c) {
      tile_load<B>(k0 + c * 32, 64);
      tile_load<A>(q + 2 * c, ldq * 2);
      tile_dot<0, A, B>();
      tile_load<A>(q1 + 2 * c, ldq * 2);
      tile_dot<2, A, B>();
      tile_load<B>(k1 + c * 32, 64);
      tile_load<A>(q + 2 * c, ldq * 2);
      tile_dot<1, A, B>();
      tile_load<A>(q1 + 2 * c, ldq * 2);
      tile_dot<3, A, B>();
    };
    const int64_t full = pairs / 16 * 16;
    for (int64_t c = 0; c < full; c += 16) chunk.template operator()<kA0, kB0>(c);
    chunk.template operator()<kA1, kB1>(full);
  }
  tile_store<0>(s0, 64);
  tile_store<1>(s0 + 256, 64);
  tile_store<2>(s1, 64);
  tile_store<3>(s1 + 256, 64);
}

// scores() for 32 rows (Q's two 16-row groups), group 1's S at s + 16 n.
SD_AMX void scores_pair(int64_t n, int64_t pairs, const uint16_t* q, int64_t ldq, const uint16_t* kt, float* s) {
  for (int64_t jb = 0; jb < n / 16; jb += 2)
    score_pair_block(pairs, q, ldq, kt, jb, s + jb * 256, s + 16 * n + jb * 256);
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

// Output columns col .. col + 16 NC over the keys, 32 at a time, each 16 x 32 block of
// probabilities a contiguous 1 KiB.
template <int NC>
SD_AMX void value_block(int64_t n, int64_t dp, const uint16_t* p, const uint16_t* vt, int64_t col, float* o,
                        int64_t ldo) {
  move_accumulators<NC, false>(o + col, ldo);
  for (int64_t k = 0; k < n; k += 32) {
    tile_load<kA0>(p + k * 16, 64);
    products<NC, kA0, kB0>([&](int i) { return vt + (k / 2 * dp + col + 16 * i) * 2; }, dp * 4);
  }
  move_accumulators<NC, true>(o + col, ldo);
}

SD_AMX void accumulate(int64_t n, int64_t dp, const uint16_t* p, const uint16_t* vt, float* o, int64_t ldo) {
  int64_t col = 0;
  for (; col + 64 <= dp; col += 64) value_block<4>(n, dp, p, vt, col, o, ldo);
  switch ((dp - col) / 16) {
    case 3: value_block<3>(n, dp, p, vt, col, o, ldo); break;
    case 2: value_block<2>(n, dp, p, vt, col, o, ldo); break;
    case 1: value_block<1>(n, dp, p, vt, col, o, ldo); break;
    default: break;
  }
}

// accumulate() for 32 rows, two 16-row groups of P (p and p + 16 n) and of O (o and
// o + 16 ldo), 32 output columns at a time: each value block loaded serves both groups.
// dp a multiple of 32, and A1 and B1 full-shaped (no short head-dim chunk).
SD_AMX void accumulate_pair(int64_t n, int64_t dp, const uint16_t* p, const uint16_t* vt, float* o, int64_t ldo) {
  float* o1 = o + 16 * ldo;
  for (int64_t col = 0; col < dp; col += 32) {
    tile_load<0>(o + col, ldo * 4);
    tile_load<1>(o + col + 16, ldo * 4);
    tile_load<2>(o1 + col, ldo * 4);
    tile_load<3>(o1 + col + 16, ldo * 4);
    for (int64_t k = 0; k < n; k += 32) {
      tile_load<kA0>(p + k * 16, 64);
      tile_load<kA1>(p + 16 * n + k * 16, 64);
      tile_load<kB0>(vt + (k / 2 * dp + col) * 2, dp * 4);
      tile_load<kB1>(vt + (k / 2 * dp + col + 16) * 2, dp * 4);
      tile_dot<0, kA0, kB0>();
      tile_dot<1, kA0, kB1>();
      tile_dot<2, kA1, kB0>();
      tile_dot<3, kA1, kB1>();
    }
    tile_store<0>(o + col, ldo * 4);
    tile_store<1>(o + col + 16, ldo * 4);
    tile_store<2>(o1 + col, ldo * 4);
    tile_store<3>(o1 + col + 16, ldo * 4);
  }
}

// Lanes of a 16-column group that are among a row's first `left` keys.
SD_AVX512 inline __mmask16 keys_left(int64_t left) {
  return left <= 0 ? __mmask16(0) : left >= 16 ? __mmask16(0xffff) : avx512::V::tail_mask(left);
}

// bf16 probabilities of a row's 32 scores from key j into p, added to `sum`; Masked: only
// the first `lim` keys count, the rest are written as zeros. si and pi point at the row in
// the first block of S and P, and key j's group of 16 is 16 j further.
template <bool Masked>
SD_AVX512 inline __m512 probabilities(const float* si, int64_t j, int64_t lim, __m512 cv, __m512 rv, uint16_t* pi,
                                      __m512 sum) {
  const __m512 x0 = _mm512_fmsub_ps(_mm512_loadu_ps(si + 16 * j), cv, rv);
  const __m512 x1 = _mm512_fmsub_ps(_mm512_loadu_ps(si + 16 * (j + 16)), cv, rv);
  __m512 e0 = avx512::exp2_for_bf16(x0), e1 = avx512::exp2_for_bf16(x1);
  if constexpr (Masked) {
    e0 = _mm512_maskz_mov_ps(keys_left(lim - j), e0);
    e1 = _mm512_maskz_mov_ps(keys_left(lim - j - 16), e1);
  }
  const __m512bh two = _mm512_cvtne2ps_pbh(e1, e0);
  _mm512_storeu_si512(pi + 16 * j, reinterpret_cast<const __m512i&>(two));
  return _mm512_add_ps(sum, _mm512_add_ps(e0, e1));
}

// A row's probabilities against reference `ref` into P, added to its lane sums at li.
// Returns the largest of this tile's lane sums.
SD_AVX512 inline float row_probabilities(const float* si, int64_t n, int64_t lim, __m512 cv, float ref,
                                         uint16_t* pi, float* li) {
  const __m512 rv = _mm512_set1_ps(ref);
  __m512 sum = _mm512_setzero_ps();
  int64_t j = 0;
  for (; j + 32 <= lim; j += 32) sum = probabilities<false>(si, j, lim, cv, rv, pi, sum);
  for (; j < n; j += 32) sum = probabilities<true>(si, j, lim, cv, rv, pi, sum);
  _mm512_storeu_ps(li, _mm512_add_ps(_mm512_loadu_ps(li), sum));
  return _mm512_reduce_max_ps(sum);
}

// The largest of a row's first `lim` scores times c, -inf for none.
SD_AVX512 inline float row_max(const float* si, int64_t lim, __m512 cv) {
  // Four running maxima, so the loads are not serialised behind one vmaxps chain.
  const __m512 neg_inf = _mm512_set1_ps(-__builtin_inff());
  __m512 top[4] = {neg_inf, neg_inf, neg_inf, neg_inf};
  int64_t j = 0;
  for (; j + 64 <= lim; j += 64)
    for (int u = 0; u < 4; ++u)
      top[u] = _mm512_max_ps(top[u], _mm512_mul_ps(_mm512_loadu_ps(si + 16 * (j + 16 * u)), cv));
  for (; j + 16 <= lim; j += 16) top[0] = _mm512_max_ps(top[0], _mm512_mul_ps(_mm512_loadu_ps(si + 16 * j), cv));
  if (j < lim)
    top[1] = _mm512_max_ps(top[1], _mm512_mask_mul_ps(neg_inf, keys_left(lim - j), _mm512_loadu_ps(si + 16 * j), cv));
  return _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(top[0], top[1]), _mm512_max_ps(top[2], top[3])));
}

// A row's reference (its exponent's zero) moves only by the slack rule of attention_block,
// and at most once per tile. Only a row's first tile finds its maximum in a pass of its
// own; later tiles write the probabilities against the reference the row has, and check
// their sums instead of every score: a score more than the slack above the reference makes
// a probability, and so its lane's sum, above 2^slack. In that rare case (or when many
// scores lie a few units above it, 32 keys a lane), the lane sums saved first are put back
// and the tile is written again from its maximum. The columns before a row's last key
// need no mask.
SD_AVX512 void softmax(int64_t m, int64_t n, const float* s, int64_t valid, float c, bool causal, int64_t diag,
                       float* mx, float* lsum, float* o, int64_t ldo, int64_t d, uint16_t* p) {
  const __m512 cv = _mm512_set1_ps(c);
  const float most = __builtin_exp2f(avx512::kAttentionSlack);
  const auto move_reference = [&](int64_t i, float to) SD_AVX512 {
    const float ref = mx[i];
    const float alpha = ref == -__builtin_inff() ? 0.f : __builtin_exp2f(ref - to);
    float* li = lsum + i * 16;
    _mm512_storeu_ps(li, _mm512_mul_ps(_mm512_loadu_ps(li), _mm512_set1_ps(alpha)));
    float* oi = o + i * ldo;
    for (int64_t t = 0; t < d; ++t) oi[t] *= alpha;
    mx[i] = to;
  };
  for (int64_t i = 0; i < m; ++i) {
    int64_t lim = valid;
    if (causal) lim = std::min(lim, std::max<int64_t>(0, diag + i + 1));
    const float* si = s + 16 * i;
    float* li = lsum + i * 16;
    uint16_t* pi = p + 32 * i;
    if (mx[i] == -__builtin_inff()) {
      const float top = row_max(si, lim, cv);
      if (top > -__builtin_inff()) move_reference(i, top);
      row_probabilities(si, n, lim, cv, mx[i], pi, li);
      continue;
    }
    const __m512 saved = _mm512_loadu_ps(li);
    if (row_probabilities(si, n, lim, cv, mx[i], pi, li) > most) {
      _mm512_storeu_ps(li, saved);
      move_reference(i, std::max(mx[i], row_max(si, lim, cv)));
      row_probabilities(si, n, lim, cv, mx[i], pi, li);
    }
  }
}

// Scores and probabilities 64 keys at a time, for rows whose reference is set: each
// chunk's scores stay in a 4 KiB block per 16 rows in the L1 cache between the tile unit's
// stores and the softmax's loads (the whole tile's, 16 rows x 512 keys, are twice the L1).
// m <= 32 rows: over 16, two groups through score_pair_block. Returns the groups (bit g:
// rows 16 g ..) whose reference must move (softmax's check), their lane sums untouched:
// the caller then runs scores() and softmax() on them.
SD_AMX int scores_probabilities(int64_t m, int64_t n, int64_t pairs, const uint16_t* q, int64_t ldq,
                                const uint16_t* kt, int64_t valid, float c, bool causal, int64_t diag,
                                const float* mx, float* lsum, uint16_t* p) {
  alignas(64) float s[2][4 * 256];
  __m512 sums[32];
  for (int64_t i = 0; i < m; ++i) sums[i] = _mm512_setzero_ps();
  const __m512 cv = _mm512_set1_ps(c);
  const bool two = m > 16;
  for (int64_t jb = 0; jb < n / 16; jb += 4) {
    const bool four = jb + 4 <= n / 16;
    if (two) {
      score_pair_block(pairs, q, ldq, kt, jb, s[0], s[1]);
      if (four) score_pair_block(pairs, q, ldq, kt, jb + 2, s[0] + 512, s[1] + 512);
    } else if (four) {
      score_block<4>(pairs, q, ldq, kt, jb, s[0]);
    } else {
      score_block<2>(pairs, q, ldq, kt, jb, s[0]);
    }
    const int64_t keys = four ? 64 : 32;
    for (int64_t i = 0; i < m; ++i) {
      int64_t lim = valid;
      if (causal) lim = std::min(lim, std::max<int64_t>(0, diag + i + 1));
      lim -= 16 * jb;
      const __m512 rv = _mm512_set1_ps(mx[i]);
      const float* si = s[i / 16] + 16 * (i % 16);
      uint16_t* pi = p + 16 * n * (i / 16) + 32 * (i % 16) + 256 * jb;
      for (int64_t j = 0; j < keys; j += 32)
        sums[i] = j + 32 <= lim ? probabilities<false>(si, j, lim, cv, rv, pi, sums[i])
                                : probabilities<true>(si, j, lim, cv, rv, pi, sums[i]);
    }
  }
  const float most = __builtin_exp2f(avx512::kAttentionSlack);
  int failed = 0;
  for (int64_t i = 0; i < m; ++i)
    if (_mm512_reduce_max_ps(sums[i]) > most) failed |= 1 << (i / 16);
  for (int64_t i = 0; i < m; ++i)
    if (!(failed >> (i / 16) & 1))
      _mm512_storeu_ps(lsum + 16 * i, _mm512_add_ps(_mm512_loadu_ps(lsum + 16 * i), sums[i]));
  return failed;
}

const AmxKernels table{configure, release, scores, scores_pair, softmax, scores_probabilities, accumulate,
                       accumulate_pair};

}  // namespace
}  // namespace sd::cpu::amx

namespace sd::cpu {

bool cpu_tiles_usable() {
  static const bool usable = [] {
    if (!__builtin_cpu_supports("amx-tile") || !__builtin_cpu_supports("amx-bf16")) return false;
    // Linux hands a process the tile registers' state only when asked (arch_prctl).
    constexpr int kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
  }();
  return usable;
}

const AmxKernels* amx_kernels() {
  static const AmxKernels* k = []() -> const AmxKernels* {
    const char* force = std::getenv("SD_CPU_ISA");
    if (force && *force) return nullptr;
    if (&kernels() != avx512_kernels() || !cpu_tiles_usable()) return nullptr;
    return &amx::table;
  }();
  return k;
}

}  // namespace sd::cpu
