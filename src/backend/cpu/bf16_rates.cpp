// The probe behind backend::cpu_bf16_rates(): one core's AVX512-BF16 dot-product rate and
// its float32 FMA rate, each loop timed several times in alternation (the best of each), so
// that a clock change or a busy neighbour hits both alike.

// GCC 12 flags the deliberately undefined registers inside its own AVX-512 intrinsics once
// they are inlined into target-attributed code (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <immintrin.h>

#include <algorithm>
#include <chrono>

#include "backend/backend.h"
#include "backend/cpu/simd.h"
#include "backend/cpu/vec_avx512.h"

namespace sd::backend {

namespace {

// Twelve independent accumulators hide either instruction's latency on every CPU that
// has them, so each loop runs at its instruction's throughput.
constexpr int kChains = 12;
constexpr int kIterations = 4000;  // 48k instructions: tens of microseconds
constexpr int kRounds = 7;

using Clock = std::chrono::steady_clock;

volatile float g_sink;  // where the loops' sums go, so that they are computed

// Seconds for kIterations rounds of kChains FMAs of 16 floats (32 FLOP each).
SD_AVX512 double time_fma(float* sink) {
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(float(i));
  __m512 a = _mm512_set1_ps(1.0f), b = _mm512_set1_ps(0.5f);
  const auto t = Clock::now();
  for (int k = 0; k < kIterations; ++k) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_fmadd_ps(a, b, acc[i]);
    asm volatile("" : "+v"(a));  // keeps the loop from being folded
  }
  const double s = std::chrono::duration<double>(Clock::now() - t).count();
  for (int i = 1; i < kChains; ++i) acc[0] = _mm512_add_ps(acc[0], acc[i]);
  *sink += _mm512_reduce_add_ps(acc[0]);
  return s;
}

// Seconds for kIterations rounds of kChains bf16 dot products of 32 pairs (64 FLOP each).
SD_AVX512 double time_dot(float* sink) {
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(float(i));
  __m512bh a = __m512bh(_mm512_set1_epi16(0x3f80)), b = __m512bh(_mm512_set1_epi16(0x3f00));  // 1, 0.5
  const auto t = Clock::now();
  for (int k = 0; k < kIterations; ++k) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
    asm volatile("" : "+v"(a));
  }
  const double s = std::chrono::duration<double>(Clock::now() - t).count();
  for (int i = 1; i < kChains; ++i) acc[0] = _mm512_add_ps(acc[0], acc[i]);
  *sink += _mm512_reduce_add_ps(acc[0]);
  return s;
}

CpuBf16Rates probe() {
  CpuBf16Rates r;
  r.tiles = cpu::cpu_tiles_usable();
  if (!cpu::avx512_kernels()) return r;  // no AVX512-BF16: oneDNN emulates bf16, far behind f32
  r.native = true;
  float sink = 0;
  double fma = 1e9, dot = 1e9;
  for (int i = 0; i < kRounds; ++i) {
    fma = std::min(fma, time_fma(&sink));
    dot = std::min(dot, time_dot(&sink));
  }
  const double instructions = double(kIterations) * kChains;
  r.fma_gflops = instructions * 32 / fma * 1e-9;
  r.dot_gflops = instructions * 64 / dot * 1e-9;
  g_sink = sink;
  return r;
}

}  // namespace

const CpuBf16Rates& cpu_bf16_rates() {
  static const CpuBf16Rates rates = probe();
  return rates;
}

}  // namespace sd::backend
