#pragma once
// The CPU's "auto" compute dtype and the rule behind it (default_cpu_dtype in pipeline.h
// applies it to a model on this machine).
#include <cstdint>
#include <string>

#include "backend/backend.h"
#include "core/dtype.h"
#include "loaders/load_options.h"

namespace sd::pipeline {

struct CpuDtypeChoice {
  DType dtype = DType::F32;
  std::string reason;  // one line: the rates and the memory that decided it
};

// bf16 where the CPU's bf16 arithmetic outpaces its float32 (AMX tiles, or AVX512-BF16 dot
// products faster than FMAs); else f32, which then runs faster, unless `available` bytes
// are too few for a model of `parameters` weights (0: not known) in f32 and the CPU has
// native bf16, which halves the memory.
CpuDtypeChoice choose_cpu_dtype(const backend::CpuBf16Rates& rates, uint64_t available, uint64_t parameters);

// The weights of the model `opt` names, counted from its files' headers: a diffusers
// folder's UNet, text encoders and VAE, or a single file. 0 where they are not on disk (a
// Hub repository yet to download) or not readable (the load then says why).
uint64_t model_parameters(const LoadOptions& opt);

// choose_cpu_dtype for this machine's rates (probed once), the memory available to the
// process within opt.max_memory, and the model's parameters.
CpuDtypeChoice auto_cpu_dtype(const LoadOptions& opt);

}  // namespace sd::pipeline
