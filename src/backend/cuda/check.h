#pragma once
// Turns CUDA runtime, cuBLASLt and cuDNN status codes into sd::Error naming the failed
// call and the library's own description, so a GPU failure reads like any other error.
#include <cublasLt.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <string>

#include "core/error.h"

namespace sd::cuda {

[[noreturn]] void throw_cuda_error(cudaError_t e, const char* call);
[[noreturn]] void throw_cublas_error(cublasStatus_t s, const char* call);
[[noreturn]] void throw_cudnn_error(cudnnStatus_t s, const char* call);

}  // namespace sd::cuda

#define SD_CUDA_CHECK(call)                                                        \
  do {                                                                             \
    const cudaError_t sd_e_ = (call);                                              \
    if (sd_e_ != cudaSuccess) ::sd::cuda::throw_cuda_error(sd_e_, #call);          \
  } while (0)

#define SD_CUBLAS_CHECK(call)                                                      \
  do {                                                                             \
    const cublasStatus_t sd_s_ = (call);                                           \
    if (sd_s_ != CUBLAS_STATUS_SUCCESS) ::sd::cuda::throw_cublas_error(sd_s_, #call); \
  } while (0)

#define SD_CUDNN_CHECK(call)                                                       \
  do {                                                                             \
    const cudnnStatus_t sd_s_ = (call);                                            \
    if (sd_s_ != CUDNN_STATUS_SUCCESS) ::sd::cuda::throw_cudnn_error(sd_s_, #call); \
  } while (0)

// After a kernel launch: launch-configuration errors surface here, not at the next sync.
#define SD_CUDA_CHECK_LAUNCH() SD_CUDA_CHECK(cudaGetLastError())
