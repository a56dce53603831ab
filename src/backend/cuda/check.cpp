#include "backend/cuda/check.h"

namespace sd::cuda {

void throw_cuda_error(cudaError_t e, const char* call) {
  throw Error(std::string("CUDA: ") + call + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
}

namespace {
// cublasGetStatusName lives in libcublas, which nothing else here needs.
const char* cublas_status_name(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    default: return "cuBLAS status";
  }
}
}  // namespace

void throw_cublas_error(cublasStatus_t s, const char* call) {
  throw Error(std::string("cuBLASLt: ") + call + ": " + cublas_status_name(s) + " (" + std::to_string(int(s)) + ")");
}

void throw_cudnn_error(cudnnStatus_t s, const char* call) {
  throw Error(std::string("cuDNN: ") + call + ": " + cudnnGetErrorString(s));
}

}  // namespace sd::cuda
