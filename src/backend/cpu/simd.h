#pragma once
// Row kernels chosen once at start-up for the machine's instruction set: AVX-512 with
// BF16 when the CPU has it, else the AVX2+FMA build baseline. Callers split the work
// across threads and hand each kernel contiguous rows. SD_CPU_ISA=avx2 forces the
// baseline, SD_CPU_ISA=avx512 the AVX-512 kernels without AMX (for comparisons).
#include <cstdint>

#include "backend/cpu/act.h"

namespace sd::cpu {

struct Kernels {
  const char* isa;
  void (*bf16_to_f32)(const uint16_t* src, float* dst, int64_t n);
  void (*f32_to_bf16)(const float* src, uint16_t* dst, int64_t n);
  // x[i] = act(x[i]).
  void (*activation)(float* x, int64_t n, Act act);
  // out[i] = a[i] * gelu(gate[i]) (exact-erf GELU).
  void (*gelu_mul)(const float* a, const float* gate, float* out, int64_t n);
  // The same on bf16 values. nullptr without AVX-512.
  void (*gelu_mul_bf16)(const uint16_t* a, const uint16_t* gate, uint16_t* out, int64_t n);
  // x[i] = exp(x[i] - shift); returns the sum of the results.
  float (*exp_shift_sum)(float* x, int64_t n, float shift);
  float (*max)(const float* x, int64_t n);
  // Mean and sum of squared deviations (two passes).
  void (*moments)(const float* x, int64_t n, double* mean, double* m2);
  // y[i] = x[i] * a[i] + b[i], then SiLU if asked.
  void (*affine)(const float* x, const float* a, const float* b, float* y, int64_t n, bool silu);
  // Column sums over `rows` rows of n bf16 values (rows n apart): out[j] += x[i][j], or
  // with mu, out[j] += (x[i][j] - mu[j])^2. nullptr without AVX-512.
  void (*column_sums_bf16)(const uint16_t* x, int64_t rows, int64_t n, const float* mu, float* out);
  // y = x a + b, then SiLU if asked, on `rows` rows of n bf16 values (x and y rows n
  // apart), a and b shared by the rows: a channels-last group norm's pixels. nullptr
  // without AVX-512.
  void (*affine_bf16)(const uint16_t* x, const float* a, const float* b, uint16_t* y, int64_t rows, int64_t n,
                      bool silu);
  // C[m x n] (+)= A[m x k] B[k x n]; n a multiple of 16.
  void (*gemm_f32)(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
                   int64_t ldb, float* c, int64_t ldc, bool acc);
  // The same on bf16 pairs: A [m x 2*k2] bf16 (rows lda elements apart), B packed as
  // [k2][n][2] (b[(p*n + j)*2 + t] = B[2p+t][j]); n a multiple of 8. nullptr without
  // AVX512_BF16.
  void (*gemm_bf16)(int64_t m, int64_t n, int64_t k2, const uint16_t* a, int64_t lda,
                    const uint16_t* b, float* c, int64_t ldc, bool acc);
  // Online-softmax step over a score tile; see softmax_tile in row_kernels.inc.
  void (*softmax_tile)(float* s, int64_t lds, int64_t m, int64_t n, int64_t n_pad, float c,
                       bool causal, int64_t diag, float* mx, float* l, float* o, int64_t ldo,
                       int64_t d);
  // The bf16 path's scores and online-softmax step in one: Q [m x 2*k2] bf16 (rows ldq
  // apart) against a key tile packed as gemm_bf16's B ([k2][n][2], n a multiple of 16) of
  // which the first `valid` keys are real (causal rows see the first clamp(diag + i + 1)).
  // Writes the probabilities as bf16 to p (rows ldp apart, zero past a row's keys), keeps
  // each row's exponent reference mx[i] (log2 units, -inf at first) and 16 partial sums
  // lsum[16 i ...], and rescales the row's output (d floats, ldo apart in o) when the
  // reference moves. 2^x is accurate to 1e-4, below bf16's rounding. nullptr without
  // AVX512_BF16.
  void (*attention_tile_bf16)(int64_t m, int64_t n, int64_t k2, const uint16_t* q, int64_t ldq,
                              const uint16_t* kt, int64_t valid, float c, bool causal, int64_t diag,
                              float* mx, float* lsum, float* o, int64_t ldo, int64_t d, uint16_t* p,
                              int64_t ldp);
};

// Tile (AMX-BF16) kernels for the bf16 attention, on CPUs that have them (Sapphire Rapids
// on): its two products run on the tile unit (SD1.5's UNet attention measured 3x faster
// than with AVX512_BF16's dot products).
// The products take 16 query rows; a key tile n is a multiple of 32 keys, an output row dp
// a multiple of 16.
struct AmxKernels {
  // Sets this thread's tile shapes for a head dim of `pairs` bf16 pairs; release() frees them.
  void (*configure)(int64_t pairs);
  void (*release)();
  // The three steps below work on 16 query rows and a key tile of n keys (a multiple of 32),
  // in blocked layouts whose tile operands are each a contiguous 1 KiB or less: the key tile
  // as blocks of 16 keys, [n/16][pairs][16][2]; S as [n/16][16 rows][16] f32; P as
  // [n/32][16 rows][32] bf16.
  // S = Q [16 x 2*pairs] bf16 (rows ldq apart) times the key tile.
  void (*scores)(int64_t n, int64_t pairs, const uint16_t* q, int64_t ldq, const uint16_t* kt, float* s);
  // The same for 32 rows (Q's two groups of 16), the second group's S at s + 16 n.
  void (*scores_pair)(int64_t n, int64_t pairs, const uint16_t* q, int64_t ldq, const uint16_t* kt, float* s);
  // The online-softmax step of attention_tile_bf16 (same arguments and results) on m <= 16
  // rows of S, writing P.
  void (*softmax)(int64_t m, int64_t n, const float* s, int64_t valid, float c, bool causal, int64_t diag,
                  float* mx, float* lsum, float* o, int64_t ldo, int64_t d, uint16_t* p);
  // Both steps above in one pass, for m <= 32 rows (two groups of 16: Q's rows, P's blocks
  // and the sums contiguous) whose references are all set (no row's first tile). Returns
  // the groups (bit g for rows 16 g ..) where softmax would move a reference, their lsum
  // untouched and P to be rewritten: run the two steps one after the other on those.
  int (*scores_probabilities)(int64_t m, int64_t n, int64_t pairs, const uint16_t* q, int64_t ldq,
                              const uint16_t* kt, int64_t valid, float c, bool causal, int64_t diag,
                              const float* mx, float* lsum, uint16_t* p);
  // O [16 x dp] f32 (rows ldo apart) += P times a value tile packed [n/2][dp][2].
  void (*accumulate)(int64_t n, int64_t dp, const uint16_t* p, const uint16_t* vt, float* o, int64_t ldo);
  // The same for 32 rows: P's two groups 16 n apart, O's 16 ldo apart; for head dims of
  // whole 16-pair chunks (dp a multiple of 32).
  void (*accumulate_pair)(int64_t n, int64_t dp, const uint16_t* p, const uint16_t* vt, float* o, int64_t ldo);
};

const Kernels& kernels();
// nullptr without AMX-BF16, when the kernels in use are not the AVX-512 ones, when
// SD_CPU_ISA names an instruction set, or when the OS refuses the tile state.
const AmxKernels* amx_kernels();
const Kernels& baseline_kernels();
// The AVX-512 table, or nullptr when the CPU lacks AVX-512 with BF16.
const Kernels* avx512_kernels();
// Whether the CPU has AMX-BF16 tiles and the OS lets this process use them (whatever
// SD_CPU_ISA says: oneDNN's primitives use them too).
bool cpu_tiles_usable();

}  // namespace sd::cpu
