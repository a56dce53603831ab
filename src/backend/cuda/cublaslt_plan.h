#pragma once
// What the cuBLASLt products (linear layers, attention) share: the library's element type
// of a dtype, and one product's descriptors with the algorithm chosen for it, destroyed
// together.
#include <cublasLt.h>

#include <cstdint>
#include <string>

#include "core/dtype.h"
#include "core/error.h"

namespace sd::cuda {

// Hopper's recommended cuBLASLt workspace.
constexpr uint64_t kCublasLtWorkspaceBytes = uint64_t(32) << 20;

inline cudaDataType_t cublaslt_type(DType dt) {
  switch (dt) {
    case DType::F32: return CUDA_R_32F;
    case DType::F16: return CUDA_R_16F;
    case DType::BF16: return CUDA_R_16BF;
    default: throw Error(std::string("cuBLASLt products take f32, f16 or bf16, not ") + std::string(dtype_name(dt)));
  }
}

// c may stay null: the product then reads C from D's layout.
struct CublasLtPlan {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr, d = nullptr;
  cublasLtMatmulAlgo_t algo{};
  size_t workspace = 0;

  CublasLtPlan() = default;
  CublasLtPlan(const CublasLtPlan&) = delete;
  CublasLtPlan& operator=(const CublasLtPlan&) = delete;
  ~CublasLtPlan() {
    if (d) cublasLtMatrixLayoutDestroy(d);
    if (c) cublasLtMatrixLayoutDestroy(c);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (desc) cublasLtMatmulDescDestroy(desc);
  }
};

// Up to `count` of cuBLASLt's algorithms for the plan's product (C in D's layout when the
// plan has none), best first, for operands aligned to the given bytes and at most
// `workspace` bytes of scratch; returns how many it found.
int cublaslt_algorithms(cublasLtHandle_t handle, const CublasLtPlan& plan, uint64_t workspace, uint32_t align_a,
                        uint32_t align_b, uint32_t align_c, uint32_t align_d, int count,
                        cublasLtMatmulHeuristicResult_t* results);

}  // namespace sd::cuda
