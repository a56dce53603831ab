#include "pipeline/cpu_dtype.h"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <filesystem>

#include "core/log.h"
#include "core/number_text.h"
#include "io/safetensors.h"
#include "loaders/model_source.h"
#include "pipeline/memory_admission.h"
#include "pipeline/pipeline.h"

namespace sd::pipeline {

namespace fs = std::filesystem;

namespace {
// f32 needs its weights at 4 bytes each and a quarter more: a native-size UNet step took
// 7-11% more (sd-bench --e2e, f32: SD1.5 512, SD2.1 768, SDXL 1024), and the VAE decode
// tiles within what is left.
constexpr uint64_t f32_need(uint64_t parameters) { return parameters * 4 * 5 / 4; }
// Where the model's size is not known: what SDXL, the largest family, needs (its weights
// took 13.3 GB in f32 and its UNet step at 1024 px 1.2 GB more).
constexpr uint64_t kF32UnknownModelBytes = uint64_t(16) << 30;

uint64_t file_parameters(const fs::path& file) {
  const io::SafetensorsFile f = io::SafetensorsFile::open(file.string());
  uint64_t n = 0;
  for (const std::string& name : f.names()) n += uint64_t(f.info(name).shape.product());
  return n;
}

// A component folder may hold a weight file and its fp16 variant: the same weights twice.
uint64_t folder_parameters(const fs::path& dir) {
  uint64_t most = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file(ec) && e.path().extension() == ".safetensors")
      most = std::max(most, file_parameters(e.path()));
  return most;
}
}  // namespace

CpuDtypeChoice choose_cpu_dtype(const backend::CpuBf16Rates& rates, uint64_t available, uint64_t parameters) {
  if (rates.tiles) return {DType::BF16, "AMX-BF16 tiles"};
  if (!rates.native) return {DType::F32, "no AVX512-BF16 dot products"};
  char line[128];
  std::snprintf(line, sizeof line, "bf16 dot products at %.0f GFLOP/s per core, float32 FMAs at %.0f",
                rates.dot_gflops, rates.fma_gflops);
  std::string reason = line;
  if (rates.dot_gflops > rates.fma_gflops) return {DType::BF16, reason};
  const uint64_t need = parameters ? f32_need(parameters) : kF32UnknownModelBytes;
  if (available < need)
    return {DType::BF16,
            reason + "; " + gib_text(available) + " available, under the " + gib_text(need) + " f32 would need"};
  return {DType::F32, reason};
}

uint64_t model_parameters(const LoadOptions& opt) {
  try {
    const ModelSource src = resolve_model_source(opt);
    if (src.kind == ModelSource::Kind::SingleFile) return file_parameters(src.location);
    if (src.kind != ModelSource::Kind::DiffusersFolder) return 0;
    uint64_t n = 0;
    for (const char* part : {"unet", "text_encoder", "text_encoder_2", "vae"})
      n += folder_parameters(fs::path(src.location) / part);
    return n;
  } catch (const std::exception&) {  // sd::Error, or the file system's: the load says which
    return 0;
  }
}

CpuDtypeChoice auto_cpu_dtype(const LoadOptions& opt) {
  return choose_cpu_dtype(backend::cpu_bf16_rates(), memory_available_to_process(opt.max_memory),
                          model_parameters(opt));
}

DType default_cpu_dtype(const LoadOptions& opt) {
  const CpuDtypeChoice c = auto_cpu_dtype(opt);
  log_info("auto dtype on the CPU: " + std::string(dtype_name(c.dtype)) + " (" + c.reason + ")");
  return c.dtype;
}

}  // namespace sd::pipeline
