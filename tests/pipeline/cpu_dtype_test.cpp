// The CPU's "auto" dtype: the rule for given rates, memory and model size, the model's
// size counted from its files, and the machine's own probe.
#include "pipeline/cpu_dtype.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "io/safetensors.h"
#include "pipeline/memory_admission.h"
#include "pipeline/pipeline.h"
#include "support/test_support.h"

namespace sd::pipeline {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kGiB = uint64_t(1) << 30;
constexpr uint64_t kSd15 = 1'066'000'000, kSdxl = 3'470'000'000;  // parameters

backend::CpuBf16Rates rates(bool native, bool tiles, double dot, double fma) {
  backend::CpuBf16Rates r;
  r.native = native;
  r.tiles = tiles;
  r.dot_gflops = dot;
  r.fma_gflops = fma;
  return r;
}

const backend::CpuBf16Rates kXeonWithoutAmx = rates(true, false, 86, 175);

TEST(CpuDtype, Bf16WhereItOutpacesF32) {
  // AMX: the tiles, whatever the vector rates and the memory.
  EXPECT_EQ(choose_cpu_dtype(rates(true, true, 86, 175), 64 * kGiB, kSd15).dtype, DType::BF16);
  // Dot products at twice the FMAs' rate.
  const CpuDtypeChoice fast = choose_cpu_dtype(rates(true, false, 160, 80), 64 * kGiB, kSd15);
  EXPECT_EQ(fast.dtype, DType::BF16);
  EXPECT_NE(fast.reason.find("160"), std::string::npos) << fast.reason;
}

TEST(CpuDtype, F32WhereBf16IsSlowerAndTheModelFitsInF32) {
  const CpuDtypeChoice xeon = choose_cpu_dtype(kXeonWithoutAmx, 8 * kGiB, kSd15);
  EXPECT_EQ(xeon.dtype, DType::F32) << "SD1.5 in f32 takes about 5.3 GB: " << xeon.reason;
  EXPECT_NE(xeon.reason.find("175"), std::string::npos) << xeon.reason;
  EXPECT_EQ(choose_cpu_dtype(kXeonWithoutAmx, 24 * kGiB, kSdxl).dtype, DType::F32);
  EXPECT_EQ(choose_cpu_dtype(rates(true, false, 100, 100), 24 * kGiB, kSd15).dtype, DType::F32)
      << "a tie: f32 is the exact one";
}

TEST(CpuDtype, Bf16WhereTheModelWouldNotFitInF32) {
  const CpuDtypeChoice sdxl = choose_cpu_dtype(kXeonWithoutAmx, 12 * kGiB, kSdxl);
  EXPECT_EQ(sdxl.dtype, DType::BF16);
  EXPECT_NE(sdxl.reason.find("12.0 GiB available"), std::string::npos) << sdxl.reason;
  // A model of unknown size (a Hub repository yet to download) is taken to be the largest.
  EXPECT_EQ(choose_cpu_dtype(kXeonWithoutAmx, 12 * kGiB, 0).dtype, DType::BF16);
  EXPECT_EQ(choose_cpu_dtype(kXeonWithoutAmx, 24 * kGiB, 0).dtype, DType::F32);
  // Without native bf16 it would be emulated, far slower: f32 whatever the memory.
  EXPECT_EQ(choose_cpu_dtype(rates(false, false, 0, 0), 2 * kGiB, kSdxl).dtype, DType::F32);
}

void write(const fs::path& file, const std::vector<std::pair<std::string, Shape>>& tensors, DType dtype) {
  std::vector<std::pair<std::string, Tensor>> ts;
  for (const auto& [name, shape] : tensors) ts.emplace_back(name, Tensor::zeros(shape, dtype));
  fs::create_directories(file.parent_path());
  io::write_safetensors(file.string(), ts);
}

TEST(CpuDtype, ModelParametersCountEachComponentOnce) {
  const fs::path dir(test::temp_dir("cpu-dtype-model"));
  // The UNet's weights in full precision and as the Hub's fp16 variant: counted once.
  write(dir / "unet" / "diffusion_pytorch_model.safetensors", {{"a", {64, 32}}, {"b", {7}}}, DType::F32);
  write(dir / "unet" / "diffusion_pytorch_model.fp16.safetensors", {{"a", {64, 32}}, {"b", {7}}}, DType::F16);
  write(dir / "text_encoder" / "model.safetensors", {{"e", {10, 3, 3}}}, DType::F32);
  write(dir / "vae" / "diffusion_pytorch_model.safetensors", {{"v", {5}}}, DType::F32);
  std::ofstream(dir / "vae" / "config.json") << "{}";
  LoadOptions opt;
  opt.model_path = dir.string();
  EXPECT_EQ(model_parameters(opt), uint64_t(64 * 32 + 7 + 90 + 5));

  // A single file: all its tensors.
  write(dir / "one.safetensors", {{"x", {3, 4}}, {"y", {2}}}, DType::F16);
  opt.model_path = (dir / "one.safetensors").string();
  EXPECT_EQ(model_parameters(opt), 14u);

  // Unknown where nothing can be read: the load names the problem, not the dtype's rule.
  std::ofstream(dir / "bad.safetensors") << "not a safetensors file";
  opt.model_path = (dir / "bad.safetensors").string();
  EXPECT_EQ(model_parameters(opt), 0u);
  opt.model_path = (dir / "missing").string();
  EXPECT_EQ(model_parameters(opt), 0u);
  fs::remove_all(dir);
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
  LoadOptions opt;
  opt.model_path = test::fixtures_dir() + "/tiny-sd15";
  const uint64_t parameters = model_parameters(opt);
  EXPECT_GT(parameters, 0u);
  EXPECT_EQ(auto_cpu_dtype(opt).dtype, choose_cpu_dtype(r, memory_available_to_process(0), parameters).dtype);
  EXPECT_EQ(default_cpu_dtype(opt), auto_cpu_dtype(opt).dtype);
}

}  // namespace
}  // namespace sd::pipeline
