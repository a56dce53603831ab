// The CPU's "auto" dtype: the rule for given rates and memory, and the machine's own probe.
#include "pipeline/cpu_dtype.h"

#include <gtest/gtest.h>

#include "pipeline/memory_admission.h"
#include "pipeline/pipeline.h"

namespace sd::pipeline {
namespace {

constexpr uint64_t kGiB = uint64_t(1) << 30;

backend::CpuBf16Rates rates(bool native, bool tiles, double dot, double fma) {
  backend::CpuBf16Rates r;
  r.native = native;
  r.tiles = tiles;
  r.dot_gflops = dot;
  r.fma_gflops = fma;
  return r;
}

TEST(CpuDtype, Bf16WhereItOutpacesF32) {
  // AMX: the tiles, whatever the vector rates.
  EXPECT_EQ(choose_cpu_dtype(rates(true, true, 86, 175), 2 * kGiB).dtype, DType::BF16);
  // AMD's dot products at twice the FMAs' rate.
  const CpuDtypeChoice amd = choose_cpu_dtype(rates(true, false, 160, 80), 64 * kGiB);
  EXPECT_EQ(amd.dtype, DType::BF16);
  EXPECT_NE(amd.reason.find("160"), std::string::npos) << amd.reason;
}

TEST(CpuDtype, F32WhereBf16IsSlowerAndMemoryAllows) {
  // A Xeon without AMX: dot products at half the FMAs' rate.
  const CpuDtypeChoice xeon = choose_cpu_dtype(rates(true, false, 86, 175), 24 * kGiB);
  EXPECT_EQ(xeon.dtype, DType::F32);
  EXPECT_NE(xeon.reason.find("175"), std::string::npos) << xeon.reason;
  EXPECT_EQ(choose_cpu_dtype(rates(true, false, 100, 100), 24 * kGiB).dtype, DType::F32) << "a tie: f32 is exact";
}

TEST(CpuDtype, Bf16WhereF32WouldNotFitAndBf16IsNative) {
  const CpuDtypeChoice small = choose_cpu_dtype(rates(true, false, 86, 175), 8 * kGiB);
  EXPECT_EQ(small.dtype, DType::BF16);
  EXPECT_NE(small.reason.find("8.0 GiB"), std::string::npos) << small.reason;
  // Without native bf16 it would be emulated, far slower: f32 whatever the memory.
  EXPECT_EQ(choose_cpu_dtype(rates(false, false, 0, 0), 8 * kGiB).dtype, DType::F32);
}

TEST(CpuDtype, ThisMachinesProbe) {
  const backend::CpuBf16Rates& r = backend::cpu_bf16_rates();
  __builtin_cpu_init();
  const bool native = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
                      __builtin_cpu_supports("avx512bf16");
  EXPECT_EQ(r.native, native);
  if (native) {
    // Both loops ran: one core does at least one instruction per 4 ns, at most a few per cycle.
    EXPECT_GT(r.dot_gflops, 64 * 0.25);
    EXPECT_GT(r.fma_gflops, 32 * 0.25);
    EXPECT_LT(r.dot_gflops, 64 * 4 * 6.0);
    EXPECT_LT(r.fma_gflops, 32 * 4 * 6.0);
  } else {
    EXPECT_EQ(r.dot_gflops, 0);
  }
  EXPECT_EQ(&backend::cpu_bf16_rates(), &r) << "probed once per process";
  EXPECT_EQ(auto_cpu_dtype(0).dtype, choose_cpu_dtype(r, memory_available_to_process(0)).dtype);
  EXPECT_EQ(default_cpu_dtype(0), auto_cpu_dtype(0).dtype);
}

}  // namespace
}  // namespace sd::pipeline
