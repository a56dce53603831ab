#include "pipeline/cpu_dtype.h"

#include <cstdio>

#include "core/log.h"
#include "pipeline/memory_admission.h"
#include "pipeline/pipeline.h"

namespace sd::pipeline {

namespace {
// What f32 needs for the largest model family, SDXL (sd-bench at 1024 px): its weights take
// 13.3 GB in float32 and its UNet step 1.2 GB more; the VAE decode tiles within the rest.
constexpr uint64_t kF32MemoryBytes = uint64_t(16) << 30;
}  // namespace

CpuDtypeChoice choose_cpu_dtype(const backend::CpuBf16Rates& rates, uint64_t available) {
  char line[200];
  if (rates.tiles) return {DType::BF16, "AMX-BF16 tiles"};
  if (!rates.native) return {DType::F32, "no AVX512-BF16 dot products"};
  std::snprintf(line, sizeof line, "bf16 dot products at %.0f GFLOP/s per core, float32 FMAs at %.0f",
                rates.dot_gflops, rates.fma_gflops);
  if (rates.dot_gflops > rates.fma_gflops) return {DType::BF16, line};
  std::string reason = line;
  if (available < kF32MemoryBytes) {
    std::snprintf(line, sizeof line, "; %.1f GiB available, under the %.0f GiB f32 may need",
                  double(available) / double(1 << 30), double(kF32MemoryBytes >> 30));
    return {DType::BF16, reason + line};
  }
  return {DType::F32, reason};
}

CpuDtypeChoice auto_cpu_dtype(uint64_t max_memory) {
  return choose_cpu_dtype(backend::cpu_bf16_rates(), memory_available_to_process(max_memory));
}

DType default_cpu_dtype(uint64_t max_memory) {
  const CpuDtypeChoice c = auto_cpu_dtype(max_memory);
  log_info("auto dtype on the CPU: " + std::string(dtype_name(c.dtype)) + " (" + c.reason + ")");
  return c.dtype;
}

}  // namespace sd::pipeline
