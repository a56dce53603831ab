#include "backend/cuda/runtime.h"

#include <cuda_runtime.h>

#include "backend/cuda/check.h"

namespace sd::cuda {

namespace {
// The lowest compute capability this project compiles kernels for (Ampere: bf16 tensor
// cores, cp.async); older GPUs are refused with a message rather than a launch failure.
constexpr int kMinMajor = 8;
}  // namespace

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky-free error so later calls start clean
    return 0;
  }
  return n;
}

DeviceInfo open_device(int index) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();
    throw Error(std::string("no usable CUDA GPU: ") + cudaGetErrorString(e));
  }
  if (n == 0) throw Error("no usable CUDA GPU: the driver reports no device");
  if (index < 0 || index >= n)
    throw Error("CUDA device " + std::to_string(index) + " does not exist (" + std::to_string(n) +
                " device" + (n == 1 ? "" : "s") + ": 0.." + std::to_string(n - 1) + ")");
  cudaDeviceProp prop{};
  SD_CUDA_CHECK(cudaGetDeviceProperties(&prop, index));
  if (prop.major < kMinMajor)
    throw Error("CUDA device " + std::to_string(index) + " (" + prop.name + ", compute capability " +
                std::to_string(prop.major) + "." + std::to_string(prop.minor) + ") is older than the " +
                std::to_string(kMinMajor) + ".0 this build needs");
  SD_CUDA_CHECK(cudaSetDevice(index));
  DeviceInfo info;
  info.index = index;
  info.name = prop.name;
  info.cc_major = prop.major;
  info.cc_minor = prop.minor;
  info.multiprocessors = prop.multiProcessorCount;
  SD_CUDA_CHECK(cudaMemGetInfo(&info.free_bytes, &info.total_bytes));
  return info;
}

size_t free_memory(int index) {
  SD_CUDA_CHECK(cudaSetDevice(index));
  size_t free = 0, total = 0;
  SD_CUDA_CHECK(cudaMemGetInfo(&free, &total));
  return free;
}

std::string unavailable_reason() {
  try {
    open_device(0);
    return "";
  } catch (const Error& e) {
    return e.what();
  }
}

}  // namespace sd::cuda
