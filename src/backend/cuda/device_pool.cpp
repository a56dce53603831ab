#include "backend/cuda/device_pool.h"

#include <cstdint>

#include "backend/cuda/check.h"

namespace sd::cuda {

DevicePool::DevicePool(int device) : device_(device) {
  cudaMemPoolProps props{};
  props.allocType = cudaMemAllocationTypePinned;
  props.location.type = cudaMemLocationTypeDevice;
  props.location.id = device;
  SD_CUDA_CHECK(cudaMemPoolCreate(&pool_, &props));
  // Keep every freed byte cached: the loop's allocations repeat step after step.
  uint64_t keep = UINT64_MAX;
  SD_CUDA_CHECK(cudaMemPoolSetAttribute(pool_, cudaMemPoolAttrReleaseThreshold, &keep));
}

DevicePool::~DevicePool() {
  if (pool_) cudaMemPoolDestroy(pool_);
}

void* DevicePool::allocate(size_t bytes, cudaStream_t stream) {
  void* p = nullptr;
  if (bytes == 0) return nullptr;
  const cudaError_t e = cudaMallocFromPoolAsync(&p, bytes, pool_, stream);
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    const PoolUsage u = usage();
    throw Error("CUDA device " + std::to_string(device_) + " is out of memory: " + std::to_string(bytes >> 20) +
                " MB requested with " + std::to_string(u.used >> 20) + " MB in use");
  }
  if (e != cudaSuccess) throw_cuda_error(e, "cudaMallocFromPoolAsync");
  return p;
}

void DevicePool::release(void* ptr, cudaStream_t stream) {
  if (ptr) SD_CUDA_CHECK(cudaFreeAsync(ptr, stream));
}

PoolUsage DevicePool::usage() const {
  uint64_t reserved = 0, used = 0, peak = 0;
  SD_CUDA_CHECK(cudaMemPoolGetAttribute(pool_, cudaMemPoolAttrReservedMemCurrent, &reserved));
  SD_CUDA_CHECK(cudaMemPoolGetAttribute(pool_, cudaMemPoolAttrUsedMemCurrent, &used));
  SD_CUDA_CHECK(cudaMemPoolGetAttribute(pool_, cudaMemPoolAttrUsedMemHigh, &peak));
  return {size_t(reserved), size_t(used), size_t(peak)};
}

void DevicePool::reset_peak() {
  uint64_t zero = 0;  // the only value the attribute accepts: restart from the current use
  SD_CUDA_CHECK(cudaMemPoolSetAttribute(pool_, cudaMemPoolAttrUsedMemHigh, &zero));
}

void DevicePool::trim() { SD_CUDA_CHECK(cudaMemPoolTrimTo(pool_, 0)); }

void DeviceBuffer::reset() {
  if (pool_ && ptr_) {
    // A destructor must not throw; a failed free here means the context is already lost.
    cudaFreeAsync(ptr_, stream_);
  }
  pool_ = nullptr;
  ptr_ = nullptr;
  bytes_ = 0;
}

}  // namespace sd::cuda
