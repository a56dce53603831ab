#include "pipeline/pipeline.h"

namespace sd::pipeline {

DType default_cpu_dtype() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512bf16") ? DType::BF16 : DType::F32;
}

}  // namespace sd::pipeline
