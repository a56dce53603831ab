// The AVX-512 and AVX2 row kernels against scalar references, on lengths that exercise
// the vector tails and on extreme inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <string>
#include <random>
#include <vector>

#include "backend/cpu/simd.h"
#include "core/half.h"

namespace sd::cpu {
namespace {

// The kernel tables this CPU runs. Without AVX-512 only the baseline is tested, and every
// test says so in its output (and Simd.Avx512KernelsAreTested shows as skipped).
std::vector<const Kernels*> tables() {
  std::vector<const Kernels*> t{&baseline_kernels()};
  if (avx512_kernels())
    t.push_back(avx512_kernels());
  else
    std::printf("[   NOTE   ] no AVX-512 on this CPU: the AVX-512 kernels are not tested\n");
  return t;
}

TEST(Simd, Avx512KernelsAreTested) {
  if (!avx512_kernels()) GTEST_SKIP() << "no AVX-512 on this CPU: its kernels are not tested here";
  EXPECT_EQ(tables().size(), 2u);
  EXPECT_NE(std::string(avx512_kernels()->isa), std::string(baseline_kernels().isa));
}

// The bf16 attention runs on the tile unit wherever the CPU has one, unless SD_CPU_ISA
// names the vector kernels (the "avx512." and "avx2." runs of these tests).
TEST(Simd, AmxAttentionWhereTheCpuHasIt) {
  const char* force = std::getenv("SD_CPU_ISA");
  if (force && *force) {
    EXPECT_EQ(amx_kernels(), nullptr) << "SD_CPU_ISA=" << force;
    return;
  }
  if (!avx512_kernels() || !__builtin_cpu_supports("amx-bf16"))
    GTEST_SKIP() << "no AMX-BF16 on this CPU: the tile kernels are not tested here";
  EXPECT_NE(amx_kernels(), nullptr);
}

std::vector<float> inputs(int64_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = d(rng);
  return v;
}

double ref_act(double x, Act a) {
  switch (a) {
    case Act::SiLU: return x / (1 + std::exp(-x));
    case Act::GELU: return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
    case Act::QuickGELU: return x / (1 + std::exp(-1.702 * x));
    case Act::ReLU: return x > 0 ? x : 0;
    case Act::Tanh: return std::tanh(x);
    case Act::None: return x;
  }
  return x;
}

TEST(Simd, ActivationsMatchScalarMath) {
  for (const Kernels* k : tables())
    for (Act a : {Act::SiLU, Act::GELU, Act::QuickGELU, Act::ReLU, Act::Tanh})
      for (int64_t n : {1, 7, 16, 37, 1000}) {
        auto x = inputs(n, uint32_t(n), -12.f, 12.f);
        if (n == 1000) {  // extremes and tiny values
          x[0] = -200.f;
          x[1] = 200.f;
          x[2] = 1e-6f;
          x[3] = -1e-6f;
          x[4] = 0.f;
        }
        auto y = x;
        k->activation(y.data(), n, a);
        for (int64_t i = 0; i < n; ++i) {
          const double r = ref_act(x[size_t(i)], a);
          ASSERT_NEAR(y[size_t(i)], r, 1e-6 * std::max(1.0, std::fabs(r)))
              << k->isa << " act " << int(a) << " x=" << x[size_t(i)];
        }
      }
}

TEST(Simd, GeluMulExpAndMoments) {
  for (const Kernels* k : tables())
    for (int64_t n : {3, 16, 45, 517}) {
      auto a = inputs(n, 1, -3.f, 3.f), g = inputs(n, 2, -6.f, 6.f);
      std::vector<float> out(static_cast<size_t>(n));
      k->gelu_mul(a.data(), g.data(), out.data(), n);
      for (int64_t i = 0; i < n; ++i)
        ASSERT_NEAR(out[size_t(i)], a[size_t(i)] * ref_act(g[size_t(i)], Act::GELU), 2e-6) << k->isa;

      auto x = inputs(n, 3, -30.f, 10.f);
      auto e = x;
      const float sum = k->exp_shift_sum(e.data(), n, 4.f);
      double ref_sum = 0;
      for (int64_t i = 0; i < n; ++i) {
        const double r = std::exp(double(x[size_t(i)] - 4.f));  // the kernel subtracts in float
        ref_sum += r;
        ASSERT_NEAR(e[size_t(i)], r, 3e-7 * r + 1e-30) << k->isa;
      }
      EXPECT_NEAR(sum, ref_sum, 1e-6 * ref_sum) << k->isa;
      EXPECT_EQ(k->max(x.data(), n), *std::max_element(x.begin(), x.end())) << k->isa;

      auto m = inputs(n, 4, 1000.f, 1001.f);
      double mean, m2, rm = 0, rq = 0;
      k->moments(m.data(), n, &mean, &m2);
      for (float v : m) rm += v;
      rm /= double(n);
      for (float v : m) rq += (v - rm) * (v - rm);
      EXPECT_NEAR(mean, rm, 1e-4) << k->isa;
      EXPECT_NEAR(m2, rq, 1e-3 * rq) << k->isa;
    }
}

TEST(Simd, Bf16ConversionsRoundToNearestEven) {
  for (const Kernels* k : tables()) {
    auto x = inputs(77, 5, -100.f, 100.f);
    x[0] = 1.0f + 1.0f / 256;  // a tie: rounds to even
    x[1] = INFINITY;
    x[2] = -0.f;
    std::vector<uint16_t> b(77);
    k->f32_to_bf16(x.data(), b.data(), 77);
    std::vector<float> back(77);
    k->bf16_to_f32(b.data(), back.data(), 77);
    for (size_t i = 0; i < 77; ++i) {
      ASSERT_EQ(b[i], f32_to_bf16(x[i])) << k->isa << " at " << i;
      ASSERT_EQ(back[i], bf16_to_f32(b[i]));
    }
  }
}

TEST(Simd, GemmMatchesLoops) {
  for (const Kernels* k : tables()) {
    const int64_t m = 13, n = 80, kk = 19;
    auto a = inputs(m * kk, 6, -1.f, 1.f), b = inputs(kk * n, 7, -1.f, 1.f);
    auto c = inputs(m * n, 8, -1.f, 1.f);
    auto c0 = c;
    k->gemm_f32(m, n, kk, a.data(), kk, b.data(), n, c.data(), n, true);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double r = c0[size_t(i * n + j)];
        for (int64_t p = 0; p < kk; ++p) r += double(a[size_t(i * kk + p)]) * b[size_t(p * n + j)];
        ASSERT_NEAR(c[size_t(i * n + j)], r, 1e-5) << k->isa;
      }
    if (!k->gemm_bf16) {
      std::printf("[   NOTE   ] the %s kernels have no bf16 GEMM: not tested\n", k->isa);
      continue;
    }
    // bf16 pairs: A [m][2*k2], B packed [k2][n][2]; values exact in bf16.
    const int64_t k2 = 10;
    std::vector<uint16_t> ab(static_cast<size_t>(m * 2 * k2)), bb(static_cast<size_t>(k2 * n * 2));
    std::vector<float> af(ab.size()), bf(bb.size());
    for (size_t i = 0; i < ab.size(); ++i) af[i] = bf16_to_f32(ab[i] = f32_to_bf16(a[i % a.size()]));
    for (size_t i = 0; i < bb.size(); ++i) bf[i] = bf16_to_f32(bb[i] = f32_to_bf16(b[i % b.size()]));
    std::vector<float> cb(static_cast<size_t>(m * n));
    k->gemm_bf16(m, n, k2, ab.data(), 2 * k2, bb.data(), cb.data(), n, false);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double r = 0;
        for (int64_t p = 0; p < 2 * k2; ++p)
          r += double(af[size_t(i * 2 * k2 + p)]) * bf[size_t(((p / 2) * n + j) * 2 + p % 2)];
        ASSERT_NEAR(cb[size_t(i * n + j)], r, 1e-5) << k->isa;
      }
  }
}

}  // namespace
}  // namespace sd::cpu
