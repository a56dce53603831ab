#pragma once
// The CPU's "auto" compute dtype and the rule behind it (default_cpu_dtype in pipeline.h
// applies it to this machine).
#include <cstdint>
#include <string>

#include "backend/backend.h"
#include "core/dtype.h"

namespace sd::pipeline {

struct CpuDtypeChoice {
  DType dtype = DType::F32;
  std::string reason;  // one line: the rates and the memory that decided it
};

// bf16 where the CPU's bf16 arithmetic outpaces its float32 (AMX tiles, or AVX512-BF16 dot
// products faster than FMAs); else f32, which then runs faster, unless `available` bytes
// are too few for the largest model in f32 and the CPU has native bf16, which halves the
// memory.
CpuDtypeChoice choose_cpu_dtype(const backend::CpuBf16Rates& rates, uint64_t available);

// choose_cpu_dtype for this machine's rates (probed once) and the memory available to the
// process within `max_memory` (0: no limit of its own).
CpuDtypeChoice auto_cpu_dtype(uint64_t max_memory);

}  // namespace sd::pipeline
