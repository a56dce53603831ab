#pragma once
// Stream-ordered caching allocator for one GPU: a private cudaMemPool whose release
// threshold is unbounded, so memory freed by one op is reused by the next op on the
// stream without a cudaMalloc or a synchronisation; once the first UNet step has run,
// the denoising loop allocates nothing from the driver. trim() gives the cache back.
#include <cuda_runtime.h>

#include <cstddef>
#include <utility>

namespace sd::cuda {

struct PoolUsage {
  size_t reserved = 0;   // bytes the pool holds from the driver (in use + cached)
  size_t used = 0;       // bytes handed out now
  size_t peak_used = 0;  // high-water mark of `used` since creation or reset_peak()
};

class DevicePool {
 public:
  explicit DevicePool(int device);
  ~DevicePool();
  DevicePool(const DevicePool&) = delete;
  DevicePool& operator=(const DevicePool&) = delete;

  // Memory usable by work queued on `stream` after this call; 256-byte aligned.
  void* allocate(size_t bytes, cudaStream_t stream);
  // Returns memory once the work queued on `stream` before this call has finished.
  void release(void* ptr, cudaStream_t stream);
  PoolUsage usage() const;
  void reset_peak();
  // Frees the cached (unused) memory back to the driver; call after a synchronisation.
  void trim();
  int device() const { return device_; }

 private:
  int device_;
  cudaMemPool_t pool_ = nullptr;
};

// Device memory owned by a DevicePool, returned in stream order when destroyed.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(DevicePool& pool, size_t bytes, cudaStream_t stream)
      : pool_(&pool), ptr_(pool.allocate(bytes, stream)), bytes_(bytes), stream_(stream) {}
  ~DeviceBuffer() { reset(); }
  DeviceBuffer(DeviceBuffer&& o) noexcept { *this = std::move(o); }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      reset();
      std::swap(pool_, o.pool_);
      std::swap(ptr_, o.ptr_);
      std::swap(bytes_, o.bytes_);
      std::swap(stream_, o.stream_);
    }
    return *this;
  }

  void* get() const { return ptr_; }
  template <class T>
  T* as() const { return static_cast<T*>(ptr_); }
  size_t bytes() const { return bytes_; }
  void reset();

 private:
  DevicePool* pool_ = nullptr;
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
  cudaStream_t stream_ = nullptr;
};

}  // namespace sd::cuda
