#pragma once
// Everything the CUDA ops of one GPU share: the device, one non-blocking stream on which
// all work is queued in order, the memory pool, the cuBLASLt and cuDNN handles (created
// on first use: cuDNN loads its engines lazily) and a scratch workspace that grows to the
// largest request and is then reused.
#include <cublasLt.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstddef>
#include <functional>
#include <memory>

#include "backend/cuda/device_pool.h"
#include "backend/cuda/runtime.h"

namespace sd::cuda {

class Context {
 public:
  // Opens device `index` (sd::Error with the reason when it cannot be used).
  explicit Context(int index = 0);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  const DeviceInfo& info() const { return info_; }
  int device() const { return info_.index; }
  cudaStream_t stream() const { return stream_; }
  DevicePool& pool() { return *pool_; }
  const DevicePool& pool() const { return *pool_; }
  cublasLtHandle_t cublaslt();
  cudnnHandle_t cudnn();

  // Scratch memory of at least `bytes`, valid for work queued on stream() until the next
  // workspace() call.
  void* workspace(size_t bytes);
  DeviceBuffer buffer(size_t bytes) { return DeviceBuffer(*pool_, bytes, stream_); }

  // Waits for the stream; a failed kernel reports its error here.
  void synchronize();

 private:
  DeviceInfo info_;
  cudaStream_t stream_ = nullptr;
  std::unique_ptr<DevicePool> pool_;
  cublasLtHandle_t cublaslt_ = nullptr;
  cudnnHandle_t cudnn_ = nullptr;
  DeviceBuffer workspace_;
};

// Host <-> device copies queued on the context's stream. Host memory must stay valid until
// the stream reaches the copy (synchronize() before reusing it); pageable host memory makes
// cudaMemcpyAsync synchronous with respect to the host, which these callers accept.
void copy_to_device(Context& ctx, void* dst, const void* src, size_t bytes);
void copy_to_host(Context& ctx, void* dst, const void* src, size_t bytes);
void copy_on_device(Context& ctx, void* dst, const void* src, size_t bytes);

// Milliseconds one run() takes on the context's stream: once to warm up, then the mean of
// `reps` runs between two events (how the matmul and convolution plans are chosen).
float mean_stream_ms(Context& ctx, const std::function<void()>& run, int reps = 3);

}  // namespace sd::cuda
